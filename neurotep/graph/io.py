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

Why one module of ~500 lines: it is the edge where untrusted files enter, and every check on
the way in (zip headers before reading, sizes, dtypes, JSON field types, format upgrades) sits
next to the field it guards, in the order a file is read; split, a reader would have to follow
one load through several files to see that nothing is read unchecked.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from neurotep.errors import GraphError, ModelFileError
from neurotep.graph.graph import Graph
from neurotep.graph.nodes import Connection, InputStream, LearningRule, Population, Probe, Stage, ToroidalBuffer
from neurotep.graph.stages import upgrade_v1
from neurotep.outputs import atomic_dir

FORMAT_NAME = "neurotep-graph"
# 2: input streams and stages (time in the graph); a version-1 TEP-SSR file (meta.relaxation
# "sequence") is read as the same stream and stages (neurotep.graph.stages.upgrade_v1).
FORMAT_VERSION = 2
SUPPORTED_VERSIONS = (1, 2)
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
    streams = [{"name": s.name, "population": s.population, "length": int(s.length), "every": int(s.every)}
               for s in graph.streams]
    stages = [{"name": s.name, "active": list(s.active), "steps": None if s.steps is None else int(s.steps),
               "encoded": bool(s.encoded)} for s in graph.stages]
    doc = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "arrays_sha256": None,
           "populations": pops, "connections": conns, "buffers": bufs, "probes": probes,
           "streams": streams, "stages": stages, "meta": graph.meta}
    return doc, arrays


def _json_type(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(v), type(v).__name__)


def _from_doc(doc: dict[str, Any], arrays: dict[str, np.ndarray], where: str) -> Graph:
    """Build the graph a JSON document describes; every missing or mistyped field is a one-line
    :class:`ModelFileError` naming it. Values are then checked by :meth:`Graph.validate`."""

    def fail(node: str, problem: str):
        raise ModelFileError(f"{where}: malformed graph JSON: {node} {problem}")

    def section(key: str) -> list:
        if key not in doc:
            fail(f"{key!r}", "is missing")
        v = doc[key]
        if not isinstance(v, list):
            fail(f"{key!r}", f"must be a list, got {_json_type(v)}")
        for i, item in enumerate(v):
            if not isinstance(item, dict):
                fail(f"{key}[{i}]", f"must be an object, got {_json_type(item)}")
        return v

    def field(obj: dict, key: str, node: str, types: type | tuple[type, ...] | None = None,
              default: Any = KeyError) -> Any:
        if key not in obj:
            if default is KeyError:
                fail(node, f"has no {key!r} field")
            return default
        v = obj[key]
        if types is not None and not isinstance(v, types):
            first = types if isinstance(types, type) else types[0]
            fail(node, f"field {key!r} must be {_json_type(first())}, got {_json_type(v)}")
        return v

    def get(obj: dict, key: str, node: str) -> np.ndarray | None:
        ref = field(obj, key, node)
        if ref is None:
            return None
        if not isinstance(ref, str):
            fail(node, f"field {key!r} must name an array (a string) or be null, got {_json_type(ref)}")
        if ref not in arrays:
            raise ModelFileError(f"{where}: graph refers to array {ref!r}, which is missing")
        return arrays[ref]

    meta = field(doc, "meta", "the document", dict)
    g = Graph(meta=meta)
    for i, p in enumerate(section("populations")):
        node = f"populations[{i}]"
        name = field(p, "name", node, str)  # a dict key: validation checks the rest
        if name in g.populations:
            fail(node, f"repeats population name {name!r}; names must be unique")
        g.add(Population(name, field(p, "size", node), field(p, "model", node),
                         dict(field(p, "params", node, dict)), get(p, "bias", node)))
    for i, c in enumerate(section("connections")):
        node = f"connections[{i}]"
        rule = field(c, "learning", node, (dict, type(None)))
        if rule is not None:
            rule = LearningRule(field(rule, "kind", f"{node}.learning"), field(rule, "params", f"{node}.learning"))
        g.add(Connection(field(c, "name", node), field(c, "pre", node), field(c, "post", node), get(c, "weight", node),
                         field(c, "delay", node), field(c, "symmetric", node), get(c, "mask", node), rule,
                         field(c, "feedback", node, default=1.0)))
    for i, b in enumerate(section("buffers")):
        node = f"buffers[{i}]"
        # shape/radius/learn arrived with N-D buffers; files without them hold 1-D buffers.
        g.add(ToroidalBuffer(field(b, "name", node), field(b, "population", node), field(b, "depth", node),
                             tuple(field(b, "decay", node, list)), field(b, "gain", node),
                             tuple(field(b, "shape", node, list, [])), tuple(field(b, "radius", node, list, [])),
                             field(b, "learn", node, default=False)))
    for i, p in enumerate(section("probes")):
        node = f"probes[{i}]"
        g.add(Probe(field(p, "name", node), field(p, "population", node), field(p, "what", node)))
    if doc["format_version"] >= 2:
        for i, s in enumerate(section("streams")):
            node = f"streams[{i}]"
            g.add(InputStream(field(s, "name", node, str), field(s, "population", node, str), field(s, "length", node),
                              field(s, "every", node, default=1)))
        for i, s in enumerate(section("stages")):
            node = f"stages[{i}]"
            g.add(Stage(field(s, "name", node, str), tuple(field(s, "active", node, list)), field(s, "steps", node),
                        field(s, "encoded", node, default=True)))
    try:
        if doc["format_version"] == 1:
            g.probes = []  # declarations no backend honoured; from format 2 on, probes decide what a run records
            upgrade_v1(g)
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
# Limits checked before anything is read: neurotep's models are kilobytes to a few megabytes (an
# MNIST network of 784 x 1000 float64 weights is 6 MB), so these only refuse files that are not
# models, or that would exhaust memory before any other check could run.
MAX_MODEL_BYTES = 1 << 30  # arrays.npz, or a single-file .npz model, on disk
MAX_JSON_BYTES = 64 << 20  # graph.json (structure and meta)
MAX_ARRAY_BYTES = 2 << 30  # all arrays together once loaded (compressed members expand)
MAX_MEMBERS = 65536  # arrays in one archive (a graph has at most one per bias, weight and mask)
MAX_JSON_DEPTH = 64  # nesting of graph.json (meta is checked to 32 levels by validation)
_ARRAY_KINDS = "biuf"  # bool, int, uint, float: everything a graph holds


def load_graph(path: str | os.PathLike) -> Graph:
    """Load a graph written by :func:`save_graph`, verifying its format and checksum.

    Raises :class:`ModelFileError` (one line) for anything missing, corrupt, oversized or
    unsupported. Sizes are checked before reading, the checksum is computed streaming, and every
    array's ``.npy`` header (dtype, shape, declared size) is checked before any array is loaded.
    Nothing is ever unpickled."""
    src = Path(path)
    if src.is_dir():
        for name in (GRAPH_JSON, ARRAYS_NPZ):
            f = src / name
            if not f.exists():
                raise ModelFileError(f"{src}: missing {name}; not a complete saved graph")
            if not f.is_file():
                raise ModelFileError(f"{f}: is not a regular file ({_file_kind(f)}); not a saved graph")
        json_path, npz_path = src / GRAPH_JSON, src / ARRAYS_NPZ
        _check_size(json_path, MAX_JSON_BYTES, "a graph description (graph.json)")
        doc = _parse_json(json_path.read_bytes(), str(json_path))
        _check_size(npz_path, MAX_MODEL_BYTES, "a model's arrays")
        _check_is_zip(npz_path)
        if _sha256_file(npz_path) != doc.get("arrays_sha256"):
            raise ModelFileError(f"{npz_path}: checksum mismatch, the file is corrupt")
        arrays = _read_npz(npz_path, str(npz_path))
        return _from_doc(doc, arrays, str(src))
    if src.is_file():
        _check_size(src, MAX_MODEL_BYTES, "a model file")
        _check_is_zip(src)
        arrays = _read_npz(src, str(src), json_key=JSON_KEY)
        blob = arrays.pop(JSON_KEY, None)
        if blob is None or blob.dtype != np.uint8 or blob.ndim != 1:
            raise ModelFileError(f"{src}: no {JSON_KEY} entry; not a neurotep graph file")
        doc = _parse_json(blob.tobytes(), str(src))
        if arrays_digest(arrays) != doc.get("arrays_sha256"):
            raise ModelFileError(f"{src}: checksum mismatch, the arrays are corrupt")
        return _from_doc(doc, _native(arrays), str(src))
    if src.exists():
        raise ModelFileError(f"{src}: is not a saved graph ({_file_kind(src)})")
    raise ModelFileError(f"{src}: no saved graph at this path")


def _size_words(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _check_size(path: Path, limit: int, what: str) -> None:
    size = path.stat().st_size
    if size > limit:
        raise ModelFileError(f"{path}: is {_size_words(size)}, over the {_size_words(limit)} limit for {what}; "
                             "it is not a neurotep model (re-save the model with neurotep)")


def _sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks (never the whole file at once)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _file_kind(path: Path) -> str:
    if path.is_dir():
        return "a directory"
    if path.is_symlink() and not path.exists():
        return "a broken symbolic link"
    if not path.is_file():
        return "a device, pipe or socket"
    return "a file"


# What a file is, from its first bytes: for messages only (neurotep reads nothing but NPZ and JSON).
_MAGIC = (
    (b"\x93NUMPY", "a single .npy array, not an archive of them"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"BZh", "a bzip2-compressed file"),
    (b"\xfd7zXZ\x00", "an xz-compressed file"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x89HDF", "an HDF5 file"),
    (b"\x89PNG", "a PNG image"),
    (b"\x7fELF", "an executable (ELF)"),
    (b"%PDF", "a PDF document"),
)


def describe_bytes(head: bytes, size: int) -> str:
    """Words for what a file is, from its first bytes (``head``) and its size."""
    if size == 0:
        return "an empty file"
    for magic, words in _MAGIC:
        if head.startswith(magic):
            return words
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a Python pickle"
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "a UTF-16 text file"
    if not head.strip(b"\x00"):
        return "a file of zero bytes (sparse or never written)"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:  # a multi-byte character cut at the end of head is still text
        text = head[:e.start].decode("utf-8") if e.start >= len(head) - 3 and e.start > 0 else None
    if text is not None and "\x00" not in text:
        first = text.lstrip()[:1]
        return "a JSON text file" if first in ("{", "[") else "a text file"
    return "binary data of an unknown kind"


def _check_is_zip(path: Path) -> None:
    """Refuse, naming what it is, a file that is not a zip archive (every NPZ is one)."""
    with open(path, "rb") as f:
        head = f.read(512)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):  # a local file header, or an empty archive
        return
    raise ModelFileError(f"{path}: is not an NPZ archive: it is {describe_bytes(head, path.stat().st_size)}; "
                         "point neurotep at a model saved by `neurotep train` (or save_graph)")


def _parse_json(raw: bytes, where: str) -> dict[str, Any]:
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        what = describe_bytes(raw[:512], len(raw))
        if what.endswith("text file"):  # text whose bytes break UTF-8 further on
            raise ModelFileError(f"{where}: invalid JSON: not UTF-8 text ({e.reason} at byte {e.start}); "
                                 "the file is corrupt") from None
        raise ModelFileError(f"{where}: is not a JSON text file: it is {what}") from None
    except RecursionError:
        raise ModelFileError(f"{where}: invalid JSON (nested too deeply)") from None
    except ValueError as e:  # json.JSONDecodeError, or an integer too long to convert
        raise ModelFileError(f"{where}: invalid JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise ModelFileError(f"{where}: wrong format {got!r}, expected {FORMAT_NAME!r}")
    version = doc.get("format_version")
    # The version is an integer: 1.0 or "1" is not a version neurotep writes.
    supported = ", ".join(map(str, SUPPORTED_VERSIONS))
    if type(version) is not int:
        raise ModelFileError(f"{where}: format_version must be an integer, got {_json_type(version)} "
                             f"{version!r} (supported: {supported})")
    if version not in SUPPORTED_VERSIONS:
        raise ModelFileError(f"{where}: unsupported format_version {version!r} (supported: {supported})")
    if _depth(doc) > MAX_JSON_DEPTH:
        raise ModelFileError(f"{where}: graph JSON is nested more than {MAX_JSON_DEPTH} levels deep; "
                             "not a graph neurotep wrote")
    return doc


def _depth(v: Any) -> int:
    deepest, todo = 0, [(v, 1)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, (dict, list)):
            deepest = max(deepest, d)
            if d <= MAX_JSON_DEPTH:
                todo.extend((x, d + 1) for x in (v.values() if isinstance(v, dict) else v))
    return deepest


def _npz_error(where: str, e: BaseException) -> ModelFileError:
    return ModelFileError(f"{where}: truncated, corrupt or unreadable NPZ ({type(e).__name__}: {e})")


def _read_npz(path: Path, where: str, json_key: str | None = None) -> dict[str, np.ndarray]:
    """The arrays of an NPZ archive. Every member's ``.npy`` header is read and checked first
    (a plain numeric dtype, a shape whose size is exactly what the member holds, all together
    within :data:`MAX_ARRAY_BYTES`); only then are the arrays loaded, never with pickle."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                raise ModelFileError(f"{where}: holds {len(infos)} members, over the limit of {MAX_MEMBERS}; "
                                     "not a neurotep model")
            keys, total = [], 0
            for info in infos:
                key = _check_member(zf, info, where, json_key)
                if key in keys:
                    raise ModelFileError(f"{where}: holds array {key!r} twice; the archive is corrupt")
                keys.append(key)
                total += info.file_size
                if total > MAX_ARRAY_BYTES:
                    raise ModelFileError(f"{where}: its arrays hold more than {_size_words(MAX_ARRAY_BYTES)} "
                                         "once loaded, over the limit; not a neurotep model")
            arrays = {}
            for key, info in zip(keys, infos):
                with zf.open(info) as f:
                    arrays[key] = np.lib.format.read_array(f, allow_pickle=False)
                    if f.read(1):
                        raise ModelFileError(f"{where}: array {key!r} has data after its end; the archive is corrupt")
            return arrays if json_key is not None else _native(arrays)
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, NotImplementedError,
            RuntimeError) as e:
        # BadZipFile: cut off or a bad CRC; zlib.error is an Exception subclass raised as is.
        raise _npz_error(where, e) from None
    except Exception as e:  # zlib.error (a damaged compressed member)
        if type(e).__module__ == "zlib":
            raise _npz_error(where, e) from None
        raise


def _check_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, json_key: str | None) -> str:
    """Check one member's zip entry and ``.npy`` header; returns its array key."""
    name = info.filename
    if info.is_dir() or not name.endswith(".npy"):
        raise ModelFileError(f"{where}: member {name!r} is not a .npy array; not a neurotep model archive")
    if info.flag_bits & 0x1:
        raise ModelFileError(f"{where}: member {name!r} is encrypted; not a neurotep model archive")
    key = name[:-4]
    with zf.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
        except ValueError:
            raise ModelFileError(f"{where}: member {name!r} is not a .npy array (no NUMPY header); "
                                 "the archive is corrupt") from None
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ModelFileError(f"{where}: member {name!r} is a .npy array of version {version[0]}.{version[1]}, "
                                 "which neurotep does not read (it writes 1.0)")
        offset = f.tell()
    if dtype.hasobject:
        raise ModelFileError(f"{where}: member {name!r} is an array of Python objects (pickled data), which "
                             "neurotep never loads; re-save the model with neurotep")
    if dtype.kind not in _ARRAY_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise ModelFileError(f"{where}: member {name!r} has dtype {dtype}; model arrays are plain bool, "
                             "int or float arrays")
    count = math.prod(shape)  # Python ints: a hostile shape cannot overflow
    declared = count * dtype.itemsize
    if offset + declared != info.file_size:
        raise ModelFileError(f"{where}: array {key!r} declares shape {tuple(shape)} of {dtype} "
                             f"({_size_words(declared)}) but its member holds {_size_words(info.file_size - offset)}; "
                             "it is truncated or corrupt")
    if key == json_key and (dtype != np.uint8 or len(shape) != 1 or declared > MAX_JSON_BYTES):
        raise ModelFileError(f"{where}: entry {json_key} is not a graph description "
                             f"(expected uint8 bytes up to {_size_words(MAX_JSON_BYTES)}, got {dtype} {tuple(shape)})")
    return key


def _native(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Arrays in native byte order (a big-endian file loads; torch refuses swapped arrays)."""
    return {k: a if a.dtype.isnative else a.astype(a.dtype.newbyteorder("=")) for k, a in arrays.items()}
