"""DiffTorEqProp: Langevin noise in the rate dynamics (shared generator, all backends), the noise
scale's local rule, EqProp training with noise, noise robustness and generation."""

import json

import numpy as np
import pytest
import torch

from neurotep import generation, rng
from neurotep.backends.lava.runner import run_lava
from neurotep.backends.torch import TorchNetwork
from neurotep.backends.torch.fixed import FixedNetwork
from neurotep.cli import main
from neurotep.errors import BackendError, GraphError, NeurotepError
from neurotep.learning.eqprop import EqPropConfig, apply_gradients, eqprop_gradients
from neurotep.learning.train import train
from neurotep.neurons.fixed import noise_fixed, noise_scale_int, rate_fixed_step
from neurotep.neurons.rate import noise_scale, rate_step
from neurotep.quantize import encode_input, quantize
from neurotep.variants import base, difftor, get


def _small(**kw):
    hp = dict(n_in=8, n_out=3, seed=1, hidden=(12,), noise=0.1, noise_decay=0.9, noise_steps=8)
    hp.update(kw)
    return difftor.build(**hp)


def test_builder_records_the_schedule_and_maps_alpha_to_damping():
    g = difftor.build(seed=0)
    assert get("difftor") is difftor and g.meta["variant"] == "difftor"
    h = g.populations["h0"]
    assert h.param("damping") == pytest.approx(0.5 + 0.01)  # gamma + the seed's alpha
    assert (h.param("noise"), h.param("noise_decay"), h.param("noise_steps")) == (0.1, 0.95, 40)
    assert g.populations["y"].param("noise") == 0.0  # the output stays noise-free
    assert g.meta["hyperparameters"]["alpha"] == 0.01
    assert 0.01 < noise_scale(0.1, 0.95, 40, 39) < 0.015 and noise_scale(0.1, 0.95, 40, 40) == 0.0


@pytest.mark.parametrize("kw,match", [(dict(noise=-0.1), "noise must be"), (dict(alpha=0.6), "alpha must be"),
                                      (dict(noise_steps=-1), "noise_steps must be"), (dict(noise_steps=2.5), "noise_steps")])
def test_bad_hyperparameters_fail_in_one_line(kw, match):
    with pytest.raises(NeurotepError, match=match) as e:
        difftor.build(**kw)
    assert "\n" not in str(e.value)


def test_graph_validation_rejects_bad_noise_parameters():
    g = _small()
    g.populations["h0"].params["noise_decay"] = 1.5
    with pytest.raises(GraphError, match="noise_decay must be in"):
        g.validate()


def test_gaussian_draws_are_standard_and_identical_on_numpy_torch_and_fixed():
    idx = np.arange(100_000)
    z = rng.normal_np(5, 3, idx)
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01 and np.abs(z).max() < 3.47
    assert np.array_equal(z, rng.normal_torch(5, 3, torch.as_tensor(idx), torch.float64).numpy())
    assert not np.array_equal(z, rng.normal_np(5, 4, idx))  # a fresh draw every step
    # fixed point: the integer noise is the float noise in 1/256 units, rounded toward zero
    zi = rng.normal_int(5, 3, idx)
    n = noise_fixed(zi, noise_scale_int(0.1))
    assert np.abs(n - np.trunc(0.1 * z * 256)).max() <= 1
    assert abs(n.mean() - 25.6 * z.mean()) < 0.05  # rounding toward zero adds no drift


def test_noise_is_recirculated_by_the_buffer_and_projected_onto_the_box():
    # by hand: one step of h0 with noise, then the buffer feeds that noisy output back next step
    g = _small()
    net = TorchNetwork(g, dtype=torch.float64)
    x = torch.rand(2, 8, dtype=torch.float64)
    w = net.effective_weights()
    quiet = TorchNetwork(_small(noise=0.0), dtype=torch.float64)
    with torch.no_grad():
        st, sq = net.init_state(2, {"x": x}), quiet.init_state(2, {"x": x})
        st, sq = net.step(st, {"x": x}, w), quiet.step(sq, {"x": x}, w)
        z = rng.normal_torch(g.populations["h0"].param("seed"), 0, net._index(g.populations["h0"], None, 2), torch.float64)
        assert torch.allclose(st.out["h0"], (sq.out["h0"] + 0.1 * z).clamp(0, 1), atol=1e-12)
        fb = st.hist["h0"].weighted_sum(net.torus_weights()["h0"][0])
        assert torch.allclose(fb, 0.05 * st.out["h0"], atol=1e-12)  # tap 0 of the ring holds the noisy output
    s = rate_step("hard_sigmoid", torch.zeros(4), torch.tensor([0.0, 0.5, 1.0, 0.99]), 0.5,
                  noise=torch.tensor([-0.3, 0.1, 0.5, 0.2]))
    assert torch.allclose(s, torch.tensor([0.0, 0.35, 1.0, 0.695]))  # 0.5 s + noise, clipped to [0, 1]
    assert int(rate_fixed_step("hard_sigmoid", np.array([640]), np.array([0]), np.array([0]), 4096, noise=np.array([40]))[0]) == 256


def test_noise_off_is_exactly_the_base_model_and_noise_ends_on_schedule():
    g0, gq = base.build(n_in=8, n_out=3, seed=1, hidden=(12,)), _small(noise=0.0)
    for p in g0.populations.values():
        if p.name in gq.populations and p.model != "input":
            p.params["damping"] = gq.populations[p.name].param("damping")
    x = torch.rand(3, 8)
    a, _ = TorchNetwork(g0).relax({"x": x}, 30)
    b, _ = TorchNetwork(gq).relax({"x": x}, 30)
    assert torch.equal(a.out["y"], b.out["y"])
    # with noise, the chain differs during the schedule; its free equilibrium is the same minimum
    noisy, n_noisy = TorchNetwork(_small()).relax({"x": x}, 400, 1e-6)
    clean, n_clean = TorchNetwork(gq).relax({"x": x}, 400, 1e-6)
    assert n_noisy > 8 and torch.allclose(noisy.out["y"], clean.out["y"], atol=1e-4)


@pytest.mark.parametrize("gain,direction", [(50.0, 1), (1e-3, -1)])
def test_noise_scale_moves_towards_the_nudged_displacement(gain, direction):
    g = _small(noise_gain=gain)
    net = TorchNetwork(g)
    x, t = torch.rand(16, 8), torch.eye(3)[torch.arange(16) % 3]
    cfg = EqPropConfig.from_meta(g.meta)
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    before = net.noise_level("h0")
    for _ in range(3):
        grads, _, _ = eqprop_gradients(net, x, t, cfg)
        assert "noise:h0" in grads
        apply_gradients(net, grads)
        opt.step()
    after = net.noise_level("h0")
    assert np.sign(after - before) == direction
    assert net.to_graph().populations["h0"].param("noise") == pytest.approx(after)
    fixed = TorchNetwork(_small(noise_gain=0.0))
    assert "noise:h0" not in eqprop_gradients(fixed, x, t, cfg)[0]


def _frames(x, steps):
    return np.broadcast_to(x, (steps, *x.shape)).copy()


def test_noisy_relaxation_matches_on_lava_float():
    g = _small()
    x = np.random.default_rng(2).uniform(0, 1, (2, 8))
    steps = 14  # the noise runs for 8 of them
    net = TorchNetwork(g, dtype=torch.float64)
    with torch.no_grad():
        st, w = net.init_state(2), net.effective_weights()
        for _ in range(steps):
            st = net.step(st, {"x": torch.as_tensor(x)}, w)
    _, readout, _ = run_lava(g, {"x": _frames(x, steps)}, steps, np.arange(2), spiking_inputs=False)
    assert torch.allclose(st.out["y"], readout["last"], atol=1e-10)
    _, quiet, _ = run_lava(_small(noise=0.0), {"x": _frames(x, steps)}, steps, np.arange(2), spiking_inputs=False)
    assert not torch.allclose(quiet["last"], readout["last"], atol=1e-3)  # the noise did act


def test_noisy_relaxation_is_bit_exact_on_lava_fixed():
    g = _small(noise=0.2)
    x = np.random.default_rng(3).uniform(0, 1, (3, 8))
    steps, ids = 12, np.arange(3)
    frames = encode_input(_frames(x, steps), False)
    q = quantize(g)
    assert q.populations["h0"].noise is not None and len(q.populations["h0"].noise) == 8
    _, mean = FixedNetwork(q, spiking_inputs=False).run(lambda t: {"x": torch.as_tensor(frames[t])}, steps, 3,
                                                        readout="y", spiking_inputs=False)
    _, readout, _ = run_lava(g, {"x": frames.astype(np.float64)}, steps, ids, precision="fixed", spiking_inputs=False)
    assert torch.equal(mean.double(), readout["mean"].double())
    _, quiet = FixedNetwork(quantize(_small(noise=0.0)), spiking_inputs=False).run(
        lambda t: {"x": torch.as_tensor(frames[t])}, steps, 3, readout="y", spiking_inputs=False)
    assert not torch.equal(quiet, mean)


def test_lava_training_refuses_noisy_units():
    from neurotep.backends.lava.training import check_trainable

    with pytest.raises(BackendError, match="Langevin noise"):
        check_trainable(_small())


@pytest.fixture(scope="module")
def data():
    from neurotep.data import load_digits_split

    return load_digits_split()


@pytest.fixture(scope="module")
def trained(data):
    g = difftor.build(n_in=64, n_out=10, seed=0, hidden=(64,))
    return train(g, data, epochs=2, progress=False)


@pytest.mark.slow
def test_training_with_noise_beats_chance_and_adapts_the_scale(trained, data):
    assert trained.metrics["test_accuracy"] > 0.6  # two epochs; chance is 0.1
    assert trained.graph.populations["h0"].param("noise") != pytest.approx(0.1, abs=1e-6)
    res = generation.accuracy_under_noise(trained.graph, data.x_test[:120], data.y_test[:120], (0.0, 1.0))
    assert res[0.0]["accuracy"] > res[1.0]["accuracy"] and res[0.0]["relax_steps"] > 40  # noise_steps + calm


@pytest.mark.slow
def test_generation_runs_free_input_and_is_scored(trained, data, tmp_path):
    gg = difftor.generative_graph(trained.graph, conditional=True)
    assert gg.populations["x"].model == "hard_sigmoid" and gg.populations["y"].model == "input"
    assert next(c for c in gg.connections if c.pre == "x").symmetric
    classes = np.repeat(np.arange(10), 2)
    s = generation.generate(trained.graph, 20, classes, steps=60)
    assert s.shape == (20, 64) and s.min() >= 0 and s.max() <= 1
    assert np.array_equal(s, generation.generate(trained.graph, 20, classes, steps=60))  # counter-based: reproducible
    sc = generation.score_samples(s, classes, data.x_train, data.y_train, data.x_test, data.y_test)
    assert 0 <= sc["class_accuracy"] <= 1 and sc["diversity"] >= 0 and sc["classifier_test_accuracy"] > 0.9
    u = generation.score_samples(generation.generate(trained.graph, 10, steps=60), None, data.x_train, data.y_train,
                                 data.x_test, data.y_test)
    assert sum(u["class_histogram"]) == 10
    png = generation.save_grid(s, tmp_path / "grid.png", labels=classes)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(NeurotepError, match="classes must have length"):
        generation.generate(trained.graph, 3, [1, 2])


@pytest.mark.slow
def test_cli_trains_difftor_and_the_report_shows_generated_samples(tmp_path, capsys, data):
    from neurotep.graph import load_graph

    m, r, rep = tmp_path / "m", tmp_path / "r", tmp_path / "rep"
    assert main(["train", "difftor", "--out", str(m), "--epochs", "1", "--json"]) == 0
    metrics = json.loads((m / "metrics.json").read_text())
    assert metrics["variant"] == "difftor" and metrics["test_accuracy"] > 0.5
    assert main(["run", str(m), "--out", str(r), "--samples", "20", "--steps", "60", "--json"]) == 0
    info = generation.write_generated(r, load_graph(m / "model"), data, per_class=1, steps=40)
    assert info["samples"] == 10 and (r / "generated-samples.png").is_file()
    assert main(["report", str(r), "--out", str(rep)]) == 0
    md = (rep / "report.md").read_text()
    assert "Generated samples" in md and "generated-samples.png" in md


@pytest.mark.slow
def test_quick_benchmark_runs_and_reports(quick_benchmark):
    out, res = quick_benchmark("difftor")
    assert "difftor-seed - base" in out and "reproduce:" in out
    assert set(res["robustness"]) == {"toreqprop", "difftor", "difftor-seed"}
    assert set(res["robustness"]["difftor"]) == {"0.0", "0.1", "0.25", "0.5", "0.75", "1.0"}
    assert 0 <= res["generation"]["difftor"]["conditional_scale_3"]["class_accuracy"] <= 1
    assert res["memory_mib"] and res["relax_steps"]["difftor"] > 40  # the noise schedule alone takes 40 steps
