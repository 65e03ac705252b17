"""Reading a run directory: what the profiler is given, and the only place it reads files.

A run directory (:func:`neurotep.runner.save_run`) holds ``run.json``, ``graph/`` (the network that
ran: in spiking mode its spiking form) and, for spiking runs, ``spikes.npz`` with the arrays
``per_step/<pop>`` (T,), ``per_neuron/<pop>`` (N,), ``per_sample/<pop>`` (B,) and optionally
``raster/<pop>`` (T, B, N), all summed over the ``samples`` test images. What would take a
backend to derive, the runner computes when it saves the run and ``run.json`` carries:
``membrane_updates`` (NeuroBench's exact count, :mod:`neurotep.membranes`) and ``cores`` per chip
(:mod:`neurotep.placement`); a directory written before lacks them, and the profiler says so. Kept
apart from the counting (:mod:`neurotep.profile.counts`) so that a change of the run directory's
layout stays here (the report reads run directories through it too); every problem is a one-line
:class:`ProfileError`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from neurotep.errors import NeurotepError
from neurotep.graph import Graph


class ProfileError(NeurotepError):
    """A run directory cannot be profiled (missing, incomplete or corrupt), or the hardware is unknown."""


RUN_JSON, GRAPH_DIR, SPIKES_NPZ = "run.json", "graph", "spikes.npz"


def _positive_int(run: dict, key: str, where: Path) -> int:
    v = run.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ProfileError(f"{where}: run.json has no valid {key!r} (got {v!r}); re-create the run with `neurotep run`")
    return v


def read_json(path: Path) -> object:
    """A JSON file, or a one-line :class:`ProfileError` naming it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ProfileError(f"{path}: cannot read ({' '.join(str(e).split()) or type(e).__name__})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ProfileError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None


def read_run_json(run_dir: str | Path, graph: bool = True, keys: tuple[str, ...] = ()) -> tuple[Path, dict]:
    """``(path, run.json)`` of a run directory, with its ``mode``, ``samples`` and ``steps``
    checked and ``keys`` present; ``graph=False`` does not require ``graph/`` (the report does
    not read it)."""
    p = Path(run_dir)
    if not p.exists():
        raise ProfileError(f"run directory {str(p)!r} does not exist: write one with `neurotep run MODEL --out DIR`")
    if not p.is_dir():
        raise ProfileError(f"{str(p)!r} is not a directory: pass a run directory written by `neurotep run --out DIR`")
    need = ((RUN_JSON, (p / RUN_JSON).is_file()),) + (((GRAPH_DIR + "/", (p / GRAPH_DIR).is_dir()),) if graph else ())
    missing = [n for n, ok in need if not ok]
    if missing:
        raise ProfileError(f"{p}: no {' and no '.join(missing)}; not a neurotep run directory "
                           "(write one with `neurotep run MODEL --out DIR`)")
    run = read_json(p / RUN_JSON)
    if not isinstance(run, dict):
        raise ProfileError(f"{p / RUN_JSON}: expected a JSON object, got {type(run).__name__}")
    missing = [k for k in ("mode", "samples", "steps") + tuple(keys) if k not in run]
    if missing:
        raise ProfileError(f"{p / RUN_JSON}: missing {', '.join(missing)}; not a run.json written by `neurotep run`")
    mode = run.get("mode")
    if mode not in ("spiking", "rate"):
        raise ProfileError(f"{p / RUN_JSON}: unknown mode {mode!r} (expected spiking or rate)")
    _positive_int(run, "samples", p / RUN_JSON)
    _positive_int(run, "steps", p / RUN_JSON)
    return p, run


def read_spikes(f: Path, wanted: Callable[[str], bool] | None = None) -> tuple[dict[str, np.ndarray], list[str]]:
    """The arrays of ``spikes.npz`` that ``wanted(name)`` picks (all by default: the report leaves
    the large rasters unread) and the names of all its members."""
    try:
        with np.load(f, allow_pickle=False) as z:
            return {k: z[k] for k in z.files if wanted is None or wanted(k)}, list(z.files)
    except Exception as e:  # BadZipFile, ValueError (pickled data), OSError, EOFError
        raise ProfileError(f"{f}: not a readable spikes file (truncated or corrupt: {type(e).__name__}: {e})") from None


def load_run(run_dir: str | Path) -> tuple[Path, dict, Graph, dict[str, np.ndarray] | None]:
    """``(path, run.json, graph, spike arrays or None)``; a one-line :class:`ProfileError` for
    anything missing or malformed."""
    from neurotep.graph import load_graph

    p, run = read_run_json(run_dir)
    graph = load_graph(p / GRAPH_DIR)  # ModelFileError (a NeurotepError) names the problem
    spikes = None
    if run["mode"] == "spiking":
        f = p / SPIKES_NPZ
        if not f.is_file():
            raise ProfileError(f"{p}: a spiking run without {SPIKES_NPZ}; re-create it with `neurotep run --spiking`")
        spikes, _ = read_spikes(f)
    return p, run, graph, spikes


def read_sample_ids(run: dict, samples: int, where: Path) -> np.ndarray | None:
    """The data-set indices of the run's samples when ``run.json`` records them (``sample_ids``)."""
    ids = run.get("sample_ids")
    if ids is None:
        return None
    a = np.asarray(ids)
    if a.shape != (samples,) or not np.issubdtype(a.dtype, np.integer) or (a < 0).any():
        raise ProfileError(f"{where / RUN_JSON}: sample_ids must be {samples} non-negative ints, one per sample")
    return a.astype(np.int64)



OLD_RUN = "a run directory written before `neurotep run` recorded it; re-create the run to get it"


def _count(v, most: int | None = None) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0 and (most is None or v <= most)


def read_membrane_updates(run: dict, where: Path, bound: int) -> tuple[int | None, str]:
    """``(total, how)`` of NeuroBench's MembraneUpdates over the run, as ``run.json`` records it
    (:mod:`neurotep.membranes` replays the run when :func:`neurotep.runner.save_run` saves it), or
    ``(None, why not)``: a run that could not be replayed, or a directory written before."""
    m = run.get("membrane_updates")
    if m is None:
        return None, f"run.json holds no membrane_updates ({OLD_RUN})"
    if not (isinstance(m, dict) and isinstance(m.get("how"), str) and "total" in m
            and (m["total"] is None or _count(m["total"], bound))):
        raise ProfileError(f"{where / RUN_JSON}: membrane_updates must be {{total: null or an int from 0 to {bound}, "
                           "how: a sentence}; re-create the run with `neurotep run`")
    return m["total"], m["how"]


def read_cores(run: dict, chip: str, graph: Graph, where: Path) -> tuple[dict[str, int], str] | None:
    """``(neuro-cores per population, where they come from)`` on ``chip``, as ``run.json`` records
    them (:mod:`neurotep.placement` maps the run when it is saved), or None for a directory written
    before."""
    entry = run.get("cores", {}).get(chip) if isinstance(run.get("cores", {}), dict) else False
    if entry is None:
        return None
    cores = entry.get("cores") if isinstance(entry, dict) else None
    if not (isinstance(cores, dict) and set(cores) == set(graph.populations)
            and all(_count(v) for v in cores.values()) and isinstance(entry.get("note"), str)):
        raise ProfileError(f"{where / RUN_JSON}: cores.{chip} must be {{cores: {{population: int >= 0}} for every "
                           "population of graph/, note: a sentence}; re-create the run with `neurotep run`")
    return {p: cores[p] for p in graph.populations}, entry["note"]
