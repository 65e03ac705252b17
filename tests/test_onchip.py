"""On-chip EqProp: the learning network on Lava (LIF + LearningDense, fixed_pt) learns bit for bit
what its torch twin learns; the symmetric pair stays tied; the CLI refuses what cannot learn on
the chip, and an interrupted Lava training leaves its checkpoint and nothing running."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from neurotep.data import load_digits_split
from neurotep.errors import ModelFileError, RuleError
from neurotep.hardware.onchip import CONNECTIONS, OnChipForm, Teacher, phase_of
from neurotep.learning.onchip import OnChipTwin, predict_twin, train_twin
from neurotep.variants import base

ROOT = Path(__file__).resolve().parents[1]


def small_form(**kw) -> OnChipForm:
    settings = dict(t_epoch=4, phase_epochs=3, gate=32) | kw
    return OnChipForm.from_graph(base.build(hidden=(12,), seed=0), init_gain=3.0, **settings)


@pytest.fixture(scope="module")
def digits():
    return load_digits_split()


def test_lava_learns_what_the_twin_learns_bit_for_bit(digits):
    """Four samples (192 steps, 48 learning epochs per connection) on Lava's LIF and LearningDense
    fixed_pt models: every weight of the five connections, every spike count and the online score
    equal the twin's."""
    from neurotep.backends.lava.onchip import train_onchip

    form = small_form()
    x, y = digits.x_train[:4], digits.y_train[:4]
    learned, res = train_onchip(form, x, y, chunk=2)
    twin = train_twin(form, x, y)
    for c in CONNECTIONS:
        np.testing.assert_array_equal(learned.weights[c], twin.form.weights[c], err_msg=c)
        assert np.abs(learned.weights[c] - form.weights[c]).sum() > 0, f"{c} did not learn"
    assert res["spikes"] == twin.spikes
    assert res["correct"] == round(twin.train_accuracy * 4)
    assert learned.meta["samples_done"] == 4


def test_the_symmetric_pair_stays_tied(digits):
    """W (h -> y) and its transpose (y -> h) are two LearningDense connections; the post-trace unit
    of each side copies the other connection's pre-synaptic trace, so their updates are equal.
    Only the post trace's own decay (Lava's 65535-step constant, stochastically rounded) can break
    the tie: after 40 samples no weight of the pair differs."""
    form = OnChipForm.from_graph(base.build(hidden=(32,), seed=0), init_gain=3.0)
    twin = train_twin(form, digits.x_train[:40], digits.y_train[:40])
    w = twin.form.weights
    assert np.abs(w["hy"] - form.weights["hy"]).sum() > 100
    np.testing.assert_array_equal(w["yh"], w["hy"].T)


def test_phases_alternate_and_the_teacher_nudges_towards_the_label():
    form = small_form()
    per, p = form.steps_per_sample, form.phase_steps
    assert [phase_of(1 + i * p, p) for i in range(8)] == ["free", "plus", "free", "minus", "free", "minus", "free", "plus"]
    teacher = Teacher(form, np.eye(10, dtype=np.int64)[[3]])
    nudges = [teacher.send() for _ in range(per)]
    assert all(int(n.any()) == 0 for n in nudges[:p])  # free phase: nothing
    plus = nudges[p]
    assert plus[3] > 0 and (plus[np.arange(10) != 3] > 0).all() and plus[3] > plus[0]  # towards 0.9 / 0.1 from 0
    assert (nudges[3 * p] == -plus).all()


def test_frozen_inference_runs_without_learning(digits):
    form = small_form()
    twin = OnChipTwin(form, digits.x_test[:2], learn=False, steps_per_sample=8)
    for _ in range(16):
        twin.step()
    assert all(e.updates == 0 for e in twin.engines.values())
    assert predict_twin(form, digits.x_test[:3]).shape == (3,)


def test_on_chip_form_round_trips_and_refuses_bad_files(tmp_path):
    form = small_form()
    form.save(tmp_path / "m")
    back = OnChipForm.load(tmp_path / "m")
    assert back.t_epoch == 4 and all((back.weights[c] == form.weights[c]).all() for c in CONNECTIONS)
    (tmp_path / "m" / "onchip.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="not a readable on-chip model"):
        OnChipForm.load(tmp_path / "m")
    with pytest.raises(ModelFileError, match="8-bit"):
        OnChipForm(weights={c: w * 100 for c, w in form.weights.items()}).validate()
    with pytest.raises(RuleError, match="7-bit"):
        small_form(gate=200)
    with pytest.raises(RuleError, match="one hidden layer"):
        OnChipForm.from_graph(base.build(hidden=(8, 8)))


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "neurotep", *args], cwd=ROOT, capture_output=True, text=True, **kw)


@pytest.mark.parametrize("args, says", [
    (["htsep", "--on-chip"], "htsep has no rule that Loihi's learning engine can run"),
    (["toreqprop", "--on-chip", "--set", "lr=0.001"], "underflows the weight precision"),
    (["toreqprop", "--on-chip", "--set", "gate=300"], "7-bit trace"),
    (["toreqprop", "--on-chip", "--set", "t_epoch=100"], "6 bits"),
    (["toreqprop", "--on-chip", "--set", "gate=many"], "takes int values"),
    (["toreqprop", "--on-chip", "--resume"], "no on-chip checkpoint"),
    (["toreqprop", "--on-chip", "--method", "bptt"], "drop --method"),
    (["toreqprop", "--resume"], "apply to --on-chip"),
    (["toreqprop", "--on-chip", "--resume", "--backend", "torch"], "continues an interrupted --backend lava run"),
])
def test_what_cannot_learn_on_the_chip_is_one_line_and_exit_2(tmp_path, args, says):
    out = tmp_path / "out"
    r = _cli("train", args[0], "--backend", "lava", *args[1:], "--out", str(out))
    assert r.returncode == 2, r.stderr
    assert says in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not out.exists()


def test_train_on_chip_on_the_twin_writes_a_model(tmp_path):
    out = tmp_path / "m"
    r = _cli("train", "toreqprop", "--on-chip", "--backend", "torch", "--train-samples", "6", "--set", "hidden=12",
             "--set", "t_epoch=4", "--set", "phase_epochs=2", "--json", "--out", str(out))
    assert r.returncode == 0, r.stderr
    m = json.loads((out / "metrics.json").read_text())
    assert m["samples"] == 6 and m["backend"] == "torch" and 0 <= m["test_accuracy"] <= 1
    e = m["energy_per_training_sample"]
    assert 0 < e["low"]["total_J"] < e["high"]["total_J"] and e["counts"]["learning_updates"] > 0
    assert OnChipForm.load(out / "onchip").sizes == (64, 12, 10)
    r = _cli("run", str(out), "--out", str(tmp_path / "r"))  # not a graph: one line that says what it is
    assert r.returncode == 2 and "is an on-chip model" in r.stderr and "metrics.json" in r.stderr
    assert not (tmp_path / "r").exists()


def _session_alive(sid: int) -> list[int]:
    alive = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                alive.append(int(d.name))
    return alive


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").exists(), reason="reads /proc")
def test_ctrl_c_keeps_the_checkpoint_leaves_nothing_running_and_resume_finishes(tmp_path):
    out = tmp_path / "m"
    ckpt = Path(f"{out}.checkpoint")
    args = ["train", "toreqprop", "--on-chip", "--backend", "lava", "--train-samples", "45", "--set", "hidden=12",
            "--set", "t_epoch=4", "--set", "phase_epochs=3", "--out", str(out)]
    proc = subprocess.Popen([sys.executable, "-m", "neurotep", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not (ckpt / "onchip.json").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()
        time.sleep(0.1)
    workers = [int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit()
               and f"{proc.pid}" == (d / "stat").read_text().rsplit(")", 1)[1].split()[1]]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) != 0
    time.sleep(0.5)
    assert workers and not any(_session_alive(w) for w in workers)
    assert not out.exists()
    done = json.loads((ckpt / "onchip.json").read_text())["meta"]["samples_done"]
    assert 20 <= done < 45  # a checkpoint per chunk of 20 samples, interrupted before the end
    r = _cli("train", *args[1:], "--resume", "--json")
    assert r.returncode == 0, r.stderr
    m = json.loads((out / "metrics.json").read_text())
    assert m["resumed_at"] == done and m["samples"] == 45 - done
    assert not ckpt.exists()
