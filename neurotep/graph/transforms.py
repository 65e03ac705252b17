"""Graph-to-graph transforms."""

from __future__ import annotations

import copy
import math
from typing import Any

from neurotep.errors import GraphError
from neurotep.graph.graph import Graph
from neurotep.graph.nodes import Connection

SPIKING_NEURONS = ("lif", "stochastic")


def spiking_settings(graph: Graph, neuron: str | None = None, temperature: float | None = None,
                     seed: int | None = None, gate: float | None = None) -> dict[str, Any]:
    """The spiking-mode settings :func:`rate_to_spiking` uses: each argument given here wins,
    then the graph's ``meta["spiking"]`` (a variant's defaults, e.g. HTSEP's stochastic neurons),
    then neurotep's defaults (integrate-and-fire, temperature 0.1, seed 0, gate 1)."""
    meta = graph.meta.get("spiking") or {}
    s = dict(neuron=neuron if neuron is not None else meta.get("neuron", "lif"),
             temperature=temperature if temperature is not None else meta.get("temperature", 0.1),
             seed=seed if seed is not None else meta.get("seed", 0),
             gate=gate if gate is not None else None)
    if s["neuron"] not in SPIKING_NEURONS:
        raise GraphError(f"unknown spiking neuron {s['neuron']!r}: use lif or stochastic")
    if s["gate"] is None:
        # A variant's spiking gate applies to its stochastic neurons only (LIF has no gate).
        s["gate"] = float(meta.get("gate", 1.0)) if s["neuron"] == "stochastic" else 1.0
    g = s["gate"]
    if isinstance(g, bool) or not isinstance(g, (int, float)) or not math.isfinite(g) or not 0 < g <= 1:
        raise GraphError(f"spiking gate must be a probability in (0, 1], got {g!r}")
    if g < 1 and s["neuron"] != "stochastic":
        raise GraphError("gates on spiking neurons need neuron='stochastic' (lif has no gate)")
    t = s["temperature"]
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or not t > 0:
        raise GraphError(f"spiking temperature must be a number > 0, got {t!r}")
    return s


def rate_to_spiking(graph: Graph, neuron: str | None = None, temperature: float | None = None,
                    seed: int | None = None, gate: float | None = None) -> Graph:
    """The spiking mode of a rate network, with the same weights.

    Hard-sigmoid units become integrate-and-fire neurons (``beta = 1``, threshold 1, subtractive
    reset) whose firing rate approaches ``clip(input, 0, 1)``, the hard-sigmoid itself; with
    ``neuron="stochastic"`` they become HTSEP's stochastic neurons instead (spike with probability
    ``sigmoid((v - 1) / temperature)``; same long-run rate, since every spike subtracts the
    threshold: the temperature trades timing precision for noise). Linear output units stay graded
    leaky integrators (Loihi 2 graded spikes). Toroidal buffers then recirculate spikes.

    Unset arguments come from the graph's ``meta["spiking"]`` (see :func:`spiking_settings`).

    **Sparsity knob: gates** (``gate`` < 1, stochastic neurons only). Each step each neuron's gate
    opens with probability ``gate`` (the counter-based draws of :func:`neurotep.rng.gate_open`); a
    closed neuron neither integrates its input nor spikes. Its rate becomes
    ``gate * clip(input, 0, 1)``: fewer spikes and ``gate`` times the membrane updates. To keep the
    expected drive of every receiver, every synapse that carries these spikes is scaled by
    ``1 / gate`` (the buffer's gain included). A symmetric connection whose endpoints need
    different scales is split into its two one-way connections (``<name>`` forward and
    ``<name>_back`` with ``W.T``); inference needs no weight tie, and on a chip the two directions
    are two synapse blocks anyway. The result stays an honest spiking network: binary spikes, fixed
    weights, no global operation; the cost of the knob is Bernoulli noise in the rates, which more
    steps average out.
    """
    s = spiking_settings(graph, neuron, temperature, seed, gate)
    g = copy.deepcopy(graph)
    scale: dict[str, float] = {}
    for p in g.populations.values():
        if p.model == "hard_sigmoid":
            if s["neuron"] == "lif":
                p.model, p.params = "lif", {"beta": 1.0, "threshold": 1.0, "reset": "subtract"}
            else:
                p.model, p.params = "stochastic", {"beta": 1.0, "threshold": 1.0, "temperature": float(s["temperature"]),
                                                   "reset": "subtract", "seed": int(s["seed"])}
                if s["gate"] < 1:
                    p.params["gate"] = float(s["gate"])
                    scale[p.name] = 1.0 / float(s["gate"])
        elif p.model == "tanh":
            raise GraphError(f"population {p.name!r}: tanh units have negative outputs and no spiking equivalent; use hard_sigmoid")
        elif p.model == "logistic":
            raise GraphError(f"population {p.name!r}: logistic units run as Boltzmann units, not as spiking neurons: "
                             "use --encoding delta --neuron stochastic")
    if scale:
        _compensate(g, scale)
    g.meta["mode"] = "spiking"
    g.meta["spiking_settings"] = {k: (float(v) if k in ("temperature", "gate") else v) for k, v in s.items()}
    return g.validate()


def _compensate(g: Graph, scale: dict[str, float]) -> None:
    """Scale every synapse by ``scale[source]`` (1 where absent), splitting symmetric connections
    whose two directions need different factors."""
    out = []
    for c in g.connections:
        f_pre, f_post = scale.get(c.pre, 1.0), scale.get(c.post, 1.0)
        if not c.symmetric or f_pre == f_post:
            c.weight = c.weight * f_pre
            out.append(c)
            continue
        back = Connection(f"{c.name}_back", c.post, c.pre, c.weight.T * f_post * c.feedback, delay=c.delay,
                          mask=None if c.mask is None else c.mask.T.copy())
        c.weight, c.symmetric = c.weight * f_pre, False
        out += [c, back]
    g.connections = out
    for b in g.buffers:
        if b.population in scale:
            b.gain = b.gain * scale[b.population]
