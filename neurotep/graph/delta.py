"""The delta form of a rate network: sigma-delta neurons that send changes, not values.

A rate network's units relax to an equilibrium; sending every unit's value at every step (the rate
mode) or a spike train whose rate encodes it (the spiking mode) keeps the synapses busy long after
the network has settled. In the delta form every unit is Lava's ``SigmaDelta``
(:mod:`neurotep.neurons.sigma_delta`, a Loihi 2 neuro-core neuron): it sends the change of its
activation once the change reaches ``threshold``, and its receivers sum those messages. Traffic
decays to zero as the network reaches its equilibrium, as in O'Connor, Gavves and Welling's
spiking EqProp (AISTATS 2019). The inputs are sent as changes too (a static input once, at step
0), see :func:`neurotep.data.encoders.delta_frames`.

The rewrite, recorded in ``meta["delta_form"]``:

* **toroidal buffer -> K delayed self-connections**, as in the chip form
  (:func:`neurotep.graph.chip.buffers_to_taps`): every tap is linear, so summing the messages
  commutes with it;
* **symmetric connection -> two directed ones** (``W`` forward, ``feedback * W.T`` back);
* **linear unit -> SigmaDelta with the unit activation**, its bias kept;
* **hard-sigmoid unit -> two SigmaDelta ReLUs**, since ``clip(u, 0, 1) = relu(u) - relu(u - 1)``
  and Lava's SigmaDelta has ReLU but no clip: the unit itself (bias ``b``) and its *ceiling*
  ``<name>_ceil`` (bias ``b - 1``), which receives the same inputs and sends through the negated
  outgoing weights. Exact, at the cost of the ceiling's incoming synapses; the ceiling sends only
  while a unit is saturated;
* **damping and probabilistic gates are dropped**: a SigmaDelta unit takes its activation at once (``s = f(u)``), the
  synchronous iteration of the same fixed-point equation ``s = f(W s + b)``, so the equilibria
  (and EqProp's gradient, which lives there) are the model's, while the path to them is shorter.
  That it converges is measured, not assumed (``docs/claims.md``, rows F1-F3).

The readout of the output population is the sum of its messages, i.e. its activation to within
``threshold``; a hard-sigmoid output is read from its ReLU half (the same order, ties at 1 broken).

**The stochastic delta form** (``stochastic=True``, HTSEP's stochastic neurons on the chip): every
hard-sigmoid unit becomes a Boltzmann unit instead (:mod:`neurotep.neurons.boltzmann`, Loihi 2's
``NEBM``), a binary unit re-drawn each step, on with probability ``sigmoid((u - 1/2) / temperature)``
(bias ``b - 1/2``), sending +1 / -1 when it turns on / off. That logistic stands in for the clip
(equal at 1/2 and with the same slope there at temperature 1/4), so it is a model change and is
measured as one (``docs/claims.md``). The network never goes quiet, so the readout is the
output's activation averaged over the run, not its last value.
"""

from __future__ import annotations

import copy

import numpy as np

from neurotep.errors import GraphError
from neurotep.graph.chip import buffers_to_taps
from neurotep.graph.graph import Graph
from neurotep.graph.nodes import Connection, Population
from neurotep.graph.retime import retime

DEFAULT_THRESHOLD = 0.01  # float units of activation (hidden units live in [0, 1])
# Boltzmann units: sigmoid((u - 1/2) / T) has the clip's slope 1 at u = 1/2 with T = 1/4; the
# "logistic" rate unit is that mean (neurons.rate.LOGISTIC_TEMPERATURE, the same value: graph may
# not import neurons, and a test holds them equal).
DEFAULT_TEMPERATURE = LOGISTIC_TEMPERATURE = 0.25


def _fold_linear_feedback(g: Graph) -> list[str]:
    """Route a linear output's feedback to Boltzmann units through the units themselves: with
    ``y = A s + b`` (a unit-activation sigma-delta population fed only by Boltzmann units), the
    feedback ``B y`` is ``(B A) s + B b``, so each ``y -> h`` connection becomes ``s -> h``
    connections ``B A`` (their delays added) and ``B b`` joins ``h``'s bias. Why: a graded message
    reaches NEBM's 7-bit state through a right shift that floors every message, and ``y`` sends one
    at almost every step, so the floors add up to a drift of half a bit per message (measured: a
    32-unit model fell from 58 % to 31 % in fixed point); Boltzmann units send +1 / -1, which reach
    it exactly (``neurotep.quantize``). ``y`` keeps its other receivers, the readout among them."""
    changes = []
    for o in list(g.populations.values()):
        if o.model != "sigma_delta" or o.param("activation") != "unit":
            continue
        ins = [c for c in g.connections if c.post == o.name]
        outs = [c for c in g.connections if c.pre == o.name and c.post != o.name]
        if not ins or not outs or any(c.mask is not None for c in ins + outs) \
                or any(g.populations[c.pre].model != "boltzmann" for c in ins) \
                or any(g.populations[c.post].model != "boltzmann" for c in outs):
            continue
        b = o.bias if o.bias is not None else np.zeros(o.size)
        for c2 in outs:
            for c1 in ins:
                g.connections.append(Connection(f"{c1.name}__{c2.name}", c1.pre, c2.post, c2.weight @ c1.weight,
                                                delay=c1.delay + c2.delay))
            post = g.populations[c2.post]
            post.bias = (post.bias if post.bias is not None else np.zeros(post.size)) + c2.weight @ b
            g.connections.remove(c2)
            changes.append(f"feedback {c2.name} ({o.name} -> {c2.post}): folded into {c2.post}'s inputs from "
                           f"{', '.join(c.pre for c in ins)} and its bias (exact: y = A s + b)")
    return changes


def averages_activation(graph: Graph) -> bool:
    """Whether ``graph``'s readout is its output's activation averaged over the run (the
    stochastic delta form) rather than the sum of the output's messages (the delta form) or the
    mean of what it sends (every other graph)."""
    return bool(graph.meta.get("delta_form", {}).get("stochastic"))


def check_threshold(threshold: object) -> float:
    """``threshold`` as a float > 0, or a one-line error."""
    try:
        t = float(threshold)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        t = float("nan")
    if not t > 0 or not np.isfinite(t):
        raise GraphError(f"the delta threshold must be a finite number > 0, got {threshold!r}")
    return t


def delta_form(graph: Graph, threshold: float = DEFAULT_THRESHOLD, stochastic: bool = False,
               temperature: float = DEFAULT_TEMPERATURE) -> Graph:
    """``graph`` (a rate network) rewritten with sigma-delta neurons, or with ``stochastic`` its
    hard-sigmoid units as Boltzmann units (see the module docstring); the input graph is not
    changed. One-line :class:`GraphError` for what it cannot express."""
    threshold = check_threshold(threshold)
    if stochastic and not 0 < float(temperature) < float("inf"):
        raise GraphError(f"the Boltzmann units' temperature must be a finite number > 0, got {temperature!r}")
    g = copy.deepcopy(graph)
    if g.stages:
        raise GraphError("delta coding runs single-stage graphs; this one has stages (a sequence model such as "
                         "TEP-SSR): run it with --encoding poisson or current")
    changes: list[str] = []
    for p in g.populations.values():
        if p.model == "input":
            continue
        if p.model == "logistic" and not stochastic:
            raise GraphError(f"population {p.name!r}: logistic units run as Boltzmann units: add --neuron stochastic")
        if p.model not in ("hard_sigmoid", "logistic", "linear") or float(p.param("noise")) != 0.0:
            raise GraphError(f"population {p.name!r}: delta coding rewrites hard_sigmoid, logistic and linear rate units "
                             f"without Langevin noise, not {p.model}"
                             f"{' with noise' if p.model in ('hard_sigmoid', 'logistic', 'linear') else ''}")
        if p.model == "logistic" and float(temperature) != LOGISTIC_TEMPERATURE:
            raise GraphError(f"population {p.name!r}: logistic units are Boltzmann units at temperature "
                             f"{LOGISTIC_TEMPERATURE:g}, not {float(temperature):g}")
        if float(p.param("gate")) < 1.0:  # a gate is a random damping: like the damping, it moves no fixed point
            changes.append(f"population {p.name}: probabilistic gate {float(p.param('gate')):g} dropped (same fixed points)")
    changes += buffers_to_taps(g)
    directed = []
    for c in g.connections:
        directed.append(Connection(c.name, c.pre, c.post, c.weight, delay=c.delay, mask=c.mask))
        if c.symmetric and c.pre != c.post:
            directed.append(Connection(f"{c.name}_back", c.post, c.pre, c.weight.T * c.feedback, delay=c.delay,
                                       mask=None if c.mask is None else c.mask.T.copy()))
        elif c.symmetric:  # a symmetric self-connection acts as W + feedback * W.T
            directed[-1] = Connection(c.name, c.pre, c.post, c.weight + c.feedback * c.weight.T, delay=c.delay,
                                      mask=None if c.mask is None else (c.mask | c.mask.T))
    ceilings: dict[str, str] = {}
    for p in list(g.populations.values()):
        if p.model == "input":
            continue
        bias = p.bias if p.bias is not None else np.zeros(p.size)
        act = "relu" if p.model == "hard_sigmoid" else "unit"
        if stochastic and p.model in ("hard_sigmoid", "logistic"):
            p.model, p.params = "boltzmann", {"temperature": float(temperature), "seed": int(graph.meta.get("seed", 0))}
            p.bias = np.array(bias, dtype=np.float64) - 0.5
            continue
        if p.model == "hard_sigmoid":
            ceil = f"{p.name}_ceil"
            if ceil in g.populations:
                raise GraphError(f"population {ceil!r} exists already: the delta form names the ceiling of "
                                 f"{p.name!r} so; rename it")
            g.add(Population(ceil, p.size, "sigma_delta", {"threshold": threshold, "activation": "relu"},
                             bias=bias - 1.0))
            ceilings[p.name] = ceil
        p.model, p.params = "sigma_delta", {"threshold": threshold, "activation": act}
        p.bias = None if p.bias is None and act == "unit" else np.array(bias, dtype=np.float64)
    g.connections = []
    for c in directed:  # every (source half, target half) pair of a split unit
        for pre, sign, pre_tag in [(c.pre, 1.0, "")] + ([(ceilings[c.pre], -1.0, "_from_ceil")] if c.pre in ceilings else []):
            for post, post_tag in [(c.post, "")] + ([(ceilings[c.post], "_to_ceil")] if c.post in ceilings else []):
                g.connections.append(Connection(f"{c.name}{pre_tag}{post_tag}", pre, post, sign * c.weight,
                                                delay=c.delay, mask=None if c.mask is None else c.mask.copy()))
    changes.append(f"units {', '.join(p for p in g.populations if g.populations[p].model == 'sigma_delta')}: "
                   f"SigmaDelta neurons, threshold {threshold:g}, no damping")
    boltzmann = [p for p in g.populations if g.populations[p].model == "boltzmann"]
    for p in boltzmann:
        was = graph.populations[p].model
        changes.append(f"units {p}: Boltzmann units (NEBM), on with probability sigmoid((u - 1/2) / {float(temperature):g})"
                       + (" in place of clip(u, 0, 1): a model change" if was == "hard_sigmoid"
                          else ", whose mean is the logistic units' activation"))
    for p, ceil in ceilings.items():
        changes.append(f"population {p}: hard sigmoid as two ReLUs, {p} and its ceiling {ceil} (bias - 1, "
                       "negated outgoing weights)")
    if any(c.delay == 0 for c in g.connections):
        g = retime(g)
        changes.append("delay-0 connections: delay 1 (one step per layer)")
    if boltzmann:
        changes += _fold_linear_feedback(g)
    g.meta["delta_form"] = {"threshold": threshold, "ceilings": ceilings, "changes": changes,
                            "stochastic": bool(boltzmann)}
    return g.validate()
