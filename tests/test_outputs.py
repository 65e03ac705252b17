"""Outputs never destroy: ``--out`` refuses what neurotep did not write, replaces its own outputs
only when asked, is checked before any work, is locked against a second writer, and is written
in one rename, so a failure, a signal or a concurrent writer never leaves half an output."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from neurotep.cli import main
from neurotep.graph import save_graph
from neurotep.outputs import MARKER, OutputError, output_dir
from neurotep.variants import base


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """An (untrained) base model directory: running it is fast, and its accuracy is not the point."""
    m = tmp_path_factory.mktemp("outputs") / "m"
    save_graph(base.build(n_in=64, n_out=10, seed=0), m / "model")
    return m


def _run(model, out, *extra) -> int:
    return main(["run", str(model), "--samples", "5", "--out", str(out), "--json", *extra])


def _one_line_error(capsys, match: str) -> None:
    err = capsys.readouterr().err.strip()
    assert err.startswith("neurotep: error:") and "\n" not in err and match in err, err


def _listing(d: Path) -> dict:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_a_foreign_directory_is_never_touched(model, tmp_path, capsys):
    d = tmp_path / "d"
    d.mkdir()
    (d / "notes").write_text("x")
    for extra in ((), ("--overwrite",)):
        assert _run(model, d, *extra) == 2
        _one_line_error(capsys, "not empty and was not written by neurotep")
    assert _listing(d) == {"notes": b"x"}
    assert main(["train", "toreqprop", "--out", str(d), "--epochs", "1"]) == 2
    _one_line_error(capsys, "not written by neurotep")
    assert _listing(d) == {"notes": b"x"} and sorted(os.listdir(tmp_path)) == ["d"]  # no lock, no temporary left


@pytest.mark.parametrize("where", ["model", "model/model", "parent", "."])
def test_the_input_model_is_never_replaced(model, capsys, where, monkeypatch):
    before = _listing(model)
    out = {"model": model, "model/model": model / "model", "parent": model.parent, ".": Path(".")}[where]
    monkeypatch.chdir(model.parent if where == "." else Path.cwd())
    assert _run(model, out, "--overwrite") == 2
    _one_line_error(capsys, "the input")
    assert _listing(model) == before


def test_overwrite_replaces_only_an_earlier_output(model, tmp_path, capsys):
    out = tmp_path / "r"
    assert _run(model, out) == 0
    first = json.loads((out / MARKER).read_text())
    assert first["command"] == "run" and (out / "run.json").is_file()
    assert _run(model, out) == 2
    _one_line_error(capsys, "add --overwrite")
    (out / "stale.txt").write_text("from the first run")
    assert _run(model, out, "--overwrite") == 0
    assert not (out / "stale.txt").exists() and (out / "run.json").is_file()  # replaced whole, not merged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_an_empty_directory_is_used(model, tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    assert _run(model, out) == 0 and (out / "run.json").is_file()


@pytest.mark.parametrize("case", ["file", "under a file", "unknown device", "negative steps"])
def test_bad_out_fails_before_any_work(model, tmp_path, capsys, case):
    f = tmp_path / "f"
    f.write_text("keep me")
    out = {"file": f, "under a file": f / "a" / "b"}.get(case, tmp_path / "new" / "r")
    extra = {"unknown device": ("--device", "tpu"), "negative steps": ("--spiking", "--steps", "-5")}.get(case, ())
    t0 = time.perf_counter()
    assert _run(model, out, *extra) == 2
    assert time.perf_counter() - t0 < 5  # refused up front, not after the run
    _one_line_error(capsys, {"file": "is a file", "under a file": "is a file", "unknown device": "unknown device 'tpu'",
                             "negative steps": "must be at least 1, got -5"}[case])
    assert f.read_text() == "keep me" and sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_a_failed_command_leaves_no_directory_it_created(tmp_path):
    out = tmp_path / "a" / "b" / "c"
    with pytest.raises(RuntimeError):
        with output_dir(out, command="test") as tmp:
            (tmp / "half.json").write_text("{")
            raise RuntimeError("the run failed")
    assert list(tmp_path.iterdir()) == []


def test_a_second_writer_fails_at_once_naming_the_first(tmp_path):
    out = tmp_path / "r"
    with output_dir(out, command="first") as tmp:
        (tmp / "a").write_text("1")
        t0 = time.perf_counter()
        with pytest.raises(OutputError, match=rf"being written by another neurotep process \(pid {os.getpid()}"):
            with output_dir(out, command="second", overwrite=True):
                pass
        assert time.perf_counter() - t0 < 1
    assert (out / "a").read_text() == "1" and json.loads((out / MARKER).read_text())["command"] == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # the lock file is gone too


def _writer(out: str, k: int, results) -> None:
    try:
        with output_dir(out, command="stress", overwrite=True) as tmp:
            for i in range(20):
                (tmp / f"part{i}").write_text(str(k))
            time.sleep(0.01)
        results.put(("ok", k))
    except OutputError as e:
        results.put(("locked" if "being written by another" in str(e) else f"refused: {e}", k))
    except BaseException as e:  # noqa: BLE001 - what the old writer did: a raw OSError
        results.put((f"{type(e).__name__}: {e}", k))


def test_concurrent_writers_never_corrupt_or_crash(tmp_path):
    """8 processes x 5 rounds writing the same directory: each write either lands whole or is
    refused with the lock message; never a raw OSError (ENOTEMPTY), never a mixed directory."""
    out = tmp_path / "shared"
    ctx = mp.get_context("fork")
    results = ctx.Queue()
    outcomes = []
    for _ in range(5):
        procs = [ctx.Process(target=_writer, args=(str(out), k, results)) for k in range(8)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
        outcomes += [results.get(timeout=5) for _ in procs]
        contents = {(out / f"part{i}").read_text() for i in range(20)}
        assert len(contents) == 1 and (out / MARKER).is_file()  # one writer's files, all of them
    kinds = {o for o, _ in outcomes}
    assert kinds <= {"ok", "locked"}, kinds
    assert "ok" in kinds
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared"]


def test_a_killed_writer_is_cleaned_up_by_the_next(tmp_path):
    out = tmp_path / "r"
    ctx = mp.get_context("fork")
    p = ctx.Process(target=_hold, args=(str(out),))
    p.start()
    deadline = time.time() + 10
    while not list(tmp_path.glob(".r.tmp-*")) and time.time() < deadline:
        time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL)
    p.join()
    assert list(tmp_path.glob(".r.tmp-*"))  # SIGKILL leaves the temporary behind ...
    with output_dir(out, command="next") as tmp:
        (tmp / "a").write_text("ok")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # ... the next writer removes it and the lock


def _hold(out: str) -> None:
    with output_dir(out, command="held") as tmp:
        (tmp / "partial").write_text("...")
        time.sleep(60)


@pytest.mark.slow
def test_sigterm_during_a_run_leaves_nothing(model, tmp_path):
    """The CLI turns SIGTERM into a clean exit: the temporary output and the lock are removed."""
    out = tmp_path / "r"
    p = subprocess.Popen([sys.executable, "-m", "neurotep.cli", "run", str(model), "--out", str(out), "--spiking",
                          "--steps", "100000", "--samples", "360"], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not list(tmp_path.glob(".r.tmp-*")) and time.time() < deadline and p.poll() is None:
        time.sleep(0.1)
    assert list(tmp_path.glob(".r.tmp-*")), "the run never started writing"
    # A second run to the same directory is refused at once, naming the first.
    q = subprocess.run([sys.executable, "-m", "neurotep.cli", "run", str(model), "--out", str(out), "--overwrite"],
                       capture_output=True, text=True, timeout=60)
    assert q.returncode == 2 and f"pid {p.pid}" in q.stderr and q.stderr.count("\n") == 1, q.stderr
    p.send_signal(signal.SIGTERM)
    assert p.wait(20) == 128 + signal.SIGTERM
    assert "stopped by SIGTERM" in p.stderr.read()
    assert list(tmp_path.iterdir()) == []
