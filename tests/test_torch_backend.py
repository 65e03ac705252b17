"""The torch path's timing semantics, buffers, stochastic reproducibility and device handling."""

import numpy as np
import pytest
import torch

from neurotep.backends.torch import TorchNetwork, resolve_device
from neurotep.errors import BackendError
from neurotep.graph import Connection, Graph, Population, ToroidalBuffer
from neurotep.graph.transforms import rate_to_spiking
from neurotep.variants import base


def _chain(delay):
    g = Graph()
    g.add(Population("x", 1, "input"))
    g.add(Population("a", 1, "linear", {"damping": 1.0}))
    g.add(Connection("w", "x", "a", np.array([[2.0]]), delay=delay))
    g.meta.update(input="x", output="a")
    return g


@pytest.mark.parametrize("delay", [0, 1, 3])
def test_connection_delay_delivers_exactly_d_steps_later(delay):
    net = TorchNetwork(_chain(delay))
    impulse = lambda t: {"x": torch.tensor([[1.0 if t == 0 else 0.0]])}  # noqa: E731
    st, seen = net.init_state(1), []
    w = net.effective_weights()
    with torch.no_grad():
        for t in range(6):
            st = net.step(st, impulse(t), w)
            seen.append(float(st.out["a"]))
    assert seen == [2.0 if t == delay else 0.0 for t in range(6)]


def test_toroidal_buffer_feedback_by_hand():
    g = Graph()
    g.add(Population("x", 1, "input"))
    g.add(Population("a", 1, "linear", {"damping": 1.0}, bias=np.array([1.0])))
    g.add(ToroidalBuffer("torus", "a", depth=3, decay=(0.5,), gain=0.2))
    g.meta.update(input="x", output="a")
    net = TorchNetwork(g, dtype=torch.float64)
    st, w, seen = net.init_state(1), net.effective_weights(), []
    with torch.no_grad():
        for _ in range(4):
            st = net.step(st, {"x": torch.zeros(1, 1, dtype=torch.float64)}, w)
            seen.append(float(st.out["a"]))
    # a_t = 1 + 0.2 * (a_{t-1} + 0.5 a_{t-2} + 0.25 a_{t-3})
    assert np.allclose(seen, [1.0, 1.2, 1.34, 1.438])
    with torch.no_grad():
        st, _ = net.relax({"x": torch.zeros(1, 1, dtype=torch.float64)}, 500, tol=1e-12)
    assert float(st.out["a"]) == pytest.approx(1 / (1 - 0.2 * 1.75))  # fixed point a = 1 / (1 - loop gain)


def test_relaxation_reaches_a_fixed_point_with_buffer_full():
    g = base.build(n_in=8, n_out=3, hidden=(12,), seed=1)
    net = TorchNetwork(g, dtype=torch.float64)
    x = {"x": torch.rand(5, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))}
    st, n = net.relax(x, 2000, tol=1e-10)
    assert n < 2000
    again, _ = net.relax(x, 20, state=st.fork())
    for k in ("h0", "y"):
        assert torch.allclose(again.out[k], st.out[k], atol=1e-8)
        assert all(torch.allclose(st.hist[k].tap(j), st.out[k], atol=1e-8) for j in range(st.hist[k].depth))


def test_stochastic_draws_follow_the_sample_not_the_batch():
    g = rate_to_spiking(base.build(n_in=8, n_out=3, hidden=(16,), seed=0), neuron="stochastic", temperature=0.3, seed=4)
    net = TorchNetwork(g)
    x = torch.rand(3, 8, generator=torch.Generator().manual_seed(1))
    ids = torch.tensor([11, 22, 33])
    _, rec_all, _ = net.run(lambda t: {"x": x}, 50, 3, sample_ids=ids, raster=True, spiking_inputs=False)
    _, rec_one, _ = net.run(lambda t: {"x": x[1:2]}, 50, 1, sample_ids=ids[1:2], raster=True, spiking_inputs=False)
    assert torch.equal(rec_all.raster["h0"][:, 1], rec_one.raster["h0"][:, 0])
    assert rec_one.raster["h0"].any() and not rec_one.raster["h0"].all()
    _, rec_again, _ = net.run(lambda t: {"x": x}, 50, 3, sample_ids=ids, raster=True, spiking_inputs=False)
    assert torch.equal(rec_all.raster["h0"], rec_again.raster["h0"])


def test_recording_counts_agree_with_raster():
    g = rate_to_spiking(base.build(n_in=8, n_out=3, hidden=(16,), seed=0))
    net = TorchNetwork(g)
    x = torch.rand(4, 8, generator=torch.Generator().manual_seed(2)) * 2
    _, rec, y = net.run(lambda t: {"x": x}, 40, 4, raster=True, readout="y", spiking_inputs=False)
    r = rec.raster["h0"]
    assert r.sum() > 0
    assert torch.equal(rec.per_step["h0"], r.sum((1, 2)))
    assert torch.equal(rec.per_neuron["h0"], r.sum((0, 1)).double())
    assert torch.equal(rec.per_sample["h0"], r.sum((0, 2)).double())
    assert "x" not in rec.per_step and y.shape == (4, 3)


def test_parameters_round_trip_through_to_graph():
    g = base.build(n_in=8, n_out=3, hidden=(12,), seed=2)
    net = TorchNetwork(g)
    with torch.no_grad():
        net.weights["W_h0_y"].mul_(2)
    g2 = net.to_graph()
    assert np.allclose(g2.connection("W_h0_y").weight, 2 * g.connection("W_h0_y").weight, atol=1e-6)
    assert np.allclose(g2.populations["h0"].bias, g.populations["h0"].bias, atol=1e-6)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error shown when CUDA is absent")
def test_cuda_requested_without_gpu_is_a_clear_error():
    with pytest.raises(BackendError, match="no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(BackendError, match="unknown device"):
        resolve_device("tpu")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_cuda_gives_the_same_spikes_as_cpu():
    g = rate_to_spiking(base.build(n_in=8, n_out=3, hidden=(32,), seed=0), neuron="stochastic", temperature=0.2)
    x = torch.rand(6, 8, generator=torch.Generator().manual_seed(0))
    rasters = []
    for dev in ("cpu", "cuda"):
        net = TorchNetwork(g, device=dev)
        xd = x.to(net.device_)
        _, rec, _ = net.run(lambda t: {"x": xd}, 60, 6, raster=True, spiking_inputs=False)
        rasters.append(rec.raster["h0"].cpu())
    assert torch.equal(*rasters)


def test_relax_settles_per_sample_at_the_batch_step():
    """relax's convergence test kept per sample stops the batch at the same step as the batch-wide
    test, and the slowest sample settles exactly then (what run.json's mean_steps_per_sample uses)."""
    from neurotep.backends.torch.network import Settling
    from neurotep.data import load_digits_split
    from neurotep.variants import base

    net = TorchNetwork(base.build(seed=0, hidden=(16,)), dtype=torch.float64)
    x = {"x": torch.as_tensor(load_digits_split().x_test[:20])}
    each = Settling(per_sample=True)
    with torch.no_grad():
        _, k_batch = net.relax(x, 500, 1e-6)
        _, k_each = net.relax(x, 500, 1e-6, settling=each)
    steps = each.steps(k_each)
    assert k_each == k_batch < 500 and int(steps.max()) == k_batch and int(steps.min()) < k_batch
    assert Settling().steps(10) is None  # the scalar test keeps no per-sample steps
