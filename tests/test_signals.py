"""Nothing of a Lava run outlives it: not when the CLI gets SIGTERM, SIGHUP or SIGKILL
mid-simulation, nor when its worker dies. Each check looks at the process table, /dev/shm and a
private temp directory (other engineers' runs may use the machine at the same time)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from neurotep.backends.lava.isolate import held_paths, job_dir, reap, remove_stale_jobs

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")

ROOT = Path(__file__).resolve().parents[1]
SHM = Path("/dev/shm")
CLEAN_WITHIN = 5.0  # seconds


def _processes() -> dict[int, tuple[str, int, int, bytes]]:
    """pid -> (state, ppid, session, cmdline) of every process."""
    out = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
                cmd = (d / "cmdline").read_bytes()
            except OSError:
                continue
            f = stat[stat.rindex(")") + 2:].split()
            out[int(d.name)] = (f[0], int(f[1]), int(f[3]), cmd)  # state, ppid, session
    return out


def _segments() -> set[str]:
    return {p.name for p in SHM.iterdir() if p.name.startswith(("psm_", "sem.mp-"))} if SHM.is_dir() else set()


def _orphan_segments(candidates: set[str]) -> set[str]:
    """Those of ``candidates`` that still exist and that no running process holds."""
    left = candidates & _segments()
    if left:
        left -= {p.name for p in held_paths(list(_processes()))}
    return left


def _wait_until(check, timeout: float) -> float | None:
    """Seconds until ``check()`` was true, or None after ``timeout``."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if check():
            return time.monotonic() - t0
        time.sleep(0.02)
    return None


# -- fast: the pieces ---------------------------------------------------------------------------------------
def test_stale_job_folders_of_gone_owners_are_removed(tmp_path, monkeypatch):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its pid now belongs to nobody
    stale = tmp_path / f"neurotep-lava-{gone.pid}-abcd1234"
    mine = tmp_path / f"neurotep-s4d-{os.getpid()}-abcd1234"
    unknown = tmp_path / "neurotep-lava-abcd1234"  # the old name, without an owner: left alone
    for d in (stale, mine, unknown):
        (d / "graph").mkdir(parents=True)
    assert remove_stale_jobs(tmp_path) == [stale]
    assert not stale.exists() and mine.exists() and unknown.exists()
    (tmp_path / f"neurotep-lava-{gone.pid}-efgh5678").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with job_dir("lava") as job:  # a new job cleans up first, and names its owner
        assert job.parent == tmp_path and job.name.startswith(f"neurotep-lava-{os.getpid()}-")
        assert not (tmp_path / f"neurotep-lava-{gone.pid}-efgh5678").exists()
    assert not job.exists()


def test_reap_ends_the_group_and_unlinks_its_segments():
    code = ("import os, time\nfrom multiprocessing import shared_memory\n"
            "m = shared_memory.SharedMemory(create=True, size=4096)\n"
            "if os.fork(): print(m.name, flush=True)\ntime.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        name = proc.stdout.readline().strip()
        assert (SHM / name).exists()
        reap(proc.pid)
        assert not (SHM / name).exists()
        left = lambda: [p for p, v in _processes().items() if v[2] == proc.pid and v[0] != "Z"]  # noqa: E731
        assert _wait_until(lambda: not left(), 2.0) is not None, left()
        reap(proc.pid)  # again, the group gone (only the unreaped leader keeps its id): no error
    finally:
        proc.kill()
        proc.wait()


# -- slow: real Lava runs of the CLI ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from neurotep import variants
    from neurotep.graph import save_graph

    path = tmp_path_factory.mktemp("signals") / "model"
    save_graph(variants.get("toreqprop").build(n_in=64, n_out=10, seed=0), path)  # untrained: only its run matters
    return path


class LavaRun:
    """``neurotep run MODEL --backend lava --spiking`` in a subprocess with a private TMPDIR,
    waited on until its simulation is under way."""

    def __init__(self, model: Path, tmp: Path):
        self.tmp, self.out = tmp / "t", tmp / "out"
        self.tmp.mkdir()
        self.segments_before = _segments()
        self.cli = subprocess.Popen(
            [sys.executable, "-m", "neurotep.cli", "run", str(model), "--backend", "lava", "--spiking", "--steps", "20000",
             "--samples", "1", "--out", str(self.out)],
            cwd=ROOT, env=dict(os.environ, TMPDIR=str(self.tmp)), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.worker = None
        started = _wait_until(self._under_way, 60.0)
        assert started is not None, f"the Lava run did not start: {self._output()}"
        time.sleep(0.5)  # into the simulation
        self.held = {p for p in held_paths(self.members()) if p.name.startswith("psm_")}
        self.jobs = [p.name for p in self.tmp.iterdir() if p.name.startswith("neurotep-lava-")]
        assert len(self.held) >= 20 and len(self.jobs) == 1 and len(self.members()) >= 8

    def _under_way(self) -> bool:
        assert self.cli.poll() is None, f"the run ended early: {self._output()}"
        if self.worker is None:
            self.worker = next((p for p, (_, ppid, _, cmd) in _processes().items()
                                if ppid == self.cli.pid and b"neurotep.backends.lava.isolate" in cmd), None)
        return self.worker is not None and len(held_paths(self.members())) >= 20

    def _output(self) -> str:
        if self.cli.poll() is None:
            return "(still running)"
        return (self.cli.stdout.read() + self.cli.stderr.read()).decode(errors="replace")[-1000:]

    def members(self) -> list[int]:
        """Live processes of this run: in the worker's session, or naming its job folder."""
        jobs = [j.encode() for j in getattr(self, "jobs", [])]
        return [p for p, (state, _, sid, cmd) in _processes().items()
                if state != "Z" and (sid == self.worker or any(j in cmd for j in jobs))]

    def clean(self) -> bool:
        return (not self.members() and not any(p.exists() for p in self.held) and not list(self.tmp.iterdir())
                and not _orphan_segments(_segments() - self.segments_before))

    def close(self) -> None:
        if self.cli.poll() is None:
            self.cli.kill()
        self.cli.wait()
        if self.worker is not None and self.members():
            reap(self.worker)  # a failed test must not leave its simulation to the other engineers


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL], ids=lambda s: s.name)
def test_a_signal_to_the_cli_ends_the_whole_lava_run(model, tmp_path, sig):
    run = LavaRun(model, tmp_path)
    try:
        run.cli.send_signal(sig)
        took = _wait_until(run.clean, CLEAN_WITHIN)
        assert took is not None, (f"after {sig.name}: processes {run.members()}, segments "
                                  f"{[p.name for p in run.held if p.exists()]}, temp {list(run.tmp.iterdir())}")
        print(f"{sig.name}: everything gone after {took:.2f} s")
        run.cli.wait(timeout=CLEAN_WITHIN)
        _, err = run.cli.communicate()
        assert not run.out.exists()
        if sig == signal.SIGKILL:  # (the output's lock and temporary sibling stay, for the next writer to clean)
            assert run.cli.returncode == -sig
        else:  # the CLI's own handling: exit 128 + signal, one line, nothing written beside the private TMPDIR
            assert run.cli.returncode == 128 + sig and err.decode().strip() == f"neurotep: stopped by {sig.name}; nothing was written"
            assert [p.name for p in tmp_path.iterdir()] == [run.tmp.name]
    finally:
        run.close()


@pytest.mark.slow
def test_a_worker_that_dies_takes_its_lava_processes_with_it(model, tmp_path):
    run = LavaRun(model, tmp_path)
    try:
        os.kill(run.worker, signal.SIGKILL)  # as the OOM killer would
        run.cli.wait(timeout=CLEAN_WITHIN)
        assert _wait_until(run.clean, CLEAN_WITHIN) is not None, f"processes {run.members()} left"
        _, err = run.cli.communicate()
        assert run.cli.returncode == 2 and "the Lava worker died" in err.decode()
        assert not run.out.exists()
    finally:
        run.close()
