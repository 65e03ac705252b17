"""Exports that snnTorch's and Norse's own importers load and run (``compile --to nir --for``).

Both importers build a torch module with nirtorch, which evaluates every NIR edge within the
step, except an edge that closes a cycle: that one carries the source's output of the previous
step (a one-step recurrence). Neither importer reads ``Delay`` nodes or runs NIR's ``LI``. So
:func:`peer_form` first rewrites the graph into what the peers can run, as a neurotep graph
(neurotep's torch path runs it with the same spikes), and :func:`to_peer_nir` lowers that:

* **delays.** A connection to a later population (in the graph's population order) becomes a
  plain edge, delay 0: the receiving layer sees its input one step earlier than in neurotep
  (``d`` steps earlier for delay ``d``). A connection back to an earlier population or to itself
  (the feedback half of a symmetric connection, a buffer) becomes nirtorch's recurrence, delay 1.
* **toroidal buffer** (taps ``w_j`` at delays ``1..K``): one self-connection of delay 1 carrying
  ``sum_j w_j`` (the same loop gain at an equilibrium; the older taps arrive early).
* **reset.** Both importers build zero-reset neurons (snnTorch ``reset_mechanism="zero"``, Norse's
  ``LIFBoxCell`` without ``reset_method``): subtractive reset becomes zero reset.
* **graded units** (``y <- (1 - a) y + a u``): a ``Linear`` identity node fed ``a`` times its
  inputs and, through a one-step self-loop, ``(1 - a)`` times its own last value
  (:func:`_graded_as_linear`).
* **evaluation order**: nodes named ``<rank>_<name>`` so that nirtorch's order (dict order; the
  file lists them alphabetically) puts the recurrence on the intended edges (:func:`_in_order`);
  Norse's older executor is checked to follow it (:func:`_check_norse_order`).
* **snnTorch only.** Its importer reads ``IF`` as ``Leaky(beta=0.9)``: an integrate-and-fire
  population is written as ``LIF`` with ``tau = 2**60 dt`` (``beta = 1`` in floating point); a
  self-connection goes through an identity relay (see :func:`_for_snntorch`); ``dt = 1e-4``, which
  its importer hard-codes.
* **Norse only.** Its importer ignores ``r``: :func:`~neurotep.interop.nir.params.fold_resistance`.

No peer form (one-line :class:`NIRError` naming the population): input streams and stages (time
structure), and what NIR itself cannot express (see :mod:`.export`).
"""

from __future__ import annotations

import copy
import os
from typing import Any

import numpy as np

from neurotep.graph import Graph
from neurotep.graph.nodes import Connection, RATE_MODELS
from neurotep.interop.nir.common import DT, NIRError, nir_lib

PEERS = ("snntorch", "norse")
IF_TAU_STEPS = 2.0 ** 60  # dt / tau below float64's epsilon: beta = 1 - dt / tau == 1.0 exactly


def peer_form(graph: Graph, peer: str) -> tuple[Graph, list[str]]:
    """``graph`` (its spiking form) as ``peer``'s importer runs it, and notes saying what changed."""
    from neurotep.graph.transforms import rate_to_spiking

    if peer not in PEERS:
        raise NIRError(f"unknown peer {peer!r}: use {' or '.join(PEERS)}")
    if graph.stages or graph.streams:
        who = (graph.stages or graph.streams)[0]
        raise NIRError(f"{'stage' if graph.stages else 'stream'} {who.name!r}: {peer} runs one network that updates "
                       "every population at every step; a graph with input streams or stages has no peer form")
    inputs = [p.name for p in graph.populations.values() if p.model == "input"]
    if len(inputs) > 1:
        raise NIRError(f"population {inputs[1]!r}: a second input population; the peers' importers take one input")
    g = copy.deepcopy(graph)
    notes: list[str] = []
    if any(p.model in RATE_MODELS - {"linear"} for p in g.populations.values()):
        g = rate_to_spiking(g, neuron="lif")  # the exporter names what has no spiking form
        notes.append("rate model exported in its spiking form (integrate-and-fire units, as `run --spiking --neuron lif`)")
    order = {name: i for i, name in enumerate(g.populations)}
    conns: list[Connection] = []
    for c in g.connections:
        w = c.weight * c.mask if c.mask is not None else c.weight
        conns.append(Connection(c.name, c.pre, c.post, w, delay=c.delay))
        if c.symmetric:
            conns.append(Connection(f"{c.name}_T", c.post, c.pre, float(c.feedback) * w.T, delay=c.delay))
    for b in g.buffers:
        kernel = b.spatial_kernel()
        n = g.populations[b.population].size
        conns.append(Connection(b.name, b.population, b.population,
                                float(sum(b.tap_weights())) * (np.eye(n) if kernel is None else kernel), delay=1))
        if b.depth > 1:
            notes.append(f"buffer {b.name!r}: its {b.depth} taps (delays 1..{b.depth}) summed into one one-step "
                         "self-connection (the same loop gain at an equilibrium)")
    shifted: dict[str, int] = {}
    for c in conns:
        forward = order[c.pre] < order[c.post]
        if forward and c.delay:
            shifted[c.post] = max(shifted.get(c.post, 0), c.delay)
        elif not forward and c.delay != 1:
            notes.append(f"connection {c.name!r} ({c.pre} -> {c.post}): delay {c.delay} written as the peer's "
                         "one-step recurrence")
        c.delay = 0 if forward else 1
    for post, d in shifted.items():
        notes.append(f"population {post!r}: its feed-forward input arrives {d} step(s) earlier than in neurotep "
                     "(NIR edges act within the step)")
    for p in g.populations.values():
        if p.model == "lif" and p.param("reset") == "subtract":
            p.params = dict(p.params, reset="zero")
            notes.append(f"population {p.name!r}: zero reset instead of subtractive ({peer}'s importer builds zero reset)")
    g.connections, g.buffers = conns, []
    g.meta = {k: v for k, v in g.meta.items() if k in ("input", "output", "variant")}
    return g.validate(), notes


def export_peer_nir(graph: Graph, path: str | os.PathLike, peer: str, dt: float = DT) -> list[str]:
    """Write the NIR file of :func:`to_peer_nir` atomically; returns the notes. Nothing is written
    when ``graph`` has no form that ``peer`` runs."""
    from neurotep.interop.nir.export import write_nir

    g, notes = to_peer_nir(graph, peer, dt)
    write_nir(g, path)
    return notes


def to_peer_nir(graph: Graph, peer: str, dt: float = DT) -> tuple[Any, list[str]]:
    """The NIR graph of :func:`peer_form` that ``peer``'s own importer loads, and the notes."""
    from neurotep.interop.nir.export import to_nir
    from neurotep.interop.nir.params import PRODUCERS, fold_resistance

    if peer == "snntorch" and dt != PRODUCERS["snntorch"]:
        raise NIRError(f"--for snntorch: snnTorch's importer hard-codes dt = {PRODUCERS['snntorch']:g}; "
                       f"drop --dt (got {dt:g})")
    g, notes = peer_form(graph, peer)
    ng, _ = to_nir(g, dt)
    nir = nir_lib()
    back: set[tuple[str, str]] = set()  # the edges that close a cycle: nirtorch's one-step recurrence
    for key in [k for k, v in ng.nodes.items() if isinstance(v, nir.Delay)]:  # peer_form left delay 1 on those only
        (src,) = [a for a, b in ng.edges if b == key]
        ng.edges = [(src if a == key else a, b) for a, b in ng.edges if b != key]
        back |= {(a, b) for a, b in ng.edges if a == key[:-len(".delay")]}  # weight -> neuron
        del ng.nodes[key]
    back = _graded_as_linear(nir, ng, g, back)
    if peer == "snntorch":
        back = _for_snntorch(nir, ng, g, dt, back)
    else:
        ng = fold_resistance(ng)
    _feed_shapes(nir, ng, g, back)
    ng = _in_order(nir, ng, back)
    if peer == "norse":
        _check_norse_order(nir, ng)
    ng.metadata = {"neurotep_peer_form": peer, "dt": float(dt)}
    notes.append(f"load with {_LOADERS[peer].format(dt=dt)}; no neurotep code is needed there")
    return ng, notes


_LOADERS = {"snntorch": "snntorch.import_nir.import_from_nir(nir.read(FILE))",
            "norse": "norse.torch.from_nir(FILE, dt={dt:g})"}


def _feed_shapes(nir, ng: Any, g: Graph, back: set[tuple[str, str]]) -> None:
    """A population whose every input is a one-step recurrence (e.g. TPEqProp's error units, fed
    from later layers only) gets nirtorch's placeholder ``zeros(1)`` at the first step, which the
    next ``Linear`` cannot multiply (nirtorch 2.6), and Norse's executor has no input at all for
    it: a zero ``Linear`` from the input gives it a forward input of the right shape (adding 0)."""
    inp = g.meta["input"]
    for name, p in g.populations.items():
        ins = [(a, b) for a, b in ng.edges if b == name]
        if p.model != "input" and all(e in back for e in ins):
            ng.nodes[f"{name}_shape"] = nir.Linear(weight=np.zeros((p.size, g.populations[inp].size)))
            ng.edges += [(inp, f"{name}_shape"), (f"{name}_shape", name)]


def _in_order(nir, ng: Any, back: set[tuple[str, str]]) -> Any:
    """The graph with its nodes in evaluation order and named so that it stays in that order once
    written (HDF5 lists groups alphabetically): nirtorch evaluates nodes in dict order and feeds an
    input that is not computed yet from the previous step, so this order puts the one-step
    recurrence on the ``back`` edges."""
    fwd = [(a, b) for a, b in ng.edges if (a, b) not in back]
    todo, order = list(ng.nodes), []
    while todo:
        ready = next(k for k in todo if not any(b == k and a in todo for a, b in fwd))
        order.append(ready)
        todo.remove(ready)
    width = len(str(len(order) - 1))
    name = {k: f"{i:0{width}d}_{k.removeprefix('conn.')}" for i, k in enumerate(order)}
    rank = {k: i for i, k in enumerate(order)}
    # Edges listed for Norse's depth-first executor (_check_norse_order): each node's later
    # successors first, the Output last.
    edges = sorted(ng.edges, key=lambda e: (isinstance(ng.nodes[e[1]], nir.Output), -rank[e[1]]))
    return nir.NIRGraph(nodes={name[k]: ng.nodes[k] for k in order}, edges=[(name[a], name[b]) for a, b in edges],
                        type_check=False)


def _for_snntorch(nir, ng: Any, g: Graph, dt: float, back: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """snnTorch's importer: integrate-and-fire as a LIF with beta 1, graded units as Linear loops,
    self-loops through an identity relay. Returns the one-step (recurrent) edges."""
    for a, b in list(ng.edges):
        # snnTorch 1.0 wraps a LIF <-> weight 2-cycle into an RLeaky subgraph that nirtorch 2.6
        # cannot build ("'GraphModule' object has no attribute 'items'"): pop -> W -> relay -> pop
        # is the same one-step recurrence, run by nirtorch itself.
        if b in g.populations and g.populations[b].model == "lif" and (b, a) in ng.edges:
            ng.nodes[f"{a}_relay"] = nir.Linear(weight=np.eye(g.populations[b].size))
            ng.edges = [e for e in ng.edges if e != (a, b)] + [(a, f"{a}_relay"), (f"{a}_relay", b)]
            back = (back - {(a, b)}) | {(f"{a}_relay", b)}
    for name, p in g.populations.items():
        node = ng.nodes[name]
        n = p.size
        if isinstance(node, nir.IF):
            tau = np.full(n, dt * IF_TAU_STEPS)
            ng.nodes[name] = nir.LIF(tau=tau, r=tau / dt, v_leak=np.zeros(n), v_threshold=node.v_threshold,
                                     v_reset=np.zeros(n))
    return back


def _graded_as_linear(nir, ng: Any, g: Graph, back: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Neither importer runs NIR's LI (snnTorch has no mapping; Norse 1.1's drops the node): a
    graded unit ``y <- (1 - a) y + a u`` becomes a ``Linear`` identity node fed ``a`` times its
    inputs and, through a one-step self-loop, ``(1 - a)`` times its own last value."""
    back = set(back)
    for name, p in g.populations.items():
        if p.model != "linear":
            continue
        a, n = float(p.param("damping")), p.size
        for src, dst in ng.edges:
            if dst == name:
                w = ng.nodes[src]
                if not isinstance(w, (nir.Linear, nir.Affine)):  # pragma: no cover - to_nir writes weights on every input
                    raise NIRError(f"population {name!r}: a graded unit needs weights on every input")
                w.weight = a * np.asarray(w.weight)
                if isinstance(w, nir.Affine):
                    w.bias = a * np.asarray(w.bias)
        ng.nodes[name] = nir.Linear(weight=np.eye(n))
        ng.nodes[f"{name}_leak"] = nir.Linear(weight=(1.0 - a) * np.eye(n))
        ng.edges += [(name, f"{name}_leak"), (f"{name}_leak", name)]
        back.add((f"{name}_leak", name))
    return back


def _check_norse_order(nir, ng: Any) -> None:
    """Norse's ``from_nir`` runs nirtorch's older GraphExecutor: nodes in depth-first order from the
    input along the edges as listed, an input not computed yet in this step read from the previous
    one. :func:`_in_order` lists the edges so that this order is the evaluation order; where the
    depth-first walk cannot give it (a node reached before all its feed-forward inputs), the
    export is refused rather than silently delayed."""
    order = list(ng.nodes)
    succ: dict[str, list[str]] = {k: [] for k in order}
    for a, b in ng.edges:
        succ[a].append(b)
    seen: list[str] = []

    def walk(k: str) -> None:
        seen.append(k)
        for c in succ[k]:
            if c not in seen:
                walk(c)

    walk(next(k for k, v in ng.nodes.items() if isinstance(v, nir.Input)))
    rank = {k: i for i, k in enumerate(order)}
    for a, b in ng.edges:
        if rank[a] < rank[b] and seen.index(a) > seen.index(b):
            raise NIRError(f"NIR node {b!r}: Norse's graph executor would run it before its input {a!r} "
                           "(a one-step delay that neurotep does not have); no Norse form")
    if not isinstance(ng.nodes[seen[-1]], nir.Output):
        out = next(a for a, b in ng.edges if isinstance(ng.nodes[b], nir.Output))
        raise NIRError(f"population {out.split('_', 1)[1]!r}: Norse's graph executor returns the last node it runs "
                       f"({seen[-1]!r}), not this output; no Norse form for this graph (one hidden layer has one)")
