"""Boltzmann units (issue 15: HTSEP's stochastic neurons on Loihi 2's neuro-cores): the NEBM
dynamics written once (neurotep.neurons.boltzmann), the stochastic delta form that uses them, its
fixed point against lava-optimization's own NEBM model on Loihi2SimCfg, and the Loihi 2 placement."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neurotep.cli import main
from neurotep.data import load_digits_split
from neurotep.errors import BackendError
from neurotep.graph import save_graph
from neurotep.graph.delta import averages_activation, delta_form
from neurotep.learning.train import train
from neurotep.neurons import DrawStream, boltzmann_step
from neurotep.quantize import quantize
from neurotep.runner import run_model
from neurotep.variants import htsep


@pytest.fixture(scope="module")
def data():
    return load_digits_split()


@pytest.fixture(scope="module")
def model(data):
    """A small HTSEP (36 units on a 6 x 6 torus, N-D buffer) trained for two epochs."""
    return train(htsep.build(seed=0, hidden=36, torus_shape=(6, 6)), data, epochs=2, seed=0, progress=False).graph


def test_boltzmann_unit_turns_on_with_the_logistic_of_its_state_and_sends_its_changes():
    draws = np.array([0.10, 0.90, 0.50, 0.50])
    state0, on0 = np.array([0.0, 0.0, 1.0, -1.0]), np.array([1.0, 0.0, 0.0, 1.0])
    s, state, on = boltzmann_step(np.array([0.0, 0.0, 0.0, 0.0]), state0, on0, draws, 0.25)
    # p = sigmoid(state / T): 0.5, 0.5, 0.98, 0.018
    assert on.tolist() == [1.0, 0.0, 1.0, 0.0] and s.tolist() == [0.0, 0.0, 1.0, -1.0]
    s, state, _ = boltzmann_step(np.array([2.0, 0.0, 0.0, 0.0]), state, on, draws, 0.25)
    assert state.tolist() == [2.0, 0.0, 1.0, -1.0]  # the state sums the messages received
    # NEBM's draws: numpy's legacy generator, the whole (sample-major) batch at each step
    a, b = DrawStream(7, 2, 3), np.random.RandomState(7)
    np.testing.assert_array_equal(np.concatenate([a.next().ravel(), a.next().ravel()]), b.rand(12))


def test_stochastic_delta_form_uses_boltzmann_units_and_folds_the_output_feedback(model):
    d = delta_form(model, 0.01, stochastic=True)
    assert {p.name: p.model for p in d.populations.values()} == {"x": "input", "h": "boltzmann", "y": "sigma_delta"}
    assert averages_activation(d) and not averages_activation(delta_form(model, 0.01))
    conns = {c.name: c for c in d.connections}
    assert "W_h_y_back" not in conns and "W_h_y" in conns  # y keeps its input (the readout)
    fold = conns["W_h_y__W_h_y_back"]
    w = model.connection("W_h_y").weight
    np.testing.assert_allclose(fold.weight, w.T @ w)
    assert fold.pre == fold.post == "h" and fold.delay == conns["W_h_y"].delay + 1
    np.testing.assert_allclose(d.populations["h"].bias, model.populations["h"].bias - 0.5 + w.T @ model.populations["y"].bias)
    # +-1 messages reach NEBM's state without a floored bit: a shift left, or one right over even mantissas
    q = quantize(d)
    for c in d.connections:
        if c.pre == "h":
            e = q.weight_exp(c.name, "h", False)
            assert e >= 0 or (e == -1 and not (q.connections[c.name].w % 2).any()), c.name


@pytest.mark.slow
def test_lava_nebm_gives_the_same_messages_as_the_torch_fixed_path(model, data):
    """lava-optimization's NEBM (fixed_pt, Loihi2SimCfg, numpy draws seeded before Lava forks its
    processes) and neurotep's integer path: the same on/off changes, step by step, neuron by
    neuron, through the N-D buffer taps and the folded feedback, and the same readout."""
    kw = dict(encoding="delta", neuron="stochastic", precision="fixed", samples=6, raster=True, steps=40)
    a, b = run_model(model, data, **kw), run_model(model, data, backend="lava", **kw)
    assert sorted(a.recording.raster) == ["h", "x", "y"]
    for p, r in a.recording.raster.items():
        assert torch.equal(r, b.recording.raster[p]), p
    assert a.recording.raster["h"].sum() > 100  # the units flip
    assert a.summary["test_accuracy"] == b.summary["test_accuracy"]
    assert a.summary["delta"]["stochastic"] and "mean_exit_step" not in a.summary["delta"]


def test_stochastic_delta_runs_need_fixed_point_on_lava_and_no_quiet_steps(model, data, monkeypatch):
    import neurotep.backends.lava.runner as lava_runner

    monkeypatch.setattr(lava_runner, "_has_nebm", lambda: False)
    with pytest.raises(BackendError, match="pip install --no-deps lava-optimization"):
        run_model(model, data, encoding="delta", neuron="stochastic", precision="fixed", backend="lava", samples=2, steps=5)
    monkeypatch.undo()
    with pytest.raises(BackendError, match="fixed-point model in Lava"):
        run_model(model, data, encoding="delta", neuron="stochastic", backend="lava", samples=2, steps=5)
    with pytest.raises(BackendError, match="never go quiet"):
        run_model(model, data, encoding="delta", neuron="stochastic", quiet=10, samples=2, steps=5)
    with pytest.raises(BackendError, match="--neuron lif"):
        run_model(model, data, encoding="delta", neuron="lif", samples=2, steps=5)


def test_htsep_stochastic_delta_form_sits_wholly_on_neuro_cores(model, tmp_path, capsys):
    m = tmp_path / "m"
    save_graph(model, m)
    assert main(["compile", str(m), "--to", "lava", "--mode", "delta", "--neuron", "stochastic", "--precision", "fixed",
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["loihi2_mapping"]["neuro_core_fraction"] == {"neurons": 1.0, "synapses": 1.0}
    assert [o["population"] for o in doc["loihi2_mapping"]["off_core"] if not o["boundary"]] == []
    assert any(p["class"].endswith("nebm.process.NEBM") for p in doc["processes"])
    assert main(["compile", str(m), "--to", "lava", "--mode", "delta", "--neuron", "lif"]) == 2
    assert "--neuron lif" in capsys.readouterr().err


def test_logistic_units_are_the_boltzmann_units_mean_and_train_by_eqprop(data):
    from neurotep.graph.delta import DEFAULT_TEMPERATURE, LOGISTIC_TEMPERATURE as GRAPH_T
    from neurotep.graph.transforms import rate_to_spiking
    from neurotep.errors import GraphError
    from neurotep.neurons.rate import LOGISTIC_TEMPERATURE, activation, energy_term

    assert GRAPH_T == DEFAULT_TEMPERATURE == LOGISTIC_TEMPERATURE  # one value on both sides of the layer line
    u = np.linspace(-1, 2, 7)
    s = activation("logistic", u)
    np.testing.assert_allclose(s, 1 / (1 + np.exp(-(u - 0.5) / 0.25)))
    # G' = f^-1: the energy's stationary points are the rate fixed points
    h = 1e-6
    np.testing.assert_allclose((energy_term("logistic", s + h) - energy_term("logistic", s - h)) / (2 * h), u, atol=1e-5)
    g = htsep.build(seed=0, hidden=36, torus_shape=(6, 6), units="logistic")
    assert g.populations["h"].model == "logistic"
    d = delta_form(g, 0.01, stochastic=True)  # exact: the units' mean is the trained activation
    assert d.populations["h"].model == "boltzmann" and d.populations["h"].param("temperature") == LOGISTIC_TEMPERATURE
    with pytest.raises(GraphError, match="add --neuron stochastic"):
        delta_form(g, 0.01)
    with pytest.raises(GraphError, match="Boltzmann units"):
        rate_to_spiking(g)
    r = train(g, data, epochs=4, seed=0, progress=False)  # 28, 43, 61, 70 % after each epoch
    assert r.metrics["test_accuracy"] > 0.6 and r.history[-1]["train_loss"] < r.history[0]["train_loss"]


def test_temperature_sets_the_stochastic_units_and_needs_them(model, data):
    kw = dict(encoding="delta", neuron="stochastic", samples=30, steps=40)
    cold, warm = run_model(model, data, temperature=0.05, **kw), run_model(model, data, **kw)  # default 0.25
    assert 0 < cold.summary["populations"]["h"]["spikes"] < warm.summary["populations"]["h"]["spikes"]  # fewer flips
    assert any("/ 0.05)" in c for c in cold.summary["delta"]["changes"])
    with pytest.raises(BackendError, match="--temperature sets stochastic units"):
        run_model(model, data, encoding="delta", temperature=0.1, samples=2, steps=5)
    with pytest.raises(BackendError, match="--temperature sets stochastic units"):
        run_model(model, data, spiking=True, neuron="lif", temperature=0.1, samples=2, steps=5)


@pytest.mark.slow
@pytest.mark.parametrize("seed, hidden", [(1, (12, 10)), (2, (9,))])
def test_lava_nebm_matches_on_other_graphs(data, seed, hidden):
    """Untrained base models of one and two hidden layers (the second layer's units feed the
    output, whose feedback is folded; the first layer's feedback from the second is graded
    +-1), in Lava's batch of the 5 samples: the same messages on Lava and the torch fixed path."""
    from neurotep.variants import base

    g = base.build(seed=seed, hidden=hidden)
    kw = dict(encoding="delta", neuron="stochastic", precision="fixed", samples=5, raster=True, steps=25)
    a, b = run_model(g, data, **kw), run_model(g, data, backend="lava", **kw)
    for p, r in a.recording.raster.items():
        assert torch.equal(r, b.recording.raster[p]), p
    assert sum(int(r.sum()) for p, r in a.recording.raster.items() if p.startswith("h")) > 20
