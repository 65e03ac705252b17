"""EqProp learning on Lava: the same updates as the torch path, and it learns digits on its own."""

import numpy as np
import pytest
import torch

from neurotep.backends.lava.training import train_on_lava
from neurotep.backends.torch import TorchNetwork
from neurotep.data import load_digits_split, one_hot
from neurotep.errors import BackendError
from neurotep.graph.transforms import rate_to_spiking
from neurotep.learning.eqprop import EqPropConfig, eqprop_gradients
from neurotep.learning.phases import PhaseSchedule
from neurotep.runner import run_model
from neurotep.variants import base


@pytest.mark.parametrize("grid", [None, (2, 3)])
def test_one_cycle_on_lava_equals_the_torch_eqprop_update(grid):
    g = base.build(n_in=6, n_out=3, hidden=(7 if grid is None else 6,), seed=0, buffer_gain=0.1, buffer_depth=3)
    if grid is not None:  # an N-D buffer with fixed decays: the spatial kernel runs inside the buffer process
        b = g.buffers[0]
        b.shape, b.radius, b.decay = grid, (0, 1), (b.decay[0], 0.5, 0.6)
        g.validate()
    rs = np.random.default_rng(0)
    x, y = rs.uniform(0, 1, (4, 6)), np.eye(3)[rs.integers(0, 3, 4)]
    trained, info = train_on_lava(g, x, y, epochs=1, batch=4, schedule=PhaseSchedule(300, 300, 0.1, 1.0), seed=0)
    order = np.random.default_rng(0).permutation(4)  # train_on_lava's batch order
    net = TorchNetwork(g, dtype=torch.float64)
    grads, _, _ = eqprop_gradients(net, torch.as_tensor(x[order]), torch.as_tensor(y[order]),
                                   EqPropConfig(beta=0.1, free_steps=300, nudge_steps=300, tol=None))
    for c in g.connections:
        expected = -grads[f"weight:{c.name}"].numpy()  # one SGD step with lr 1
        assert np.abs(expected).max() > 1e-3
        assert np.allclose(info["first_update"][c.name], expected, atol=1e-10), c.name
        assert np.allclose(trained.connection(c.name).weight - c.weight, expected, atol=1e-10)
    for p in ("h0", "y"):
        assert np.allclose(trained.populations[p].bias - g.populations[p].bias, -grads[f"bias:{p}"].numpy(), atol=1e-10)


@pytest.mark.slow
def test_training_on_lava_alone_learns_digits():
    d = load_digits_split()
    g = base.build(seed=0, hidden=(32,))
    before = run_model(g, d).summary["test_accuracy"]
    trained, info = train_on_lava(g, d.x_train, one_hot(d.y_train, 10), epochs=1, batch=32,
                                  schedule=PhaseSchedule(40, 20, 0.5, 0.1))
    after = run_model(trained, d, backend="lava").summary["test_accuracy"]
    assert info["cycles"] == 44 and before < 0.2
    assert after > 0.5, after


def test_spiking_graphs_are_not_trained_on_lava():
    g = rate_to_spiking(base.build(n_in=6, n_out=3, hidden=(7,), seed=0))
    with pytest.raises(BackendError, match="trains rate networks"):
        train_on_lava(g, np.zeros((4, 6)), np.eye(3)[[0, 1, 2, 0]], batch=4)


def test_what_eqprop_on_lava_cannot_honour_is_refused_before_running():
    g = base.build(n_in=6, n_out=3, hidden=(6,), seed=0, buffer_depth=2)
    g.populations["h0"].params["gate"] = 0.5
    with pytest.raises(BackendError, match="'h0' has a probabilistic gate"):
        train_on_lava(g, np.zeros((4, 6)), np.eye(3)[[0, 1, 2, 0]], batch=4)
    g = base.build(n_in=6, n_out=3, hidden=(6,), seed=0, buffer_depth=2)
    b = g.buffers[0]
    b.shape, b.radius, b.decay, b.learn = (6,), (1,), (b.decay[0], 0.5), True
    with pytest.raises(BackendError, match="learns its decays"):
        train_on_lava(g.validate(), np.zeros((4, 6)), np.eye(3)[[0, 1, 2, 0]], batch=4)
