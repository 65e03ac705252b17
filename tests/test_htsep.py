"""HTSEP (seed 001): builder, build-time torus, N-D buffer, gates, EqProp on the decays, spiking mode
with its sparsity knob, gate-aware profiling, continual learning, CLI."""

import copy
import json

import numpy as np
import pytest
import torch

from neurotep.backends.torch import TorchNetwork
from neurotep.cli import main
from neurotep.data import load_digits_split
from neurotep.data.digits import Dataset
from neurotep.errors import DataError, GraphError
from neurotep.graph import Connection, Graph, Population, ToroidalBuffer, load_graph, save_graph
from neurotep.graph.transforms import rate_to_spiking
from neurotep.learning.eqprop import EqPropConfig, eqprop_gradients
from neurotep.learning.gradcheck import cosine, implicit_gradients
from neurotep.variants import base, htsep


def _small(**kw):
    """12 hidden units on a 3x4 torus, 6 inputs (a 2x3 image), 3 outputs, float64-friendly."""
    hp = dict(n_in=6, n_out=3, hidden=12, torus_shape=(3, 4), spatial_decay=(0.6, 0.4), input_shape=(2, 3),
              buffer_gain=0.02, buffer_depth=3)
    hp.update(kw)
    return htsep.build(**hp)


def _batch(n=8, n_in=6, n_out=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, n_in, generator=gen, dtype=torch.float64) * 2
    t = torch.nn.functional.one_hot(torch.randint(0, n_out, (n,), generator=gen), n_out).double()
    return x, t


@pytest.fixture(scope="module")
def data():
    return load_digits_split()


# -- builder ----------------------------------------------------------------------------------------
def test_builder_validates_and_records_everything(tmp_path):
    g = htsep.build()
    assert g.meta["variant"] == "htsep" and g.meta["input"] == "x" and g.meta["output"] == "y"
    json.dumps(g.meta)  # JSON-serialisable, build args included
    hp = g.meta["hyperparameters"]
    assert set(htsep.DEFAULTS) <= set(hp) and {"n_in", "n_out", "seed"} <= set(hp)
    b = g.buffers[0]
    assert b.shape == (16, 16) and len(b.decay) == 3 and b.learn and b.worst_loop_gain() < 1
    assert g.populations["h"].param("gate") == 0.5 and g.connection("W_h_y").symmetric
    assert g.meta["spiking"]["neuron"] == "stochastic" and g.meta["spiking"]["seed"] != 1  # not the encoder's
    save_graph(g, tmp_path / "m")
    back = load_graph(tmp_path / "m")
    assert back.buffers[0].shape == (16, 16) and back.meta == json.loads(json.dumps(g.meta))


@pytest.mark.parametrize("kw, match", [
    (dict(gate=0.0), r"^htsep: gate must be a number in \(0, 1\]"),
    (dict(gate=1.5), r"gate must be"),
    (dict(torus_shape=(10, 10)), r"product is hidden = 256"),
    (dict(torus_shape="square"), r"torus_shape must be 'auto' or explicit values"),
    (dict(buffer_gain=0.05), r"with learn_decay the loop gain can reach .* >= 1; lower buffer_gain"),
    (dict(hidden=20, radius=(3, 3), learn_decay=False), r"no factorisation rows x cols"),
    (dict(spatial_decay=1.5), r"spatial_decay must be"),
    (dict(spike_temperature=0), r"spike_temperature must be a number > 0"),
    (dict(hidden=(16, 16)), r"hidden must be one positive int"),
    (dict(input_shape=(3, 3)), r"input_shape must be two positive ints whose product is n_in = 64"),
    (dict(nudge_steps=0), r"nudge_steps must be an int >= 1"),
    (dict(beta=-0.5), r"beta \(the EqProp nudge\) must be a number > 0"),
    (dict(units="relu"), r"units must be one of hard_sigmoid, logistic, got 'relu'"),
])
def test_bad_hyperparameters_fail_in_one_line(kw, match):
    with pytest.raises(GraphError, match=match) as e:
        htsep.build(**kw)
    assert "\n" not in str(e.value)


def test_auto_torus_from_input_statistics():
    rs = np.random.default_rng(0)
    # 4x16 images: smooth along the rows' length (horizontal correlation high), independent rows.
    base_rows = rs.normal(size=(500, 4, 1))
    imgs = base_rows + 0.3 * rs.normal(size=(500, 4, 16))
    rho = htsep.neighbour_correlation(imgs.reshape(500, -1), (4, 16))
    assert rho[0] < 0.1 and rho[1] > 0.8
    assert abs(rho[1] - np.mean([np.corrcoef(imgs[:, i, j], imgs[:, i, j + 1])[0, 1]
                                  for i in range(4) for j in range(15)])) < 1e-9
    auto = htsep.auto_torus(64, 64, (1, 1), imgs.reshape(500, -1), input_shape=(4, 16))
    assert auto["shape"] == [4, 16]  # the aspect ratio of the image
    assert auto["spatial_decay"][1] > 0.8 and auto["spatial_decay"][0] == htsep.DECAY_RANGE[0]
    g = htsep.build(n_in=64, hidden=64, data_sample=imgs.reshape(500, -1), input_shape=(4, 16))
    assert g.buffers[0].shape == (4, 16) and g.meta["torus"]["auto"]["source"].startswith("sample")
    # Digits by default (training split only): 16x16, decays rho ** (8 / 16).
    d = htsep.auto_torus(256, 64)
    assert d["shape"] == [16, 16] and d["source"].startswith("digits training split")
    assert d["spatial_decay"] == pytest.approx([r ** 0.5 for r in d["neighbour_correlation"]])
    # No statistics at all: a recorded default, not a silent guess.
    n = htsep.auto_torus(100, 49)
    assert n["shape"] == [10, 10] and n["spatial_decay"] == [0.5, 0.5] and n["source"].startswith("none")


# -- N-D buffer ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("learn", [False, True])
def test_nd_buffer_feedback_equals_hand_computation(learn):
    rows, cols, K, gain, dec = 3, 4, 3, 0.01, (0.7, 0.5, 0.3)
    g = Graph()
    g.add(Population("x", rows * cols, "input"))
    g.add(Population("h", rows * cols, "linear", {"damping": 1.0}))
    g.add(Connection("I", "x", "h", np.eye(rows * cols), delay=0))
    g.add(ToroidalBuffer("torus", "h", K, dec, gain, shape=(rows, cols), radius=(1, 1), learn=learn))
    g.meta.update(input="x", output="h")
    net = TorchNetwork(g.validate(), dtype=torch.float64)
    rs = np.random.default_rng(1)
    xs = rs.normal(size=(7, 2, rows * cols))
    st, w, seen = net.init_state(2), net.effective_weights(), []
    with torch.no_grad():
        for t in range(len(xs)):
            st = net.step(st, {"x": torch.as_tensor(xs[t])}, w)
            seen.append(st.out["h"].numpy().copy())
    hist = []  # hand computation with explicit wrap-around neighbour loops
    for t in range(len(xs)):
        fb = np.zeros((2, rows, cols))
        for j in range(K):
            if t - 1 - j < 0:
                continue
            past = hist[t - 1 - j].reshape(2, rows, cols)
            for r in range(rows):
                for c in range(cols):
                    for dr in (-1, 0, 1):
                        for dc in (-1, 0, 1):
                            wgt = gain * dec[0] ** j * dec[1] ** abs(dr) * dec[2] ** abs(dc)
                            fb[:, r, c] += wgt * past[:, (r + dr) % rows, (c + dc) % cols]
        hist.append(xs[t] + fb.reshape(2, -1))
    np.testing.assert_allclose(np.array(seen), np.array(hist), atol=1e-6 if learn else 1e-12)


def test_gates_leave_the_rate_fixed_point_unchanged():
    x, _ = _batch()
    states = {}
    for gate in (1.0, 0.5):
        net = TorchNetwork(_small(gate=gate, damping=1.0), dtype=torch.float64)
        with torch.no_grad():
            one, _ = net.relax({"x": x}, 3, None)  # after 3 steps the trajectories differ ...
            st, n = net.relax({"x": x}, 20000, 1e-13)
        states[gate] = (one.out["h"], st.out["h"], st.out["y"], n)
    assert not torch.allclose(states[1.0][0], states[0.5][0])
    torch.testing.assert_close(states[1.0][1], states[0.5][1], atol=1e-10, rtol=0)  # ... the fixed point does not
    torch.testing.assert_close(states[1.0][2], states[0.5][2], atol=1e-10, rtol=0)
    assert states[0.5][3] > states[1.0][3]  # gated relaxation needs more steps


@pytest.mark.parametrize("gate", [1.0, 0.5])
def test_eqprop_learns_the_decays_with_the_true_gradient(gate):
    g = _small(gate=gate, buffer_gain=0.025)
    net = TorchNetwork(g, dtype=torch.float64)
    ref = net if gate == 1 else TorchNetwork(copy.deepcopy(g), dtype=torch.float64)
    if gate < 1:  # gates do not move the fixed point: the implicit gradient is the ungated network's
        ref.graph.populations["h"].params["gate"] = 1.0
    x, t = _batch()
    ep, _, free = eqprop_gradients(net, x, t, EqPropConfig(beta=1e-3, free_steps=20000, nudge_steps=20000, tol=1e-12))
    true = implicit_gradients(ref, x, t, free.out)
    assert "torus:h" in ep and ep["torus:h"].shape == (3,)
    assert float(true["torus:h"].norm()) > 1e-6  # a real signal, not two zeros
    assert cosine(ep["torus:h"], true["torus:h"]) > 0.99
    assert float(ep["torus:h"].norm() / true["torus:h"].norm()) == pytest.approx(1.0, abs=0.02)
    for k in ep:
        assert cosine(ep[k], true[k]) > 0.99, k


# -- spiking mode ----------------------------------------------------------------------------------
def test_rate_to_spiking_gates_compensate_the_drive():
    g = htsep.build(seed=0)
    s = rate_to_spiking(g)  # the variant's defaults: stochastic neurons, its temperature and gate
    assert s.populations["h"].model == "stochastic" and s.meta["spiking_settings"]["neuron"] == "stochastic"
    assert s.populations["h"].param("temperature") == g.meta["spiking"]["temperature"]
    gated = rate_to_spiking(g, gate=0.5, temperature=0.3)
    h = gated.populations["h"]
    assert h.param("gate") == 0.5 and h.param("temperature") == 0.3
    fwd, back = gated.connection("W_h_y"), gated.connection("W_h_y_back")
    w = g.connection("W_h_y").weight
    np.testing.assert_array_equal(fwd.weight, w / 0.5)  # h's spikes carry 1/gate
    np.testing.assert_array_equal(back.weight, w.T)  # y is graded and ungated: unchanged
    assert not fwd.symmetric and (back.pre, back.post) == ("y", "h")
    np.testing.assert_array_equal(gated.connection("W_x_h").weight, g.connection("W_x_h").weight)
    assert gated.buffers[0].gain == pytest.approx(g.buffers[0].gain / 0.5)
    assert rate_to_spiking(base.build()).populations["h0"].model == "lif"  # base keeps LIF by default
    with pytest.raises(GraphError, match="gates on spiking neurons need neuron='stochastic'"):
        rate_to_spiking(g, neuron="lif", gate=0.5)
    assert rate_to_spiking(g, neuron="lif").populations["h"].model == "lif"  # the variant gate is ignored
    with pytest.raises(GraphError, match="spiking gate must be a probability"):
        rate_to_spiking(g, gate=0.0)


@pytest.mark.parametrize("gate", [1.0, 0.5])
def test_gated_stochastic_neuron_rate_is_gate_times_hard_sigmoid(gate):
    n, T = 400, 2000  # gate noise: open fraction std sqrt(g (1 - g) / T) <= 0.011
    u = np.linspace(-0.5, 1.5, n)
    g = Graph()
    g.add(Population("x", 1, "input"))
    g.add(Population("h", n, "hard_sigmoid", {"damping": 1.0}, bias=u))
    g.add(Connection("w", "x", "h", np.zeros((n, 1))))
    g.meta.update(input="x", output="h")
    s = rate_to_spiking(g.validate(), neuron="stochastic", temperature=0.2, gate=gate, seed=5)
    net = TorchNetwork(s)
    _, rec, _ = net.run(lambda t: {"x": torch.zeros(1, 1)}, T, 1)
    rate = rec.per_neuron["h"].numpy() / T
    np.testing.assert_allclose(rate, gate * np.clip(u, 0, 1), atol=0.05)
    assert abs(rate.mean() - gate * np.clip(u, 0, 1).mean()) < 0.005


# -- profiling -------------------------------------------------------------------------------------
def test_profile_counts_closed_gates_and_torus_fan_out(tmp_path, data):
    from neurotep.profile import count_run
    from neurotep.runner import run_model, save_run

    g = htsep.build(seed=3, hidden=64, torus_shape=(8, 8))
    g.meta["spiking"]["gate"] = 0.5
    res = run_model(g, data, samples=5, steps=30, spiking=True, neuron="stochastic")
    assert res.graph.populations["h"].param("gate") == 0.5
    ids = np.asarray(data.test_index[:5], dtype=np.int64)
    # What the torch backend itself drew, independently of the profiler's re-computation.
    net = TorchNetwork(res.graph)
    drawn = sum(int(net._gate(res.graph.populations["h"], t, torch.as_tensor(ids), 5).sum()) for t in range(30))
    exact, expected = tmp_path / "exact", tmp_path / "expected"
    save_run(res, exact)  # runs record their sample ids
    assert json.loads((exact / "run.json").read_text())["sample_ids"] == ids.tolist()
    res.sample_ids = None  # a run directory without them (e.g. written by an older neurotep)
    save_run(res, expected)
    ce, cx = count_run(exact), count_run(expected)
    assert ce.populations["h"].membrane_updates == drawn / 5
    assert cx.populations["h"].membrane_updates == 0.5 * 30 * 64
    assert abs(drawn / 5 - 0.5 * 30 * 64) < 0.05 * 30 * 64 and drawn / 5 != 0.5 * 30 * 64
    assert ce.populations["y"].membrane_updates == 30 * 10  # ungated: every step
    assert any("gated populations (h (gate 0.5))" in a and "exactly" in a for a in ce.assumptions)
    # N-D buffer: every spike reaches K taps x (2r+1)^2 neighbours.
    h = ce.populations["h"]
    assert h.buffer_ops == pytest.approx(4 * 9 * h.events) and h.buffer_ops_dense == 4 * 9 * 64 * 30


# -- training, spiking inference, continual learning --------------------------------------------------
@pytest.fixture(scope="module")
def trained(data):
    from neurotep.learning.train import train

    rs = np.random.default_rng(0)
    idx = rs.choice(len(data.x_train), 500, replace=False)
    sub = Dataset(data.x_train[idx], data.y_train[idx], data.x_test, data.y_test, "digits-sub", 10,
                  data.train_index[idx], data.test_index)
    res = train(htsep.build(seed=0), sub, epochs=3, progress=False)
    return res


@pytest.mark.slow
def test_short_training_beats_chance_and_moves_the_decays(trained):
    assert trained.metrics["test_accuracy"] > 0.8  # chance is 0.1
    assert trained.history[-1]["train_loss"] < trained.history[0]["train_loss"]
    assert trained.graph.buffers[0].decay != htsep.build(seed=0).buffers[0].decay  # decays were learned


@pytest.mark.slow
def test_stochastic_spiking_inference_keeps_accuracy(trained, data):
    from neurotep.runner import run_model

    rate = run_model(trained.graph, data, samples=150).summary["test_accuracy"]
    spk = run_model(trained.graph, data, samples=150, steps=100, spiking=True, neuron="stochastic").summary
    g2 = copy.deepcopy(trained.graph)
    g2.meta["spiking"]["gate"] = 0.5
    half = run_model(g2, data, samples=150, steps=100, spiking=True, neuron="stochastic").summary
    assert spk["populations"]["h"]["model"] == "stochastic"
    assert spk["test_accuracy"] > rate - 0.05 and spk["test_accuracy"] > 0.75
    ratio = half["populations"]["h"]["spikes"] / spk["populations"]["h"]["spikes"]
    assert 0.4 < ratio < 0.6 and half["test_accuracy"] > 0.7


def test_continual_learning_runs_on_a_tiny_subset(data):
    from neurotep.learning.continual import continual_experiment, task_subset

    rs = np.random.default_rng(0)
    tr, te = rs.choice(len(data.x_train), 400, replace=False), rs.choice(len(data.x_test), 90, replace=False)
    tiny = Dataset(data.x_train[tr], data.y_train[tr], data.x_test[te], data.y_test[te], "tiny", 10,
                   data.train_index[tr], data.test_index[te])
    g = _small(n_in=64, n_out=10, hidden=36, torus_shape=(6, 6), input_shape=None, gate=1.0)
    r = continual_experiment(g, tiny, tasks=((0, 1, 2), (3, 4, 5)), epochs=3, lr=1e-2)
    assert r["after_task"][0]["task0"]["class_incremental"] > 0.6  # it learned task A (chance: 1/10)
    assert len(r["graphs"]) == 2 and r["train_images"][0] == int(np.isin(tiny.y_train, (0, 1, 2)).sum())
    for after in r["after_task"]:
        for acc in after.values():
            assert 0 <= acc["class_incremental"] <= acc["task_incremental"] <= 1
    assert r["retention"]["class_incremental"] == pytest.approx(
        r["after_task"][1]["task0"]["class_incremental"] / r["after_task"][0]["task0"]["class_incremental"])
    json.dumps({k: v for k, v in r.items() if k != "graphs"})
    assert set(task_subset(tiny, (3, 4)).y_test) <= {3, 4}
    with pytest.raises(DataError, match="share classes"):
        continual_experiment(g, tiny, tasks=((0, 1), (1, 2)))
    with pytest.raises(DataError, match="subset of 0..9"):
        task_subset(tiny, (11,))


# -- CLI -------------------------------------------------------------------------------------------
def test_cli_lists_htsep(capsys):
    assert main(["variants", "--json"]) == 0
    rows = {r["name"]: r["description"] for r in json.loads(capsys.readouterr().out)["variants"]}
    assert "htsep" in rows and "torus" in rows["htsep"]


@pytest.mark.slow
def test_cli_train_run_profile_htsep(tmp_path, capsys):
    m, r = tmp_path / "m", tmp_path / "r"
    assert main(["train", "htsep", "--out", str(m), "--epochs", "1", "--json"]) == 0
    assert json.loads((m / "metrics.json").read_text())["test_accuracy"] > 0.5
    assert main(["run", str(m), "--out", str(r), "--spiking", "--neuron", "stochastic", "--samples", "40",
                 "--steps", "40", "--json"]) == 0
    assert json.loads((r / "run.json").read_text())["populations"]["h"]["model"] == "stochastic"
    assert main(["profile", str(r), "--hardware", "loihi2", "--json"]) == 0
    assert main(["compile", str(m), "--neuron", "stochastic", "--json"]) == 0


@pytest.mark.slow
def test_quick_benchmark_runs_and_reports(quick_benchmark):
    from pathlib import Path

    _, r = quick_benchmark("htsep")
    root = Path(__file__).resolve().parents[1]
    assert (root / r["plot"]).exists() and r["accuracy_vs_spikes"]
    g1, g5 = r["energy"]["htsep"][:2]
    assert g5["hidden_membrane_updates_per_inference"] < 0.6 * g1["hidden_membrane_updates_per_inference"]
    assert r["gradient"][0]["min_cos_eqprop_implicit"] > 0.99
    assert r["steps_to_equilibrium"]["base"]["within_tol_plain"]["not_reached"] == 0
