"""Reading a run directory: what the profiler is given, and the only place it reads files.

A run directory (:func:`neurotep.runner.save_run`) holds ``run.json``, ``graph/`` (the network that
ran: in spiking mode its spiking form) and, for spiking runs, ``spikes.npz`` with the arrays
``per_step/<pop>`` (T,), ``per_neuron/<pop>`` (N,), ``per_sample/<pop>`` (B,) and optionally
``raster/<pop>`` (T, B, N), all summed over the ``samples`` test images. Kept apart from the
counting (:mod:`neurotep.profile.counts`) so that a change of the run directory's layout stays
here; every problem is a one-line :class:`ProfileError`.
"""

from __future__ import annotations

import json
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


def load_run(run_dir: str | Path) -> tuple[Path, dict, Graph, dict[str, np.ndarray] | None]:
    """``(path, run.json, graph, spike arrays or None)``; a one-line :class:`ProfileError` for
    anything missing or malformed."""
    from neurotep.graph import load_graph

    p = Path(run_dir)
    if not p.exists():
        raise ProfileError(f"run directory {str(p)!r} does not exist: write one with `neurotep run MODEL --out DIR`")
    if not p.is_dir():
        raise ProfileError(f"{str(p)!r} is not a directory: pass a run directory written by `neurotep run --out DIR`")
    missing = [n for n, ok in ((RUN_JSON, (p / RUN_JSON).is_file()), (GRAPH_DIR + "/", (p / GRAPH_DIR).is_dir())) if not ok]
    if missing:
        raise ProfileError(f"{p}: no {' and no '.join(missing)}; not a neurotep run directory "
                           "(write one with `neurotep run MODEL --out DIR`)")
    try:
        run = json.loads((p / RUN_JSON).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ProfileError(f"{p / RUN_JSON}: unreadable or invalid JSON ({e})") from None
    if not isinstance(run, dict):
        raise ProfileError(f"{p / RUN_JSON}: expected a JSON object, got {type(run).__name__}")
    graph = load_graph(p / GRAPH_DIR)  # ModelFileError (a NeurotepError) names the problem
    mode = run.get("mode")
    if mode not in ("spiking", "rate"):
        raise ProfileError(f"{p / RUN_JSON}: unknown mode {mode!r} (expected spiking or rate)")
    _positive_int(run, "samples", p / RUN_JSON)
    _positive_int(run, "steps", p / RUN_JSON)
    spikes = None
    if mode == "spiking":
        f = p / SPIKES_NPZ
        if not f.is_file():
            raise ProfileError(f"{p}: a spiking run without {SPIKES_NPZ}; re-create it with `neurotep run --spiking`")
        try:
            with np.load(f, allow_pickle=False) as z:
                spikes = {k: z[k] for k in z.files}
        except Exception as e:  # BadZipFile, ValueError (pickled data), OSError, EOFError
            raise ProfileError(f"{f}: truncated, corrupt or unreadable ({type(e).__name__}: {e})") from None
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
