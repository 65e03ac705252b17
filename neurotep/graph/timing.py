"""Validation of a graph's time structure: its input streams and stages (called by
:func:`neurotep.graph.validate.validate_graph`). How a staged graph runs is
:mod:`neurotep.graph.stages`; this module sits below the :class:`~neurotep.graph.Graph` class so
that validating a graph never imports the code that splits it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from neurotep.errors import GraphError
from neurotep.graph.nodes import InputStream, Stage

if TYPE_CHECKING:  # annotations only: the Graph class calls validation
    from neurotep.graph.graph import Graph

MAX_TIMING_STEPS = 100_000  # = validate.MAX_STEPS (kept here: validate imports this module)


def _fail(node: str, problem: str):
    raise GraphError(f"{node}: {problem}")


def _int_in(label: str, key: str, v: Any, lo: int, hi: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        _fail(label, f"{key} must be an int in [{lo}, {hi}], got {v!r}")


def _node(kind: str, cls: type, node: Any, names: set[str]) -> str:
    """Check a stream or stage's type and unique name; returns its label for messages."""
    if not isinstance(node, cls):
        _fail(kind, f"expected {'an' if cls.__name__[0] in 'AEIOU' else 'a'} {cls.__name__}, got {type(node).__name__}")
    label = f"{kind} {node.name!r}"
    if not isinstance(node.name, str) or not node.name or node.name in names:
        _fail(label, "needs a unique, non-empty name")
    names.add(node.name)
    return label


def check_timing(graph: Graph) -> None:
    """Validate ``graph.streams`` and ``graph.stages`` (called by :meth:`Graph.validate`)."""
    pops = graph.populations
    names: set[str] = set()
    fed: set[str] = set()
    for s in graph.streams:
        label = _node("stream", InputStream, s, names)
        if s.population not in pops or pops[s.population].model != "input":
            _fail(label, f"population {s.population!r} is not an input population of the graph")
        if s.population in fed:
            _fail(label, f"input {s.population!r} already has a stream")
        fed.add(s.population)
        _int_in(label, "length", s.length, 1, MAX_TIMING_STEPS)
        _int_in(label, "every", s.every, 1, MAX_TIMING_STEPS)
    names = set()
    for i, st in enumerate(graph.stages):
        label = _node("stage", Stage, st, names)
        if not isinstance(st.active, (tuple, list)) or not st.active:
            _fail(label, "active must list at least one population")
        for p in st.active:
            if p not in pops or pops[p].model == "input":
                _fail(label, f"active population {p!r} is not a non-input population of the graph")
        last = i == len(graph.stages) - 1
        if last and st.steps is not None:
            _fail(label, "is the last stage: its steps are the run's own (steps must be null)")
        if not last:
            _int_in(label, "steps", st.steps, 1, MAX_TIMING_STEPS)
        if not isinstance(st.encoded, bool):
            _fail(label, f"encoded must be true or false, got {st.encoded!r}")
    out = graph.meta.get("output")
    if graph.stages and isinstance(out, str) and out not in graph.stages[-1].active:
        _fail(f"stage {graph.stages[-1].name!r}", f"the output population {out!r} must update in the last stage")
