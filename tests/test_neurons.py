"""Neuron dynamics against hand-computed values, snnTorch's own Leaky, and across backends."""

import numpy as np
import pytest
import snntorch as snn
import torch

from neurotep import rng
from neurotep.neurons import RingBuffer, activation, lif_step, rate_step, spike_probability, stochastic_step


def test_rate_units_by_hand():
    u = np.array([-0.5, 0.25, 1.5])
    assert np.allclose(activation("hard_sigmoid", u), [0.0, 0.25, 1.0])
    assert np.allclose(activation("tanh", u), np.tanh(u))
    # damped step: s + a (f(u) - s) with s = 0.5, a = 0.5
    assert np.allclose(rate_step("hard_sigmoid", u, np.full(3, 0.5), 0.5), [0.25, 0.375, 0.75])
    t = torch.tensor(u)
    assert torch.allclose(rate_step("hard_sigmoid", t, torch.full((3,), 0.5, dtype=t.dtype), 0.5),
                          torch.tensor([0.25, 0.375, 0.75], dtype=t.dtype))


def test_lif_subtract_by_hand():
    # beta 0.5, threshold 1: inputs 0.8, 0.8, 0.8 -> v 0.8, 1.2 (spike), 0.6 + 0.8 - 1 = 0.4
    v, s, vs, ss = np.zeros(1), np.zeros(1), [], []
    for i in (0.8, 0.8, 0.8):
        s, v = lif_step(np.array([i]), v, s, 0.5, 1.0, "subtract")
        vs.append(v[0]), ss.append(s[0])
    assert np.allclose(vs, [0.8, 1.2, 0.4]) and ss == [0.0, 1.0, 0.0]


def test_lif_zero_reset_by_hand():
    v, s, vs = np.zeros(1), np.zeros(1), []
    for i in (0.8, 0.8, 0.8):
        s, v = lif_step(np.array([i]), v, s, 0.5, 1.0, "zero")
        vs.append(v[0])
    assert np.allclose(vs, [0.8, 1.2, 0.8])  # after the spike v restarts from the input alone


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_lif_matches_snntorch_leaky(reset):
    g = torch.Generator().manual_seed(3)
    # float32, the backend's dtype: snnTorch keeps beta as a float32 tensor
    x = torch.rand(300, 8, 50, generator=g) * 0.6
    leaky = snn.Leaky(beta=0.9, threshold=1.0, reset_mechanism=reset)
    mem = torch.zeros(8, 50)
    v, s = torch.zeros_like(mem), torch.zeros_like(mem)
    total = 0
    for t in range(300):
        spk_ref, mem = leaky(x[t], mem)
        s, v = lif_step(x[t], v, s, 0.9, 1.0, reset)
        assert torch.equal(s, spk_ref) and torch.allclose(v, mem, atol=1e-5)
        total += int(s.sum())
    assert total > 1000  # the comparison saw plenty of spikes


def test_integrate_and_fire_rate_is_hard_sigmoid():
    u = np.linspace(-0.5, 1.5, 21)
    v, s, count = np.zeros_like(u), np.zeros_like(u), np.zeros_like(u)
    for _ in range(1000):
        s, v = lif_step(u, v, s, 1.0, 1.0, "subtract")
        count += s
    assert np.allclose(count / 1000, np.clip(u, 0, 1), atol=2e-3)


def test_stochastic_neuron_rate_follows_sigmoid():
    i = np.linspace(-0.5, 1.5, 9)
    v, s, count, steps = np.zeros_like(i), np.zeros_like(i), np.zeros_like(i), 4000
    idx = np.arange(i.size)
    for t in range(steps):
        s, v = stochastic_step(i, v, s, rng.uniform_np(7, t, idx), 0.0, 0.5, 0.2, "zero")
        count += s
    p = spike_probability(i, 0.5, 0.2)
    assert np.all(np.abs(count / steps - p) < 4 * np.sqrt(p * (1 - p) / steps) + 1e-9)


def test_stochastic_neuron_identical_on_numpy_and_torch():
    rs = np.random.default_rng(0)
    i = rs.uniform(-1, 2, (4, 30))
    idx = np.arange(i.size).reshape(i.shape)
    v_n, s_n = np.zeros_like(i), np.zeros_like(i)
    v_t, s_t = torch.zeros(4, 30, dtype=torch.float64), torch.zeros(4, 30, dtype=torch.float64)
    for t in range(100):
        s_n, v_n = stochastic_step(i, v_n, s_n, rng.uniform_np(5, t, idx), 0.9, 1.0, 0.3, "subtract")
        s_t, v_t = stochastic_step(torch.tensor(i), v_t, s_t, rng.uniform_torch(5, t, torch.tensor(idx), torch.float64),
                                   0.9, 1.0, 0.3, "subtract")
        assert np.array_equal(s_n, s_t.numpy())


def test_cold_stochastic_neuron_is_the_lif():
    rs = np.random.default_rng(1)
    x = rs.uniform(0, 0.7, (200, 40))
    idx = np.arange(40)
    v1 = s1 = v2 = s2 = np.zeros(40)
    for t in range(200):
        s1, v1 = lif_step(x[t], v1, s1, 0.8, 1.0, "subtract")
        s2, v2 = stochastic_step(x[t], v2, s2, rng.uniform_np(0, t, idx), 0.8, 1.0, 1e-9, "subtract")
        assert np.array_equal(s1, s2)


def _lowbias32(x):
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    return x ^ (x >> 16)


def test_counter_rng_matches_pure_python_reference_and_is_uniform():
    seed, step = 12345, 678
    s = _lowbias32((seed + 0x9E3779B9) & 0xFFFFFFFF)
    s = _lowbias32(s ^ ((step + 0x85EBCA6B) & 0xFFFFFFFF))
    idx = np.arange(100_000)
    ref = np.array([_lowbias32(int(i) ^ s) >> 8 for i in idx[:50]]) / 2**24
    u = rng.uniform_np(seed, step, idx)
    assert np.array_equal(u[:50], ref)
    assert np.array_equal(u, rng.uniform_torch(seed, step, torch.as_tensor(idx), torch.float64).numpy())
    assert np.array_equal(u.astype(np.float32), rng.uniform_torch(seed, step, torch.as_tensor(idx)).numpy())
    assert abs(u.mean() - 0.5) < 0.005 and abs(np.histogram(u, 10, (0, 1))[0] / 1e4 - 1).max() < 0.05
    assert not np.array_equal(u, rng.uniform_np(seed, step + 1, idx))
    assert not np.array_equal(u, rng.uniform_np(seed + 1, step, idx))


def test_ring_buffer_taps_and_weighted_sum():
    rb = RingBuffer(3, np.zeros(2))
    for k in (1.0, 2.0, 3.0, 4.0):
        rb.push(np.full(2, k))
    assert [rb.tap(j)[0] for j in range(3)] == [4.0, 3.0, 2.0]  # most recent first, oldest dropped
    assert np.allclose(rb.weighted_sum([1.0, 0.5, 0.25]), 4 + 1.5 + 0.5)
    fork = rb.copy()
    fork.push(np.full(2, 9.0))
    assert rb.tap(0)[0] == 4.0 and fork.tap(0)[0] == 9.0
