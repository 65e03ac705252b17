"""The base TorEqProp model: a looped, weight-tied network with a toroidal buffer.

Every hidden layer is a population of hard-sigmoid rate units with a toroidal buffer of its last
``K`` outputs; layers are joined by symmetric connections (feedforward ``W`` and feedback
``W.T``), the input drives the first layer and the output layer is linear. Iterating the whole
state with damping ``a`` is the seed's update::

    s <- (1 - a) s + a f(W_x x + W_h s + g * sum_k decay^k h(t-k))

with ``W_h`` the symmetric block matrix of the layer connections. Its fixed points are the
stationary points of the Hopfield-style energy

    E(s) = sum_i G(s_i) - b.s - 1/2 s.W_h s - s.W_x x - 1/2 * g * sum_k decay^k * ||h||^2

(``G(s) = s^2/2`` on the hard-sigmoid's box, see :mod:`neurotep.neurons.rate`), so two-phase
Equilibrium Propagation computes its gradient. The buffer lowers the energy's curvature by
``g * sum_k decay^k``: keep that loop gain well below 1.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from neurotep.graph import Connection, Graph, LearningRule, Population, ToroidalBuffer

NAME = "toreqprop"
DESCRIPTION = "base TorEqProp: looped weight-tied network with a toroidal buffer, trained by symmetric two-phase EqProp"

DEFAULTS = dict(
    hidden=(256,),
    damping=0.5,
    buffer_depth=4,
    buffer_decay=0.8,
    buffer_gain=0.05,
    beta=0.5,
    free_steps=200,
    nudge_steps=60,
    tol=1e-4,
)


def build(n_in: int = 64, n_out: int = 10, seed: int = 0, hidden: Sequence[int] = DEFAULTS["hidden"],
          damping: float = DEFAULTS["damping"], buffer_depth: int = DEFAULTS["buffer_depth"],
          buffer_decay: float = DEFAULTS["buffer_decay"], buffer_gain: float = DEFAULTS["buffer_gain"],
          beta: float = DEFAULTS["beta"], free_steps: int = DEFAULTS["free_steps"],
          nudge_steps: int = DEFAULTS["nudge_steps"], tol: float = DEFAULTS["tol"]) -> Graph:
    """Build the base model with freshly initialised weights (uniform +-1/sqrt(fan_in))."""
    rs = np.random.default_rng(seed)
    g = Graph()
    g.add(Population("x", n_in, "input"))
    sizes = [n_in, *hidden, n_out]
    names = ["x"] + [f"h{i}" for i in range(len(hidden))] + ["y"]
    rule = LearningRule("eqprop", {"beta": beta})
    for i, (name, size) in enumerate(zip(names[1:], sizes[1:])):
        model = "linear" if name == "y" else "hard_sigmoid"
        bound = 1.0 / np.sqrt(sizes[i])
        g.add(Population(name, size, model, {"damping": damping}, bias=rs.uniform(-bound, bound, size)))
        g.add(Connection(f"W_{names[i]}_{name}", names[i], name, rs.uniform(-bound, bound, (size, sizes[i])),
                         symmetric=names[i] != "x", learning=rule))
        if name != "y" and buffer_depth > 0 and buffer_gain > 0:
            g.add(ToroidalBuffer(f"torus_{name}", name, buffer_depth, (buffer_decay,), buffer_gain))
    g.meta.update(
        variant=NAME, input="x", output="y",
        hyperparameters=dict(n_in=n_in, n_out=n_out, seed=seed, hidden=list(hidden), damping=damping,
                             buffer_depth=buffer_depth, buffer_decay=buffer_decay, buffer_gain=buffer_gain,
                             beta=beta, free_steps=free_steps, nudge_steps=nudge_steps, tol=tol),
    )
    return g.validate()
