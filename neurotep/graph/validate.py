"""Structural checks on a :class:`~neurotep.graph.Graph`.

:func:`validate_graph` raises :class:`~neurotep.errors.GraphError` on the first problem it finds,
with one line that names the node (``population 'h': ...``, ``connection 'W1' (x -> h): ...``)
and says what is wrong and, where obvious, how to fix it. Backends may then assume a valid graph.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from typing import Any, NoReturn

import numpy as np

from neurotep.errors import GraphError
from neurotep.graph.nodes import (
    NEURON_MODELS,
    PROBE_KINDS,
    RATE_MODELS,
    RESET_MODES,
    Connection,
    LearningRule,
    Population,
    Probe,
    ToroidalBuffer,
)

LEARNING_KINDS = ("eqprop", "bptt", "predictive", "hebbian")

# Names end up in file keys, CLI output and Lava process names: keep them to a safe alphabet.
_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def _fail(node: str, problem: str) -> NoReturn:
    raise GraphError(f"{node}: {problem}")


def _is_int(v: Any) -> bool:
    # bool is an int subclass; True as a size or delay is always a bug.
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def _is_finite(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) and math.isfinite(v)


def _describe(a: Any) -> str:
    if isinstance(a, np.ndarray):
        return f"{a.dtype} array of shape {a.shape}"
    return type(a).__name__


def _check_name(kind: str, name: Any, seen: set[str]) -> str:
    label = f"{kind} {name!r}"
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        _fail(label, "invalid name: use a non-empty string of letters, digits, '_', '.' or '-'")
    if name in seen:
        _fail(label, f"duplicate name: {kind} names must be unique")
    seen.add(name)
    return label


def _check_population(key: Any, p: Any, seen: set[str]) -> None:
    if not isinstance(p, Population):
        _fail(f"population {key!r}", f"expected a Population, got {type(p).__name__}")
    label = _check_name("population", p.name, seen)
    if key != p.name:
        _fail(label, f"stored under key {key!r} in graph.populations; add it with graph.add() "
                     "so the key equals the name")
    if p.model not in NEURON_MODELS:
        _fail(label, f"unknown model {p.model!r} (known: {', '.join(NEURON_MODELS)})")
    if not _is_int(p.size) or p.size <= 0:
        _fail(label, f"size must be a positive int, got {p.size!r}")
    if not isinstance(p.params, dict):
        _fail(label, f"params must be a dict, got {type(p.params).__name__}")
    allowed = NEURON_MODELS[p.model]
    for k, v in p.params.items():
        if k not in allowed:
            _fail(label, f"unknown parameter {k!r} for model {p.model!r} "
                         f"(allowed: {', '.join(allowed) or 'none'})")
        if k == "reset":
            if not (isinstance(v, str) and v in RESET_MODES):
                _fail(label, f"reset must be one of {', '.join(RESET_MODES)}, got {v!r}")
        elif k in ("seed", "noise_steps"):
            if not _is_int(v) or v < 0:
                _fail(label, f"{k} must be a non-negative int, got {v!r}")
        elif not _is_finite(v):
            _fail(label, f"parameter {k!r} must be a finite number, got {v!r}")
        elif k == "damping" and not 0 < v <= 1:
            _fail(label, f"damping must be in (0, 1], got {v!r}")
        elif k == "gate" and not 0 < v <= 1:
            _fail(label, f"gate must be a probability in (0, 1], got {v!r}")
        elif k in ("noise", "noise_gain") and not v >= 0:
            _fail(label, f"{k} must be >= 0, got {v!r}")
        elif k == "noise_decay" and not 0 < v <= 1:
            _fail(label, f"noise_decay must be in (0, 1], got {v!r}")
        elif k == "temperature" and not v > 0:
            _fail(label, f"temperature must be > 0, got {v!r}")
        elif k == "beta" and not 0 <= v <= 1:
            _fail(label, f"beta must be in [0, 1], got {v!r}")
        elif k == "threshold" and p.model == "lif" and not v > 0:
            _fail(label, f"threshold must be > 0 for lif, got {v!r}")
    if p.bias is not None:
        if p.model == "input":
            _fail(label, "input populations are clamped and take no bias; set bias=None")
        b = p.bias
        if not isinstance(b, np.ndarray) or b.dtype.kind != "f" or b.shape != (p.size,):
            _fail(label, f"bias must be a float array of shape ({p.size},), got {_describe(b)}")
        if not np.isfinite(b).all():
            _fail(label, f"bias has {int((~np.isfinite(b)).sum())} non-finite values (NaN or inf)")


def _check_connection(c: Any, pops: dict[str, Population], seen: set[str]) -> None:
    if not isinstance(c, Connection):
        _fail("connection", f"expected a Connection, got {type(c).__name__}")
    _check_name("connection", c.name, seen)
    label = f"connection {c.name!r} ({c.pre} -> {c.post})"
    for end in ("pre", "post"):
        ref = getattr(c, end)
        if not isinstance(ref, str) or ref not in pops:
            _fail(label, f"{end} population {ref!r} does not exist (dangling edge); add it first")
    pre, post = pops[c.pre], pops[c.post]
    if post.model == "input":
        _fail(label, f"post population {post.name!r} is an input (clamped) and cannot be driven")
    shape = (post.size, pre.size)
    w = c.weight
    if not isinstance(w, np.ndarray) or w.dtype.kind not in "iuf" or w.shape != shape:
        _fail(label, f"weight must be a 2-D numeric array of shape {shape} = (post.size, "
                     f"pre.size), got {_describe(w)}")
    if not np.isfinite(w).all():
        _fail(label, f"weight has {int((~np.isfinite(w)).sum())} non-finite values (NaN or inf)")
    m = c.mask
    if m is not None and (not isinstance(m, np.ndarray) or m.dtype != np.bool_ or m.shape != shape):
        _fail(label, f"mask must be None or a bool array of shape {shape}, got {_describe(m)}")
    if not _is_int(c.delay) or c.delay < 0:
        _fail(label, f"delay must be an int >= 0, got {c.delay!r}")
    if not isinstance(c.symmetric, (bool, np.bool_)):
        _fail(label, f"symmetric must be a bool, got {c.symmetric!r}")
    if c.symmetric:
        for p in (pre, post):
            if p.model == "input":
                _fail(label, f"symmetric connections cannot touch input population {p.name!r} "
                             "(inputs are clamped and take no feedback); make it one-way")
        if c.delay < 1:
            _fail(label, f"symmetric connections need delay >= 1, got {c.delay}")
    fb = getattr(c, "feedback", 1.0)
    if not _is_finite(fb) or fb == 0:
        _fail(label, f"feedback must be a finite non-zero number, got {fb!r}")
    if fb != 1.0 and not c.symmetric:
        _fail(label, f"feedback={fb!r} scales the transposed direction of a symmetric connection; "
                     "this connection is one-way (set symmetric=True or leave feedback at 1)")
    rule = c.learning
    if rule is not None:
        if not isinstance(rule, LearningRule):
            _fail(label, f"learning must be None or a LearningRule, got {type(rule).__name__}")
        if rule.kind not in LEARNING_KINDS:
            _fail(label, f"unknown learning rule {rule.kind!r} "
                         f"(known: {', '.join(LEARNING_KINDS)})")
        try:  # the rule is saved with the graph, so it must survive JSON
            if not isinstance(rule.params, dict):
                raise TypeError(type(rule.params).__name__)
            json.dumps(rule.params)
        except (TypeError, ValueError) as e:
            _fail(label, f"learning params must be a JSON-serialisable dict ({e})")


def _check_cycles(graph: Any) -> None:
    """Reject directed cycles of delay-0 edges: no step order can evaluate them (algebraic loop)."""
    succ: dict[str, list[tuple[str, str]]] = {n: [] for n in graph.populations}
    for c in graph.connections:
        if c.delay == 0:
            succ[c.pre].append((c.post, c.name))
            if c.symmetric:  # the feedback direction shares the delay
                succ[c.post].append((c.pre, c.name))
    # Kahn's algorithm: what cannot be topologically removed lies on or behind a cycle...
    indeg = dict.fromkeys(succ, 0)
    for edges in succ.values():
        for m, _ in edges:
            indeg[m] += 1
    ready = [n for n, d in indeg.items() if d == 0]
    while ready:
        for m, _ in succ[ready.pop()]:
            indeg[m] -= 1
            if indeg[m] == 0:
                ready.append(m)
    left = [n for n, d in indeg.items() if d > 0]
    if not left:
        return
    # ...and every node left has a predecessor left: walk back until a node repeats.
    pred = {m: (n, name) for n in left for m, name in succ[n] if indeg[m] > 0}
    walk, node = [], left[0]
    while node not in walk:
        walk.append(node)
        node = pred[node][0]
    cycle = walk[walk.index(node):][::-1]
    conns = [pred[n][1] for n in cycle[1:] + cycle[:1]]
    path = " -> ".join(cycle + cycle[:1])
    _fail(f"connections {', '.join(repr(n) for n in dict.fromkeys(conns))}",
          f"delay-0 cycle (algebraic loop) through populations {path}; "
          "give one of its connections delay >= 1")


def _check_buffer(b: Any, pops: dict[str, Population], owner: dict[str, str],
                  seen: set[str]) -> None:
    if not isinstance(b, ToroidalBuffer):
        _fail("buffer", f"expected a ToroidalBuffer, got {type(b).__name__}")
    label = _check_name("buffer", b.name, seen)
    if not isinstance(b.population, str) or b.population not in pops:
        _fail(label, f"population {b.population!r} does not exist")
    pop = pops[b.population]
    if pop.model == "input":
        _fail(label, f"cannot sit on input population {pop.name!r} (inputs are clamped)")
    if b.population in owner:
        _fail(label, f"population {pop.name!r} already has buffer {owner[b.population]!r}; "
                     "at most one buffer per population")
    owner[b.population] = b.name
    if not _is_int(b.depth) or b.depth < 1:
        _fail(label, f"depth must be an int >= 1, got {b.depth!r}")
    if not isinstance(b.decay, (tuple, list)) or not b.decay:
        _fail(label, "decay must be a non-empty tuple of floats (one per torus axis), "
                     f"got {b.decay!r}")
    for d in b.decay:
        if not _is_finite(d) or not 0 <= d <= 1:
            _fail(label, f"decay factors must be numbers in [0, 1], got {d!r}")
    shape, radius = b.shape, b.radius
    if not isinstance(shape, (tuple, list)) or not all(_is_int(n) and n >= 1 for n in shape):
        _fail(label, f"shape must be a tuple of positive ints (the spatial grid), got {shape!r}")
    if len(b.decay) != 1 + len(shape):
        _fail(label, f"decay needs one factor for time plus one per spatial axis: shape {tuple(shape)} "
                     f"has {len(shape)} spatial axes, so {1 + len(shape)} factors, got {len(b.decay)}")
    if shape and int(np.prod(shape)) != pop.size:
        _fail(label, f"grid shape {tuple(shape)} holds {int(np.prod(shape))} neurons but population "
                     f"{pop.name!r} has {pop.size}")
    if not isinstance(radius, (tuple, list)) or len(radius) != len(shape):
        _fail(label, f"radius needs one int per spatial axis ({len(shape)}), got {radius!r}")
    for n, r in zip(shape, radius):
        if not _is_int(r) or not 0 <= r or 2 * r + 1 > n:
            _fail(label, f"radius {r!r} does not fit an axis of {n} neurons (need 0 <= radius and "
                         "2 * radius + 1 <= axis length, so no neuron is reached twice around the ring)")
    if not isinstance(b.learn, (bool, np.bool_)):
        _fail(label, f"learn must be a bool, got {b.learn!r}")
    if b.learn and not all(0 < d < 1 for d in b.decay):
        _fail(label, f"learned decays must start strictly inside (0, 1) (they are learned as logits), got {tuple(b.decay)}")
    if not _is_finite(b.gain):
        _fail(label, f"gain must be a finite number, got {b.gain!r}")
    if pop.model in RATE_MODELS:
        g = b.loop_gain()
        if b.learn and not b.worst_loop_gain() < 1:
            _fail(label, f"learned decays can reach loop gain {b.worst_loop_gain():.6g} >= 1 (gain * depth * "
                         "prod(2 * radius + 1)); lower gain so relaxation stays convergent while they learn")
        if not g < 1:
            _fail(label, f"loop gain gain*sum(decay**j) = {g:.6g} >= 1 on rate population "
                         f"{pop.name!r}: the energy loses convexity and relaxation diverges; "
                         "lower gain, decay or depth")


def validate_graph(graph: Any) -> None:
    """Check ``graph``; raise :class:`GraphError` naming the first bad node and its problem."""
    pops = graph.populations
    if not isinstance(pops, dict):
        _fail("graph", "populations must be a dict name -> Population")
    seen: set[str] = set()
    for key, p in pops.items():
        _check_population(key, p, seen)
    if not any(p.model == "input" for p in pops.values()):
        _fail("graph", "no input population; add at least one population with model 'input'")
    if all(p.model == "input" for p in pops.values()):
        _fail("graph", "no non-input population; add at least one population with dynamics")

    seen = set()
    for c in graph.connections:
        _check_connection(c, pops, seen)
    _check_cycles(graph)

    seen, owner = set(), {}
    for b in graph.buffers:
        _check_buffer(b, pops, owner, seen)

    seen = set()
    for pr in graph.probes:
        if not isinstance(pr, Probe):
            _fail("probe", f"expected a Probe, got {type(pr).__name__}")
        label = _check_name("probe", pr.name, seen)
        if not isinstance(pr.population, str) or pr.population not in pops:
            _fail(label, f"population {pr.population!r} does not exist")
        if pr.what not in PROBE_KINDS:
            _fail(label, f"unknown probe kind {pr.what!r} (known: {', '.join(PROBE_KINDS)})")

    try:  # meta is saved as JSON next to the weights
        if not isinstance(graph.meta, dict):
            raise TypeError(f"expected a dict, got {type(graph.meta).__name__}")
        json.dumps(graph.meta)
    except (TypeError, ValueError) as e:
        _fail("graph meta", f"must be a JSON-serialisable dict ({e})")
