"""Delta coding (issue 21): the delta form of a rate network (neurotep.graph.delta), its
sigma-delta dynamics on torch (float and fixed point) and on Lava's own SigmaDelta, the input sent
as changes, early exit, and what the profiler counts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neurotep.cli import main
from neurotep.data import load_digits_split
from neurotep.errors import BackendError, GraphError, NeurotepError
from neurotep.graph import save_graph
from neurotep.graph.delta import delta_form
from neurotep.graph.transforms import rate_to_spiking
from neurotep.learning.train import train
from neurotep.neurons import sigma_delta_step
from neurotep.profile.counts import count_run
from neurotep.runner import run_model, save_run
from neurotep.variants import base


@pytest.fixture(scope="module")
def data():
    return load_digits_split()


@pytest.fixture(scope="module")
def trained(data):
    """A small base model trained for four epochs: activity like the demo's, in seconds."""
    g = base.build(seed=0, hidden=(32,))
    return train(g, data, epochs=4, seed=0).graph


def test_sigma_delta_sends_changes_of_at_least_the_threshold():
    z = np.zeros(3)
    s, sigma, act, res = sigma_delta_step(np.array([0.5, -2.0, 0.004]), z, z, z, np.zeros(3), 0.01, "relu")
    assert s.tolist() == [0.5, 0.0, 0.0] and act.tolist() == [0.5, 0.0, 0.004] and res.tolist() == [0.0, 0.0, 0.004]
    # the residue accumulates until it reaches the threshold, then goes out whole
    s, sigma, act, res = sigma_delta_step(np.array([0.0, 0.0, 0.007]), sigma, act, res, np.zeros(3), 0.01, "relu")
    assert s[2] == pytest.approx(0.011) and res[2] == 0.0
    s, *_ = sigma_delta_step(np.array([-1, 3]), np.array([0, 0]), np.array([0, 0]), np.array([0, 0]), np.array([0, 0]), 2,
                             "unit")
    assert s.tolist() == [0, 3]  # integers: exact, unit activation keeps the sign


def test_delta_form_writes_hard_sigmoids_as_two_relus_and_buffers_as_taps():
    g = base.build(seed=0, hidden=(16,))
    d = delta_form(g, 0.05)
    assert {p.name: p.model for p in d.populations.values()} == {"x": "input", "h0": "sigma_delta", "y": "sigma_delta",
                                                                 "h0_ceil": "sigma_delta"}
    assert d.populations["h0"].params == {"threshold": 0.05, "activation": "relu"}
    assert d.populations["y"].params["activation"] == "unit"
    np.testing.assert_array_equal(d.populations["h0_ceil"].bias, g.populations["h0"].bias - 1.0)
    assert not d.buffers and not any(c.symmetric for c in d.connections)
    names = {c.name: c for c in d.connections}
    # the ceiling receives what the unit receives, and sends through the negated weights
    np.testing.assert_array_equal(names["W_x_h0_to_ceil"].weight, names["W_x_h0"].weight)
    np.testing.assert_array_equal(names["W_h0_y_from_ceil"].weight, -names["W_h0_y"].weight)
    assert names["W_h0_y_back"].pre == "y" and names["W_h0_y_back"].post == "h0"
    assert max(c.delay for c in d.connections) == g.buffers[0].depth
    assert d.meta["delta_form"]["ceilings"] == {"h0": "h0_ceil"}
    assert g.populations["h0"].model == "hard_sigmoid"  # the input graph is not changed


def test_delta_form_refuses_what_it_cannot_express():
    with pytest.raises(GraphError, match="threshold must be a finite number > 0"):
        delta_form(base.build(seed=0, hidden=(8,)), 0.0)
    with pytest.raises(GraphError, match="lif"):
        delta_form(rate_to_spiking(base.build(seed=0, hidden=(8,))))
    noisy = base.build(seed=0, hidden=(8,))
    noisy.populations["h0"].params["noise"] = 0.1
    with pytest.raises(GraphError, match="noise"):
        delta_form(noisy)


def test_delta_run_reaches_the_rate_models_equilibrium(trained, data):
    """With a tiny threshold the messages' sum is the activation itself: the readout equals the
    rate relaxation's fixed point (the delta form drops damping, which moves no fixed point)."""
    rate = run_model(trained, data, samples=40, steps=400)
    net_out = _rate_readout(trained, data, 40)
    delta = run_model(trained, data, encoding="delta", threshold=1e-9, samples=40, steps=400)
    assert delta.summary["test_accuracy"] == rate.summary["test_accuracy"]
    assert delta.summary["delta"]["max_exit_step"] < 400  # it settles, exactly quiet
    got = _delta_readout(trained, data, 40, 1e-9)
    np.testing.assert_allclose(got, net_out, atol=1e-6)


def _rate_readout(g, data, n):
    from neurotep.backends.torch import TorchNetwork

    net = TorchNetwork(g, dtype=torch.float64)
    with torch.no_grad():
        st, _ = net.relax({"x": torch.as_tensor(data.x_test[:n])}, 2000, tol=1e-12)
    return st.out["y"].numpy()


def _delta_readout(g, data, n, threshold):
    from neurotep.backends.torch import TorchNetwork
    from neurotep.data.encoders import delta_frame

    d = delta_form(g, threshold)
    net = TorchNetwork(d, dtype=torch.float64)
    x = torch.as_tensor(data.x_test[:n])[None]
    _, _, total = net.run(lambda t: {"x": delta_frame(x, t)}, 400, n, readout="y", spiking_inputs=False, quiet=4)
    return total.numpy()


@pytest.mark.parametrize("precision", ["fixed", "float"])
def test_lava_sigma_delta_gives_the_same_messages(trained, data, precision):
    """Lava's SigmaDelta (Loihi2SimCfg) and the torch path: the same messages, neuron by neuron
    and step by step, the same readouts and exits; bit-exact in fixed point."""
    kw = dict(encoding="delta", threshold=0.05, precision=precision, samples=12, raster=True, steps=30)
    a, b = run_model(trained, data, **kw), run_model(trained, data, backend="lava", **kw)
    assert sorted(a.recording.raster) == ["h0", "h0_ceil", "x", "y"]
    for p, r in a.recording.raster.items():
        assert torch.equal(r, b.recording.raster[p]), p
    assert a.summary["test_accuracy"] == b.summary["test_accuracy"]
    assert torch.equal(a.recording.exit_step, b.recording.exit_step)
    assert a.summary["spikes_total"] == b.summary["spikes_total"] > 0


def test_early_exit_changes_no_output(trained, data):
    """After ``quiet`` silent steps (at least the longest delay) nothing is in flight and nothing
    is sent again: exiting changes neither the readout nor the counts."""
    kw = dict(encoding="delta", threshold=0.02, precision="fixed", samples=50, steps=120)
    early, late = run_model(trained, data, **kw), run_model(trained, data, quiet=120, **kw)
    assert early.summary["test_accuracy"] == late.summary["test_accuracy"]
    for p in early.recording.per_neuron:
        assert torch.equal(early.recording.per_neuron[p], late.recording.per_neuron[p]), p
    ex = early.recording.exit_step
    assert early.summary["delta"]["quiet_steps"] == 4 and int(ex.max()) < 120 and int(ex.min()) > 4
    assert late.summary["delta"]["mean_exit_step"] == 120  # never 120 quiet steps within 120


def test_profile_counts_messages_with_their_fan_out(trained, data, tmp_path):
    res = run_model(trained, data, encoding="delta", threshold=0.05, samples=30)
    save_run(res, tmp_path / "r")
    c = count_run(tmp_path / "r")
    g = res.graph
    expected = 0
    for conn in g.connections:
        w = conn.weight if conn.mask is None else conn.weight * conn.mask
        expected += int(res.recording.per_neuron[conn.pre].numpy() @ np.count_nonzero(w, axis=0))
    assert c.totals["effective_macs"] == expected and c.totals["effective_acs"] == 0
    exits = res.recording.exit_step.double().mean().item()
    assert c.populations["h0"].membrane_updates == pytest.approx(exits * 32)
    assert any("delta coding" in a for a in c.assumptions)


def test_cli_delta_run_and_its_bad_input(trained, tmp_path, capsys):
    save_graph(trained, tmp_path / "m")
    assert main(["run", str(tmp_path / "m"), "--encoding", "delta", "--samples", "20", "--out", str(tmp_path / "r"),
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["delta"]["threshold"] == 0.01 and doc["encoding"] == "delta" and doc["delta"]["mean_exit_step"] < 200
    for args, words in ((["--delta-threshold", "0"], "threshold must be a finite number > 0"),
                        (["--delta-threshold", "nan"], "threshold must be a finite number > 0"),
                        (["--quiet-steps", "2"], "--quiet-steps must be an int between 4"),
                        (["--neuron", "lif"], "drop it"),
                        (["--encoding", "poisson", "--spiking", "--delta-threshold", "0.1"], "apply to --encoding delta")):
        out = tmp_path / "bad"
        argv = ["run", str(tmp_path / "m"), "--encoding", "delta", "--samples", "2", "--out", str(out)] + args
        assert main(argv) == 2
        assert words in capsys.readouterr().err and not out.exists()
    assert main(["run", str(tmp_path / "m"), "--encoding", "morse", "--spiking", "--out", str(tmp_path / "b2")]) == 2
    assert "unknown encoding 'morse'" in capsys.readouterr().err


def test_compile_delta_form_is_all_on_neuro_cores(trained, tmp_path, capsys):
    save_graph(trained, tmp_path / "m")
    assert main(["compile", str(tmp_path / "m"), "--to", "lava", "--mode", "delta", "--precision", "fixed", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["loihi2_mapping"]["neuro_core_fraction"] == {"neurons": 1.0, "synapses": 1.0}
    assert {p["class"] for p in doc["processes"] if p["name"].startswith("pop_") and p["name"] != "pop_x"} == \
        {"lava.proc.sdn.process.SigmaDelta"}


def test_emulator_check_lava_covers_delta(trained, data):
    res = run_model(trained, data, backend="emulator", encoding="delta", threshold=0.05, samples=40, check_lava=4)
    assert res.summary["check_lava"]["identical"] and res.summary["delta"]["threshold"] == 0.05
    with pytest.raises(BackendError, match="apply to --encoding delta"):
        run_model(trained, data, spiking=True, quiet=5, samples=2)
    with pytest.raises(NeurotepError, match="quiet-steps"):
        run_model(trained, data, encoding="delta", quiet=1, samples=2)
