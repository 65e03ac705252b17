"""`neurotep sweep`: spec checks before any trial, a tiny sweep on a local Ray (trial directories,
a recorded failure, the summary and the frontier plot), resume, and Ctrl-C."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from neurotep.cli import main
from neurotep.sweep import load_spec
from neurotep.sweep.summary import pareto
from test_data import make_mnist

ROOT = Path(__file__).resolve().parents[1]


def _fail(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("neurotep: error:") and match in err, err


def _spec(tmp_path, text, name="spec.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


GOOD = 'variants = ["toreqprop"]\nseeds = [0]\n[settings]\nepochs = 1\n'


@pytest.mark.parametrize("text, match", [
    ('variants = ["toreqprop"]\nseeds = [0]\nrepeats = 3\n', "unknown key(s) repeats"),
    ('variants = ["toreqprop", "resnet"]\nseeds = [0]\n', "unknown variant(s) resnet"),
    ('variants = ["toreqprop"]\nseeds = [0]\n[settings]\nthreshold = 2\n', "unknown setting(s) threshold"),
    ('variants = ["toreqprop"]\nseeds = [0]\n[settings]\ndataset = "cifar"\n', "unknown dataset 'cifar'"),
    ('variants = ["toreqprop"]\nseeds = [0]\n[settings]\nepochs = [1, 0]\n', "settings.epochs = 0"),
    ('variants = ["toreqprop"]\nseeds = [0]\n[settings]\nencoding = "rate"\n', "settings.encoding"),
    ('variants = ["toreqprop"]\nseeds = [0]\n[settings]\ndelta_threshold = 0.1\n', "applies to encoding = \"delta\""),
    ('variants = ["toreqprop"]\nseeds = [0]\n[settings]\nencoding = "delta"\ndelta_threshold = 0\n',
     "settings.delta_threshold = 0"),
    ('variants = ["toreqprop"]\nseeds = [0, 0]\n', "seeds must be distinct"),
    ('variants = ["toreqprop"]\n', "missing key 'seeds'"),
    ('variants = ["toreqprop"]\nseeds = [0]\nfrontier = "colour"\n', "frontier = 'colour'"),
    ('variants = ["toreqprop"\n', "not valid TOML"),
])
def test_bad_spec_is_one_line_before_anything(capsys, tmp_path, text, match):
    out = tmp_path / "out"
    _fail(capsys, ["sweep", str(_spec(tmp_path, text)), "--out", str(out)], match)
    assert not out.exists()


def test_missing_spec_yaml_spec_and_grid(capsys, tmp_path):
    _fail(capsys, ["sweep", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o")], "not found")
    spec = load_spec(_spec(tmp_path, "variants: [toreqprop, htsep]\nseeds: [0, 1]\nsettings: {epochs: [1, 2]}\n",
                           "s.yaml"))
    assert len(spec.trials) == 8 and len({t.name for t in spec.trials}) == 8
    assert {t.group for t in spec.trials if t.variant == "htsep"} == {
        t.group for t in spec.trials if t.variant == "htsep" and t.seed == 0}


def test_ray_missing_and_dead_address_are_one_line(capsys, tmp_path, monkeypatch):
    spec = _spec(tmp_path, GOOD)
    _fail(capsys, ["sweep", str(spec), "--out", str(tmp_path / "o"), "--address", "127.0.0.1:1"],
          "--address 127.0.0.1:1 does not answer")
    monkeypatch.setitem(sys.modules, "ray", None)
    _fail(capsys, ["sweep", str(spec), "--out", str(tmp_path / "o")], "pip install -e '.[sweep]'")
    assert not (tmp_path / "o").exists()


def test_pareto_keeps_the_points_nothing_beats():
    assert pareto([(1, 0.5), (2, 0.4), (3, 0.9), (0.5, 0.1), (3, 0.8)]) == [3, 0, 2]


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    """One local Ray sweep: toreqprop on digits (2 seeds, spiking run) and on MNIST from a directory
    that has no files yet (both trials fail); then the files appear and the sweep is resumed."""
    d = tmp_path_factory.mktemp("sweep")
    (d / "mnist").mkdir()
    spec = _spec(d, 'variants = ["toreqprop"]\nseeds = [0, 1]\n'
                 + f'frontier = "spikes_per_neuron_per_step"\ndata_path = "{d / "mnist"}"\n'
                 + '[settings]\ndataset = ["digits", "mnist"]\nepochs = 1\nsteps = 20\nsamples = 4\n')
    out = d / "out"
    first = subprocess.run([sys.executable, "-m", "neurotep", "sweep", str(spec), "--out", str(out), "--num-cpus", "2",
                            "--json"], cwd=ROOT, capture_output=True, text=True, timeout=600,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert first.returncode == 0, first.stderr[-3000:]
    snapshot = {p.name: (p / "result.json").read_text() for p in (out / "trials").iterdir() if not p.name.startswith(".")}
    make_mnist(d / "mnist")
    second = subprocess.run([sys.executable, "-m", "neurotep", "sweep", str(spec), "--out", str(out), "--num-cpus", "2",
                             "--json"], cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert second.returncode == 0, second.stderr[-3000:]
    return out, json.loads(first.stdout), snapshot, json.loads(second.stdout)


@pytest.mark.slow
def test_sweep_writes_trials_failures_and_summary(tiny_sweep):
    out, first, snapshot, _ = tiny_sweep
    assert first["trials"] == 4 and first["ran"] == 4 and len(first["failed"]) == 2
    for err in first["failed"].values():
        assert "not found" in err and str(out.parent / "mnist") in err
    ok = [json.loads(s) for s in snapshot.values() if json.loads(s)["status"] == "ok"]
    assert len(ok) == 2
    for name, s in snapshot.items():
        trial = out / "trials" / name
        assert (trial / ".neurotep-output.json").exists()
        if json.loads(s)["status"] == "ok":
            assert (trial / "model" / "graph.json").exists() and (trial / "spiking" / "run.json").exists()
    assert all(0.3 < r["metrics"]["test_accuracy"] <= 1 and 0 <= r["metrics"]["spikes_per_neuron_per_step"] < 1 for r in ok)
    assert (out / "frontier.png").stat().st_size > 1000


@pytest.mark.slow
def test_resume_skips_finished_trials_and_reruns_failed_ones(tiny_sweep):
    out, first, snapshot, second = tiny_sweep
    assert second["skipped"] == 2 and second["ran"] == 2 and second["failed"] == {}
    for name, s in snapshot.items():
        if json.loads(s)["status"] == "ok":  # untouched by the second run
            assert (out / "trials" / name / "result.json").read_text() == s
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [(r["dataset"], r["seeds"], r["failed"]) for r in rows] == [("digits", "0 1", ""), ("mnist", "0 1", "")]
    acc = [json.loads(s)["metrics"]["test_accuracy"] for s in snapshot.values() if json.loads(s)["status"] == "ok"]
    assert float(rows[0]["test_accuracy_mean"]) == pytest.approx(sum(acc) / 2)
    md = (out / "summary.md").read_text()
    assert "| toreqprop | digits | 0 1 |" in md and " +- " in md


def _ray_processes() -> set[int]:
    pids = set()
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "gcs_server" in cmd or "raylet" in cmd or "default_worker.py" in cmd:
                pids.add(int(p.name))
    return pids


@pytest.mark.slow
def test_ctrl_c_keeps_finished_trials_and_leaves_no_ray_behind(tmp_path):
    before = _ray_processes()
    spec = _spec(tmp_path, 'variants = ["toreqprop"]\nseeds = [0, 1, 2, 3, 4, 5]\n[settings]\nepochs = [1, 30]\n')
    out = tmp_path / "out"
    p = subprocess.Popen([sys.executable, "-m", "neurotep", "sweep", str(spec), "--out", str(out), "--num-cpus", "2"],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)},
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as in a terminal
    deadline = time.time() + 300
    while time.time() < deadline and not list(out.glob("trials/*/result.json")):
        time.sleep(0.5)
    done = {r: r.read_text() for r in out.glob("trials/*/result.json")}
    assert done, "no trial finished in time"
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130 and "interrupted" in err
    for r, text in done.items():
        assert r.read_text() == text
    deadline = time.time() + 30
    while _ray_processes() - before and time.time() < deadline:
        time.sleep(0.5)
    assert not _ray_processes() - before


def test_a_delta_coded_trial_records_its_exit_step(tmp_path):
    """One trial of a delta-threshold sweep, run in this process (the Ray sweep calls the same
    function): its spiking run is the delta form, and its metrics carry the mean exit step."""
    from neurotep.sweep.trial import run_trial

    config = {"variant": "toreqprop", "seed": 0, **{k: v[0] for k, v in _settings().items()},
              "epochs": 1, "steps": 60, "encoding": "delta", "delta_threshold": 0.05, "samples": 30}
    res = run_trial(config, str(tmp_path / "t"))
    m = res["metrics"]
    run = json.loads((tmp_path / "t" / "spiking" / "run.json").read_text())
    assert run["encoding"] == "delta" and run["delta"]["threshold"] == 0.05
    assert m["mean_exit_step"] == run["delta"]["mean_exit_step"] < 60 and m["spiking_accuracy"] > 0.3
    assert 0 < m["spikes_per_neuron_per_step"] < 1


def _settings():
    from neurotep.sweep.spec import SETTINGS

    return {k: [v[0]] for k, v in SETTINGS.items()}
