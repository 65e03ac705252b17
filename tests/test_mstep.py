"""MS-TEP (seed 000): the pyramid's energy is the seed's, its solvers find the plain fixed point,
EqProp is its gradient, it learns, and it runs on Lava like on torch."""

import json

import numpy as np
import pytest
import torch

from neurotep import variants
from neurotep.backends.torch import Nudge, TorchNetwork
from neurotep.backends.torch.solvers import SOLVERS, get_solver, relax_info, step_cost
from neurotep.errors import BackendError, GraphError
from neurotep.learning.gradcheck import compare_gradients
from neurotep.variants import base, mstep


def _small(levels=(8, 32), seed=0, **kw):
    return mstep.build(n_in=16, n_out=3, levels=levels, seed=seed, **kw)


def _batch(n_in=16, n_out=3, b=6, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(b, n_in, generator=gen, dtype=torch.float64) * 2
    t = torch.nn.functional.one_hot(torch.randint(0, n_out, (b,), generator=gen), n_out).double()
    return x, t


def test_builder_validates_and_registers():
    assert variants.get("mstep") is mstep
    g = mstep.build()  # digits-sized defaults: levels 64 -> 256, pooled 4x4 input for the coarse level
    g.validate()
    assert g.meta["levels"] == [["x1", "h1"], ["h2", "y"]]
    assert g.meta["relaxation"] == "coarse_to_fine" and g.meta["input"] == "x" and g.meta["output"] == "y"
    json.dumps(g.meta)  # hyperparameters are JSON
    assert g.meta["hyperparameters"]["levels"] == [64, 256]
    conns = {c.name: c for c in g.connections}
    # the output is coupled to the finest level only; the pooling is fixed, the couplings learned
    assert [c.name for c in g.connections if "y" in (c.pre, c.post)] == ["W_h2_y"]
    assert conns["P_x_x1"].learning is None and conns["C_h1_h2"].learning is not None and conns["C_h1_h2"].symmetric
    for name in ("S_h1", "S_h2"):  # quadratic self-terms: fixed, delay 1, pre == post, negative semidefinite
        c = conns[name]
        assert c.pre == c.post and c.delay == 1 and c.learning is None
        assert np.linalg.eigvalsh(c.weight).max() <= 1e-12
    assert {b.population for b in g.buffers} == {"h1", "h2"}
    three = _small(levels=(4, 8, 32))
    assert three.meta["levels"] == [["x1", "h1"], ["x2", "h2"], ["h3", "y"]]
    assert three.populations["x1"].size == 1 and three.populations["x2"].size == 4  # 4x4 input pooled 4x and 2x


def test_coupling_is_the_seeds_energy_and_positive_definite():
    lam, mu = 0.07, 0.03
    g = _small(coupling_up=lam, coupling_down=mu, buffer_gain=0.0)
    names, W = mstep.coupling_matrix(g)
    assert names == ["h1", "h2", "y"]
    np.testing.assert_allclose(W, W.T, atol=1e-15)
    # -1/2 h.W h restricted to the coupling connections equals lam||h2 - U h1||^2 + mu||h1 - D h2||^2
    Wc = W.copy()
    Wc[8 + 32:, :] = 0
    Wc[:, 8 + 32:] = 0  # drop the output block
    U = np.kron(np.eye(8), np.ones((4, 1)))
    D = U.T / 4
    rs = np.random.default_rng(0)
    for _ in range(3):
        h1, h2 = rs.uniform(0, 1, 8), rs.uniform(0, 1, 32)
        h = np.concatenate([h1, h2, np.zeros(3)])
        seed_energy = lam * np.sum((h2 - U @ h1) ** 2) + mu * np.sum((h1 - D @ h2) ** 2)
        assert -0.5 * h @ Wc @ h == pytest.approx(seed_energy, rel=1e-12)
    spec = g.meta["spectrum"]
    assert spec["hessian_min_eig"] > 0 and spec["iteration_max_eig"] < 2
    assert spec["hessian_min_eig"] == pytest.approx(np.linalg.eigvalsh(np.eye(len(W)) - W)[0])


@pytest.mark.parametrize("kw, match", [
    (dict(levels=(64, 200)), "do not fit"),
    (dict(levels=(16, 64, 256), pool=3), "square image"),
    (dict(coupling_up=1.0), "oscillate"),
    (dict(buffer_gain=0.3), "not positive definite"),
    (dict(share_weights=True), "share_weights"),
    (dict(damping=(0.5,)), "damping"),
    (dict(coupling="global"), "coupling"),
])
def test_bad_hyperparameters_are_one_clear_error(kw, match):
    with pytest.raises(GraphError, match=match) as e:
        mstep.build(**kw)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("levels", [(8, 32), (4, 8, 32)])
def test_solvers_reach_the_plain_fixed_point(levels):
    g = _small(levels=levels, seed=1)
    net = TorchNetwork(g, dtype=torch.float64)
    x, t = _batch()
    with torch.no_grad():
        ref, _ = net.relax({"x": x}, 20000, 1e-12, method="plain")
        nudged_ref, _ = net.relax({"x": x}, 20000, 1e-12, state=ref.fork(), nudge=Nudge("y", 0.5, t), method="plain")
        for method in ("coarse_to_fine", "anderson"):
            st, n = net.relax({"x": x}, 5000, 1e-8, method=method)
            assert n < 5000 and st.info.converged
            for k in ref.out:
                assert torch.allclose(st.out[k], ref.out[k], atol=1e-6), (method, k)
            # the nudged phase starts from the solver's free state (buffers rebuilt by Anderson)
            nd, _ = net.relax({"x": x}, 5000, 1e-8, state=st.fork(), nudge=Nudge("y", 0.5, t), method=method)
            for k in ref.out:
                assert torch.allclose(nd.out[k], nudged_ref.out[k], atol=1e-6), (method, k)


def test_anderson_is_faster_per_sample_and_on_the_base_model():
    net = TorchNetwork(base.build(n_in=16, n_out=3, hidden=(24,), seed=2), dtype=torch.float64)
    x, _ = _batch()
    with torch.no_grad():
        ref, n_plain = net.relax({"x": x}, 20000, 1e-10, method="plain")
        st, n_and = net.relax({"x": x}, 5000, 1e-10, method="anderson")
        for k in ref.out:
            assert torch.allclose(st.out[k], ref.out[k], atol=1e-7)
        assert n_and < n_plain
        # per-sample mixing: a sample's equilibrium does not depend on its batch mates
        one, _ = net.relax({"x": x[2:3]}, 5000, 1e-10, method="anderson")
        assert torch.allclose(one.out["y"], st.out["y"][2:3], atol=1e-7)
    # float32 far past convergence (differences exactly zero, singular least squares): no crash
    net32 = TorchNetwork(base.build(n_in=16, n_out=3, hidden=(24,), seed=2))
    with torch.no_grad():
        st32, n = net32.relax({"x": x.float()}, 300, None, method="anderson")
    assert n == 300 and torch.allclose(st32.out["y"].double(), st.out["y"], atol=1e-4)
    with pytest.raises(BackendError, match="no_grad"):  # no autograd through its in-place history
        net.relax({"x": x}, 10, None, method="anderson")


def test_coarse_to_fine_counts_its_stages():
    g = _small(levels=(4, 8, 32))
    net = TorchNetwork(g, dtype=torch.float64)
    x, t = _batch()
    with torch.no_grad():
        st, info = relax_info(net, {"x": x}, 600, 1e-6)
        assert info.method == "coarse_to_fine" and len(info.stage_steps) == 3
        assert sum(info.stage_steps) == info.steps and all(n > 0 for n in info.stage_steps)
        assert info.stage_active[0] == ["h1", "x1"] and info.stage_active[-1] == sorted(p.name for p in g.state_populations())
        expected = sum(n * step_cost(net, a)["synaptic_ops"] for n, a in zip(info.stage_steps, info.stage_active))
        assert info.synaptic_ops == expected
        assert step_cost(net, {"x1", "h1"})["synaptic_ops"] < step_cost(net)["synaptic_ops"] / 10
        # from a given state (the nudged phases) there is one stage
        nd, n = net.relax({"x": x}, 600, 1e-6, state=st.fork(), nudge=Nudge("y", 0.5, t))
        assert nd.info.stage_steps == [n]
        # a tiny budget still gives the full pyramid at least half of it
        _, small = relax_info(net, {"x": x}, 12, 1e-12)
        assert small.steps == 12 and small.stage_steps[-1] >= 6
    with pytest.raises(BackendError, match="known methods are plain, anderson, coarse_to_fine"):
        get_solver("multigrid")
    assert set(SOLVERS) == {"anderson", "coarse_to_fine"}
    with pytest.raises(BackendError, match="meta\\['levels'\\]"):
        TorchNetwork(base.build(n_in=4, n_out=2, hidden=(5,))).relax({"x": torch.rand(2, 4)}, 10, 1e-3,
                                                                         method="coarse_to_fine")


def test_eqprop_update_matches_implicit_gradient():
    net = TorchNetwork(_small(seed=0), dtype=torch.float64)
    x, t = _batch(b=8)
    r = compare_gradients(net, x, t, beta=1e-3, free_steps=3000, nudge_steps=3000, tol=1e-11)
    assert {"weight:C_h1_h2", "weight:W_x1_h1", "weight:W_x_h2", "weight:W_h2_y"} <= set(r["params"])
    for name, row in r["params"].items():
        assert row["cos_eqprop_implicit"] > 0.99, name
        assert row["rel_norm"] == pytest.approx(1.0, abs=0.02), name


def test_short_training_improves_accuracy():
    from neurotep.data import load_digits_split
    from neurotep.data.digits import Dataset
    from neurotep.learning.eqprop import EqPropConfig
    from neurotep.learning.train import predict, train

    d = load_digits_split()
    sub = Dataset(d.x_train[:400], d.y_train[:400], d.x_test[:120], d.y_test[:120], "digits", 10,
                  d.train_index[:400], d.test_index[:120])
    g = mstep.build(seed=0)
    before, _ = predict(TorchNetwork(g), sub.x_test, EqPropConfig.from_meta(g.meta))
    acc0 = float((before == sub.y_test).mean())
    res = train(g, sub, epochs=3, progress=False)
    assert res.metrics["test_accuracy"] > max(0.7, acc0 + 0.4)
    assert res.graph.meta["relaxation"] == "coarse_to_fine"
    # the fixed parts stay fixed (up to the float32 round trip): pooling and quadratic self-terms
    for name in ("P_x_x1", "S_h1", "S_h2"):
        np.testing.assert_allclose(res.graph.connection(name).weight, g.connection(name).weight, rtol=1e-6, atol=0)


@pytest.mark.slow
def test_lava_float_run_matches_torch():
    from neurotep.backends.lava.plan import compile_graph
    from neurotep.backends.lava.runner import run_lava

    g = _small(seed=1)
    plan = compile_graph(mstep.build(), batch=1)  # the full-size pyramid compiles, self-connections included
    assert {"conn_S_h1", "conn_S_h2", "conn_C_h1_h2", "conn_C_h1_h2_T"} <= {p.name for p in plan.procs}
    x = np.random.default_rng(1).uniform(0, 1, (2, 16))
    steps = 40
    net = TorchNetwork(g, dtype=torch.float64)
    st, w = net.init_state(2), net.effective_weights()
    with torch.no_grad():  # Lava starts from zero, inputs included: step from a zero state
        for _ in range(steps):
            st = net.step(st, {"x": torch.as_tensor(x)}, w)
    _, readout, info = run_lava(g, {"x": np.broadcast_to(x, (steps, 2, 16)).copy()}, steps, np.arange(2),
                                spiking_inputs=False)
    assert torch.allclose(st.out["y"], readout["last"], atol=1e-10)
    assert float(st.out["y"].abs().max()) > 0.01


@pytest.mark.slow
def test_quick_benchmark_runs_and_reports(quick_benchmark):
    out, r = quick_benchmark("mstep")
    assert "2-5x fewer relaxation steps" in out
    s = r["summary"]
    assert set(s) == {"base", "base+anderson", "mstep"} and all(v["test_accuracy_mean"] > 0.8 for v in s.values())
    assert len(r["per_seed"][0]["mstep"]["eval"]["coarse_to_fine"]["batch_stage_steps"]) == 2
    assert s["base"]["eval"]["anderson"]["per_sample_steps_mean"] < s["base"]["eval"]["plain"]["per_sample_steps_mean"]
    assert all(g["0.001"]["min_cos"] > 0.999 for g in r["gradient_vs_implicit"].values())
    assert all(m["readout_max_abs_diff_vs_torch"] < 1e-9 for m in r["lava"]["models"].values())


def test_one_dimensional_input_is_pooled_along_its_length():
    """A non-square input (MNIST-1D's 40 values) is a 1-D signal: the coarse level sees block means."""
    g = mstep.build(n_in=40, n_out=10, seed=0)
    p = next(c.weight for c in g.connections if c.name == "P_x_x1")
    assert p.shape == (20, 40)
    x = np.arange(40.0)
    np.testing.assert_allclose(p @ x, x.reshape(20, 2).mean(1))
    with pytest.raises(GraphError, match="1-D signal"):
        mstep.build(n_in=42, n_out=10, levels=(16, 64, 256))
