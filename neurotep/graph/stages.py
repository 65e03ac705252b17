"""Time in the graph: input streams and stages (:class:`~neurotep.graph.nodes.InputStream`,
:class:`~neurotep.graph.nodes.Stage`) and the one way a staged graph runs (their validation is
:mod:`neurotep.graph.timing`).

A staged graph runs as one plain graph per stage, in order (:func:`stage_parts`): the stage's
active populations with their connections and buffers, and every population that drives them
from outside the stage as an input population holding its output (the value it had when its
own stage ended; zero if it has not run yet). The runner plays the parts one after another on
whichever backend, handing the held outputs over as static inputs: a chip does the same between
two runs (it cannot freeze some neurons while others update), and the backends need no notion of
stages at all. The torch network also plays the stages inside one relaxation
(:meth:`neurotep.backends.torch.TorchNetwork.relax`), which training needs to differentiate
through; both follow the rule written here.

Limits, each refused in one line: a population may update in one stage only (a part starts
from the zero state), and a stage hands at most one population on to later stages.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from neurotep.errors import GraphError
from neurotep.graph.graph import Graph
from neurotep.graph.nodes import Connection, InputStream, Population, Stage

@dataclass
class StagePart:
    """One stage as a plain graph: ``held`` are the populations it reads as clamped inputs,
    ``handover`` the population whose final output later stages hold (None for the last)."""

    stage: Stage
    graph: Graph
    offset: int  # the run step at which the stage starts
    held: tuple[str, ...]
    handover: str | None


def stage_parts(graph: Graph) -> list[StagePart]:
    """The plain graphs a staged ``graph`` runs as, one per stage (module docstring); a graph
    without stages is its own single part."""
    if not graph.stages:
        return [StagePart(Stage("run", tuple(p.name for p in graph.state_populations())), graph, 0, (), None)]
    where: dict[str, str] = {}
    for st in graph.stages:
        for p in st.active:
            if p in where:
                raise GraphError(f"population {p!r} updates in stages {where[p]!r} and {st.name!r}: a staged run "
                                 "hands populations between backend runs, so each may update in one stage only")
            where[p] = st.name
    parts, offset = [], 0
    for i, st in enumerate(graph.stages):
        g, held = _part_graph(graph, st)
        later = {h for part_held in (_held_by(graph, s) for s in graph.stages[i + 1:]) for h in part_held}
        handover = sorted(later & set(st.active))
        if len(handover) > 1:
            raise GraphError(f"stage {st.name!r} hands {handover} on to later stages: one population per stage "
                             "is supported so far")
        last = i == len(graph.stages) - 1
        g.meta["output"] = graph.meta.get("output") if last else (handover[0] if handover else st.active[0])
        parts.append(StagePart(st, g.validate(), offset, held, None if last else (handover[0] if handover else None)))
        offset += 0 if last else int(st.steps)
    return parts


def _held_by(graph: Graph, st: Stage) -> set[str]:
    """Non-input populations outside ``st`` that drive one of its active populations."""
    active = set(st.active)
    held = set()
    for c in graph.connections:
        if c.post in active and c.pre not in active:
            held.add(c.pre)
        if c.symmetric and c.pre in active and c.post not in active:
            held.add(c.post)
    return {p for p in held if graph.populations[p].model != "input"}


def _part_graph(graph: Graph, st: Stage) -> tuple[Graph, tuple[str, ...]]:
    active = set(st.active)
    held = _held_by(graph, st)
    g = Graph()
    for p in graph.populations.values():
        if p.name in active:
            g.add(copy.deepcopy(p))
        elif p.name in held:  # its output, held: graded even in a spiking run
            g.add(Population(p.name, p.size, "input", {"graded": True}))
        elif p.model == "input" and any(c.pre == p.name and c.post in active for c in graph.connections):
            g.add(copy.deepcopy(p))
    for c in graph.connections:
        if c.post in active and c.pre in g.populations:
            if c.symmetric and c.pre not in active:  # only the direction into the stage remains
                g.add(Connection(c.name, c.pre, c.post, c.weight.copy(), c.delay, False,
                                 None if c.mask is None else c.mask.copy(), c.learning))
            else:
                g.add(copy.deepcopy(c))
        elif c.symmetric and c.pre in active and c.post in held:  # the transposed direction, into the stage
            g.add(Connection(f"{c.name}_T", c.post, c.pre, c.feedback * c.weight.T.copy(), c.delay, False,
                             None if c.mask is None else c.mask.T.copy(), None))
    for b in graph.buffers:
        if b.population in active:
            g.add(copy.deepcopy(b))
    for pr in graph.probes:
        if pr.population in g.populations:
            g.add(copy.deepcopy(pr))
    inp = graph.meta.get("input")
    g.meta = {"input": inp if inp in g.populations else next(p.name for p in g.inputs()),
              "stage": st.name, "variant": graph.meta.get("variant")}
    return g, tuple(sorted(held))


def frames_of(graph: Graph, population: str, x, offset: int, steps: int):
    """The frames input ``population`` plays during ``steps`` steps from run step ``offset``:
    ``x`` (B, width) -> (frames, B, size), played in order (one frame: held). Works on numpy
    arrays and torch tensors alike."""
    stream = graph.stream_of(population)
    if stream is None:
        return x[None]
    size = graph.populations[population].size
    seq = x.reshape(x.shape[0], stream.length, size)
    idx = [stream.frame_at(offset + t) for t in range(steps)]
    if len(set(idx)) == 1:
        return seq[:, idx[0]][None]
    return seq[:, idx].swapaxes(0, 1)


def upgrade_v1(graph: Graph) -> Graph:
    """A graph read from a format-1 file, in format 2: TEP-SSR's ``relaxation: "sequence"`` (with
    ``meta.sequence``, ``meta.ssm``, ``meta.block``) becomes an input stream and two stages."""
    meta = graph.meta
    if meta.get("relaxation") != "sequence":
        return graph
    seq, inp = meta.get("sequence") or {}, meta.get("input")
    if not isinstance(seq, dict) or "length" not in seq or inp not in graph.populations:
        raise GraphError("graph meta: relaxation 'sequence' needs meta.sequence (length, features) and an input")
    length = int(seq["length"])
    graph.add(InputStream(f"{inp}_sequence", inp, length))
    graph.add(Stage("feed", tuple(meta["ssm"]), length + 1, encoded=False))
    graph.add(Stage("relax", tuple(meta["block"])))
    graph.meta = {k: v for k, v in meta.items() if k not in ("sequence", "ssm", "block")}
    graph.meta["relaxation"] = "plain"
    return graph
