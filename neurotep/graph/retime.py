"""Re-timing delay-0 connections for Lava: one step per layer.

A NIR edge acts within the step, so graphs written by snnTorch or Norse import as delay-0
connections (``docs/interop.md``); every Loihi synapse adds one step (Lava's ``Dense``), so Lava
cannot run them. :func:`retime` gives every delay-0 connection delay 1. In a layered network,
population ``p`` then runs ``shift[p]`` steps late, ``shift`` being the number of delay-0
connections on the paths from the inputs to ``p`` (the layer depth): its spikes at step ``t`` are
those of the original graph at step ``t - shift[p]``, so the readout of the original at step ``t``
is the re-timed one at ``t + shift[output]``. The shift is exact only when every path to ``p``
crosses the same number of delay-0 connections and no population before ``p`` has a bias (a bias
acts from step 0, before the delayed input arrives); :func:`retime` records ``shift`` and lists
what breaks the exact shift in ``meta["retimed"]``. Readouts start at the output's shift
(:func:`readout_from`), so they average the same input-driven steps as the original's.

The torch path runs the same re-timed graph (``run --form chip``, or this function), which is
how both backends give the same spikes.
"""

from __future__ import annotations

import copy

from neurotep.graph.graph import Graph


def readout_from(graph: Graph, population: str | None) -> int:
    """The first step a readout of ``population`` averages over: its shift in a re-timed graph
    (the step its first input arrives), else 0. Every backend's readout mean starts there, and
    the runner runs that many steps more, so the mean covers as many input-driven steps as asked."""
    shift = (graph.meta.get("retimed") or {}).get("shift", {})
    return int(shift.get(population, 0)) if population is not None else 0


def needs_retime(graph: Graph) -> bool:
    return any(c.delay == 0 for c in graph.connections)


def retime(graph: Graph) -> Graph:
    """A copy of ``graph`` with delay 1 on every delay-0 connection and ``meta["retimed"]`` =
    ``{"connections": [...], "shift": {population: steps}, "inexact": [reasons]}``; ``graph``
    itself if it has no delay-0 connection."""
    if not needs_retime(graph):
        return graph
    g = copy.deepcopy(graph)
    changed = [c for c in g.connections if c.delay == 0]
    shift: dict[str, int] = {}
    inexact: list[str] = []

    def depth(name: str, seen: tuple[str, ...] = ()) -> int:
        # delay-0 connections make no cycle (validate() rejects algebraic loops), so this ends
        if name not in shift:
            ins = {depth(c.pre, seen + (name,)) + 1 for c in changed if c.post == name}
            ins |= {depth(c.post, seen + (name,)) + 1 for c in changed if c.symmetric and c.pre == name}
            if len(ins) > 1:
                inexact.append(f"population {name}: paths of {sorted(ins)} delay-0 connections meet here")
            shift[name] = max(ins, default=0)
        return shift[name]

    for p in g.populations:
        depth(p)
    for p in g.populations.values():
        if p.bias is not None and shift[p.name] > 0:
            inexact.append(f"population {p.name}: its bias acts from step 0, {shift[p.name]} step(s) before its input")
    for c in changed:
        c.delay = 1
    g.meta["retimed"] = {"connections": [c.name for c in changed], "shift": shift, "inexact": inexact}
    return g.validate()
