"""Fuzz suite, command-line half: hypothesis draws argument lists for ``run``, ``train``,
``compile``, ``profile``, ``report`` and ``import-nir`` (good values, values out of range, wrong
types, junk, paths that are files, missing or the input itself) and calls the CLI in-process.

Every example must end in one of two ways:
* exit 0 with a complete output (``run.json`` with its keys, the output marker, no temporaries);
* exit 2 with exactly one line on stderr, no traceback, and nothing written;
and within a time bound. Any other exit code or an exception escaping ``main`` fails the test.

``make test`` runs a bounded, derandomised number of examples (the same ones on every run);
the ``slow`` test runs more; ``NEUROTEP_FUZZ_EXAMPLES=N`` runs N random ones, to hunt for bugs.

Defects of the previous release that these examples reproduce (checked against it): ``--seed -1``
ended in numpy's ValueError traceback; ``--lr-lava 0`` trained nothing and reported success;
``--steps -5`` / ``--steps 0`` ran; ``--device tpu`` was a torch traceback; ``--out`` onto a
foreign directory or the model deleted it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurotep.cli import main
from neurotep.graph import save_graph
from neurotep.outputs import MARKER
from neurotep.variants import base

RANDOM = int(os.environ.get("NEUROTEP_FUZZ_EXAMPLES", "0"))
TIME_BOUND = 30.0  # seconds per example: every legal value below is drawn small enough to finish well inside it
RUN_KEYS = {"backend", "executed_on", "mode", "samples", "steps", "test_accuracy", "spikes_total", "wall_seconds",
            "populations"}


def _settings(n: int):
    return settings(max_examples=RANDOM or n, derandomize=not RANDOM, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A model, a run of it, a file, and a scratch folder for outputs."""
    root = tmp_path_factory.mktemp("fuzzcli")
    save_graph(base.build(n_in=64, n_out=10, seed=0), root / "m" / "model")
    assert main(["run", str(root / "m"), "--samples", "4", "--spiking", "--steps", "5", "--out", str(root / "run")]) == 0
    (root / "file.txt").write_text("not a model")
    (root / "outs").mkdir()
    return root


# -- argument strategies -------------------------------------------------------------------------
junk = st.sampled_from(["", "-", "nan", "inf", "-inf", "1e999", "0x10", "1.5", "ten", "--", "\u00e9", "3 4", "-0"])
small_int = st.integers(1, 12).map(str)
bad_int = st.one_of(st.integers(-10**12, 0).map(str), st.integers(10**9, 10**15).map(str), junk)
pos_float = st.floats(1e-6, 1e-2).map(repr)
bad_float = st.one_of(st.floats(-1e9, 0).map(repr), junk)


def opt(name: str, good, bad=None):
    """``[]``, ``[name, good]`` or ``[name, bad]``."""
    choices = [st.just([]), good.map(lambda v: [name, v])]
    if bad is not None:
        choices.append(bad.map(lambda v: [name, v]))
    return st.one_of(*choices)


def flag(name: str):
    return st.sampled_from([[], [name]])


MODEL = st.sampled_from(["MODEL", "MODEL/model", "RUN", "FILE", "MISSING", ""])
OUT = st.sampled_from(["NEW", "NEW/deep/er", "MODEL", "RUN", "FILE", "FILE/under", "ROOT"])
DEVICE = opt("--device", st.just("cpu"), st.sampled_from(["cuda", "cuda:7", "tpu", "CPU", "cpu:0", "meta"]))


@st.composite
def run_argv(draw):
    """Half the examples are valid throughout (they must succeed or fail cleanly on the model's own
    limits); the other half may take a bad value for any option."""
    valid = draw(st.booleans())

    def o(name, good, bad):
        return draw(opt(name, good, None if valid else bad))

    model = "MODEL" if valid else draw(MODEL)
    out = draw(st.sampled_from(["NEW", "NEW/deep/er"])) if valid else draw(OUT)
    return ["run", model, "--out", out] + draw(flag("--spiking")) + sum(draw(st.permutations(
        [o("--samples", small_int, bad_int), o("--steps", small_int, bad_int),
         o("--backend", st.just("torch"), st.sampled_from(["lava-ish", "TORCH", "gpu"])),
         o("--precision", st.sampled_from(["float", "fixed"]), st.sampled_from(["double", "int8"])),
         o("--encoding", st.sampled_from(["poisson", "current"]), st.sampled_from(["morse", "delta!"])),
         o("--neuron", st.sampled_from(["lif", "stochastic"]), st.sampled_from(["izhikevich", "LIF"])),
         o("--hardware", st.nothing(), st.sampled_from(["loihi2", "truenorth"])),
         o("--dataset", st.just("digits"), st.sampled_from(["cifar", "mnist", "cue-recall-x"])),
         draw(flag("--raster")), draw(flag("--overwrite")),
         o("--device", st.just("cpu"), st.sampled_from(["cuda", "cuda:7", "tpu", "CPU", "cpu:0", "meta"]))])), [])


@st.composite
def cheap_argv(draw):
    """Commands that fail before any long work, or finish fast, whatever they are given."""
    kind = draw(st.sampled_from(["train", "compile", "compile-nir", "import", "profile", "report"]))
    if kind == "train":  # a valid train takes ~10 s: every example here has at least one bad value
        bad = draw(st.sampled_from([["--epochs", "0"], ["--epochs", "-3"], ["--seed", "-1"], ["--seed", "2" * 30],
                                    ["--lr-lava", "0"], ["--lr-lava", "nan"], ["--device", "tpu"],
                                    ["--backend", "gpu"], ["--method", "hebb"], ["--dataset", "cifar"]]))
        return ["train", draw(st.sampled_from(["toreqprop", "nope", ""])), "--out", draw(OUT)] + bad + draw(DEVICE)
    if kind == "compile":
        return ["compile", draw(MODEL)] + draw(opt("--mode", st.sampled_from(["spiking", "rate"]), junk)) \
            + draw(opt("--precision", st.sampled_from(["float", "fixed"]), junk)) \
            + draw(opt("--neuron", st.sampled_from(["lif", "stochastic"]), junk)) + draw(flag("--json"))
    if kind == "compile-nir":
        return ["compile", draw(MODEL), "--to", "nir", "--out", draw(st.sampled_from(["NEW.nir", "FILE", "ROOT", "MODEL"]))] \
            + draw(opt("--dt", pos_float, bad_float)) + draw(flag("--overwrite"))
    if kind == "import":
        return ["import-nir", draw(st.sampled_from(["FILE", "MISSING", "MODEL"])), "--out", draw(OUT)] \
            + draw(opt("--dt", pos_float, bad_float)) + draw(opt("--producer", st.sampled_from(["snntorch", "norse"]), junk))
    if kind == "profile":
        return ["profile", draw(st.sampled_from(["RUN", "MODEL", "FILE", "MISSING"]))] \
            + draw(opt("--hardware", st.sampled_from(["loihi2", "gpu-dense", "45nm"]), junk)) + draw(flag("--json"))
    return ["report", draw(st.sampled_from(["RUN", "RUN", "MODEL", "FILE", "MISSING"])), "--out",
            draw(st.one_of(st.just("NEW"), OUT))] + draw(flag("--overwrite"))


# -- the contract --------------------------------------------------------------------------------
def _concrete(argv: list[str], world: Path, scratch: Path) -> list[str]:
    names = {"MODEL": world / "m", "RUN": world / "run", "FILE": world / "file.txt", "MISSING": world / "missing",
             "ROOT": world, "NEW": scratch / "new", "NEW.nir": scratch / "new.nir"}
    out = []
    for a in argv:
        head, _, tail = a.partition("/")
        out.append(str(names[head] / tail if tail else names[head]) if head in names else a)
    return out


def _snapshot(world: Path) -> dict:
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in world.rglob("*")
            if p.is_file() and "outs" not in p.parts}


OUTCOMES: dict[str, int] = {}  # "run:0", "report:2", ...: what the examples did, checked by the last test


def check_contract(argv: list[str], world: Path) -> None:
    with _scratch(world) as scratch:
        args = _concrete(argv, world, scratch)
        before = _snapshot(world)
        err = io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = main(args)
        elapsed = time.perf_counter() - t0
        err = err.getvalue()
        assert elapsed < TIME_BOUND, f"{args} took {elapsed:.1f} s"
        assert rc in (0, 2), (rc, args, err)
        OUTCOMES[f"{args[0]}:{rc}"] = OUTCOMES.get(f"{args[0]}:{rc}", 0) + 1
        assert "Traceback" not in err, err
        stray = [p for p in world.rglob(".*tmp-*")] + [p for p in world.rglob(".*.lock")]
        assert not stray, f"{args} left {stray}"
        if rc == 2:
            assert err.startswith("neurotep: error:") and err.count("\n") == 1, (args, err)
            assert not any(scratch.iterdir()), f"{args} failed but wrote {list(scratch.iterdir())}"
            assert _snapshot(world) == before, f"{args} failed but changed files"
        else:
            changed = set(_snapshot(world)) ^ set(before)
            written = [p for p in scratch.rglob("*") if p.is_file()] + [Path(c) for c in changed]
            assert written or args[0] == "compile" or args[0] == "profile", args
            if args[0] == "run":
                out = Path(args[args.index("--out") + 1])
                doc = json.loads((out / "run.json").read_text())
                assert RUN_KEYS <= set(doc) and (out / MARKER).is_file() and (out / "graph" / "graph.json").is_file()


@contextlib.contextmanager
def _scratch(world: Path):
    import shutil
    import tempfile

    d = Path(tempfile.mkdtemp(dir=world / "outs"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)
        (world / "file.txt").write_text("not a model")  # compile --to nir --overwrite may have replaced it
        # an example that legitimately replaced the shared run (--overwrite) restores it for the next
        if not (world / "run" / "run.json").is_file():
            shutil.rmtree(world / "run", ignore_errors=True)
            assert main(["run", str(world / "m"), "--samples", "4", "--spiking", "--steps", "5",
                         "--out", str(world / "run")]) == 0


@_settings(40)
@given(argv=run_argv())
def test_run_arguments(world, argv):
    check_contract(argv, world)


@_settings(60)
@given(argv=cheap_argv())
def test_other_commands(world, argv):
    check_contract(argv, world)


@pytest.mark.slow
@_settings(200)
@given(argv=st.one_of(run_argv(), cheap_argv()))
def test_more_examples(world, argv):
    check_contract(argv, world)


def test_the_examples_reach_both_outcomes():
    """The strategies are worth something only if they produce successes as well as refusals."""
    if not OUTCOMES:
        pytest.skip("run together with the fuzz tests above")
    print("fuzz outcomes:", dict(sorted(OUTCOMES.items())))
    assert OUTCOMES.get("run:0", 0) >= 3 and OUTCOMES.get("run:2", 0) >= 10, OUTCOMES
