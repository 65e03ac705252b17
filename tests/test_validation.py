"""Validation at the edge (issue 20, part 3): meta keys and their targets, ranges of every graph
field, resource bounds before a run, NPZ headers checked before anything is loaded, and messages
that say what a file is. The reproductions of issue 20 (items 5, 7, 9, 10) end as one line and
exit code 2."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from neurotep import variants
from neurotep.cli import main
from neurotep.errors import GraphError, ModelFileError, NeurotepError
from neurotep.graph import Population, load_graph, save_graph
from neurotep.graph import io as gio
from neurotep.graph import validate as gv
from neurotep.graph.stages import stage_parts
from neurotep.graph.validate import validate_graph


def small(variant: str = "toreqprop", **kw):
    defaults = {"toreqprop": dict(hidden=(12,)), "mstep": dict(levels=(16, 32)), "tpeqprop": dict(hidden=(12,)),
                "tepssr": dict(state=8, hidden=12, step_features=8), "difftor": dict(hidden=(12,)),
                "htsep": dict(hidden=16, torus_shape=(4, 4), spatial_decay=0.6)}[variant]
    return variants.get(variant).build(n_in=64, n_out=10, seed=0, **{**defaults, **kw})


@pytest.fixture
def model(tmp_path):
    """A saved model directory (as `neurotep train` writes it): returns its model/ path."""
    save_graph(small(), tmp_path / "m" / "model")
    return tmp_path / "m" / "model"


def edit_json(model: Path, fn) -> None:
    doc = json.loads((model / "graph.json").read_text())
    fn(doc)
    (model / "graph.json").write_text(json.dumps(doc))


def cli_run(model_dir: Path, *extra: str) -> tuple[int, str]:
    out = model_dir.parent / "out"
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(["run", str(model_dir), "--samples", "5", "--out", str(out), "--json", *extra])
    if rc == 2:
        assert not out.exists()
    return rc, err.getvalue()


def one_line_error(rc: int, err: str, pattern: str) -> None:
    import re

    assert rc == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("neurotep: error: "), err
    assert re.search(pattern, lines[0]), lines[0]


# -- meta --------------------------------------------------------------------------------------------
def _meta(**changes):
    def mutate(g):
        for k, v in changes.items():
            if v is KeyError:
                g.meta.pop(k, None)
            else:
                g.meta[k] = v
    return mutate


def _hp(**changes):
    def mutate(g):
        g.meta["hyperparameters"].update(changes)
    return mutate


def _nested(depth: int) -> list:
    v: list = []
    for _ in range(depth):
        v = [v]
    return v


META_CASES = {
    "input-missing-pop": ("toreqprop", _meta(input="q"), r"^graph meta\.input: names population 'q', which does not exist"),
    "input-not-input": ("toreqprop", _meta(input="h0"),
                        r"^graph meta\.input: must name an input population .* 'h0' is a hard_sigmoid population; "
                        r"input populations: x"),
    "input-list": ("toreqprop", _meta(input=["x"]), r"^graph meta\.input: names population \['x'\], which does not"),
    "output-input": ("toreqprop", _meta(output="x"), r"^graph meta\.output: must name a population with dynamics"),
    "variant-type": ("toreqprop", _meta(variant=3), r"^graph meta\.variant: must be the name of a variant"),
    "hp-type": ("toreqprop", _meta(hyperparameters=[1]), r"^graph meta\.hyperparameters: must be a dict, got list"),
    "free-steps-huge": ("toreqprop", _hp(free_steps=10**12),
                        r"^graph meta\.hyperparameters\.free_steps: must be an int in \[1, 100000\], got 1000000000000"),
    "free-steps-float": ("toreqprop", _hp(free_steps=200.0), r"free_steps: must be an int in \[1, 100000\], got 200\.0"),
    "nudge-steps-zero": ("toreqprop", _hp(nudge_steps=0), r"nudge_steps: must be an int in \[1, 100000\]"),
    "beta-negative": ("toreqprop", _hp(beta=-0.5), r"^graph meta\.hyperparameters\.beta: must be a finite number > 0"),
    "tol-nan": ("toreqprop", _hp(tol=float("nan")), r"hyperparameters\.tol: must be a finite number >= 0, got nan"),
    "hp-record-inf": ("toreqprop", _hp(buffer_decay=float("inf")), r"hyperparameters\.buffer_decay: must be a finite number"),
    "relaxation-unknown": ("toreqprop", _meta(relaxation="newton"),
                           r"^graph meta\.relaxation: unknown relaxation method 'newton' \(known: plain, anderson, coarse_to_fine"),
    "relaxation-list": ("toreqprop", _meta(relaxation=["plain"]), r"^graph meta\.relaxation: unknown relaxation method"),
    "spiking-type": ("toreqprop", _meta(spiking="lif"), r"^graph meta\.spiking: must be a dict of spiking settings"),
    "spiking-neuron": ("toreqprop", _meta(spiking={"neuron": "izhikevich"}), r"^graph meta\.spiking: neuron must be one of lif, stochastic"),
    "spiking-seed": ("toreqprop", _meta(spiking={"seed": "abc"}), r"^graph meta\.spiking\.seed: must be an int in \[0, 4294967295\]"),
    "spiking-gate": ("toreqprop", _meta(spiking={"gate": 0}), r"^graph meta\.spiking\.gate: must be a finite number in \(0, 1\]"),
    "training-type": ("toreqprop", _meta(training=[]), r"^graph meta\.training: must be a dict, got list"),
    "mode": ("toreqprop", _meta(mode="burst"), r"^graph meta\.mode: must be 'rate' or 'spiking'"),
    "deep": ("toreqprop", _meta(nest=_nested(40)),
             r"^graph meta: must be a JSON-serialisable dict \(nested more than 32 levels deep\)"),
    # MS-TEP
    "levels-missing": ("mstep", _meta(levels=KeyError), r"^graph meta\.levels: is missing: relaxation 'coarse_to_fine' needs it"),
    "levels-flat": ("mstep", _meta(levels=["x1", "h1"]), r"^graph meta\.levels: must be a non-empty list of non-empty lists"),
    "levels-input": ("mstep", _meta(levels=[["x"], ["h2", "y"]]), r"^graph meta\.levels: must name a population with dynamics"),
    # TEP-SSR
    # TEP-SSR: time in the graph (an input stream and two stages)
    "stream-length": ("tepssr", lambda g: setattr(g.streams[0], "length", 0),
                      r"^stream 'x_sequence': length must be an int in \[1, 100000\], got 0"),
    "stream-not-input": ("tepssr", lambda g: setattr(g.streams[0], "population", "h"),
                         r"^stream 'x_sequence': population 'h' is not an input population"),
    "stream-every": ("tepssr", lambda g: setattr(g.streams[0], "every", 1.5), r"^stream 'x_sequence': every must be an int"),
    "stage-unknown": ("tepssr", lambda g: setattr(g.stages[0], "active", ("s", "zz")),
                      r"^stage 'feed': active population 'zz' is not a non-input population"),
    "stage-steps": ("tepssr", lambda g: setattr(g.stages[0], "steps", 0), r"^stage 'feed': steps must be an int in \[1,"),
    "stage-last-steps": ("tepssr", lambda g: setattr(g.stages[1], "steps", 5),
                         r"^stage 'relax': is the last stage: its steps are the run's own"),
    "stage-output": ("tepssr", lambda g: setattr(g.stages[1], "active", ("h",)),
                     r"^stage 'relax': the output population 'y' must update in the last stage"),
    "stage-twice": ("tepssr", lambda g: setattr(g.stages[1], "name", "feed"), r"^stage 'feed': needs a unique"),
    "spectral-conn": ("tepssr", lambda g: g.meta["spectral"].update(connections=["nope"]),
                      r"^graph meta\.spectral: connections must list connections of the graph"),
    # TPEqProp
    "errors-missing": ("tpeqprop", _meta(errors=KeyError), r"^graph meta\.errors: is missing: a predictive-coding graph"),
    "error-of-mismatch": ("tpeqprop", lambda g: g.meta["error_of"].pop("e1"), r"^graph meta\.error_of: must map each of errors"),
    "precision-zero": ("tpeqprop", lambda g: g.meta["precision"].update(e1=0.0), r"^graph meta\.precision\.e1: must be a finite number > 0"),
    "lam-target": ("tpeqprop", lambda g: g.meta["lam"].update(q=0.1), r"^graph meta\.lam: names population 'q', which does not exist"),
    "precision-target": ("tpeqprop", lambda g: g.meta["precision"].update(x=0.1), r"^graph meta\.precision: must name a population with dynamics"),
}


@pytest.mark.parametrize("case", list(META_CASES))
def test_meta_is_validated(case):
    variant, mutate, pattern = META_CASES[case]
    g = small(variant)
    mutate(g)
    with pytest.raises(GraphError, match=pattern) as info:
        validate_graph(g)
    assert "\n" not in str(info.value)


def test_every_variant_passes_and_keeps_passing_through_transforms():
    from neurotep.graph.transforms import rate_to_spiking
    from neurotep.variants import difftor, tepssr

    for name in variants.REGISTRY:
        g = small(name)
        validate_graph(g)
        if name != "tepssr":  # tanh-free variants have a spiking form
            rate_to_spiking(g)
            rate_to_spiking(g, neuron="stochastic")
    stage_parts(small("tepssr"))
    difftor.generative_graph(small("difftor"), conditional=True)
    difftor.generative_graph(small("difftor"), conditional=False)


def test_relaxation_methods_match_the_solvers():
    from neurotep.backends.torch.solvers import SOLVERS

    assert set(gv.RELAXATION_METHODS) == {"plain", *SOLVERS}


# -- static ranges ----------------------------------------------------------------------------------
def _buf(**fields):
    def mutate(g):
        for k, v in fields.items():
            setattr(g.buffers[0], k, v)
    return mutate


RANGE_CASES = {
    "depth-huge": (_buf(depth=10**7), r"^buffer 'torus_h0': depth must be an int in \[1, 1024\] taps, got 10000000"),
    "gain-negative": (_buf(gain=-0.05), r"^buffer 'torus_h0': gain must be a finite number > 0, got -0\.05"),
    "gain-zero": (_buf(gain=0.0), r"gain must be a finite number > 0, got 0\.0; remove the buffer"),
    "delay-huge": (lambda g: setattr(g.connections[0], "delay", 10**7),
                   r"^connection 'W_x_h0' \(x -> h0\): delay must be an int in \[0, 4096\] steps, got 10000000"),
    "size-huge": (lambda g: g.add(Population("z", 1 << 25, "linear")),
                  r"^population 'z': size 33554432 is over the limit of 16777216 neurons"),
    "stochastic-threshold": (lambda g: g.add(Population("z", 2, "stochastic", {"threshold": -0.5})),
                             r"^population 'z': threshold must be > 0 for stochastic, got -0\.5"),
    "seed-huge": (lambda g: g.add(Population("z", 2, "stochastic", {"seed": 2**40})),
                  r"^population 'z': seed must be an int in \[0, 4294967295\]"),
    "noise-steps-huge": (lambda g: g.populations["h0"].params.update(noise_steps=2**40),
                         r"^population 'h0': noise_steps must be an int in \[0, 2147483647\]"),
    "model-list": (lambda g: setattr(g.populations["h0"], "model", ["lif"]), r"^population 'h0': unknown model \['lif'\]"),
    "grid-overflow": (_buf(shape=(10**30, 10**30), radius=(0, 0), decay=(0.8, 0.5, 0.5)),
                      r"^buffer 'torus_h0': grid shape .* holds 10{60} neurons but population 'h0' has 12"),
    "weight-longdouble": (lambda g: setattr(g.connections[0], "weight", g.connections[0].weight.astype(np.longdouble)),
                          r"weight must be a 2-D numeric array .* int or float of at most 64 bits, got float128"),
    "weight-beyond-float32": (lambda g: g.connections[0].weight.__setitem__((0, 0), 1e300),
                              r"^connection 'W_x_h0' \(x -> h0\): weight has 1 values beyond float32's range"),
    "bias-beyond-float32": (lambda g: g.populations["h0"].bias.__setitem__(0, -1e39), r"^population 'h0': bias has 1 values beyond"),
    "learning-kind-list": (lambda g: setattr(g.connections[0].learning, "kind", ["eqprop"]), r"unknown learning rule \['eqprop'\]"),
}


@pytest.mark.parametrize("case", list(RANGE_CASES))
def test_graph_fields_have_ranges(case):
    mutate, pattern = RANGE_CASES[case]
    g = small()
    mutate(g)
    with pytest.raises(GraphError, match=pattern):
        validate_graph(g)


def test_limits_leave_room_for_real_models():
    """The static bounds sit far above what the variants and the tests use."""
    assert gv.MAX_STEPS >= 20_000 and gv.MAX_BUFFER_DEPTH >= 64 and gv.MAX_DELAY >= 71
    g = small()
    g.buffers[0].depth = gv.MAX_BUFFER_DEPTH
    g.buffers[0].gain = 0.1 * (1 - 0.8)  # loop gain stays < 1 at any depth
    g.connections[0].delay = gv.MAX_DELAY
    g.meta["hyperparameters"]["free_steps"] = gv.MAX_STEPS
    validate_graph(g)


# -- loading: format, sizes, headers, what a file is ----------------------------------------------------
@pytest.mark.parametrize("version, pattern", [
    (1.0, r"format_version must be an integer, got a number 1\.0 \(supported: 1, 2\)"),
    ("1", r"format_version must be an integer, got a string '1'"),
    (True, r"format_version must be an integer, got a boolean True"),
    (3, r"unsupported format_version 3 \(supported: 1, 2\)"),
])
def test_format_version_is_an_integer(model, version, pattern):
    edit_json(model, lambda d: d.update(format_version=version))
    with pytest.raises(ModelFileError, match=pattern):
        load_graph(model)


def test_huge_sparse_arrays_are_refused_before_reading(model, monkeypatch):
    os.truncate(model / "arrays.npz", 40 << 30)  # issue 20 item 9: 40 GB, sparse
    monkeypatch.setattr(gio, "_sha256_file", lambda p: pytest.fail("hashed a file over the limit"))
    t0 = time.perf_counter()
    with pytest.raises(ModelFileError, match=r"arrays\.npz: is 40\.0 GiB, over the 1\.0 GiB limit for a model's arrays"):
        load_graph(model)
    assert time.perf_counter() - t0 < 1.0


def test_huge_graph_json_is_refused_before_reading(model):
    os.truncate(model / "graph.json", 1 << 30)
    with pytest.raises(ModelFileError, match=r"graph\.json: is 1\.0 GiB, over the 64\.0 MiB limit"):
        load_graph(model)


def test_checksum_is_streamed(model, monkeypatch):
    real = Path.read_bytes

    def guarded(self):
        assert self.name != "arrays.npz", "arrays.npz read whole"
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", guarded)
    load_graph(model)
    (model / "arrays.npz").write_bytes(real(model / "arrays.npz") + b"\0")
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        load_graph(model)


def _rewrite_npz(model: Path, data: bytes) -> None:
    (model / "arrays.npz").write_bytes(data)
    edit_json(model, lambda d: d.update(arrays_sha256=hashlib.sha256(data).hexdigest()))


def _zip(members: dict[str, bytes], compress: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compress) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=True)
    return buf.getvalue()


def _members(model: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(model / "arrays.npz") as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def test_headers_are_checked_before_any_array_is_loaded(model, monkeypatch):
    members = _members(model)
    members["zz.npy"] = _npy(np.array([object()], dtype=object))  # last member: an object array
    _rewrite_npz(model, _zip(members))
    calls = []
    real = np.lib.format.read_array
    monkeypatch.setattr(np.lib.format, "read_array", lambda *a, **k: calls.append(1) or real(*a, **k))
    with pytest.raises(ModelFileError, match=r"member 'zz\.npy' is an array of Python objects \(pickled data\), which "
                                             r"neurotep never loads"):
        load_graph(model)
    assert calls == []


def test_lying_header_is_refused_without_allocating(model):
    members = _members(model)
    header = members["c0.weight.npy"][:128]  # magic + header of a (12, 64) float64 array
    shape = repr((12, 64)).encode()
    lie = header.replace(shape, b"(100000, 100000)".ljust(len(shape)))
    assert lie != header
    members["c0.weight.npy"] = lie + members["c0.weight.npy"][128:]
    _rewrite_npz(model, _zip(members))
    with pytest.raises(ModelFileError, match=r"array 'c0\.weight' declares shape \(100000, 100000\) of float64 \(74\.5 GiB\) "
                                             r"but its member holds 6\.0 KiB; it is truncated or corrupt"):
        load_graph(model)


def test_uncompressed_total_is_bounded(model, monkeypatch):
    monkeypatch.setattr(gio, "MAX_ARRAY_BYTES", 1000)
    with pytest.raises(ModelFileError, match=r"its arrays hold more than 1000 bytes once loaded, over the limit"):
        load_graph(model)


@pytest.mark.parametrize("dtype, pattern", [
    ("complex128", r"member 'c0\.weight\.npy' has dtype complex128; model arrays are plain bool, int or float"),
    ("<U3", r"has dtype <U3"),
    ([("a", "<f8")], r"has dtype \[\('a', '<f8'\)\]"),
])
def test_member_dtypes(model, dtype, pattern):
    members = _members(model)
    members["c0.weight.npy"] = _npy(np.zeros((12, 64), dtype=dtype))
    _rewrite_npz(model, _zip(members))
    with pytest.raises(ModelFileError, match=pattern):
        load_graph(model)


def test_big_endian_arrays_load_native(model, tmp_path):
    members = _members(model)
    w = np.load(io.BytesIO(members["c0.weight.npy"]))
    members["c0.weight.npy"] = _npy(w.astype(">f8"))
    _rewrite_npz(model, _zip(members, zipfile.ZIP_DEFLATED))
    g = load_graph(model)
    assert g.connections[0].weight.dtype == np.float64 and g.connections[0].weight.dtype.isnative
    assert np.array_equal(g.connections[0].weight, w)


@pytest.mark.parametrize("content, words", [
    (b"hello, this is not an archive\n", "a text file"),
    (b'{"populations": []}', "a JSON text file"),
    (b"", "an empty file"),
    (bytes(1000), "a file of zero bytes"),
    (_npy(np.zeros(3)), "a single .npy array, not an archive of them"),
    (b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.", "a Python pickle"),
    (b"\x1f\x8b\x08\x00" + bytes(20), "a gzip-compressed file"),
    (bytes(range(256)) * 4, "binary data of an unknown kind"),
])
def test_messages_say_what_the_file_is(model, content, words):
    """Issue 20 item 10: a text file given as arrays.npz is "not an NPZ archive: it is a text file"."""
    _rewrite_npz(model, content)
    with pytest.raises(ModelFileError) as info:
        load_graph(model)
    msg = str(info.value)
    assert f"arrays.npz: is not an NPZ archive: it is {words}" in msg and "pickled" not in msg.split("it is")[0]
    assert "\n" not in msg


def test_single_file_model_says_what_it_is(tmp_path):
    (tmp_path / "net.npz").write_text("just text")
    with pytest.raises(ModelFileError, match=r"net\.npz: is not an NPZ archive: it is a text file"):
        load_graph(tmp_path / "net.npz")


def test_json_messages(model):
    (model / "graph.json").write_bytes(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(ModelFileError, match=r"graph\.json: invalid JSON \(nested too deeply\)|nested more than"):
        load_graph(model)
    (model / "graph.json").write_bytes(b'{"format": "neurotep-graph", "format_version": ' + b"1" * 5000 + b"}")
    with pytest.raises(ModelFileError, match=r"graph\.json: invalid JSON \(Exceeds the limit"):
        load_graph(model)
    (model / "graph.json").write_bytes(bytes(range(128, 256)))
    with pytest.raises(ModelFileError, match=r"graph\.json: is not a JSON text file: it is binary data"):
        load_graph(model)
    (model / "graph.json").write_bytes(b'{"format": "neurotep-graph", "x": "' + b"a" * 600 + b'\xff"}')
    with pytest.raises(ModelFileError, match=r"graph\.json: invalid JSON: not UTF-8 text \(invalid start byte at byte 635\)"):
        load_graph(model)


def test_malformed_fields_are_named(model):
    doc = json.loads((model / "graph.json").read_text())

    def fails(mutate, pattern):
        d = copy.deepcopy(doc)
        mutate(d)
        (model / "graph.json").write_text(json.dumps(d))
        with pytest.raises(ModelFileError, match=pattern):
            load_graph(model)

    fails(lambda d: d["connections"][0].pop("delay"), r"malformed graph JSON: connections\[0\] has no 'delay' field")
    fails(lambda d: d["populations"][1].update(name=["h0"]), r"populations\[1\] field 'name' must be a string, got a list")
    fails(lambda d: d["populations"].append(dict(d["populations"][1])), r"populations\[3\] repeats population name 'h0'")
    fails(lambda d: d["buffers"][0].update(decay="0.8"), r"buffers\[0\] field 'decay' must be a list, got a string")
    fails(lambda d: d.update(probes={}), r"'probes' must be a list, got an object")
    fails(lambda d: d["connections"][0].update(weight=["c0.weight"]), r"field 'weight' must name an array \(a string\) or be null")


# -- per-run resources ------------------------------------------------------------------------------
def test_check_resources_refuses_with_estimate_and_limit(monkeypatch):
    from neurotep import runner

    g = small()
    parts = runner.estimate_run_bytes(g, "torch", 360, 200, spiking=False, spiking_inputs=False)
    hist = sum(p.size for p in g.populations.values()) + 3 * g.populations["h0"].size  # depth 4 on h0
    assert parts["delay and buffer history (depth x neurons x batch x 8 bytes)"] == hist * 360 * 8
    runner.check_resources(g, "torch", 360, None, False, False)  # a full digits test split fits
    g.buffers[0].depth, g.buffers[0].gain = 1024, 0.01
    g.populations["h0"].size = 100_000  # validation is skipped by the estimate: only sizes matter
    parts = runner.estimate_run_bytes(g, "torch", 360, 200, spiking=False, spiking_inputs=False)
    assert sum(parts.values()) > runner.MAX_RUN_BYTES
    monkeypatch.setattr(runner.Graph, "validate", lambda self: self)
    with pytest.raises(NeurotepError, match=r"^this run would need about 2\d\d\.\d GiB of memory \(delay and buffer history "
                                            r"\(depth x neurons x batch x 8 bytes\): .* GiB; batch 360, 200 steps\), over the "
                                            r"4\.0 GiB limit per run: run fewer --samples"):
        runner.check_resources(g, "torch", 360, None, False, False)


def test_check_resources_steps_and_meta():
    from neurotep import runner

    g = small()
    for bad in (0, -5, 10**12, 2.5, True):
        with pytest.raises(NeurotepError, match=r"--steps must be an int between 1 and 100000"):
            runner.check_resources(g, "torch", 5, bad, True, True)
    g.meta.pop("input")
    with pytest.raises(GraphError, match=r"^graph meta: no 'input' key \(the input population\)"):
        runner.check_resources(g, "torch", 5, None, False, False)


def test_run_model_checks_resources_before_any_work(monkeypatch):
    from neurotep import runner
    from neurotep.data import load_dataset

    monkeypatch.setattr(runner, "MAX_RUN_BYTES", 1000)
    monkeypatch.setattr(runner, "TorchNetwork", lambda *a, **k: pytest.fail("work started"))
    monkeypatch.setattr(runner, "rate_to_spiking", lambda *a, **k: pytest.fail("work started"))
    with pytest.raises(NeurotepError, match=r"over the 1000 bytes limit per run"):
        runner.run_model(small(), load_dataset("digits"), samples=5, spiking=True, steps=20)


# -- the reproductions of issue 20, end to end (one line, exit 2, nothing written) -------------------
REPRODUCTIONS = {
    "5-no-input": (lambda d: d["meta"].pop("input"), (), r"graph meta: no 'input' key"),
    "5-no-input-lava": (lambda d: d["meta"].pop("input"), ("--backend", "lava"), r"graph meta: no 'input' key"),
    "7-depth": (lambda d: d["buffers"][0].update(depth=10**7), (), r"depth must be an int in \[1, 1024\]"),
    "7-delay-lava": (lambda d: d["connections"][0].update(delay=10**7), ("--backend", "lava"), r"delay must be an int in \[0, 4096\]"),
    "7-free-steps": (lambda d: d["meta"]["hyperparameters"].update(free_steps=10**12), (), r"free_steps: must be an int in \[1, 100000\]"),
    "7-negative-gain": (lambda d: d["buffers"][0].update(gain=-0.05), (), r"gain must be a finite number > 0"),
    "7-format-float": (lambda d: d.update(format_version=1.0), (), r"format_version must be an integer"),
}


@pytest.mark.parametrize("case", list(REPRODUCTIONS))
def test_issue_20_reproductions(model, case):
    mutate, extra, pattern = REPRODUCTIONS[case]
    edit_json(model, mutate)
    rc, err = cli_run(model.parent, *extra)
    one_line_error(rc, err, pattern)


def test_issue_20_negative_stochastic_threshold(model):
    g = load_graph(model)
    g.populations["h0"].model, g.populations["h0"].params = "stochastic", {"threshold": 0.5}
    save_graph(g, model)
    edit_json(model, lambda d: d["populations"][1]["params"].update(threshold=-0.5))
    rc, err = cli_run(model.parent)
    one_line_error(rc, err, r"population 'h0': threshold must be > 0 for stochastic, got -0\.5")


def test_issue_20_sparse_and_text_arrays(model):
    os.truncate(model / "arrays.npz", 40 << 30)
    one_line_error(*cli_run(model.parent), r"is 40\.0 GiB, over the 1\.0 GiB limit")
    (model / "arrays.npz").write_text("hello\n")
    one_line_error(*cli_run(model.parent), r"arrays\.npz: is not an NPZ archive: it is a text file")
