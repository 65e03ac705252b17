"""Fuzz suite for saved model files (issue 20, part 4, model-file half).

Property-based (hypothesis): each example copies a saved model, damages it (graph.json fields
deleted, retyped, renamed or set to extreme, negative, NaN or huge values, names swapped; arrays
reshaped, retyped, emptied, poisoned, removed; either file truncated, byte-flipped, replaced by
other content or by something that is not a file), then runs
``neurotep.cli.main(["run", M, "--samples", "5", "--out", OUT, "--json"])`` in-process (some
examples in spiking mode, ``--spiking --steps 20``). Every example must end in one of two ways:

* exit 0, with a complete output: ``run.json`` with the documented keys, ``graph/`` loadable,
  ``spikes.npz`` for spiking runs, the JSON summary on stdout;
* exit 2, with exactly one line on stderr starting ``neurotep: error:``, no traceback, no OUT
  directory (nothing at all written beside the model), the model's files untouched;

and within the hypothesis deadline (10 s per example). Anything else escaping ``main()`` fails.

Examples: bounded in the normal run (130 damaged models plus 12 baseline runs, about 30 s, the
same examples every time); NEUROTEP_FUZZ_EXAMPLES=N runs N random examples per test instead, and
NEUROTEP_FUZZ_LOG=FILE appends each example's outcome and edits to FILE.

Defects this suite found, run against the code before the fixes (commit 8bb4672, 2 x 1,300
examples); each escaped main() as a traceback, and is now refused in one line by validation or
loading (big-endian arrays are loaded in native byte order instead):
 1. a big-endian (``>f8``) weight or bias loaded and then crashed torch (ValueError);
 2. a ``longdouble`` (float128) weight or bias crashed torch (TypeError), also after the
    first fixes;
 3. a population ``model`` that is not a string (list, dict) crashed validation (unhashable);
 4. ``meta.input`` / ``meta.output`` missing (KeyError) or not a string (unhashable TypeError in
    the runner and the torch network);
 5. ``meta.hyperparameters.free_steps`` or ``tol`` of the wrong type crashed relaxation (TypeError);
 6. ``meta.levels`` (MS-TEP) entries that are not names crashed the coarse-to-fine solver;
 7. ``meta.block`` / ``meta.ssm`` (TEP-SSR) entries that are not names crashed the sequence solver,
    and a dict as ``block`` gave ``max() arg is an empty sequence`` (ValueError);
 8. a deeply nested graph.json raised RecursionError out of json.loads;
 9. a 5,000-digit integer in graph.json raised a bare ValueError out of json.loads.
(The 40 GB sparse arrays.npz of issue 20 is not run against the old code: it reads it whole.)
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import hashlib
import io
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurotep.cli import main

EXAMPLES = int(os.environ.get("NEUROTEP_FUZZ_EXAMPLES", "0"))
DEADLINE_MS = 10_000


def _settings(default_examples: int):
    """Bounded and derandomised in the normal run (stable CI); NEUROTEP_FUZZ_EXAMPLES=N: N random
    examples per test. No example database is written into the tree."""
    return settings(max_examples=EXAMPLES or default_examples, deadline=DEADLINE_MS, derandomize=not EXAMPLES,
                    database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large, HealthCheck.filter_too_much])


RUN_KEYS = {"backend", "executed_on", "precision", "device", "mode", "encoding", "variant", "dataset", "samples",
            "steps", "test_accuracy", "spikes_total", "wall_seconds", "populations", "sample_ids"}
POP_KEYS = {"neurons", "model", "spikes", "spikes_per_neuron_per_step"}

# Small instances of the variants (fresh weights: a saved model's structure does not depend on
# training), with the data set each reads.
MODELS = {
    "toreqprop": ("digits", dict(hidden=(24,))),
    "htsep": ("digits", dict(hidden=36, torus_shape=(6, 6), spatial_decay=0.6)),
    "mstep": ("digits", dict(levels=(16, 32))),
    "tpeqprop": ("digits", dict(hidden=(24,))),
    "tepssr": ("digits-rows", dict(state=16, hidden=24, step_features=8)),
    "difftor": ("digits", dict(hidden=(24,))),
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from neurotep import variants
    from neurotep.data import load_dataset
    from neurotep.graph import save_graph

    root = tmp_path_factory.mktemp("fuzz-models")
    out = {}
    for name, (dataset, kw) in MODELS.items():
        data = load_dataset(dataset)
        g = variants.get(name).build(n_in=data.n_features, n_out=data.n_classes, seed=0, **kw)
        save_graph(g, root / name / "model")
        out[name] = (root / name, dataset)
    return out


# -- running one example -----------------------------------------------------------------------------
def _snapshot(d: Path) -> dict[str, str]:
    """Every path under ``d`` with a digest of its content (files) or its kind."""
    if not d.exists() and not d.is_symlink():
        return {}
    if not d.is_dir() or d.is_symlink():
        return {".": _digest(d)}
    return {str(p.relative_to(d)): _digest(p) for p in sorted(d.rglob("*"))}


def _digest(p: Path) -> str:
    if p.is_symlink():
        return "link:" + os.readlink(p)
    if p.is_dir():
        return "dir"
    if not p.is_file():
        return "special"
    st_ = p.stat()
    if st_.st_size > 8 << 20:  # the sparse giants: size, mtime and the first MiB (reading 40 GB takes minutes)
        with open(p, "rb") as f:
            return f"{st_.st_size}:{st_.st_mtime_ns}:{hashlib.sha256(f.read(1 << 20)).hexdigest()}"
    return hashlib.sha256(p.read_bytes()).hexdigest()


def run_and_check(work: Path, model_arg: Path, dataset: str, spiking: bool) -> int:
    """Run the CLI on a (damaged) model and check that it ends in one of the two allowed ways."""
    out = work / "out"
    before = _snapshot(work)
    argv = ["run", str(model_arg), "--samples", "5", "--out", str(out), "--json", "--dataset", dataset]
    if spiking:
        argv += ["--spiking", "--steps", "20"]
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        rc = main(argv)
    err = stderr.getvalue()
    if os.environ.get("NEUROTEP_FUZZ_LOG"):  # a file to append each outcome to (what the fuzz reaches)
        with open(os.environ["NEUROTEP_FUZZ_LOG"], "a") as log:
            log.write(f"{rc}\t{model_arg.name}\t{err.strip()[:300]}\t{'; '.join(EDITS)[:400]}\n")
    EDITS.clear()
    assert "Traceback" not in err, err
    if rc == 0:
        from neurotep.graph import load_graph

        summary = json.loads((out / "run.json").read_text())
        assert RUN_KEYS <= set(summary), set(summary) ^ RUN_KEYS
        assert summary["samples"] == 5 and summary["mode"] == ("spiking" if spiking else "rate")
        assert isinstance(summary["test_accuracy"], float) and 0 <= summary["test_accuracy"] <= 1
        assert summary["populations"] and all(POP_KEYS <= set(p) for p in summary["populations"].values())
        load_graph(out / "graph")
        if spiking:
            with np.load(out / "spikes.npz", allow_pickle=False) as z:
                assert z.files
        assert json.loads(stdout.getvalue())["test_accuracy"] == summary["test_accuracy"]
        return rc
    assert rc == 2, (rc, err)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("neurotep: error: "), err
    assert not out.exists() and not out.is_symlink(), "an OUT directory was created"
    assert _snapshot(work) == before, "files were written or changed beside the model"
    return rc


@contextlib.contextmanager
def workdir(models: dict, name: str):
    """A fresh copy of model ``name`` in its own directory: yields (work dir, model dir)."""
    src, _ = models[name]
    work = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
    EDITS.clear()
    try:
        shutil.copytree(src, work / "m", symlinks=True)
        yield work, work / "m"
    finally:
        for p in work.rglob("*"):  # a mutation may leave an unreadable directory
            with contextlib.suppress(OSError):
                p.chmod(0o755) if p.is_dir() and not p.is_symlink() else None
        shutil.rmtree(work, ignore_errors=True)


def _files(m: Path) -> tuple[Path, Path]:
    return m / "model" / "graph.json", m / "model" / "arrays.npz"


def _fix_checksum(m: Path) -> None:
    """Make graph.json's checksum match arrays.npz again, so a damaged archive is read past it."""
    gj, npz = _files(m)
    doc = json.loads(gj.read_text())
    doc["arrays_sha256"] = hashlib.sha256(npz.read_bytes()).hexdigest()
    gj.write_text(json.dumps(doc, indent=1))


# -- strategies --------------------------------------------------------------------------------------
JSON_LEAF = st.one_of(
    st.none(), st.booleans(),
    st.sampled_from([0, 1, -1, 2, 3, 7, 2**31, 2**32, 2**53 + 1, 2**63, 2**64, 10**12, 10**30, 10**300]),
    st.sampled_from([0.0, -0.0, 0.5, -0.5, 1.0, 1.5, -1.0, 1e-300, 1e7, 1e12, 1e300, -1e300, math.inf, -math.inf,
                     math.nan]),
    st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "x", "y", "h", "h0", "s", "input", "lif", "stochastic", "hard_sigmoid", "plain",
                     "sequence", "coarse_to_fine", "eqprop", "spikes", "a b", "../../etc/passwd", "\u00e9\u4e2d",
                     "x" * 300]),
    st.text(max_size=6),
)
JSON_VALUE = st.recursive(JSON_LEAF, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
                          max_leaves=6)


def _paths(v, prefix=()):
    """Every path into a JSON value (dict keys and list indices)."""
    yield prefix
    if isinstance(v, dict):
        for k, x in v.items():
            yield from _paths(x, prefix + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from _paths(x, prefix + (i,))


def _strings(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for k, x in v.items():
            yield k
            yield from _strings(x)
    elif isinstance(v, list):
        for x in v:
            yield from _strings(x)


def _numeric_variants(x):
    """Extreme neighbours of a number found in the file."""
    out = [-x, x * 1e7, x * 1e300 if isinstance(x, float) else x * 10**12, float(x), x + 1, x - 1, 0, math.nan]
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        out.append(int(x))
    return out


EDITS: list[str] = []  # what the current example changed (for NEUROTEP_FUZZ_LOG)


def mutate_json(doc: dict, draw) -> None:
    """One edit at one path of graph.json: delete, replace, rename a key, a numeric extreme, or a
    name swapped for another name of the file."""
    paths = [p for p in _paths(doc) if p]
    path = draw(st.sampled_from(paths), label="path")
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    key = path[-1]
    cur = parent[key]
    actions = ["delete", "replace", "replace", "swap-name"]
    if isinstance(parent, dict):
        actions.append("rename")
    if isinstance(cur, (int, float)) and not isinstance(cur, bool):
        actions += ["numeric", "numeric"]
    if isinstance(cur, list):
        actions += ["list-append", "list-truncate"]
    action = draw(st.sampled_from(actions), label="action")
    EDITS.append(f"{action} {'.'.join(map(str, path))} (was {str(cur)[:40]})")
    if action == "delete":
        del parent[key]
    elif action == "replace":
        parent[key] = draw(JSON_VALUE, label="value")
    elif action == "rename":
        parent[draw(st.sampled_from([key + "_", key.upper(), "", "meta", "name", "weight"]), label="new key")] = parent.pop(key)
    elif action == "numeric":
        parent[key] = draw(st.sampled_from(_numeric_variants(cur)), label="number")
    elif action == "swap-name":
        parent[key] = draw(st.sampled_from(sorted(set(_strings(doc)))), label="name")
    elif action == "list-append":
        cur.append(copy.deepcopy(cur[-1]) if cur and draw(st.booleans()) else draw(JSON_VALUE))
    else:
        del cur[len(cur) // 2:]
    if action in ("replace", "numeric", "swap-name"):
        EDITS.append(f"-> {str(parent[key])[:60]}")


def _write_npz(path: Path, arrays: dict, compressed: bool) -> None:
    (np.savez_compressed if compressed else np.savez)(path, **arrays)


def mutate_arrays(m: Path, draw) -> None:
    """Rewrite arrays.npz with one array damaged (shape, dtype, values), removed, renamed or one
    added; the checksum is fixed up (mostly), so loading gets past it to the arrays."""
    _, npz = _files(m)
    with np.load(npz, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    key = draw(st.sampled_from(sorted(arrays)), label="array")
    a = arrays[key]
    action = draw(st.sampled_from(["shape", "dtype", "dtype", "values", "delete", "rename", "add"]), label="action")
    EDITS.append(f"array {key} {action}")
    if action == "shape":
        shapes = [lambda a: a.reshape(-1), lambda a: a[None], lambda a: a.T, lambda a: a[:-1],
                  lambda a: a[..., :-1] if a.ndim else a, lambda a: np.zeros((0,) + a.shape[1:], a.dtype),
                  lambda a: np.concatenate([a, a[:1]]) if a.ndim else a, lambda a: np.asarray(a.flat[0])]
        arrays[key] = draw(st.sampled_from(shapes), label="reshape")(a)
    elif action == "dtype":
        dt = draw(st.sampled_from(["float32", "float16", "int8", "int64", "uint8", "bool", "complex128", ">f8", ">f4",
                                   "<U3", "S2", "object", "structured", "datetime64[s]", "longdouble"]), label="dtype")
        if dt == "object":
            arrays[key] = np.array([None] + list(a.ravel()[:3]), dtype=object)
        elif dt == "structured":
            arrays[key] = np.zeros(a.shape, dtype=[("v", "f8"), ("w", "i4")])
        elif dt in ("<U3", "S2", "datetime64[s]"):
            arrays[key] = np.zeros(a.shape, dtype=dt)
        else:
            with np.errstate(all="ignore"):
                arrays[key] = a.astype(dt)
    elif action == "values":
        b = a.astype(np.float64).copy() if a.dtype.kind == "f" else a.copy()
        if b.size:
            v = draw(st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -1e300, 1e30, 0.0, 3.0]), label="value")
            if b.dtype.kind == "f":
                b.flat[draw(st.integers(0, b.size - 1))] = v
            elif draw(st.booleans()):
                b = np.full(b.shape, v)
        arrays[key] = b
    elif action == "delete":
        del arrays[key]
    elif action == "rename":
        arrays[key + "x"] = arrays.pop(key)
    else:
        arrays[draw(st.sampled_from(["extra", "__graph_json__", "p0.bias"]), label="added")] = np.zeros(3)
    npz.unlink()
    _write_npz(npz, arrays, draw(st.booleans(), label="compressed"))
    if draw(st.integers(0, 9), label="fix checksum") < 9:
        _fix_checksum(m)


def _zip_with(members: dict[str, bytes]) -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _npy_bytes(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def _npy_header_only(shape, dtype="<f8") -> bytes:
    """A .npy header declaring ``shape`` with no data behind it (a lying header)."""
    header = repr({"descr": dtype, "fortran_order": False, "shape": tuple(shape)}).encode("latin1")
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header


OTHER_CONTENT = {
    "empty": lambda m: b"",
    "text": lambda m: b"hello, this is a text file\nwith two lines\n",
    "json": lambda m: b'{"format": "neurotep-graph"}',
    "random": lambda m: bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8)),
    "zeros": lambda m: bytes(4096),
    "npy": lambda m: _npy_bytes(np.zeros((3, 4))),
    "pickle": lambda m: b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.",
    "gzip": lambda m: gzip.compress(_files(m)[1].read_bytes()),
    "zip-text-member": lambda m: _zip_with({"readme.txt": b"not an array"}),
    "zip-nested-member": lambda m: _zip_with({"dir/c0.weight.npy": _npy_bytes(np.zeros(3))}),
    "zip-empty": lambda m: _zip_with({}),
    "zip-lying-header": lambda m: _zip_with({"c0.weight.npy": _npy_header_only((100000, 100000))}),
    "zip-bad-magic": lambda m: _zip_with({"c0.weight.npy": b"NOTNUMPY" + bytes(64)}),
    "zip-negative-shape": lambda m: _zip_with({"c0.weight.npy": _npy_header_only((-1, 5))}),
    "zip-huge-header": lambda m: _zip_with({"c0.weight.npy": b"\x93NUMPY\x02\x00" + (10**6).to_bytes(4, "little")}),
}

JSON_CONTENT = {
    "empty": b"",
    "binary": bytes(range(256)),
    "list": b"[]",
    "null": b"null",
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "deep-meta": None,  # built from the model's own file
    "huge-int": b'{"format": "neurotep-graph", "format_version": ' + b"1" * 5000 + b"}",
    "version-string": None,
    "utf16": None,
}


def replace_file(m: Path, draw) -> None:
    gj, npz = _files(m)
    which = draw(st.sampled_from(["arrays", "arrays", "json", "special"]), label="which file")
    if which == "arrays":
        kind = draw(st.sampled_from(sorted(OTHER_CONTENT)), label="content")
        data = OTHER_CONTENT[kind](m)
        npz.write_bytes(data)
        if draw(st.booleans(), label="fix checksum"):
            _fix_checksum(m)
    elif which == "json":
        kind = draw(st.sampled_from(sorted(JSON_CONTENT)), label="content")
        data = JSON_CONTENT[kind]
        if kind == "deep-meta":  # meta nested d levels deep, written as text (json.dumps would recurse)
            doc = json.loads(gj.read_text())
            doc["meta"]["nest"] = "NEST"
            d = draw(st.sampled_from([40, 500, 5000]), label="depth")
            data = json.dumps(doc).encode().replace(b'"NEST"', b"[" * d + b"]" * d)
        elif kind == "version-string":
            doc = json.loads(gj.read_text())
            doc["format_version"] = "1"
            data = json.dumps(doc).encode()
        elif kind == "utf16":
            data = gj.read_text().encode("utf-16")
        gj.write_bytes(data)
    else:
        kind = draw(st.sampled_from(["npz-dir", "json-dir", "npz-missing", "json-missing", "npz-devnull",
                                     "npz-dangling-link", "sparse-huge", "sparse-under-limit"]), label="special")
        if kind == "npz-dir":
            npz.unlink()
            npz.mkdir()
        elif kind == "json-dir":
            gj.unlink()
            gj.mkdir()
        elif kind == "npz-missing":
            npz.unlink()
        elif kind == "json-missing":
            gj.unlink()
        elif kind == "npz-devnull":
            npz.unlink()
            npz.symlink_to("/dev/zero")
        elif kind == "npz-dangling-link":
            npz.unlink()
            npz.symlink_to(m / "nowhere")
        elif kind == "sparse-huge":
            os.truncate(npz, 40 << 30)  # issue 20 item 9: a 40 GB sparse file
        else:  # a zip start, then a sparse hole up to just under the size limit
            os.truncate(npz, (1 << 30) - 4096)


def damage_bytes(m: Path, draw) -> None:
    gj, npz = _files(m)
    target = draw(st.sampled_from([gj, npz, npz]), label="file")
    data = bytearray(target.read_bytes())
    if draw(st.booleans(), label="truncate"):
        cut = draw(st.integers(0, max(len(data) - 1, 0)), label="cut at")
        data = data[:cut]
    else:
        for _ in range(draw(st.integers(1, 4), label="flips")):
            if data:
                i = draw(st.integers(0, len(data) - 1), label="at")
                data[i] ^= draw(st.integers(1, 255), label="xor")
    target.write_bytes(bytes(data))
    if target == npz and draw(st.booleans(), label="fix checksum"):
        _fix_checksum(m)


# -- the properties ----------------------------------------------------------------------------------
MODEL_NAMES = st.sampled_from(sorted(MODELS))


@_settings(60)
@given(data=st.data())
def test_mutated_graph_json(models, data):
    name = data.draw(MODEL_NAMES, label="model")
    with workdir(models, name) as (work, m):
        gj, _ = _files(m)
        doc = json.loads(gj.read_text())
        for _ in range(data.draw(st.integers(1, 3), label="edits")):
            mutate_json(doc, data.draw)
        gj.write_text(json.dumps(doc, indent=1))  # NaN and Infinity as JSON's common extension
        run_and_check(work, m, models[name][1], spiking=data.draw(st.integers(0, 4), label="spiking") == 0)


@_settings(30)
@given(data=st.data())
def test_mutated_arrays(models, data):
    name = data.draw(MODEL_NAMES, label="model")
    with workdir(models, name) as (work, m):
        mutate_arrays(m, data.draw)
        run_and_check(work, m, models[name][1], spiking=data.draw(st.integers(0, 4), label="spiking") == 0)


@_settings(30)
@given(data=st.data())
def test_damaged_or_replaced_files(models, data):
    name = data.draw(st.sampled_from(["toreqprop", "htsep"]), label="model")
    with workdir(models, name) as (work, m):
        if data.draw(st.booleans(), label="replace"):
            replace_file(m, data.draw)
        else:
            damage_bytes(m, data.draw)
        run_and_check(work, m, models[name][1], spiking=False)


@_settings(10)
@given(data=st.data())
def test_model_argument_is_a_file(models, data):
    """The model argument pointing at one of the model's files, or at a single-file .npz model."""
    from neurotep.graph import load_graph, save_graph

    name = data.draw(MODEL_NAMES, label="model")
    with workdir(models, name) as (work, m):
        kind = data.draw(st.sampled_from(["graph.json", "arrays.npz", "single-file", "single-file-damaged"]))
        if kind.startswith("single-file"):
            target = work / "m" / "net.npz"
            save_graph(load_graph(m / "model"), target)
            shutil.rmtree(m / "model")
            if kind.endswith("damaged"):
                mutate_single_file(target, data.draw)
        else:
            target = m / "model" / kind
        run_and_check(work, target, models[name][1], spiking=data.draw(st.booleans(), label="spiking"))


def mutate_single_file(path: Path, draw) -> None:
    """Damage a single-file model: its embedded JSON or one array, keeping its digest (mostly)."""
    from neurotep.graph.io import JSON_KEY, arrays_digest

    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    doc = json.loads(arrays.pop(JSON_KEY).tobytes())
    if draw(st.booleans(), label="json or array"):
        mutate_json(doc, draw)
    else:
        key = draw(st.sampled_from(sorted(arrays)), label="array")
        arrays[key] = draw(st.sampled_from([arrays[key].astype(">f8"), arrays[key].reshape(-1), np.zeros(0),
                                            arrays[key].astype(np.float16)]), label="changed")
    if draw(st.integers(0, 4), label="fix digest") < 4:
        doc["arrays_sha256"] = arrays_digest(arrays)
    blob = np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8)
    np.savez(path, **arrays, **{JSON_KEY: blob})


def test_undamaged_models_run(models, tmp_path):
    """The baseline: every variant's saved model runs, rate and spiking (the fuzz relies on it)."""
    for name, (src, dataset) in models.items():
        for spiking in (False, True):
            work = tmp_path / f"{name}-{spiking}"
            shutil.copytree(src, work / "m")
            assert run_and_check(work, work / "m", dataset, spiking) == 0, name
