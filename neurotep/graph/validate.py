"""Structural checks on a :class:`~neurotep.graph.Graph`.

:func:`validate_graph` raises :class:`~neurotep.errors.GraphError` on the first problem it finds,
with one line that names the node (``population 'h': ...``, ``connection 'W1' (x -> h): ...``)
and says what is wrong and, where obvious, how to fix it. Backends may then assume a valid graph.

Why one module of ~530 lines: it is the single list of what a valid graph is (nodes, then the
graph's ``meta`` keys), which backends and the fuzz suite rely on; its sections are small
functions, one per node kind or meta key. The time structure's checks are in
:mod:`neurotep.graph.timing`.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from typing import Any, Callable, NoReturn

import numpy as np

from neurotep.errors import GraphError
from neurotep.graph.timing import check_timing
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
# meta["relaxation"]: "plain" plus neurotep.backends.torch.solvers.SOLVERS (a test keeps them equal;
# the graph package does not import the torch backend).
RELAXATION_METHODS = ("plain", "anderson", "coarse_to_fine")
SPIKING_NEURONS = ("lif", "stochastic")

# Static bounds, far above every variant (populations of at most a few thousand neurons, buffers
# of 4 taps, delays of 1, 20,000 relaxation steps in the longest test), so that a corrupt or
# hostile model file is refused instead of hanging or exhausting a run. What a run needs in memory
# (which depends on the batch and the steps) is checked by neurotep.runner.check_resources.
MAX_POPULATION_SIZE = 1 << 24  # neurons in one population (16 Mi; a Loihi 2 chip holds 1 Mi)
MAX_DELAY = 4096  # steps of synaptic delay: each step of delay keeps one more output per neuron
MAX_BUFFER_DEPTH = 1024  # taps of a toroidal buffer: every step sums all of them
MAX_STEPS = 100_000  # relaxation or simulation steps (hyperparameters, --steps, sequence length)
MAX_SEED = 2**32 - 1  # the counter-based generator keys on 32 bits (neurotep.rng)
MAX_COUNT = 2**31 - 1  # other step counts (noise_steps) stay int32 for Lava
MAX_META_DEPTH = 32  # nesting of meta's JSON (deeper would overflow the recursion of deepcopy/json)

# Names end up in file keys, CLI output and Lava process names: keep them to a safe alphabet.
_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def _fail(node: str, problem: str) -> NoReturn:
    raise GraphError(f"{node}: {problem}")


def _is_int(v: Any) -> bool:
    # bool is an int subclass; True as a size or delay is always a bug.
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def _is_finite(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) and math.isfinite(v)


def _plain_numeric(dtype: np.dtype, kinds: str) -> bool:
    """A dtype of one of ``kinds`` that every backend takes: at most 64 bits (torch has no
    float128/longdouble), not structured."""
    return dtype.kind in kinds and dtype.itemsize <= 8 and dtype.fields is None


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_float32_range(label: str, what: str, a: np.ndarray) -> None:
    """Values the float32 torch path and Loihi's bit widths can hold: beyond 3.4e38 they turn into
    inf on the first cast, and the run computes NaN."""
    if a.dtype.kind == "f" and a.dtype.itemsize > 4 and a.size:
        big = int((np.abs(a) > _FLOAT32_MAX).sum())
        if big:
            _fail(label, f"{what} has {big} values beyond float32's range (|x| > {_FLOAT32_MAX:.3g}), "
                         "which would run as inf; the file is corrupt or the training diverged")


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
    if not isinstance(p.model, str) or p.model not in NEURON_MODELS:
        _fail(label, f"unknown model {p.model!r} (known: {', '.join(NEURON_MODELS)})")
    if not _is_int(p.size) or p.size <= 0:
        _fail(label, f"size must be a positive int, got {p.size!r}")
    if p.size > MAX_POPULATION_SIZE:
        _fail(label, f"size {p.size} is over the limit of {MAX_POPULATION_SIZE} neurons per population; "
                     "split it into smaller populations")
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
        elif k == "activation":
            if not (isinstance(v, str) and v in ("relu", "unit")):
                _fail(label, f"activation must be relu or unit, got {v!r}")
        elif k == "graded":
            if not isinstance(v, bool):
                _fail(label, f"graded must be true or false, got {v!r}")
        elif k in ("seed", "noise_steps"):
            top = MAX_SEED if k == "seed" else MAX_COUNT
            if not _is_int(v) or not 0 <= v <= top:
                _fail(label, f"{k} must be an int in [0, {top}], got {v!r}")
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
        elif k == "threshold" and not v > 0:
            # A neuron fires when its membrane crosses the threshold and loses it on reset: at or
            # below 0 it would fire on no input and a subtractive reset would charge it up.
            _fail(label, f"threshold must be > 0 for {p.model}, got {v!r}")
    if p.bias is not None:
        if p.model == "input":
            _fail(label, "input populations are clamped and take no bias; set bias=None")
        if p.model == "sigma":
            _fail(label, "sigma integrators take no bias (Lava's Sigma has none): drive them from a constant source")
        b = p.bias
        if not isinstance(b, np.ndarray) or not _plain_numeric(b.dtype, "f") or b.shape != (p.size,):
            _fail(label, f"bias must be a float array of shape ({p.size},), got {_describe(b)}")
        if not np.isfinite(b).all():
            _fail(label, f"bias has {int((~np.isfinite(b)).sum())} non-finite values (NaN or inf)")
        _check_float32_range(label, "bias", b)


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
    if not isinstance(w, np.ndarray) or not _plain_numeric(w.dtype, "iuf") or w.shape != shape:
        _fail(label, f"weight must be a 2-D numeric array of shape {shape} = (post.size, "
                     f"pre.size), int or float of at most 64 bits, got {_describe(w)}")
    if not np.isfinite(w).all():
        _fail(label, f"weight has {int((~np.isfinite(w)).sum())} non-finite values (NaN or inf)")
    _check_float32_range(label, "weight", w)
    m = c.mask
    if m is not None and (not isinstance(m, np.ndarray) or m.dtype != np.bool_ or m.shape != shape):
        _fail(label, f"mask must be None or a bool array of shape {shape}, got {_describe(m)}")
    if not _is_int(c.delay) or not 0 <= c.delay <= MAX_DELAY:
        _fail(label, f"delay must be an int in [0, {MAX_DELAY}] steps, got {c.delay!r}")
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
        if not isinstance(rule.kind, str) or rule.kind not in LEARNING_KINDS:
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
    if not _is_int(b.depth) or not 1 <= b.depth <= MAX_BUFFER_DEPTH:
        _fail(label, f"depth must be an int in [1, {MAX_BUFFER_DEPTH}] taps, got {b.depth!r}")
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
    if shape and math.prod(shape) != pop.size:  # math.prod: huge axes must not overflow int64
        _fail(label, f"grid shape {tuple(shape)} holds {math.prod(shape)} neurons but population "
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
    if not _is_finite(b.gain) or not b.gain > 0:
        # The buffer adds -1/2 gain * s.S s to the energy: a negative gain is not a buffer but an
        # extra penalty the training never saw, and 0 feeds nothing back.
        _fail(label, f"gain must be a finite number > 0, got {b.gain!r}; remove the buffer to switch it off")
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

    check_timing(graph)
    check_meta(graph)


# -- meta -----------------------------------------------------------------------------------------
# meta is free-form JSON, but some of its keys are read by neurotep (variants, solvers, runner,
# training): each of those is checked when present. Which keys a run needs (input, output) is the
# runner's business (neurotep.runner.check_resources): test graphs and partial graphs omit them.
def _json_depth(v: Any) -> int:
    """Nesting depth of a JSON value, without recursion (a hostile file may nest thousands deep)."""
    deepest, todo = 0, [(v, 1)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, (dict, list, tuple)):
            deepest = max(deepest, d)
            if d <= MAX_META_DEPTH:
                todo.extend((x, d + 1) for x in (v.values() if isinstance(v, dict) else v))
    return deepest


def _kind(p: Population) -> str:
    return f"{'an' if p.model[0] in 'aeiou' else 'a'} {p.model} population"


def _meta_fail(key: str, problem: str) -> NoReturn:
    _fail(f"graph meta.{key}", problem)


def _meta_number(key: str, v: Any, test: Callable[[float], bool], rule: str) -> None:
    if not _is_finite(v) or not test(v):
        _meta_fail(key, f"must be a finite number {rule}, got {v!r}")


def _meta_int(key: str, v: Any, lo: int, hi: int) -> None:
    if not _is_int(v) or not lo <= v <= hi:
        _meta_fail(key, f"must be an int in [{lo}, {hi}], got {v!r}")


def _meta_type(key: str, v: Any, typ: type | tuple[type, ...], what: str) -> None:
    if not isinstance(v, typ) or isinstance(v, bool):
        _meta_fail(key, f"must be {what}, got {type(v).__name__} {_short(v)}")


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def _meta_population(key: str, name: Any, pops: dict[str, Population], state: bool | None = None) -> None:
    """``name`` names a population (``state=True``: one with dynamics; ``False``: an input)."""
    if not isinstance(name, str) or name not in pops:
        _meta_fail(key, f"names population {_short(name)}, which does not exist (populations: {', '.join(pops)})")
    p = pops[name]
    if state is False and p.model != "input":
        inputs = [q.name for q in pops.values() if q.model == "input"]
        _meta_fail(key, f"must name an input population (model 'input'), but {name!r} is {_kind(p)}; "
                        f"input populations: {', '.join(inputs)}")
    if state is True and p.model == "input":
        _meta_fail(key, f"must name a population with dynamics, but {name!r} is an input (clamped) population")


def _meta_population_list(key: str, v: Any, pops: dict[str, Population], state: bool | None = None) -> None:
    _meta_type(key, v, list, "a list of population names")
    for name in v:
        _meta_population(key, name, pops, state)


def _meta_spiking(key: str, v: Any) -> None:
    """``meta["spiking"]`` (a variant's spiking-mode defaults) and ``meta["spiking_settings"]``
    (what :func:`~neurotep.graph.transforms.rate_to_spiking` used)."""
    _meta_type(key, v, dict, "a dict of spiking settings (neuron, temperature, seed, gate)")
    if "neuron" in v and v["neuron"] not in SPIKING_NEURONS:
        _meta_fail(key, f"neuron must be one of {', '.join(SPIKING_NEURONS)}, got {_short(v['neuron'])}")
    if "temperature" in v:
        _meta_number(f"{key}.temperature", v["temperature"], lambda t: t > 0, "> 0")
    if "gate" in v and v["gate"] is not None:
        _meta_number(f"{key}.gate", v["gate"], lambda g: 0 < g <= 1, "in (0, 1] (a probability)")
    if "seed" in v:
        _meta_int(f"{key}.seed", v["seed"], 0, MAX_SEED)


# Hyperparameters neurotep reads back from meta (EqPropConfig, PredictiveConfig, TPEqProp); the
# others are a record of how the model was built and only need to be JSON.
_HP_STEPS = ("free_steps", "nudge_steps", "clamp_steps")
_HP_POSITIVE = ("beta", "eta", "precision")


def _meta_hyperparameters(v: Any) -> None:
    _meta_type("hyperparameters", v, dict, "a dict")
    for k in _HP_STEPS:
        if k in v:
            _meta_int(f"hyperparameters.{k}", v[k], 1, MAX_STEPS)
    for k in _HP_POSITIVE:
        if k in v:
            _meta_number(f"hyperparameters.{k}", v[k], lambda x: x > 0, "> 0")
    if "tol" in v:
        _meta_number("hyperparameters.tol", v["tol"], lambda x: x >= 0, ">= 0")
    todo = [(f"hyperparameters.{k}", x) for k, x in v.items()]
    while todo:  # the build record: every number in it is one a builder took, so finite
        key, x = todo.pop()
        if isinstance(x, float) and not math.isfinite(x):
            _meta_fail(key, f"must be a finite number, got {x!r}")
        if isinstance(x, list):
            todo.extend((key, y) for y in x)


def check_meta(graph: Any) -> None:
    """Check the keys of ``graph.meta`` that neurotep reads: their types, ranges and the
    populations or connections they name. Raises :class:`GraphError` naming the key."""
    meta, pops = graph.meta, graph.populations
    try:  # meta is saved as JSON next to the weights
        if not isinstance(meta, dict):
            raise TypeError(f"expected a dict, got {type(meta).__name__}")
        if _json_depth(meta) > MAX_META_DEPTH:
            raise ValueError(f"nested more than {MAX_META_DEPTH} levels deep")
        json.dumps(meta)
    except (TypeError, ValueError) as e:
        _fail("graph meta", f"must be a JSON-serialisable dict ({e})")
    if "variant" in meta and meta["variant"] is not None:
        _meta_type("variant", meta["variant"], str, "the name of a variant (see `neurotep variants`)")
    if "input" in meta:
        _meta_population("input", meta["input"], pops, state=False)
    if "output" in meta:
        _meta_population("output", meta["output"], pops, state=True)
    if "hyperparameters" in meta:
        _meta_hyperparameters(meta["hyperparameters"])
    for key in ("spiking", "spiking_settings"):
        if key in meta and meta[key] is not None:
            _meta_spiking(key, meta[key])
    if "mode" in meta and meta["mode"] not in ("rate", "spiking"):
        _meta_fail("mode", f"must be 'rate' or 'spiking', got {_short(meta['mode'])}")
    for key in ("training", "spectrum", "torus", "generative"):  # records that code reads with .get()
        if key in meta:
            _meta_type(key, meta[key], dict, "a dict")
    method = meta.get("relaxation", "plain")
    if not isinstance(method, str) or method not in RELAXATION_METHODS:
        _meta_fail("relaxation", f"unknown relaxation method {_short(method)} "
                                 f"(known: {', '.join(RELAXATION_METHODS)})")
    needs = {"coarse_to_fine": ("levels",)}.get(method, ())
    for key in needs:
        if key not in meta:
            _meta_fail(key, f"is missing: relaxation {method!r} needs it")
    # MS-TEP: the populations of each level, coarsest first.
    if "levels" in meta:
        levels = meta["levels"]
        if not isinstance(levels, list) or not levels or not all(isinstance(lv, list) and lv for lv in levels):
            _meta_fail("levels", f"must be a non-empty list of non-empty lists of population names, got {_short(levels)}")
        for lv in levels:
            _meta_population_list("levels", lv, pops, state=True)
    if "spectral" in meta:
        spec = meta["spectral"]
        _meta_type("spectral", spec, dict, "a dict")
        names = [c.name for c in graph.connections]
        conns = spec.get("connections", [])
        if not isinstance(conns, list) or not all(isinstance(n, str) and n in names for n in conns):
            _meta_fail("spectral", f"connections must list connections of the graph, got {_short(conns)}")
        if "bound" in spec:
            _meta_number("spectral.bound", spec["bound"], lambda x: x > 0, "> 0")
    # TPEqProp: value and error populations, the error -> value map, lam and precision per unit.
    # (Value units may be clamped: Lava's predictive training clamps the output value.)
    for key, state in (("values", None), ("errors", True)):
        if key in meta:
            _meta_population_list(key, meta[key], pops, state=state)
            if not meta[key]:
                _meta_fail(key, "must name at least one population")
    if "error_of" in meta:
        _meta_type("error_of", meta["error_of"], dict, "a dict error population -> value population")
        for e, v in meta["error_of"].items():
            _meta_population("error_of", e, pops, state=True)
            _meta_population("error_of", v, pops)
    for key, rule, test, state in (("lam", ">= 0", lambda x: x >= 0, None), ("precision", "> 0", lambda x: x > 0, True)):
        if key in meta:
            _meta_type(key, meta[key], dict, "a dict population -> number")
            for name, x in meta[key].items():
                _meta_population(key, name, pops, state=state)
                _meta_number(f"{key}.{name}", x, test, rule)
    predictive = ("values", "errors", "error_of", "lam", "precision")
    present = [k for k in predictive if k in meta]
    if present:  # one description of the predictive hierarchy: all five keys, consistent
        for key in predictive:
            if key not in meta:
                _meta_fail(key, f"is missing: a predictive-coding graph ({', '.join(present)} given) needs "
                                f"all of {', '.join(predictive)}")
        if set(meta["error_of"]) != set(meta["errors"]) or not set(meta["error_of"].values()) <= set(meta["values"]):
            _meta_fail("error_of", f"must map each of errors {meta['errors']} to one of values {meta['values']}, "
                                   f"got {_short(meta['error_of'])}")
        for key, names in (("lam", meta["values"]), ("precision", meta["errors"])):
            if not set(names) <= set(meta[key]):
                _meta_fail(key, f"needs a number for each of {names}, got {_short(meta[key])}")
