"""The chip form of a graph: the same network written with the parts that Lava's library
processes with a Loihi 2 neuro-core model can express (see ``hardware/loihi2/README.md`` for the
sourced list of those classes).

:func:`chip_form` rewrites a graph, and records each rewrite in ``meta["chip_form"]`` so that a
report can say how the chip form differs from the model as trained:

* **toroidal buffer -> K delayed self-connections.** A buffer of depth K feeds a population
  ``sum_j w_j out(t-1-j)`` (times the spatial kernel ``S`` of an N-D buffer). That is exactly K
  connections from the population to itself, tap ``j`` with delay ``j + 1`` and weight ``w_j I``
  (or ``w_j S``), which the Lava plan compiles to ``Dense`` (delay 1) and ``DelaySparse``
  (delays 2..64, Loihi 2's 6-bit synaptic delay plus the step every synapse adds). Exact in
  floating point; in fixed point each tap gets its own 8-bit weight mantissa, as on the chip.
  The cost is one connection process per tap. Learned decays are frozen (the taps are plain
  weights); on-chip learning of them is not attempted.
* **subtractive-reset integrate-and-fire -> zero reset.** Lava's ``LIF`` (neuro-core model)
  resets its voltage to zero after a spike; neurotep's ``SubtractiveLIF`` keeps the residual and
  has a Python model only. The zero reset loses the residual above threshold, so a neuron fires
  a little less than its input asks for: a model change, measured in ``docs/claims.md``.

What the chip form leaves as it is (it has no library process with a neuro-core model yet, so
the mapper reports it off the neuro-cores, with the reason): damped graded rate units (the
output layer), stochastic neurons and probabilistic gates, Langevin noise.
"""

from __future__ import annotations

import copy

import numpy as np

from neurotep.errors import GraphError
from neurotep.graph.graph import Graph
from neurotep.graph.nodes import Connection

MAX_TAP_DELAY = 64  # DelaySparse: 6-bit delay (0..63) plus the step every synapse adds


def chip_form(graph: Graph) -> Graph:
    """The graph rewritten for Loihi 2's neuro-cores (see the module docstring); the input graph is
    not changed. Raises :class:`GraphError` for a buffer deeper than a synapse can delay."""
    g = copy.deepcopy(graph)
    changes: list[str] = []
    for p in g.populations.values():
        if p.model == "lif" and p.param("reset") == "subtract":
            p.params = dict(p.params, reset="zero")
            changes.append(f"population {p.name}: zero reset instead of subtractive (Lava's LIF)")
    for b in g.buffers:
        if b.depth > MAX_TAP_DELAY:
            raise GraphError(f"buffer {b.name!r}: depth {b.depth} needs delays up to {b.depth}, beyond the "
                             f"{MAX_TAP_DELAY} steps a Loihi 2 synapse can delay; shorten the buffer")
        n = g.populations[b.population].size
        kernel = b.spatial_kernel()
        base = np.eye(n) if kernel is None else kernel
        mask = base != 0
        for j, w in enumerate(b.tap_weights()):
            g.connections.append(Connection(f"{b.name}_tap{j}", b.population, b.population, w * base, delay=j + 1,
                                             mask=mask.copy()))
        changes.append(f"buffer {b.name}: {b.depth} delayed self-connection(s) on {b.population} "
                       f"(delays 1..{b.depth}{', spatial kernel in the weights' if kernel is not None else ''}"
                       f"{', decays frozen' if b.learn else ''})")
    g.buffers = []
    g.meta["chip_form"] = {"changes": changes}
    return g.validate()
