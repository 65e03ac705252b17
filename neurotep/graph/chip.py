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

* **damped linear rate unit -> Lava ``Sigma`` with a self-connection.** A linear unit with
  damping ``a`` computes ``y <- (1 - a) y + a (W x + b)``. ``Sigma`` sums its input into its
  output (``y <- y + a_in``), so the chip form scales every synapse into the unit by ``a`` (a
  symmetric connection is split into its two directions), adds the self-connection ``-a I``
  (delay 1) and brings the bias ``a b`` from a one-neuron ``LIF`` whose bias keeps it firing at
  every step. That neuron's first spike arrives one step late: the unit starts one step behind
  and the difference decays as ``(1 - a)**t``. In fixed point ``Sigma`` sends its sum of ``a_in``
  messages (6 fractional bits, where neurotep's rate units send 8).

* **delay-0 connections -> delay 1** (:func:`neurotep.graph.retime.retime`): every Loihi synapse
  adds a step, so an imported network (NIR edges act within the step) runs one step later per
  layer, its readout shifted by the output's depth. ``run --backend lava`` applies this to the
  reference form too.

The chip form is for inference: learning rules and learned decays are not carried over.

What the chip form leaves as it is (it has no library process with a neuro-core model yet, so
the mapper reports it off the neuro-cores, with the reason): hard-sigmoid rate units (rate
mode), gated or noisy units, stochastic neurons.
"""

from __future__ import annotations

import copy

import numpy as np

from neurotep.errors import GraphError
from neurotep.graph.graph import Graph
from neurotep.graph.nodes import Connection, Population
from neurotep.graph.retime import retime

MAX_TAP_DELAY = 64  # DelaySparse: 6-bit delay (0..63) plus the step every synapse adds
FORMS = ("reference", "chip")  # the model as trained, or its chip form


def in_form(graph: Graph, form: str) -> Graph:
    """``graph`` itself (``"reference"``) or its :func:`chip_form`; a one-line error otherwise."""
    if form == "reference":
        return graph
    if form == "chip":
        return chip_form(graph)
    raise GraphError(f"unknown form {form!r}: use reference (the model as trained) or chip (Loihi 2's neuro-cores)")


def chip_form(graph: Graph) -> Graph:
    """The graph rewritten for Loihi 2's neuro-cores (see the module docstring); the input graph is
    not changed. Raises :class:`GraphError` for a buffer deeper than a synapse can delay."""
    g = copy.deepcopy(graph)
    changes: list[str] = []
    for p in g.populations.values():
        if p.model == "lif" and p.param("reset") == "subtract":
            p.params = dict(p.params, reset="zero")
            changes.append(f"population {p.name}: zero reset instead of subtractive (Lava's LIF)")
    changes += buffers_to_taps(g)
    for p in list(g.populations.values()):
        if p.model == "linear" and float(p.param("gate")) == 1.0 and float(p.param("noise")) == 0.0:
            changes.append(_to_sigma(g, p))
    if any(c.delay == 0 for c in g.connections):
        g = retime(g)
        changes.append(f"delay-0 connections {', '.join(map(repr, g.meta['retimed']['connections']))}: delay 1 "
                       f"(one step per layer, output {g.meta['retimed']['shift'].get(g.meta.get('output'), 0)} step(s) late)")
    g.meta["chip_form"] = {"changes": changes}
    return g.validate()


def buffers_to_taps(g: Graph) -> list[str]:
    """Replace every toroidal buffer of ``g`` (in place) by its K delayed self-connections (see the
    module docstring); returns one line per buffer for the record of changes."""
    changes = []
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
    return changes


def _to_sigma(g: Graph, p: Population) -> str:
    """Rewrite the damped linear unit ``p`` as a Sigma integrator (see the module docstring)."""
    a = float(p.param("damping"))
    out = []
    for c in g.connections:
        into_fwd, into_back = c.post == p.name, c.symmetric and c.pre == p.name
        if not (into_fwd or into_back):
            out.append(c)
            continue
        if c.symmetric and c.pre != c.post:  # split: only the direction into p is scaled
            back = Connection(f"{c.name}_back", c.post, c.pre, c.weight.T * c.feedback * (a if into_back else 1.0),
                              delay=c.delay, mask=None if c.mask is None else c.mask.T.copy())
            fwd = Connection(c.name, c.pre, c.post, c.weight * (a if into_fwd else 1.0), delay=c.delay,
                             mask=None if c.mask is None else c.mask.copy())
            out += [fwd, back]
        else:
            out.append(Connection(c.name, c.pre, c.post, c.weight * a, delay=c.delay, symmetric=c.symmetric,
                                  mask=c.mask, feedback=c.feedback))
    n = p.size
    out.append(Connection(f"{p.name}_leak", p.name, p.name, -a * np.eye(n), mask=np.eye(n, dtype=bool)))
    words = f"population {p.name}: Sigma integrator with self-connection -{a:g} I, inputs scaled by {a:g}"
    b = p.bias
    if b is not None and np.any(b != 0):
        src = f"{p.name}_bias"
        g.add(Population(src, 1, "lif", {"beta": 1.0, "threshold": 1.0, "reset": "zero"}, bias=np.array([2.0])))
        out.append(Connection(f"{src}_to_{p.name}", src, p.name, (a * b)[:, None]))
        for st in g.stages:  # the bias neuron runs in the stage of the unit it drives
            if p.name in st.active:
                st.active = tuple(st.active) + (src,)
        words += f", bias from the always-firing LIF {src} (one step late at the start)"
    g.connections = out
    p.model, p.params, p.bias = "sigma", {}, None
    return words
