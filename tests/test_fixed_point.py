"""Fixed point: Loihi 2's integer formats, bit-exact between the quantised torch path and Lava."""

import numpy as np
import pytest
import torch
from lava.utils.weightutils import clip_weights, determine_sign_mode, truncate_weights

from neurotep.backends.lava.runner import run_lava
from neurotep.backends.torch.fixed import FixedNetwork
from neurotep.data import rate_encode
from neurotep.errors import BackendError
from neurotep.graph import Connection, Graph, Population, ToroidalBuffer
from neurotep.graph.transforms import rate_to_spiking
from neurotep.neurons.fixed import KERNEL_BITS, lif_fixed_step, rate_fixed_step, stochastic_fixed_step
from neurotep.quantize import bias_mant_exp, encode_input, lava_weights, quantize, weight_mantissa
from neurotep.variants import base


@pytest.mark.parametrize("lo,hi", [(-300, 300), (0, 300), (-300, 1)])
def test_weights_are_clipped_and_truncated_like_lava(lo, hi):
    w = np.random.default_rng(0).integers(lo, hi, (6, 7))
    mode = determine_sign_mode(w)
    assert np.array_equal(lava_weights(w), truncate_weights(clip_weights(w, mode, 8), mode, 8))


def test_weight_and_bias_scaling():
    w = np.array([[0.1, -0.05], [0.02, 0.0]])
    m, e = weight_mantissa(w)
    assert np.abs(m).max() <= 255 and np.all(m % 2 == 0)  # mixed signs: 7 bits + sign
    assert np.allclose(m * 2.0**e / 64, w, atol=2.0**e / 64)
    mant, exp = bias_mant_exp(np.array([0.3, -2.5, 0.0]))
    assert np.abs(mant).max() <= 4095 and 0 <= exp <= 7
    assert np.allclose((mant << exp) / 4096, [0.3, -2.5, 0.0], atol=2.0**exp / 4096)


def test_integer_lif_by_hand():
    # dv = 2048 (beta 0.5), vth 64 (threshold 1.0 = 4096 membrane units), input 3200/64 = 50 units
    v, s, vs, ss = np.zeros(1, np.int64), np.zeros(1, np.int64), [], []
    for _ in range(3):
        s, v = lif_fixed_step(np.array([50]), v, s, 2048, 64, np.zeros(1, np.int64), "subtract")
        vs.append(int(v[0])), ss.append(int(s[0]))
    # v: 3200; 1600 + 3200 = 4800 > 4096 spikes; 2400 + 3200 - 4096 = 1504
    assert vs == [3200, 4800, 1504] and ss == [0, 1, 0]
    v2 = np.array([-4801], np.int64)  # rounding toward zero on negative membranes
    _, v2 = lif_fixed_step(np.array([0]), v2, np.zeros(1, np.int64), 2048, 64, np.zeros(1, np.int64), "zero")
    assert int(v2[0]) == -2400


def test_integer_rate_unit_by_hand():
    # a_in 32 (0.5) + bias 1024 (0.25) -> 0.75 = 192/256; damping 2048 (0.5) from s = 0
    s = rate_fixed_step("hard_sigmoid", np.array([32]), np.array([0]), np.array([1024]), 2048)
    assert int(s[0]) == 96
    s = rate_fixed_step("hard_sigmoid", np.array([640]), np.array([0]), np.array([0]), 4096)
    assert int(s[0]) == 256  # clipped at 1.0


def _graph(seed, reset, depth, graded_input, model="lif", delays=(1, 1)):
    rs = np.random.default_rng(seed)
    g = Graph()
    g.add(Population("x", 6, "input"))
    params = {"beta": float(rs.uniform(0.6, 1.0)), "threshold": 1.0, "reset": reset}
    if model == "stochastic":
        params.update(temperature=0.25, seed=seed)
    g.add(Population("a", 9, model, params, bias=rs.uniform(-0.05, 0.2, 9)))
    g.add(Population("y", 3, "linear", {"damping": 0.5}, bias=rs.uniform(-0.1, 0.1, 3)))
    g.add(Connection("xa", "x", "a", rs.uniform(-0.3, 1.2, (9, 6))))
    g.add(Connection("aa", "a", "a", rs.uniform(-0.3, 0.3, (9, 9)), delay=delays[0]))
    g.add(Connection("ay", "a", "y", rs.uniform(-1, 1, (3, 9)), symmetric=True, delay=delays[1]))
    if depth:
        g.add(ToroidalBuffer("t", "a", depth, (0.7,), 0.12))
    g.meta.update(input="x", output="y")
    return g.validate()


def _bit_exact(g, x_frames, steps, ids, spiking_inputs):
    q = quantize(g)
    frames = encode_input(x_frames, spiking_inputs)
    rec, mean = FixedNetwork(q, spiking_inputs=spiking_inputs).run(
        lambda t: {"x": torch.as_tensor(frames[t % len(frames)])}, steps, len(ids), raster=True, readout="y",
        spiking_inputs=spiking_inputs, sample_ids=torch.as_tensor(ids))
    rec_l, readout, _ = run_lava(g, {"x": frames.astype(np.float64)}, steps, ids, spiking_inputs=spiking_inputs,
                                 precision="fixed", raster=True)
    spikes = rec.raster["a"]
    assert spikes.any() and not spikes.all()
    assert torch.equal(spikes, rec_l.raster["a"].reshape(spikes.shape)), "spike trains differ"
    assert torch.equal(mean, readout["mean"]), "readout differs"


@pytest.mark.parametrize("seed,reset,depth,graded,model,delays", [
    (0, "zero", 0, False, "lif", (1, 1)), (1, "subtract", 3, False, "lif", (1, 1)), (2, "zero", 4, True, "lif", (1, 1)),
    (3, "subtract", 0, True, "lif", (1, 1)), (4, "zero", 2, False, "stochastic", (1, 1)),
    (5, "subtract", 0, True, "stochastic", (1, 1)),
    # longer delays: Lava's bit-accurate DelaySparse against the integer torch path
    (6, "zero", 0, False, "lif", (3, 2)), (7, "subtract", 2, True, "lif", (5, 1)), (8, "zero", 3, False, "stochastic", (2, 4))])
def test_random_graphs_are_bit_exact_on_lava(seed, reset, depth, graded, model, delays):
    g = _graph(seed, reset, depth, graded, model, delays)
    ids = np.array([1, 4])
    x = np.random.default_rng(seed).uniform(0, 1, (2, 6))
    frames = x[None] if graded else rate_encode(x, 40, 1, ids)
    _bit_exact(g, frames, 40, ids, spiking_inputs=not graded)


@pytest.mark.parametrize("reset,graded", [("zero", False), ("subtract", True)])
def test_htsep_grid_and_gates_are_bit_exact_on_lava(reset, graded, htsep_like):
    """N-D buffers (integer kernels) and probabilistic gates in fixed point: FixedNetwork and Lava
    fixed_pt give the same spikes (batch 3, 40 steps) and the same readout, bit for bit."""
    g = htsep_like(7, reset, r_torus="2d")
    q = quantize(g)
    assert np.array_equal(q.kernels["a"], np.rint(g.buffers[0].spatial_kernel() * 2**KERNEL_BITS))
    assert q.populations["a"].gate == 0.6 and q.populations["r"].gated and "x" not in q.kernels
    ids = np.array([2, 3, 11])
    x = np.random.default_rng(7).uniform(0, 1, (3, 6))
    frames = x[None] if graded else rate_encode(x, 40, 1, ids)
    _bit_exact(g, frames, 40, ids, spiking_inputs=not graded)
    # The integer kernel and the gates matter: without them FixedNetwork spikes differently.
    enc = encode_input(frames, not graded)

    def raster(qg):
        rec, _ = FixedNetwork(qg, spiking_inputs=not graded).run(
            lambda t: {"x": torch.as_tensor(enc[t % len(enc)])}, 40, 3, raster=True, spiking_inputs=not graded,
            sample_ids=torch.as_tensor(ids))
        return rec.raster["a"]

    full = raster(q)
    q.populations["a"].gate = 1.0
    assert not torch.equal(raster(q), full)
    q = quantize(g)
    q.kernels.pop("a")
    assert not torch.equal(raster(q), full)


def test_integer_gate_holds_closed_neurons():
    # stochastic: a closed neuron keeps v (and applies only a pending subtractive reset), never spikes
    a, v, s = np.array([200, 200]), np.array([1000, 1000]), np.array([1, 1])
    table, h24 = np.array([0, 2**23, 2**24]), np.array([0, 0])
    s1, v1 = stochastic_fixed_step(a, v, s, h24, 0, 64, np.zeros(2, np.int64), "subtract", table, 20, np.array([1, 0]))
    assert s1.tolist() == [1, 0] and v1.tolist() == [1000 + 12800 - 4096, 1000 - 4096]
    # rate: a closed unit holds its output
    r = rate_fixed_step("hard_sigmoid", np.array([32, 32]), np.array([10, 10]), np.zeros(2, np.int64), 2048, np.array([1, 0]))
    assert r[1] == 10 and r[0] != 10


def test_kernels_fixed_point_cannot_express_are_refused():
    def graph(decay, gain):
        g = Graph()
        g.add(Population("x", 2, "input"))
        g.add(Population("a", 15, "lif", {}))
        g.add(Connection("xa", "x", "a", np.ones((15, 2))))
        g.add(ToroidalBuffer("t", "a", 2, (0.9, decay), gain, shape=(15,), radius=(3,)))
        g.meta.update(input="x", output="a")
        return g.validate()

    quantize(graph(0.5, 0.1))  # 0.5**3 * 256 = 32: fine
    with pytest.raises(BackendError, match="round to 0"):
        quantize(graph(0.05, 0.1))  # 0.05**3 * 256 = 0.03: a coupling would vanish
    with pytest.raises(BackendError, match="24-bit a_in message"):
        quantize(graph(0.5, 3e4))


@pytest.mark.slow
def test_base_model_is_bit_exact_and_batched_on_lava():
    g = rate_to_spiking(base.build(seed=0, hidden=(48,)))
    ids = np.arange(5)
    x = np.random.default_rng(5).uniform(0, 1, (5, 64))
    # batch > 1 runs Lava's bit-accurate Sparse (block-diagonal copies)
    q = quantize(g)
    frames = encode_input(rate_encode(x, 50, 1, ids), True)
    rec, _ = FixedNetwork(q).run(lambda t: {"x": torch.as_tensor(frames[t])}, 50, 5, raster=True, readout="y")
    rec_l, _, _ = run_lava(g, {"x": frames.astype(np.float64)}, 50, ids, precision="fixed", raster=True)
    assert torch.equal(rec.raster["h0"], rec_l.raster["h0"].reshape(rec.raster["h0"].shape))


def test_what_fixed_point_cannot_express_is_refused():
    g = base.build(seed=0, hidden=(8,), n_in=4, n_out=2)
    g.populations["h0"].model = "tanh"
    with pytest.raises(BackendError, match="no fixed-point form yet"):
        quantize(g)
    g = rate_to_spiking(base.build(seed=0, hidden=(8,), n_in=4, n_out=2))
    g.connections[0].delay = 65
    with pytest.raises(BackendError, match="fixed point runs delays 1 to 64"):
        quantize(g)


def test_sigmoid_table_covers_the_temperature():
    from neurotep.quantize import sigmoid_table

    table, shift = sigmoid_table(0.25)
    assert len(table) <= 4097 and table[0] < 2**4 and table[-1] > 2**24 - 2**4
    assert np.all(np.diff(table) >= 0) and table[len(table) // 2] == 2**23
