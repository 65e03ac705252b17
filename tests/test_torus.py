"""N-D toroidal buffers and probabilistic gates on the torch path (HTSEP's building blocks)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurotep import rng
from neurotep.backends.torch import TorchNetwork
from neurotep.graph import Connection, Graph, Population, ToroidalBuffer, load_graph, save_graph
from neurotep.graph.nodes import circulant_1d
from neurotep.learning.energy import energy
from neurotep.learning.eqprop import EqPropConfig, eqprop_gradients
from neurotep.learning.gradcheck import cosine, implicit_gradients
from neurotep.neurons import stochastic_step


def _grid_graph(shape=(3, 4), radius=(1, 1), decay=(0.7, 0.5, 0.3), gain=0.04, depth=3, learn=False, gate=1.0,
                seed=0) -> Graph:
    rs = np.random.default_rng(seed)
    n = int(np.prod(shape))
    g = Graph()
    g.add(Population("x", 5, "input"))
    g.add(Population("h", n, "hard_sigmoid", {"damping": 0.5, "gate": gate, "seed": 3}, bias=rs.uniform(0, 0.5, n)))
    g.add(Population("y", 2, "linear", {"damping": 0.5}, bias=np.zeros(2)))
    g.add(Connection("Wx", "x", "h", rs.uniform(-0.5, 0.5, (n, 5))))
    g.add(Connection("Wy", "h", "y", rs.uniform(-0.3, 0.3, (2, n)), symmetric=True))
    g.add(ToroidalBuffer("torus", "h", depth, decay, gain, shape, radius, learn))
    g.meta.update(input="x", output="y")
    return g.validate()


def test_spatial_kernel_wraps_around_and_is_symmetric():
    k = circulant_1d(5, 2, 0.5)
    assert k[0].tolist() == [1.0, 0.5, 0.25, 0.25, 0.5]  # neighbours 4 and 3 are 1 and 2 steps away
    b = _grid_graph().buffers[0]
    s = b.spatial_kernel()
    assert s.shape == (12, 12) and np.array_equal(s, s.T)
    # neuron (0, 0): itself, (0, 1) and (0, 3) along columns (decay .3), (1, 0) and (2, 0) along rows (.5)
    grid = s[0].reshape(3, 4)
    assert grid[0, 0] == 1 and grid[0, 1] == grid[0, 3] == pytest.approx(0.3) and grid[0, 2] == 0
    assert grid[1, 0] == grid[2, 0] == pytest.approx(0.5) and grid[1, 1] == pytest.approx(0.15)
    # the loop gain is the kernel's largest eigenvalue times the time taps' sum
    assert b.loop_gain() == pytest.approx(np.linalg.eigvalsh(s).max() * b.tap_weights().sum())


def test_nd_feedback_matches_hand_computation():
    g = _grid_graph()
    net = TorchNetwork(g, dtype=torch.float64)
    w = net.effective_weights()
    st = net.init_state(2)
    x = torch.rand(2, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    outs = []
    with torch.no_grad():
        for _ in range(4):
            st = net.step(st, {"x": x}, w)
            outs.append(st.out["h"])
    b = g.buffers[0]
    taps = b.tap_weights()
    # at step 5, h's buffer holds outputs of steps 4, 3, 2 (most recent first)
    expected = sum(taps[j] * outs[3 - j].numpy() for j in range(3)) @ b.spatial_kernel()
    u = x.numpy() @ g.connections[0].weight.T + st.out["y"].numpy() @ g.connections[1].weight + g.populations["h"].bias
    with torch.no_grad():
        st5 = net.step(st, {"x": x}, w)
    want = outs[3].numpy() + 0.5 * (np.clip(u + expected, 0, 1) - outs[3].numpy())
    assert np.allclose(st5.out["h"].numpy(), want, atol=1e-12)


def test_fixed_points_are_energy_stationary_with_nd_buffer():
    g = _grid_graph(gain=0.03)
    net = TorchNetwork(g, dtype=torch.float64)
    x = torch.rand(3, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        st, n = net.relax({"x": x}, 5000, tol=1e-13)
    assert n < 5000
    s = {k: st.out[k].clone().requires_grad_(True) for k in ("h", "y")}
    e = energy(net, {"x": x, **s}).sum()
    gh, gy = torch.autograd.grad(e, [s["h"], s["y"]])
    inside = (s["h"] > 1e-9) & (s["h"] < 1 - 1e-9)  # the box constraint is inactive there
    assert float(gh[inside].abs().max()) < 1e-9 and float(gy.abs().max()) < 1e-9


def test_gates_open_with_their_probability_and_agree_across_backends():
    idx = np.arange(200_000, dtype=np.int64)
    o = rng.gate_open(7, 3, idx, 0.3)
    assert abs(o.mean() - 0.3) < 0.005
    assert np.array_equal(o, rng.gate_open(7, 3, torch.as_tensor(idx), 0.3).numpy())
    assert not np.array_equal(o, rng.gate_open(7, 4, idx, 0.3))  # fresh draws each step
    # the gate stream differs from the spike stream of the same (seed, step, neuron)
    assert not np.array_equal(o, rng.uniform_np(7, 3, idx) < 0.3)
    assert rng.gate_open(0, 0, idx, 1.0).all()


def test_gates_slow_relaxation_but_keep_the_fixed_point():
    x = torch.rand(3, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    out, steps = {}, {}
    for gate in (1.0, 0.4):
        net = TorchNetwork(_grid_graph(gate=gate), dtype=torch.float64)
        with torch.no_grad():
            st, steps[gate] = net.relax({"x": x}, 20000, tol=1e-12)
        out[gate] = st.out["h"]
    assert torch.allclose(out[1.0], out[0.4], atol=1e-9)
    assert steps[0.4] > 1.5 * steps[1.0]


def test_gated_stochastic_neuron_skips_steps_without_losing_resets():
    i = np.full(4, 0.6)
    v = np.array([0.9, 0.9, 0.2, 0.2])
    s_prev = np.array([1.0, 1.0, 0.0, 0.0])
    u = np.zeros(4)  # every open neuron above threshold spikes
    gate = np.array([1.0, 0.0, 1.0, 0.0])
    s, v_new = stochastic_step(i, v, s_prev, u, 1.0, 0.5, 0.01, "subtract", gate)
    assert s.tolist() == [1.0, 0.0, 1.0, 0.0]
    # open: integrate and subtract the pending reset; closed: only the pending reset
    assert v_new == pytest.approx([0.9 + 0.6 - 0.5, 0.9 - 0.5, 0.8, 0.2])


def test_learned_decays_eqprop_gradient_matches_implicit():
    g = _grid_graph(gain=0.05, learn=True, decay=(0.6, 0.4, 0.5), depth=2)
    net = TorchNetwork(g, dtype=torch.float64)
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(4, 5, dtype=torch.float64, generator=gen)
    t = torch.rand(4, 2, dtype=torch.float64, generator=gen)
    cfg = EqPropConfig(beta=1e-3, free_steps=20000, nudge_steps=20000, tol=1e-13)
    ep, _, free = eqprop_gradients(net, x, t, cfg)
    true = implicit_gradients(net, x, t, free.out, tol=1e-14)
    assert "torus:h" in ep and set(ep) <= set(true)
    assert cosine(ep["torus:h"], true["torus:h"]) > 0.999
    assert float(true["torus:h"].abs().max()) > 1e-6  # the check is not vacuous
    # learned decays go back into the graph
    with torch.no_grad():
        net.torus["h"] += 0.3
    decays = net.to_graph().buffers[0].decay
    assert all(d0 > d for d0, d in zip(decays, g.buffers[0].decay))


def test_nd_buffer_survives_save_and_load(tmp_path):
    g = _grid_graph(learn=True, gain=0.03)
    save_graph(g, tmp_path / "m")
    b = load_graph(tmp_path / "m").buffers[0]
    assert (b.shape, b.radius, b.learn, b.decay) == ((3, 4), (1, 1), True, (0.7, 0.5, 0.3))


def test_implicit_gradient_ignores_gates():
    # Gates change the speed of relaxation, not the equilibrium: the true gradient is the same.
    gen = torch.Generator().manual_seed(6)
    x = torch.rand(3, 5, dtype=torch.float64, generator=gen)
    t = torch.rand(3, 2, dtype=torch.float64, generator=gen)
    grads = []
    for gate in (1.0, 0.5):
        net = TorchNetwork(_grid_graph(gate=gate), dtype=torch.float64)
        with torch.no_grad():
            st, _ = net.relax({"x": x}, 20000, tol=1e-13)
        grads.append(implicit_gradients(net, x, t, st.out, tol=1e-14))
    for k in grads[0]:
        assert torch.allclose(grads[0][k], grads[1][k], atol=1e-9), k


def test_anderson_reaches_the_fixed_point_of_a_gated_network():
    x = torch.rand(3, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    net = TorchNetwork(_grid_graph(gate=0.4), dtype=torch.float64)
    with torch.no_grad():
        plain, _ = net.relax({"x": x}, 20000, tol=1e-12)
        acc, _ = net.relax({"x": x}, 2000, tol=1e-11, method="anderson")
    assert torch.allclose(acc.out["h"], plain.out["h"], atol=1e-8)


def test_energy_counts_a_self_connection_once():
    # A fixed negative self-coupling (MS-TEP's ||h - U h'||^2 terms) is -1/2 s.A s in the energy.
    g = _grid_graph(gain=0.03)
    g.add(Connection("self_h", "h", "h", -0.2 * np.eye(12)))
    net = TorchNetwork(g.validate(), dtype=torch.float64)
    x = torch.rand(3, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        st, _ = net.relax({"x": x}, 5000, tol=1e-13)
    s = {k: st.out[k].clone().requires_grad_(True) for k in ("h", "y")}
    gh = torch.autograd.grad(energy(net, {"x": x, **s}).sum(), s["h"])[0]
    inside = (s["h"] > 1e-9) & (s["h"] < 1 - 1e-9)
    assert bool(inside.any()) and float(gh[inside].abs().max()) < 1e-9
