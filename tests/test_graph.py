"""Graph validation and save/load: every error names its node and problem; files round-trip
exactly and are never unpickled."""

from __future__ import annotations

import hashlib
import json
import os
import re

import numpy as np
import pytest

from neurotep.errors import GraphError, ModelFileError
from neurotep.graph import (
    Connection,
    Graph,
    LearningRule,
    Population,
    Probe,
    ToroidalBuffer,
    load_graph,
    save_graph,
)
from neurotep.graph.io import arrays_digest
from neurotep.graph.validate import _check_cycles, validate_graph


def make_graph() -> Graph:
    """x(4, input) -> h(3, hard_sigmoid, buffered) <-> y(2, linear)."""
    rng = np.random.default_rng(0)
    g = Graph(meta={"variant": "tep", "lr": 0.01, "sizes": [4, 3, 2], "note": None})
    g.add(Population("x", 4, "input"))
    g.add(Population("h", 3, "hard_sigmoid", {"damping": 0.5}, bias=rng.normal(size=3)))
    g.add(Population("y", 2, "linear"))
    mask = np.ones((3, 4), dtype=bool)
    mask[0, 1] = False
    g.add(Connection("W1", "x", "h", rng.normal(size=(3, 4)), delay=1, mask=mask,
                     learning=LearningRule("eqprop", {"beta": 0.5, "steps": 20})))
    g.add(Connection("W2", "h", "y", rng.normal(size=(2, 3)), delay=1, symmetric=True))
    g.add(ToroidalBuffer("buf_h", "h", depth=3, decay=(0.8,), gain=0.1))
    g.add(Probe("p", "y", "state"))
    return g


def test_valid_graph_passes():
    g = make_graph()
    assert g.validate() is g
    g.connections[0].delay = 0  # a delay-0 chain without a cycle is fine
    g.add(Population("z", 2, "lif", {"beta": 0.9, "threshold": 1.0, "reset": "zero"}))
    g.add(Population("s", 2, "stochastic", {"temperature": 0.2, "seed": 7}))
    g.add(ToroidalBuffer("buf_z", "z", depth=4, decay=(1.0,), gain=0.9))  # spiking: no gain cap
    validate_graph(g)


def _pop(g, name, size, model, params=None, bias=None):
    g.add(Population(name, size, model, params or {}, bias))


def _set(obj_path, value):
    """Mutator setting an attribute reached from the graph, e.g. ('populations.h', 'size')."""
    def mutate(g):
        where, attr = obj_path
        obj = g
        for part in where.split("."):
            obj = obj[part] if isinstance(obj, dict) else (
                obj[int(part)] if isinstance(obj, list) else getattr(obj, part))
        if isinstance(obj, dict):
            obj[attr] = value
        else:
            setattr(obj, attr, value)
    return mutate


H, W1, W2, BUF, PROBE = "populations.h", "connections.0", "connections.1", "buffers.0", "probes.0"
NAN, INF = float("nan"), float("inf")

def _nd(g, **fields):
    for k, v in fields.items():
        setattr(g.buffers[0], k, v)


CASES = {
    # names
    "bad-name": (_set((PROBE, "name"), "bad name!"), r"^probe 'bad name!': invalid name"),
    "empty-name": (_set((W2, "name"), ""), r"^connection '': invalid name"),
    "dup-connection": (_set((W2, "name"), "W1"), r"^connection 'W1': duplicate name"),
    "dup-probe": (lambda g: g.add(Probe("p", "h")), r"^probe 'p': duplicate name"),
    "dup-buffer": (lambda g: g.add(ToroidalBuffer("buf_h", "y", 2)), r"^buffer 'buf_h': duplicate"),
    "key-mismatch": (_set((H, "name"), "hh"), r"^population 'hh': stored under key 'h'"),
    # populations
    "unknown-model": (_set((H, "model"), "sigmoid"),
                      r"^population 'h': unknown model 'sigmoid' \(known: input, hard_sigmoid"),
    "size-zero": (_set((H, "size"), 0), r"^population 'h': size must be a positive int, got 0"),
    "size-bool": (_set((H, "size"), True), r"size must be a positive int, got True"),
    "size-float": (_set((H, "size"), 3.0), r"size must be a positive int, got 3.0"),
    "unknown-param": (_set((H + ".params", "tau"), 2.0),
                      r"^population 'h': unknown parameter 'tau' .*\(allowed: damping, gate, seed, noise, noise_decay, noise_steps, noise_gain\)"),
    "input-param": (_set(("populations.x.params", "damping"), 0.5),
                    r"^population 'x': unknown parameter 'damping' .*allowed: graded"),
    "nan-param": (_set((H + ".params", "damping"), NAN),
                  r"^population 'h': parameter 'damping' must be a finite number, got nan"),
    "inf-param": (_set((H + ".params", "damping"), INF), r"'damping' must be a finite number"),
    "bool-param": (_set((H + ".params", "damping"), True), r"'damping' must be a finite number"),
    "damping-range": (_set((H + ".params", "damping"), 1.5), r"damping must be in \(0, 1\]"),
    "damping-zero": (_set((H + ".params", "damping"), 0), r"damping must be in \(0, 1\]"),
    "reset": (lambda g: _pop(g, "z", 2, "lif", {"reset": "hard"}),
              r"^population 'z': reset must be one of subtract, zero, got 'hard'"),
    "beta": (lambda g: _pop(g, "z", 2, "lif", {"beta": 1.5}), r"^population 'z': beta must be in"),
    "threshold": (lambda g: _pop(g, "z", 2, "lif", {"threshold": 0.0}),
                  r"^population 'z': threshold must be > 0 for lif"),
    "temperature": (lambda g: _pop(g, "s", 2, "stochastic", {"temperature": -1.0}),
                    r"^population 's': temperature must be > 0"),
    "seed-negative": (lambda g: _pop(g, "s", 2, "stochastic", {"seed": -1}),
                      r"^population 's': seed must be an int in \[0, 4294967295\], got -1"),
    "seed-float": (lambda g: _pop(g, "s", 2, "stochastic", {"seed": 1.5}), r"seed must be a"),
    "bias-shape": (_set((H, "bias"), np.zeros(4)),
                   r"^population 'h': bias must be a float array of shape \(3,\), got float64 .*\(4,\)"),
    "bias-int": (_set((H, "bias"), np.zeros(3, dtype=int)), r"bias must be a float array"),
    "bias-nan": (_set((H, "bias"), np.array([0.0, NAN, 1.0])),
                 r"^population 'h': bias has 1 non-finite values"),
    "input-bias": (_set(("populations.x", "bias"), np.zeros(4)),
                   r"^population 'x': input populations .* take no bias"),
    # connections
    "dangling-pre": (_set((W1, "pre"), "q"),
                     r"^connection 'W1' \(q -> h\): pre population 'q' does not exist \(dangling"),
    "dangling-post": (_set((W2, "post"), "out"), r"^connection 'W2' \(h -> out\): post population"),
    "post-input": (lambda g: g.add(Connection("back", "h", "x", np.zeros((4, 3)))),
                   r"^connection 'back' \(h -> x\): post population 'x' is an input"),
    "weight-shape": (_set((W1, "weight"), np.zeros((4, 3))),
                     r"^connection 'W1' \(x -> h\): weight must be a 2-D numeric array of shape "
                     r"\(3, 4\) = \(post.size, pre.size\), int or float of at most 64 bits, got float64 array of shape \(4, 3\)"),
    "weight-1d": (_set((W1, "weight"), np.zeros(12)), r"weight must be a 2-D numeric array"),
    "weight-object": (_set((W1, "weight"), np.zeros((3, 4), dtype=object)), r"weight must be a 2-D"),
    "weight-nan": (lambda g: g.connections[0].weight.__setitem__((1, 2), NAN),
                   r"^connection 'W1' \(x -> h\): weight has 1 non-finite values \(NaN or inf\)"),
    "weight-inf": (lambda g: g.connections[1].weight.__setitem__((0, 0), -INF),
                   r"^connection 'W2' \(h -> y\): weight has 1 non-finite"),
    "mask-dtype": (_set((W1, "mask"), np.ones((3, 4), dtype=int)),
                   r"^connection 'W1' \(x -> h\): mask must be None or a bool array of shape"),
    "mask-shape": (_set((W1, "mask"), np.ones((4, 3), dtype=bool)), r"mask must be None or a bool"),
    "delay-negative": (_set((W1, "delay"), -1), r"^connection 'W1' .*delay must be an int in \[0, 4096\] steps, got -1"),
    "delay-bool": (_set((W1, "delay"), True), r"delay must be an int in \[0, 4096\] steps, got True"),
    "sym-input": (_set((W1, "symmetric"), True),
                  r"^connection 'W1' .*symmetric connections cannot touch input population 'x'"),
    "sym-delay0": (_set((W2, "delay"), 0),
                   r"^connection 'W2' \(h -> y\): symmetric connections need delay >= 1, got 0"),
    "learning-kind": (_set((W1, "learning"), LearningRule("sgd")),
                      r"^connection 'W1' .*unknown learning rule 'sgd' \(known: eqprop, bptt"),
    "learning-type": (_set((W1, "learning"), "eqprop"), r"learning must be None or a LearningRule"),
    # delay-0 cycles
    "cycle": (lambda g: (_pop(g, "z", 3, "linear"),
                         g.add(Connection("Hz", "h", "z", np.zeros((3, 3)), delay=0)),
                         g.add(Connection("Zh", "z", "h", np.zeros((3, 3)), delay=0))),
              r"^connections '(Hz|Zh)', '(Hz|Zh)': delay-0 cycle \(algebraic loop\) through "
              r"populations (h -> z -> h|z -> h -> z); give one of its connections delay >= 1"),
    "self-loop": (lambda g: g.add(Connection("Hh", "h", "h", np.eye(3), delay=0)),
                  r"^connections 'Hh': delay-0 cycle .* h -> h; give one .* delay >= 1"),
    # buffers
    "buf-missing-pop": (_set((BUF, "population"), "q"), r"^buffer 'buf_h': population 'q' does not"),
    "buf-input": (_set((BUF, "population"), "x"), r"^buffer 'buf_h': cannot sit on input population"),
    "buf-depth": (_set((BUF, "depth"), 0), r"^buffer 'buf_h': depth must be an int in \[1, 1024\] taps, got 0"),
    "buf-decay-empty": (_set((BUF, "decay"), ()), r"^buffer 'buf_h': decay must be a non-empty"),
    "buf-decay-range": (_set((BUF, "decay"), (1.5,)), r"decay factors must be numbers in \[0, 1\]"),
    "buf-decay-nan": (_set((BUF, "decay"), (NAN,)), r"decay factors must be numbers in \[0, 1\]"),
    "buf-nd-decays": (_set((BUF, "decay"), (0.8, 0.5)),
                      r"^buffer 'buf_h': decay needs one factor for time plus one per spatial axis: "
                      r"shape \(\) has 0 spatial axes, so 1 factors, got 2"),
    "buf-nd-shape": (lambda g: _nd(g, shape=(2, 2), radius=(0, 0), decay=(0.8, 0.5, 0.5)),
                     r"^buffer 'buf_h': grid shape \(2, 2\) holds 4 neurons but population 'h' has 3"),
    "buf-nd-radius": (lambda g: _nd(g, shape=(3,), radius=(2,), decay=(0.8, 0.5)),
                      r"^buffer 'buf_h': radius 2 does not fit an axis of 3 neurons"),
    "buf-nd-radius-count": (lambda g: _nd(g, shape=(3,), radius=(), decay=(0.8, 0.5)),
                            r"^buffer 'buf_h': radius needs one int per spatial axis \(1\)"),
    "buf-learn-bound": (lambda g: _nd(g, shape=(3,), radius=(1,), decay=(0.1, 0.1), learn=True, gain=0.2),
                        r"^buffer 'buf_h': learned decays can reach loop gain .* >= 1"),
    "buf-gain": (_set((BUF, "gain"), NAN), r"^buffer 'buf_h': gain must be a finite number"),
    "buf-twice": (lambda g: g.add(ToroidalBuffer("buf_h2", "h", 2)),
                  r"^buffer 'buf_h2': population 'h' already has buffer 'buf_h'"),
    "buf-loop-gain": (_set((BUF, "gain"), 0.5),
                      r"^buffer 'buf_h': loop gain .* = 1\.22 >= 1 .* relaxation diverges"),
    # probes
    "probe-pop": (_set((PROBE, "population"), "q"), r"^probe 'p': population 'q' does not exist"),
    "probe-kind": (_set((PROBE, "what"), "voltage"),
                   r"^probe 'p': unknown probe kind 'voltage' \(known: spikes, raster, state\)"),
    # meta
    "meta": (_set(("meta", "obj"), object()), r"^graph meta: must be a JSON-serialisable"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_validation_errors(case):
    mutate, pattern = CASES[case]
    g = make_graph()
    mutate(g)
    with pytest.raises(GraphError, match=pattern):
        validate_graph(g)


def test_graph_without_input_or_state():
    with pytest.raises(GraphError, match=r"^graph: no input population"):
        Graph().validate()
    g = Graph()
    g.add(Population("x", 2, "input"))
    with pytest.raises(GraphError, match=r"^graph: no non-input population"):
        g.validate()


def test_symmetric_delay0_counts_reverse_edge():
    # validate_graph rejects symmetric delay 0 before reaching the cycle check, but the check
    # itself must still count the feedback direction: h <-> y at delay 0 is a loop on its own.
    g = make_graph()
    g.connections[1].delay = 0
    with pytest.raises(GraphError, match=r"delay-0 cycle .*(h -> y -> h|y -> h -> y)"):
        _check_cycles(g)


# -- save / load --------------------------------------------------------------------------------
def assert_same(a: Graph, b: Graph):
    assert list(a.populations) == list(b.populations)
    for pa, pb in zip(a.populations.values(), b.populations.values()):
        assert (pa.name, pa.size, pa.model, pa.params) == (pb.name, pb.size, pb.model, pb.params)
        assert [type(v) for v in pa.params.values()] == [type(v) for v in pb.params.values()]
        assert (pa.bias is None) == (pb.bias is None)
        if pa.bias is not None:
            assert pb.bias.dtype == pa.bias.dtype and np.array_equal(pa.bias, pb.bias)
    assert [c.name for c in a.connections] == [c.name for c in b.connections]
    for ca, cb in zip(a.connections, b.connections):
        assert (ca.pre, ca.post, ca.delay, ca.symmetric, ca.learning) == \
               (cb.pre, cb.post, cb.delay, cb.symmetric, cb.learning)
        assert cb.weight.dtype == ca.weight.dtype and np.array_equal(ca.weight, cb.weight)
        assert (ca.mask is None) == (cb.mask is None)
        if ca.mask is not None:
            assert cb.mask.dtype == np.bool_ and np.array_equal(ca.mask, cb.mask)
    assert a.buffers == b.buffers and all(isinstance(x.decay, tuple) for x in b.buffers)
    assert a.probes == b.probes and a.meta == b.meta


@pytest.mark.parametrize("name", ["model", "model.npz"])
def test_round_trip(tmp_path, name):
    g = make_graph()
    g.populations["s"] = Population("s", 2, "stochastic", {"seed": 3, "reset": "zero"})
    g.connections[1].weight = g.connections[1].weight.astype(np.float32)
    save_graph(g, tmp_path / name)
    back = load_graph(tmp_path / name)
    assert_same(g, back)
    assert back.connections[1].weight.dtype == np.float32
    assert back.populations["h"].bias.dtype == np.float64
    assert back.connections[0].learning == LearningRule("eqprop", {"beta": 0.5, "steps": 20})
    assert sorted(os.listdir(tmp_path)) == [name]  # no temporary siblings left behind


def test_save_replaces_existing_model(tmp_path):
    g = make_graph()
    save_graph(g, tmp_path / "m")
    g.connections[0].weight = g.connections[0].weight * 2
    save_graph(g, tmp_path / "m")
    assert np.array_equal(load_graph(tmp_path / "m").connections[0].weight, g.connections[0].weight)
    assert os.listdir(tmp_path) == ["m"]


def test_save_refuses_foreign_directory(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "thesis.tex").write_text("precious")
    with pytest.raises(ModelFileError, match="not a saved neurotep graph"):
        save_graph(make_graph(), tmp_path / "docs")
    assert (tmp_path / "docs" / "thesis.tex").read_text() == "precious"


def test_save_validates_first(tmp_path):
    g = make_graph()
    g.connections[0].weight[0, 0] = NAN
    with pytest.raises(GraphError, match="non-finite"):
        save_graph(g, tmp_path / "m")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name", ["m", "m.npz"])
def test_failed_save_leaves_nothing(tmp_path, monkeypatch, name):
    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        save_graph(make_graph(), tmp_path / name)
    assert os.listdir(tmp_path) == []


def test_failed_save_keeps_previous_model(tmp_path, monkeypatch):
    g = make_graph()
    save_graph(g, tmp_path / "m")
    monkeypatch.setattr(np, "savez", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        save_graph(make_graph(), tmp_path / "m")
    assert os.listdir(tmp_path) == ["m"]
    assert_same(g, load_graph(tmp_path / "m"))


# Corruptions: each must be a one-line ModelFileError.
@pytest.fixture
def saved(tmp_path):
    save_graph(make_graph(), tmp_path / "m")
    return tmp_path / "m"


def _edit_json(d, **changes):
    doc = json.loads((d / "graph.json").read_text())
    doc.update(changes)
    (d / "graph.json").write_text(json.dumps(doc))
    return doc


def _load_fails(path, pattern):
    with pytest.raises(ModelFileError, match=pattern) as info:
        load_graph(path)
    assert "\n" not in str(info.value)


def test_missing_files(tmp_path, saved):
    _load_fails(tmp_path / "nope", r"no saved graph at this path")
    (saved / "arrays.npz").unlink()
    _load_fails(saved, r"missing arrays\.npz")
    (saved / "graph.json").unlink()
    _load_fails(saved, r"missing graph\.json")


def test_flipped_byte_is_corrupt(saved):
    data = bytearray((saved / "arrays.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (saved / "arrays.npz").write_bytes(bytes(data))
    _load_fails(saved, r"checksum mismatch, the file is corrupt")


def test_truncated(tmp_path, saved):
    data = (saved / "arrays.npz").read_bytes()
    (saved / "arrays.npz").write_bytes(data[: len(data) // 2])
    _load_fails(saved, r"checksum mismatch")
    # Even with a matching checksum, a cut-off archive is reported, not crashed on.
    _edit_json(saved, arrays_sha256=hashlib.sha256(data[: len(data) // 2]).hexdigest())
    _load_fails(saved, r"truncated, corrupt or unreadable NPZ")
    save_graph(make_graph(), tmp_path / "f.npz")
    data = (tmp_path / "f.npz").read_bytes()
    (tmp_path / "f.npz").write_bytes(data[: len(data) - 100])
    _load_fails(tmp_path / "f.npz", r"truncated, corrupt or unreadable NPZ")


def test_bad_json_format_and_version(saved):
    _edit_json(saved, format_version=3)
    _load_fails(saved, r"unsupported format_version 3 \(supported: 1, 2\)")
    _edit_json(saved, format_version=1, format="other-graph")
    _load_fails(saved, r"wrong format 'other-graph', expected 'neurotep-graph'")
    (saved / "graph.json").write_text('{"format": "neurotep-graph", ')
    _load_fails(saved, r"graph\.json: invalid JSON")


def test_malformed_json_missing_array_and_invalid_graph(saved):
    doc = json.loads((saved / "graph.json").read_text())

    def write(d):
        (saved / "graph.json").write_text(json.dumps(d))

    write(dict(doc, populations=None))
    _load_fails(saved, r"malformed graph JSON")
    doc["populations"][1]["bias"] = "nope"
    write(doc)
    _load_fails(saved, r"refers to array 'nope', which is missing")
    doc["populations"][1].update(bias="p1.bias", size=5)
    write(doc)
    _load_fails(saved, r"saved graph is invalid: population 'h': bias must be a float array")


def test_single_file_checksum(tmp_path):
    path = tmp_path / "f.npz"
    save_graph(make_graph(), path)
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["c0.weight"] = arrays["c0.weight"] + 1.0  # a valid zip, but not the saved weights
    np.savez(path, **arrays)
    _load_fails(path, r"checksum mismatch, the arrays are corrupt")
    del arrays["__graph_json__"]
    np.savez(path, **arrays)
    _load_fails(path, r"no __graph_json__ entry")


EXPLODED: list[str] = []


def _explode(tag):
    EXPLODED.append(tag)
    return tag


class Bomb:
    def __reduce__(self):
        return _explode, ("unpickled!",)


def test_pickled_object_array_is_refused(tmp_path, saved):
    # Directory form: swap in a pickled object array and fix up the checksum, so only the
    # allow_pickle=False guard stands between the file and code execution.
    with np.load(saved / "arrays.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["c0.weight"] = np.array([Bomb()], dtype=object)
    np.savez(saved / "arrays.npz", **arrays)
    _edit_json(saved, arrays_sha256=hashlib.sha256((saved / "arrays.npz").read_bytes()).hexdigest())
    _load_fails(saved, r"member 'c0\.weight\.npy' is an array of Python objects \(pickled data\), which neurotep never loads")
    # Single-file form.
    path = tmp_path / "f.npz"
    save_graph(make_graph(), path)
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["p1.bias"] = np.array([Bomb()], dtype=object)
    np.savez(path, **arrays)
    _load_fails(path, r"member 'p1\.bias\.npy' is an array of Python objects")
    assert EXPLODED == []


def test_arrays_digest_sensitive_to_dtype_and_shape():
    a = np.arange(6, dtype=np.int64)
    base = arrays_digest({"a": a})
    assert base == arrays_digest({"a": a.copy()})
    assert base != arrays_digest({"a": a.reshape(2, 3)})
    assert base != arrays_digest({"a": a.view(np.float64)})
    assert base != arrays_digest({"b": a})
    assert re.fullmatch(r"[0-9a-f]{64}", base)
