"""neurotep graph -> NIR graph (:func:`to_nir`, :func:`export_nir`): the structure of the table in
:mod:`neurotep.interop.nir`; each population's neuron node comes from :mod:`.params`.

Not exportable (one-line :class:`NIRError` naming the population): stochastic neurons and
probabilistic gates (NIR has no random neuron), tanh units (no spiking form), a bias on a
population with no incoming connection (NIR has no constant source).

**Reset.** NIR's LIF and IF reset to ``v_reset``; neurotep's integrate-and-fire (the spiking
form of every rate model) resets by subtraction, which NIR cannot express. Such populations are
written as LIF/IF with ``metadata["reset"] = "subtract"`` and the export returns a note saying
so; the NIR-standard reading (reset to zero) spikes differently. Zero reset is exact: neurotep's
delayed zero reset (``v = (1 - s_prev) beta v + i``) gives the same spikes as an immediate one.

Everything neurotep-specific that NIR does not carry (names, which edge pairs are one symmetric
connection, buffers, masks, learning rules, probes, graph meta, dt) is kept in the graph's
``metadata["neurotep"]`` (a JSON string) and the weight nodes' ``metadata["mask"]``, so
neurotep -> NIR -> neurotep returns the same graph (weights as ``W * mask``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from neurotep.graph import Graph
from neurotep.graph.nodes import RATE_MODELS
from neurotep.interop.nir.common import DT, FORMAT, FORMAT_VERSION, NIRError, check_dt, nir_lib
from neurotep.interop.nir.params import neuron_node
from neurotep.outputs import atomic_file


def to_nir(graph: Graph, dt: float = DT) -> tuple[Any, list[str]]:
    """``graph`` as a ``nir.NIRGraph``, plus notes on what the reader must know (e.g. subtractive
    reset). A rate model is converted to its spiking LIF form first."""
    nir = nir_lib()
    from neurotep.graph.transforms import rate_to_spiking

    check_dt(dt)
    graph.validate()
    notes: list[str] = []
    if any(p.model in RATE_MODELS - {"linear"} for p in graph.populations.values()):
        tanh = [p.name for p in graph.populations.values() if p.model == "tanh"]
        if tanh:
            raise NIRError(f"population {tanh[0]!r}: tanh units have no spiking form, so NIR cannot express them")
        graph = rate_to_spiking(graph, neuron="lif")
        notes.append("rate model exported in its spiking form (integrate-and-fire units, as `run --spiking --neuron lif`)")
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    doc: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION, "dt": dt, "meta": graph.meta,
                           "populations": list(graph.populations),
                           "probes": [[p.name, p.population, p.what] for p in graph.probes],
                           "connections": {}, "buffers": [],
                           "streams": [[s.name, s.population, s.length, s.every] for s in graph.streams],
                           "stages": [[s.name, list(s.active), s.steps, s.encoded] for s in graph.stages]}
    if graph.stages or graph.streams:
        notes.append("input stream and stages kept in the file's neurotep metadata (NIR has no notion of time "
                     "structure): other tools see one network that updates every population at every step")
    for p in graph.populations.values():
        nodes[p.name], note = neuron_node(nir, p, dt)
        if note:
            notes.append(note)
        if p.bias is not None and not any(True for _ in graph.incoming(p.name)):
            raise NIRError(f"population {p.name!r}: a bias without any incoming connection has no NIR form (no constant source)")
    biased: set[str] = set()
    for c in graph.connections:
        w = c.weight * c.mask if c.mask is not None else c.weight
        fb = float(getattr(c, "feedback", 1.0))  # scale of a symmetric connection's transposed direction
        doc["connections"][c.name] = {"symmetric": bool(c.symmetric), "feedback": fb,
                                      "learning": None if c.learning is None else [c.learning.kind, c.learning.params]}
        directions = [(c.pre, c.post, w, f"conn.{c.name}")]
        if c.symmetric:
            directions.append((c.post, c.pre, fb * w.T, f"conn.{c.name}.T"))
        for pre, post, wd, key in directions:
            bias = None
            if post not in biased and graph.populations[post].bias is not None:
                bias = graph.populations[post].bias
                biased.add(post)
            node = nir.Linear(weight=np.array(wd, dtype=np.float64)) if bias is None else \
                nir.Affine(weight=np.array(wd, dtype=np.float64), bias=np.array(bias, dtype=np.float64))
            if c.mask is not None:
                node.metadata["mask"] = (c.mask.T if key.endswith(".T") else c.mask).astype(np.uint8)
            _chain(nir, nodes, edges, pre, post, key, node, c.delay, graph.populations[pre].size, dt)
    for b in graph.buffers:
        doc["buffers"].append({"name": b.name, "population": b.population, "depth": b.depth, "decay": list(b.decay),
                               "gain": b.gain, "shape": list(b.shape), "radius": list(b.radius), "learn": bool(b.learn)})
        n = graph.populations[b.population].size
        kernel = b.spatial_kernel() if b.shape else np.eye(n)
        for j, wj in enumerate(b.tap_weights()):
            _chain(nir, nodes, edges, b.population, b.population, f"buffer.{b.name}.{j}",
                   nir.Linear(weight=wj * kernel), j + 1, n, dt)
        if b.learn:
            notes.append(f"buffer {b.name!r}: learned decays exported as their current values {tuple(b.decay)}")
    n_delay = sum(1 for v in nodes.values() if isinstance(v, nir.Delay))
    if n_delay:
        notes.append(f"{n_delay} Delay nodes (connection delays >= 1 step, buffer taps): snnTorch 1.0's and Norse 1.1's "
                     "importers cannot run Delay nodes; neurotep's import can (--for snntorch|norse writes a form they run)")
    out = graph.meta.get("output")
    outs = [out] if out in graph.populations else [
        p.name for p in graph.state_populations()
        if not any(c.pre == p.name or (c.symmetric and c.post == p.name) for c in graph.connections)]
    for name in outs:
        key = f"output.{name}" if len(outs) > 1 else "output"
        while key in nodes:  # a population may itself be called "output"
            key += "_"
        nodes[key] = nir.Output(output_type=np.array([graph.populations[name].size]))
        edges.append((name, key))
    g = nir.NIRGraph(nodes=nodes, edges=edges, metadata={"neurotep": json.dumps(doc), "dt": float(dt)})
    return g, notes


def _chain(nir, nodes: dict, edges: list, pre: str, post: str, key: str, weight_node: Any, delay: int,
           pre_size: int, dt: float) -> None:
    """``pre -> [Delay] -> weight -> post``: the delay sits before the weights so that an Affine's
    bias reaches ``post`` from the first step, as neurotep's bias does."""
    nodes[key] = weight_node
    src = pre
    if delay > 0:
        nodes[f"{key}.delay"] = nir.Delay(delay=np.full(pre_size, delay * dt))
        edges.append((pre, f"{key}.delay"))
        src = f"{key}.delay"
    edges += [(src, key), (key, post)]


def export_nir(graph: Graph, path: str | os.PathLike, dt: float = DT) -> list[str]:
    """Write ``graph`` as a NIR file (HDF5) atomically; returns the export notes. Nothing is
    written when the graph cannot be exported."""
    g, notes = to_nir(graph, dt)
    write_nir(g, path)
    return notes


def write_nir(g: Any, path: str | os.PathLike) -> None:
    """Write the NIR graph ``g`` atomically (with the user's umask)."""
    target = Path(path)
    if target.is_dir():
        raise NIRError(f"{target}: is a directory; give a file name for the NIR graph")
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(target) as tmp:
        nir_lib().write(str(tmp), g)
