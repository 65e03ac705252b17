"""TEP-SSR (seed 004): the SSM + looped block variant, its sequence data, EqProp training, its
gradients against BPTT, and its Lava mapping (neurotep's processes, Lava's own S4d, fixed point)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurotep.backends.torch import Nudge, TorchNetwork
from neurotep.data import Dataset, load_dataset, one_hot
from neurotep.data.sequences import SequenceDataset, cue_recall
from neurotep.errors import BackendError, DataError, GraphError
from neurotep.learning.bptt import bptt_gradients
from neurotep.learning.eqprop import EqPropConfig, eqprop_gradients
from neurotep.learning.train import predict, train
from neurotep.graph import load_graph, save_graph
from neurotep.graph.stages import stage_parts
from neurotep.learning.constraints import spectral_normalise
from neurotep.learning.ssm import project_ssm, ssm_gradients
from neurotep.neurons.s4d import modes_of
from neurotep.variants import get, tepssr


@pytest.fixture(autouse=True)
def one_thread():
    """Small matrices: one intra-op thread avoids oversubscription on a loaded 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def rows():
    return load_dataset("digits-rows")


def small(n_in=64, feats=8, **kw):
    return tepssr.build(n_in=n_in, n_out=10, seed=0, step_features=feats, **{"state": 16, "hidden": 32, **kw})


def z_closed_form(g, x):
    """z_L = sum_t lambda^(L-1-t) b . u_t in complex numpy, as (Re, Im) pairs."""
    L, F = g.stream_of("x").length, g.populations["x"].size
    lam = modes_of(g.connection("A_s").weight)
    b = g.connection("B_x_s").weight[0::2]
    xs = x.reshape(len(x), L, F)
    z = sum(lam[None] ** (L - 1 - t) * (xs[:, t] @ b.T) for t in range(L))
    return np.stack([z.real, z.imag], axis=2).reshape(len(x), -1)


# -- data ----------------------------------------------------------------------------------------------
def test_sequence_datasets(rows):
    digits = load_dataset("digits")
    pix = load_dataset("digits-pixels")
    assert (rows.steps, rows.step_features, pix.steps, pix.step_features) == (8, 8, 64, 1)
    np.testing.assert_array_equal(rows.x_test, digits.x_test)  # same images and split, read as sequences
    cue = load_dataset("cue-recall-50")
    assert cue.name == "cue-recall-50" and cue.x_train.shape == (800, 50 * 5) and cue.n_classes == 4
    xs = cue.x_train.reshape(-1, 50, 5)
    np.testing.assert_array_equal(xs[:, 0, :4].argmax(1), cue.y_train)  # the label is the cue at t = 0
    assert (xs[:, -1, 4] == 1).all() and (xs[:, :-1, 4] == 0).all()  # query flag at the end only
    assert xs[:, 1:-1, :4].max() < 0.2 + 1e-12 and np.bincount(cue.y_train).min() == 200
    np.testing.assert_array_equal(cue_recall(50).x_test, cue.x_test)  # deterministic
    for bad in ("cue-recall-x", "cue-recall-2", "digits-cols"):
        with pytest.raises(DataError):
            load_dataset(bad)


# -- builder -------------------------------------------------------------------------------------------
def test_build_structure_and_stability():
    g = get("tepssr").build(n_in=64, n_out=10, seed=0, step_features=8)
    assert [(s.population, s.length, s.every) for s in g.streams] == [("x", 8, 1)] and g.populations["x"].size == 8
    assert [(s.name, s.active, s.steps, s.encoded) for s in g.stages] == [("feed", ("s",), 9, False),
                                                                           ("relax", ("h", "y"), None, True)]
    A = g.connection("A_s").weight
    lam = modes_of(A)
    assert len(lam) == 64 and np.abs(lam).max() < 1
    np.testing.assert_allclose(np.abs(lam), np.exp(-0.5 / 8))  # S4D-Lin, dt = 1/L
    assert np.linalg.norm(A, 2) < 1  # the SSM contracts
    assert not np.any(A[~g.connection("A_s").mask]) and not np.any(g.connection("B_x_s").weight[1::2])
    assert g.connection("A_s").learning is None and g.connection("B_x_s").learning is None
    spec = g.meta["spectral"]
    assert np.linalg.norm(g.connection("W_h_y").weight, 2) <= spec["bound"] + 1e-12
    # the bound keeps the coupling's top eigenvalue at rho < 1
    lg, sig = spec["loop_gain"], spec["bound"]
    assert (lg + np.sqrt(lg**2 + 4 * sig**2)) / 2 == pytest.approx(spec["rho"])
    one = tepssr.build(n_in=64, step_features=None)
    assert one.stream_of("x").length == 1 and one.populations["x"].size == 64


def test_time_is_saved_with_the_graph_and_old_files_still_load(tmp_path):
    """Format 2 saves the stream and the stages; a format-1 file (relaxation "sequence" with
    meta.sequence/ssm/block, as TEP-SSR wrote it before) loads as the same stream and stages."""
    import json

    g = small()
    save_graph(g, tmp_path / "new")
    back = load_graph(tmp_path / "new")
    assert back.streams == g.streams and back.stages == g.stages
    doc = json.loads((tmp_path / "new" / "graph.json").read_text())
    assert doc["format_version"] == 2
    del doc["streams"], doc["stages"]
    doc["format_version"] = 1
    doc["meta"].update(relaxation="sequence", sequence={"length": 8, "features": 8}, ssm=["s"], block=["h", "y"])
    (tmp_path / "new" / "graph.json").write_text(json.dumps(doc))
    old = load_graph(tmp_path / "new")
    assert old.streams == [tepssr.InputStream("x_sequence", "x", 8)] and old.stages == g.stages
    assert "sequence" not in old.meta and old.meta["relaxation"] == "plain"


def test_stage_parts_hold_the_ssm_as_a_graded_input():
    parts = stage_parts(small())
    feed, relax = (p.graph for p in parts)
    assert set(feed.populations) == {"x", "s"} and feed.meta["output"] == "s" and parts[0].handover == "s"
    assert relax.populations["s"].model == "input" and relax.populations["s"].params == {"graded": True}
    assert {c.name for c in relax.connections} == {"C_s_h", "D_x_h", "W_h_y"} and parts[1].offset == 9
    assert relax.emits_graded("s", spiking_inputs=True) and not relax.emits_graded("x", spiking_inputs=True)


@pytest.mark.parametrize("kw, msg", [(dict(step_features=7), "divide"), (dict(state=15), "even"),
                                     (dict(rho=1.0), "rho"), (dict(dt=-1.0), "dt"), (dict(hidden=0), "hidden")])
def test_build_rejects_bad_hyperparameters(kw, msg):
    with pytest.raises(GraphError, match=msg):
        tepssr.build(n_in=64, **{"step_features": 8, **kw})


# -- torch path ----------------------------------------------------------------------------------------
def test_feed_is_the_diagonal_ssm_and_relaxation_holds_it(rows):
    g = small()
    net = TorchNetwork(g, dtype=torch.float64)
    x = torch.as_tensor(rows.x_test[:5])
    with torch.no_grad():
        st = net.play_stages({"x": x})
        np.testing.assert_allclose(st.out["s"].numpy(), z_closed_form(g, rows.x_test[:5]), rtol=0, atol=1e-12)
        assert not st.out["h"].any() and not st.out["y"].any()  # the block held during the sequence
        free, n = net.relax({"x": x}, 400, 1e-9)
    np.testing.assert_array_equal(free.out["s"].numpy(), st.out["s"].numpy())  # the SSM held while relaxing
    assert n < 400
    with pytest.raises(RuntimeError):  # a row that is not 8 frames of 8 values
        net.relax({"x": x[:, :60]}, 5)


def test_spectral_normalisation_after_update():
    g = small()
    net = TorchNetwork(g)
    with torch.no_grad():
        net.weights["W_h_y"].mul_(10.0)
    spectral_normalise(net)
    sigma = float(torch.linalg.matrix_norm(net.weights["W_h_y"].detach().double(), 2))
    assert sigma == pytest.approx(g.meta["spectral"]["bound"], rel=1e-5)


def test_eqprop_and_trace_gradients_match_bptt(rows):
    """EqProp (C, D, W, biases) and the eligibility-trace estimate (B, A) against autograd through
    the SSM and 400 relaxation steps (float64, small beta)."""
    g = small(state=16, hidden=48)
    net = TorchNetwork(g, dtype=torch.float64)
    x, t = torch.as_tensor(rows.x_train[:48]), torch.as_tensor(one_hot(rows.y_train[:48], 10))
    cfg = EqPropConfig(beta=0.05, free_steps=1000, nudge_steps=1000, tol=1e-11)
    eq, _, free = eqprop_gradients(net, x, t, cfg)
    with torch.no_grad():
        w = net.effective_weights()
        plus = net.relax({"x": x}, 1000, 1e-11, state=free.fork(), nudge=Nudge("y", cfg.beta, t), weights=w)[0].out
        minus = net.relax({"x": x}, 1000, 1e-11, state=free.fork(), nudge=Nudge("y", -cfg.beta, t), weights=w)[0].out
    eq.update(ssm_gradients(net, x, plus, minus, cfg.beta))
    bp, _ = bptt_gradients(net, x, t, 400)
    bp.update(project_ssm(bp))
    for k in ("weight:C_s_h", "weight:D_x_h", "weight:W_h_y", "bias:h", "bias:y", "weight:B_x_s", "weight:A_s"):
        a, b = eq[k].double().flatten(), bp[k].double().flatten()
        assert float(a @ b / (a.norm() * b.norm())) > 0.995, k


def test_eqprop_training_learns_sequences(rows):
    """Four epochs of EqProp on a 600-sample slice of digits-rows' training split, evaluated on
    another slice of the training split (the test split is left alone)."""
    g = small(hidden=128, state=64)
    tr, va = slice(0, 600), slice(1000, 1400)
    d = SequenceDataset(rows.x_train[tr], rows.y_train[tr], rows.x_train[va], rows.y_train[va], "slice", 10,
                        rows.train_index[tr], rows.train_index[va], steps=8, step_features=8)
    res = train(g, d, epochs=4, seed=0, progress=False)
    assert res.metrics["test_accuracy"] > 0.75, res.history
    trained = res.graph
    assert np.linalg.norm(trained.connection("W_h_y").weight, 2) <= trained.meta["spectral"]["bound"] * (1 + 1e-5)
    for c in ("A_s", "B_x_s"):  # fixed at the S4D initialisation (up to the float32 the torch path trains in)
        np.testing.assert_array_equal(trained.connection(c).weight, g.connection(c).weight.astype(np.float32))
    pred, _ = predict(TorchNetwork(trained), d.x_test, EqPropConfig.from_meta(trained.meta))
    assert (pred == d.y_test).mean() == pytest.approx(res.metrics["test_accuracy"])


def test_runner_rate_and_spiking(rows, tmp_path):
    from neurotep.runner import run_model, save_run

    g = small()
    rate = run_model(g, rows, samples=20)
    spk = run_model(g, rows, samples=20, spiking=True, steps=40, raster=True)
    assert rate.summary["mode"] == "rate" and spk.summary["populations"]["h"]["model"] == "lif"
    assert spk.summary["populations"]["h"]["spikes"] > 0 and spk.summary["populations"]["x"]["spikes"] > 0
    save_run(spk, tmp_path / "run")
    assert (tmp_path / "run" / "spikes.npz").exists()
    assert spk.summary["stages"] == [{"name": "feed", "steps": 9, "recorded": False},
                                     {"name": "relax", "steps": 40, "recorded": True}]
    with pytest.raises(DataError, match="feature count"):
        run_model(g, Dataset(rows.x_train[:, :32], rows.y_train, rows.x_test[:, :32], rows.y_test, "cut", 10,
                             rows.train_index, rows.test_index))


# -- Lava ------------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("mode", [dict(), dict(spiking=True), dict(spiking=True, precision="fixed"),
                                  dict(spiking=True, encoding="current")])
def test_lava_runs_the_same_stages_as_torch(rows, mode):
    """TEP-SSR through the runner's one path on both backends: spiking and fixed-point rasters and
    readouts identical (torch in float64 on the CPU); the rate mode's readouts equal to the
    relaxation's rounding (Lava's inputs arrive through a synapse's delay)."""
    from neurotep.runner import run_model

    g = small()
    a = run_model(g, rows, samples=6, steps=60, raster=True, **mode)
    b = run_model(g, rows, samples=6, steps=60, raster=True, backend="lava", **mode)
    assert a.summary["test_accuracy"] == b.summary["test_accuracy"] and a.summary["stages"] == b.summary["stages"]
    if mode:
        assert set(a.recording.raster) == set(b.recording.raster) >= {"h"}
        for p in a.recording.raster:
            assert torch.equal(a.recording.raster[p], b.recording.raster[p]), p
        assert a.summary["populations"] == b.summary["populations"]


def test_staged_rate_run_relaxes_to_the_training_equilibrium(rows):
    """The runner's staged play (the SSM run, its final state held as an input of the block run)
    reaches the equilibrium the torch network's in-network stages give (what training uses)."""
    from neurotep.runner import _play_stages

    g, x = small(), rows.x_test[:3]
    net = TorchNetwork(g, dtype=torch.float64)
    with torch.no_grad():
        eq, n = net.relax({"x": torch.as_tensor(x)}, 1000, 1e-12)
    play = dict(backend="torch", precision="float", spiking=False, poisson=False, device="cpu", raster=False,
                on_chip=False, quiet=None, delta=False, tol=1e-12)
    y = _play_stages(g, stage_parts(g), x, rows.test_index[:3], 1000, play)[0]
    assert n < 1000
    np.testing.assert_allclose(y, eq.out["y"].numpy(), rtol=0, atol=1e-9)


@pytest.mark.slow
def test_lava_s4d_process_expresses_the_ssm(rows):
    """Lava's own S4d (complex diagonal state, float) computes the same final state."""
    from neurotep.backends.lava.s4d import s4d_final_states

    g = small()
    s = s4d_final_states(rows.x_test[:3].reshape(3, 8, 8), modes_of(g.connection("A_s").weight),
                         g.connection("B_x_s").weight)
    np.testing.assert_allclose(s, z_closed_form(g, rows.x_test[:3]), rtol=0, atol=1e-13)


@pytest.mark.slow
def test_ssm_fixed_point_is_bit_exact_on_lava(rows):
    """Fixed point (Loihi 2 formats): the quantised torch SSM and Lava's fixed_pt run agree
    exactly, at every step's mean and at the last step."""
    from neurotep.backends.lava.runner import run_lava
    from neurotep.backends.torch.fixed import FixedNetwork
    from neurotep.quantize import encode_input, quantize

    g = stage_parts(small())[0].graph
    xs = rows.x_test[:3].reshape(3, 8, 8)
    frames = encode_input(np.concatenate([xs, xs[:, -1:]], axis=1).transpose(1, 0, 2), False)
    net, ft = FixedNetwork(quantize(g), spiking_inputs=False), torch.as_tensor(frames)
    means = [net.run(lambda t: {"x": ft[t]}, n, 3, readout="s", spiking_inputs=False)[1].double() for n in (9, 8)]
    _, ro, _ = run_lava(g, {"x": frames}, 9, rows.test_index[:3], spiking_inputs=False, precision="fixed")
    np.testing.assert_array_equal(ro["mean"].numpy(), means[0].numpy())
    np.testing.assert_array_equal(ro["last"].numpy(), (means[0] * 9 - means[1] * 8).numpy())


@pytest.mark.slow
def test_quick_benchmark(quick_benchmark):
    out, res = quick_benchmark("tepssr")
    assert "growth exponent" in out and res["figure"].endswith("tepssr.quick.png")
    acc = res["accuracy"][0]
    assert acc["task"] == "digits-rows" and acc["tepssr"]["acc"][0] > 0.5 and acc["base"]["acc"][0] > 0.5
    mem = res["training_memory"]
    # EqProp: no memory growth with T (the profiler's event order lets the peak wobble by a tensor)
    assert mem[-1]["eqprop_mib"] <= 1.15 * mem[0]["eqprop_mib"]
    assert mem[-1]["bptt_mib"] > 1.2 * mem[0]["bptt_mib"]  # BPTT through the sequence grows with it
    assert res["gradient_cosine"]["0.1"]["all"] > 0.99
    assert all(r["tepssr_s"] > 0 and r["attention_s"] > 0 for r in res["scaling"])


def test_cli_refuses_lava_training_in_one_line(tmp_path, capsys):
    from neurotep.cli import main

    assert main(["train", "tepssr", "--dataset", "digits-rows", "--backend", "lava", "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--backend torch" in err and not (tmp_path / "m").exists()
