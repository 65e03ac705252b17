"""NIR graph -> neurotep graph (:func:`from_nir`, :func:`import_nir`): the structure; each neuron
node's parameters are converted by :mod:`.params`.

Reads any NIR graph of Input, Output, LIF, IF, LI, CubaLIF, Linear, Affine and Delay nodes (nested
graphs are flattened), e.g. one written by snnTorch's ``export_to_nir`` or Norse's ``to_nir``. NIR
does not record a time step, so ``dt`` must be given unless neurotep wrote the file;
``producer="snntorch"`` / ``"norse"`` supplies their dt (1e-4, 1e-3) and undoes Norse's tau
scaling (see :func:`from_nir`); ``reset`` overrides the reset mode, which snnTorch's export does
not write.

Timing: NIR edges without a Delay act within the step (nirtorch evaluates the graph once per
step), so they become delay-0 connections; an edge that closes a delay-less cycle gets delay 1
(nirtorch feeds a recurrent input from the previous step). A file neurotep wrote gets back what
its export lowered (symmetric pairs, buffers, masks, learning rules, probes, meta).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from neurotep.errors import NeurotepError
from neurotep.graph import Graph
from neurotep.graph.nodes import Connection, InputStream, LearningRule, Probe, Stage, ToroidalBuffer
from neurotep.interop.nir.common import FORMAT, FORMAT_VERSION, NIRError, check_dt, nir_lib
from neurotep.interop.nir.params import PRODUCERS, cuba_populations, neuron_population

_NAME = re.compile(r"[^A-Za-z0-9_-]")  # no '.': torch's ParameterDict keys (TorchNetwork) refuse it


class _Pass:
    """A nested graph's own Input/Output once flattened: passes its input through."""


def _flatten(g: Any, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    nir = nir_lib()
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    entry: dict[str, list[str]] = {}
    exit_: dict[str, list[str]] = {}
    for key, node in g.nodes.items():
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = _flatten(node, f"{prefix}{key}.")
            for k, v in sub_nodes.items():
                if isinstance(v, (nir.Input, nir.Output)):
                    sub_nodes[k] = _Pass()
            nodes.update(sub_nodes)
            edges += sub_edges
            entry[key] = [f"{prefix}{key}.{k}" for k, v in node.nodes.items() if isinstance(v, nir.Input)]
            exit_[key] = [f"{prefix}{key}.{k}" for k, v in node.nodes.items() if isinstance(v, nir.Output)]
        else:
            nodes[f"{prefix}{key}"] = node
    for a, b in g.edges:
        for s in exit_.get(a, [f"{prefix}{a}"]):
            for t in entry.get(b, [f"{prefix}{b}"]):
                edges.append((s, t))
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise NIRError(f"NIR edge ({a!r}, {b!r}) refers to node {end!r}, which does not exist")
    return nodes, edges


def _sizes(nodes: dict, edges: list, neurons: list[str]) -> dict[str, int]:
    """Population sizes: the parameter vectors' length, else the adjacent weights' shape (snnTorch
    writes a scalar beta as 0-d parameters), else the declared input type."""
    nir = nir_lib()
    size: dict[str, int] = {}
    for k in neurons:
        node = nodes[k]
        if isinstance(node, nir.Input):
            size[k] = int(np.prod(next(iter(node.input_type.values()))))
            continue
        params = [np.asarray(getattr(node, f)) for f in ("tau", "r", "v_threshold", "tau_mem") if hasattr(node, f)]
        n = max((a.size for a in params), default=1)
        if n <= 1:
            cands = [nodes[a].weight.shape[0] for a, b in edges if b == k and hasattr(nodes[a], "weight")]
            cands += [nodes[b].weight.shape[1] for a, b in edges if a == k and hasattr(nodes[b], "weight")]
            n = cands[0] if cands else n
        size[k] = int(n)
    return size


def from_nir(g: Any, dt: float | None = None, producer: str | None = None, reset: str | None = None) -> Graph:
    """A neurotep :class:`Graph` from a ``nir.NIRGraph`` (see :mod:`neurotep.interop.nir` for the
    mapping and :mod:`neurotep.interop.nir.params` for the parameters).

    ``dt`` (seconds per step) defaults to the one neurotep recorded in the graph, else to the
    ``producer``'s. ``producer="norse"`` also undoes Norse 1.1's export scaling: its ``to_nir``
    writes ``tau = dt / tau_mem_inv`` (``norse/torch/utils/export_nir.py``), ``dt`` times the real
    time constant, so the file read as NIR (or by Norse's own ``from_nir``) integrates ``1/dt``
    times too fast; the true tau is ``tau / dt``. ``reset`` ("zero" or "subtract") overrides the
    reset of every LIF/IF population: snnTorch's ``export_to_nir`` writes ``v_reset = 0`` whatever
    the Leaky's ``reset_mechanism`` (its default is subtraction)."""
    nir = nir_lib()
    if not isinstance(g, nir.NIRGraph):
        raise NIRError(f"expected a NIR graph, got {type(g).__name__}")
    if producer is not None and producer not in PRODUCERS:
        raise NIRError(f"unknown NIR producer {producer!r}: use {' or '.join(PRODUCERS)} (or none for the NIR standard)")
    if reset is not None and reset not in ("zero", "subtract"):
        raise NIRError(f"unknown reset {reset!r}: use zero or subtract")
    doc = _neurotep_doc(g)
    dt = dt if dt is not None else doc.get("dt", PRODUCERS.get(producer or ""))
    if dt is None:
        raise NIRError("this NIR graph does not record its time step: pass dt or the producer "
                       "(snnTorch's export_to_nir uses 1e-4, Norse's to_nir 1e-3)")
    check_dt(dt)
    tau_scale = 1.0 / dt if producer == "norse" else 1.0
    nodes, edges = _flatten(g)
    neuron_types = (nir.Input, nir.LIF, nir.IF, nir.LI, nir.CubaLIF)
    transit = (nir.Linear, nir.Affine, nir.Delay, _Pass)
    for k, node in nodes.items():
        if not isinstance(node, (*neuron_types, *transit, nir.Output)):
            raise NIRError(f"NIR node {k!r} of type {type(node).__name__} is not supported "
                           "(neurotep imports Input, Output, LIF, IF, LI, CubaLIF, Linear, Affine, Delay)")
    neurons = [k for k, v in nodes.items() if isinstance(v, neuron_types)]
    if not any(isinstance(nodes[k], nir.Input) for k in neurons):
        raise NIRError("NIR graph has no Input node")
    names = _unique_names(neurons, set(doc.get("populations", [])))
    size = _sizes(nodes, edges, neurons)
    succ: dict[str, list[str]] = {k: [] for k in nodes}
    for a, b in edges:
        succ[a].append(b)
    # A CubaLIF becomes two populations (synaptic current, then LIF): connections into the node
    # drive the first (dst), connections out of it leave the second (src).
    pops, gains, leaks, src, dst, inner = {}, {}, {}, {}, {}, []
    for k in neurons:
        if isinstance(nodes[k], nir.CubaLIF):
            syn, lif, conn, g_in, leak = cuba_populations(nodes[k], k, names[k], size[k], dt, tau_scale, reset, producer)
            pops[k] = [syn, lif]
            gains[syn.name], leaks[syn.name], gains[lif.name], leaks[lif.name] = g_in, np.zeros(size[k]), np.ones(size[k]), leak
            src[k], dst[k] = lif.name, syn.name
            inner.append(conn)
            continue
        p, gains[names[k]], leaks[names[k]] = neuron_population(nodes[k], k, names[k], size[k], dt, tau_scale, reset)
        pops[k], src[k], dst[k] = [p], names[k], names[k]
    graph = Graph()
    order = {n: i for i, n in enumerate(doc.get("populations", []))}  # HDF5 lists groups alphabetically
    for k in sorted(neurons, key=lambda k: (order.get(names[k], len(order)), not isinstance(nodes[k], nir.Input))):
        for p in pops[k]:
            graph.add(p)
    biases: dict[str, np.ndarray] = {}
    bias_seen: set[tuple[str, str]] = set()
    conns: list[Connection] = []
    outputs: list[str] = []
    for k in neurons:
        for path, tgt in _paths(nodes, succ, k):
            if isinstance(nodes[tgt], nir.Output):
                if path:
                    raise NIRError(f"NIR path {k!r} -> {tgt!r} has weights or delays before the Output; not supported")
                outputs.append(src[k])
                continue
            if isinstance(nodes[tgt], nir.Input):
                raise NIRError(f"NIR edge into Input node {tgt!r}: inputs are clamped and cannot be driven")
            conns.append(_connection(nodes, path, k, tgt, (src[k], dst[tgt]), size, dt, biases, bias_seen, doc))
    _retime_cycles(conns)
    used: dict[str, int] = {}
    for c in conns:
        c.weight = c.weight * gains[c.post][:, None]
        base = c.name
        used[base] = used.get(base, 0) + 1
        if used[base] > 1:
            c.name = f"{base}_{used[base]}"
    for p in graph.populations.values():
        if p.model == "input":
            continue
        b = gains[p.name] * biases[p.name] if p.name in biases else None
        if np.any(leaks[p.name] != 0):
            b = leaks[p.name] if b is None else b + leaks[p.name]
        p.bias = b
    try:
        _restore(graph, conns + inner, doc)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise NIRError(f"NIR graph metadata 'neurotep' is malformed ({type(e).__name__}: {e})") from None
    graph.meta.setdefault("input", names[next(k for k in neurons if isinstance(nodes[k], nir.Input))])
    if outputs:
        graph.meta.setdefault("output", outputs[0])
    try:
        return graph.validate()
    except NeurotepError as e:
        raise NIRError(f"imported NIR graph is not a valid neurotep graph: {e}") from None


def _unique_names(keys: list[str], keep: set[str]) -> dict[str, str]:
    """neurotep names for NIR node keys: kept when neurotep wrote them, else made safe."""
    out, seen = {}, set()
    for k in keys:
        n = k if k in keep else (_NAME.sub("_", k) or "node")
        while n in seen:
            n += "_"
        seen.add(n)
        out[k] = n
    return out


def _paths(nodes: dict, succ: dict, start: str) -> list[tuple[list[str], str]]:
    """Every route from neuron ``start`` through weight/delay nodes to the next neuron or Output."""
    nir = nir_lib()
    found: list[tuple[list[str], str]] = []

    def walk(k: str, path: list[str]) -> None:
        for nxt in succ[k]:
            if isinstance(nodes[nxt], (nir.Linear, nir.Affine, nir.Delay, _Pass)):
                if nxt in path:
                    raise NIRError(f"NIR graph has a cycle through {nxt!r} with no neuron on it (algebraic loop)")
                walk(nxt, path + [nxt])
            else:
                found.append((path, nxt))

    walk(start, [])
    return found


def _connection(nodes, path, pre_k, post_k, ends, size, dt, biases, bias_seen, doc) -> Connection:
    nir = nir_lib()
    weight_keys = [k for k in path if isinstance(nodes[k], (nir.Linear, nir.Affine))]
    if len(weight_keys) > 1:
        raise NIRError(f"NIR path {pre_k!r} -> {post_k!r} has several weight nodes in series ({', '.join(weight_keys)}); not supported")
    steps, after_weight = 0, False
    for k in path:
        if isinstance(nodes[k], (nir.Linear, nir.Affine)):
            after_weight = True
        if isinstance(nodes[k], nir.Delay):
            d = np.asarray(nodes[k].delay, dtype=np.float64).reshape(-1)
            s = d / dt
            if np.ptp(s) != 0 or abs(s[0] - round(s[0])) > 1e-6 or round(s[0]) < 0:
                raise NIRError(f"NIR Delay {k!r}: delays must be one whole number of steps of dt={dt:g} (got {d.min():g}..{d.max():g} s)")
            steps += int(round(s[0]))
            if after_weight and weight_keys and isinstance(nodes[weight_keys[0]], nir.Affine) \
                    and np.any(nodes[weight_keys[0]].bias != 0):
                raise NIRError(f"NIR Delay {k!r} after Affine {weight_keys[0]!r}: a delayed bias is not supported")
    pre, post = ends
    if weight_keys:
        wk = weight_keys[0]
        w = np.array(nodes[wk].weight, dtype=np.float64)
        if not np.isfinite(w).all() or not np.isfinite(np.asarray(getattr(nodes[wk], "bias", 0.0), dtype=np.float64)).all():
            raise NIRError(f"NIR node {wk!r}: weight or bias has non-finite values")
        if w.shape != (size[post_k], size[pre_k]):
            raise NIRError(f"NIR node {wk!r}: weight shape {w.shape} does not connect {pre_k!r} "
                           f"({size[pre_k]}) to {post_k!r} ({size[post_k]})")
        if isinstance(nodes[wk], nir.Affine) and (wk, post_k) not in bias_seen:
            bias_seen.add((wk, post_k))
            b = np.asarray(nodes[wk].bias, dtype=np.float64).reshape(-1)
            if b.size == 1:
                b = np.full(size[post_k], b[0])
            biases[post] = biases.get(post, 0.0) + b
        # neurotep's own keys ("conn.<name>", "conn.<name>.T", "buffer.<name>.<tap>") are re-formed
        # by _restore; other producers' keys are made safe names.
        name = (wk[5:] if wk.startswith("conn.") else wk) if doc else _NAME.sub("_", wk)
        mask = (nodes[wk].metadata or {}).get("mask")
        mask = np.asarray(mask).astype(bool) if mask is not None and np.shape(mask) == w.shape else None
    else:
        if size[pre_k] != size[post_k]:
            raise NIRError(f"NIR edge {pre_k!r} -> {post_k!r} joins {size[pre_k]} to {size[post_k]} neurons without weights")
        w, name, mask = np.eye(size[pre_k]), f"{pre}_to_{post}", None
    return Connection(name, pre, post, w, delay=steps, mask=mask)


def _retime_cycles(conns: list[Connection]) -> None:
    """Give delay 1 to each delay-0 connection that closes a cycle of delay-0 connections, visiting
    them in file order (nirtorch feeds such a recurrent input from the previous step)."""
    succ: dict[str, list[Connection]] = {}
    for c in conns:
        if c.delay == 0:
            succ.setdefault(c.pre, []).append(c)
    state: dict[str, int] = {}

    def visit(n: str) -> None:
        state[n] = 1
        for c in succ.get(n, []):
            if state.get(c.post) == 1:
                c.delay = 1
            elif c.post not in state:
                visit(c.post)
        state[n] = 2

    for c in conns:
        if c.pre not in state:
            visit(c.pre)


def _neurotep_doc(g: Any) -> dict[str, Any]:
    raw = (g.metadata or {}).get("neurotep")
    if raw is None:
        return {}
    try:
        doc = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
    except (ValueError, UnicodeDecodeError) as e:
        raise NIRError(f"NIR graph metadata 'neurotep' is not valid JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("format_version") != FORMAT_VERSION:
        raise NIRError(f"NIR graph metadata 'neurotep' has an unknown format (expected {FORMAT} version {FORMAT_VERSION})")
    return doc


def _restore(graph: Graph, conns: list[Connection], doc: dict[str, Any]) -> None:
    """Re-form what neurotep's export lowered (symmetric pairs, buffers) and restore its extras;
    a graph from another tool keeps the plain connections."""
    order = {n: i for i, n in enumerate(doc.get("connections", {}))}
    conns = sorted(conns, key=lambda c: order.get(c.name, len(order)))
    by_name = {c.name: c for c in conns}
    buffers = {b["name"]: b for b in doc.get("buffers", [])}
    for c in conns:
        m = re.fullmatch(r"buffer\.(.+)\.(\d+)", c.name)
        if m and m.group(1) in buffers:
            continue  # re-formed below
        if c.name.endswith(".T") and c.name[:-2] in by_name and doc.get("connections", {}).get(c.name[:-2], {}).get("symmetric"):
            continue  # the feedback half of a symmetric connection
        info = doc.get("connections", {}).get(c.name)
        if info:
            back = by_name.get(f"{c.name}.T")
            if info.get("symmetric") and back is not None:
                fb = float(info.get("feedback", 1.0))
                if back.delay != c.delay or not np.allclose(back.weight, fb * c.weight.T, rtol=1e-12, atol=0):
                    raise NIRError(f"connection {c.name!r}: its two directions are no longer transposes; cannot re-form the symmetric connection")
                c.symmetric = True
                if fb != 1.0:
                    c.feedback = fb
            if info.get("learning"):
                kind, params = info["learning"]
                c.learning = LearningRule(kind, params)
        graph.add(c)
    for b in buffers.values():
        taps = sorted((int(m.group(2)), c) for c in conns if (m := re.fullmatch(r"buffer\.(.+)\.(\d+)", c.name))
                      and m.group(1) == b["name"])
        if [j for j, _ in taps] != list(range(int(b["depth"]))) or any(c.delay != j + 1 for j, c in taps):
            raise NIRError(f"buffer {b['name']!r}: the file's tap nodes do not match its recorded depth {b['depth']}")
        graph.add(ToroidalBuffer(b["name"], b["population"], int(b["depth"]), tuple(b["decay"]), b["gain"],
                                 tuple(b["shape"]), tuple(b["radius"]), bool(b["learn"])))
    if doc:
        graph.meta.update(doc.get("meta") or {})
        for name, pop, what in doc.get("probes", []):
            graph.add(Probe(name, pop, what))
        for name, pop, length, every in doc.get("streams", []):
            graph.add(InputStream(name, pop, length, every))
        for name, active, steps, encoded in doc.get("stages", []):
            graph.add(Stage(name, tuple(active), steps, encoded))


def import_nir(path: str | os.PathLike, dt: float | None = None, producer: str | None = None,
               reset: str | None = None) -> Graph:
    """Read a NIR file and convert it with :func:`from_nir`; one-line :class:`NIRError` for a
    missing, unreadable or unsupported file."""
    src = Path(path)
    if not src.is_file():
        raise NIRError(f"{src}: no such NIR file")
    try:
        # Without nir's own type check: Norse's to_nir(net, torch.zeros(1, n)) records the batched
        # sample's shape ([1, n]) on Input and Output, which that check refuses; from_nir checks
        # every weight against the population sizes itself (naming the node).
        g = nir_lib().read(src, type_check=False)
    except Exception as e:  # h5py / NIR parse errors of every kind
        msg = " ".join(str(e).split())[:200]
        raise NIRError(f"{src}: not a readable NIR file ({type(e).__name__}: {msg})") from None
    try:
        return from_nir(g, dt, producer, reset)
    except NIRError as e:
        raise NIRError(f"{src}: {e}") from None
