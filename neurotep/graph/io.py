"""Saving and loading graphs, without pickle.

Two forms, chosen by the path:

* a directory ``path/`` holding ``graph.json`` (the structure) and ``arrays.npz`` (weights,
  biases, masks); ``graph.json["arrays_sha256"]`` is the SHA-256 of ``arrays.npz``'s bytes;
* a single file ``path.npz``: the same JSON is stored in it as a uint8 array ``__graph_json__``,
  and ``arrays_sha256`` is :func:`arrays_digest` of the other arrays (the zip bytes themselves
  cannot hold their own checksum).

In the JSON, array-valued fields hold the key of their array in the NPZ (or null). Writes are
atomic (temporary sibling, then rename); loads use ``allow_pickle=False`` and report every
problem as a one-line :class:`~neurotep.errors.ModelFileError`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from neurotep.errors import GraphError, ModelFileError
from neurotep.graph.graph import Graph
from neurotep.graph.nodes import Connection, LearningRule, Population, Probe, ToroidalBuffer
from neurotep.outputs import atomic_dir

FORMAT_NAME = "neurotep-graph"
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)
GRAPH_JSON, ARRAYS_NPZ, JSON_KEY = "graph.json", "arrays.npz", "__graph_json__"


def arrays_digest(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over the arrays sorted by name: each name, dtype (with byte order), shape and
    C-order bytes. Independent of how the zip was laid out."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = arrays[name]
        h.update(f"{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _plain(v: Any) -> Any:
    # numpy scalars (np.int64 seeds, np.float64 gains) are not JSON; their Python values are.
    return v.item() if isinstance(v, np.generic) else v


# -- graph <-> (JSON document, arrays) ----------------------------------------------------------
def _to_doc(graph: Graph) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    arrays: dict[str, np.ndarray] = {}

    def put(key: str, a: np.ndarray | None) -> str | None:
        if a is None:
            return None
        arrays[key] = a
        return key

    # Keys use node positions, not names, so no name can clash with another key.
    pops = [
        {"name": p.name, "size": int(p.size), "model": p.model,
         "params": {k: _plain(v) for k, v in p.params.items()}, "bias": put(f"p{i}.bias", p.bias)}
        for i, p in enumerate(graph.populations.values())
    ]
    conns = [
        {"name": c.name, "pre": c.pre, "post": c.post, "weight": put(f"c{i}.weight", c.weight),
         "mask": put(f"c{i}.mask", c.mask), "delay": int(c.delay), "symmetric": bool(c.symmetric),
         "learning": None if c.learning is None
         else {"kind": c.learning.kind, "params": c.learning.params},
         **({"feedback": float(c.feedback)} if c.feedback != 1.0 else {})}  # only when set: old files unchanged
        for i, c in enumerate(graph.connections)
    ]
    bufs = [
        {"name": b.name, "population": b.population, "depth": int(b.depth),
         "decay": [_plain(d) for d in b.decay], "gain": _plain(b.gain),
         "shape": [int(n) for n in b.shape], "radius": [int(r) for r in b.radius], "learn": bool(b.learn)}
        for b in graph.buffers
    ]
    probes = [{"name": p.name, "population": p.population, "what": p.what} for p in graph.probes]
    doc = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "arrays_sha256": None,
           "populations": pops, "connections": conns, "buffers": bufs, "probes": probes,
           "meta": graph.meta}
    return doc, arrays


def _from_doc(doc: dict[str, Any], arrays: dict[str, np.ndarray], where: str) -> Graph:
    def get(key: Any) -> np.ndarray | None:
        if key is None:
            return None
        if key not in arrays:
            raise ModelFileError(f"{where}: graph refers to array {key!r}, which is missing")
        return arrays[key]

    try:
        g = Graph(meta=doc["meta"])
        for p in doc["populations"]:
            g.add(Population(p["name"], p["size"], p["model"], dict(p["params"]), get(p["bias"])))
        for c in doc["connections"]:
            rule = c["learning"]
            g.add(Connection(c["name"], c["pre"], c["post"], get(c["weight"]), c["delay"],
                             c["symmetric"], get(c["mask"]),
                             None if rule is None else LearningRule(rule["kind"], rule["params"]),
                             c.get("feedback", 1.0)))
        for b in doc["buffers"]:
            # shape/radius/learn arrived with N-D buffers; files without them hold 1-D buffers.
            g.add(ToroidalBuffer(b["name"], b["population"], b["depth"], tuple(b["decay"]), b["gain"],
                                 tuple(b.get("shape", ())), tuple(b.get("radius", ())), b.get("learn", False)))
        for p in doc["probes"]:
            g.add(Probe(p["name"], p["population"], p["what"]))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ModelFileError(f"{where}: malformed graph JSON ({type(e).__name__}: {e})") from None
    try:
        return g.validate()
    except GraphError as e:
        raise ModelFileError(f"{where}: saved graph is invalid: {e}") from None


# -- saving --------------------------------------------------------------------------------------
def save_graph(graph: Graph, path: str | os.PathLike) -> None:
    """Validate ``graph`` and write it atomically to ``path`` (a directory, or one ``.npz`` file
    when ``path`` ends with ``.npz``). An existing saved graph there is replaced."""
    graph.validate()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    doc, arrays = _to_doc(graph)
    if target.name.endswith(".npz"):
        _save_file(target, doc, arrays)
    else:
        _save_dir(target, doc, arrays)


def _json_bytes(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, indent=1).encode("utf-8")


def _save_file(target: Path, doc: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    if target.is_dir():
        raise ModelFileError(f"{target}: is a directory; choose another path for a .npz model")
    doc["arrays_sha256"] = arrays_digest(arrays)
    blob = np.frombuffer(_json_bytes(doc), dtype=np.uint8)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.tmp-", suffix=".npz", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays, **{JSON_KEY: blob})
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _save_dir(target: Path, doc: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    # Never delete a directory that is not ours: only an empty one or a saved graph is replaced.
    if target.exists() and not (target.is_dir() and (
            (target / GRAPH_JSON).is_file() or not any(target.iterdir()))):
        raise ModelFileError(f"{target}: exists and is not a saved neurotep graph; "
                             "refusing to overwrite it")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    data = buf.getvalue()
    doc["arrays_sha256"] = hashlib.sha256(data).hexdigest()
    with atomic_dir(target) as tmp:
        for name, content in ((ARRAYS_NPZ, data), (GRAPH_JSON, _json_bytes(doc))):
            with open(tmp / name, "wb") as f:
                f.write(content)
                os.fsync(f.fileno())


# -- loading -------------------------------------------------------------------------------------
def load_graph(path: str | os.PathLike) -> Graph:
    """Load a graph written by :func:`save_graph`, verifying its format and checksum.

    Raises :class:`ModelFileError` (one line) for anything missing, corrupt or unsupported.
    Nothing is ever unpickled."""
    src = Path(path)
    if src.is_dir():
        for name in (GRAPH_JSON, ARRAYS_NPZ):
            if not (src / name).is_file():
                raise ModelFileError(f"{src}: missing {name}; not a complete saved graph")
        doc = _parse_json((src / GRAPH_JSON).read_bytes(), f"{src / GRAPH_JSON}")
        data = (src / ARRAYS_NPZ).read_bytes()
        if hashlib.sha256(data).hexdigest() != doc.get("arrays_sha256"):
            raise ModelFileError(f"{src / ARRAYS_NPZ}: checksum mismatch, the file is corrupt")
        arrays = _read_npz(data, f"{src / ARRAYS_NPZ}")
        return _from_doc(doc, arrays, str(src))
    if src.is_file():
        arrays = _read_npz(src.read_bytes(), str(src))
        blob = arrays.pop(JSON_KEY, None)
        if blob is None or blob.dtype != np.uint8 or blob.ndim != 1:
            raise ModelFileError(f"{src}: no {JSON_KEY} entry; not a neurotep graph file")
        doc = _parse_json(blob.tobytes(), str(src))
        if arrays_digest(arrays) != doc.get("arrays_sha256"):
            raise ModelFileError(f"{src}: checksum mismatch, the arrays are corrupt")
        return _from_doc(doc, arrays, str(src))
    raise ModelFileError(f"{src}: no saved graph at this path")


def _parse_json(raw: bytes, where: str) -> dict[str, Any]:
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFileError(f"{where}: invalid JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise ModelFileError(f"{where}: wrong format {got!r}, expected {FORMAT_NAME!r}")
    version = doc.get("format_version")
    if isinstance(version, bool) or version not in SUPPORTED_VERSIONS:
        raise ModelFileError(f"{where}: unsupported format_version {version!r} "
                             f"(supported: {', '.join(map(str, SUPPORTED_VERSIONS))})")
    return doc


def _read_npz(data: bytes, where: str) -> dict[str, np.ndarray]:
    try:
        npz = np.load(io.BytesIO(data), allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):  # a bare .npy loads as one array
            raise ValueError("not an NPZ archive")
        with npz:
            return {k: npz[k] for k in npz.files}
    except ValueError as e:
        if "allow_pickle" in str(e) or "pickled" in str(e):
            raise ModelFileError(f"{where}: contains pickled/object data, which is never "
                                 "loaded; re-save the graph with neurotep") from None
        raise ModelFileError(f"{where}: truncated, corrupt or unreadable NPZ ({e})") from None
    except Exception as e:  # zipfile.BadZipFile, EOFError, zlib.error, OSError on a cut-off file
        raise ModelFileError(f"{where}: truncated, corrupt or unreadable NPZ "
                             f"({type(e).__name__}: {e})") from None
