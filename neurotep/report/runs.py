"""Reading run directories for the report: ``run.json``, ``spikes.npz`` and ``profile*.json``.

The files are read by the profiler's reader (:mod:`neurotep.profile.rundir`: one reader of the
run directory's layout for both); this module adds what only the report needs (accuracy and
populations in ``run.json``, spike arrays grouped by kind and checked against it, the profiles).
Everything is checked here, before anything is written, so that bad input ends as one
:class:`~neurotep.errors.NeurotepError` line and no report directory. Rasters (the only large
arrays) are read lazily, a few samples at a time for the figures.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurotep.errors import NeurotepError
from neurotep.profile.rundir import RUN_JSON, SPIKES_NPZ, read_json, read_run_json, read_spikes

REQUIRED_KEYS = ("test_accuracy", "populations")  # besides mode, samples and steps
SPIKE_KINDS = ("per_step", "per_neuron", "per_sample", "raster")
PROFILE_HINT = "neurotep profile {run} --hardware loihi2"


@dataclass
class Profile:
    """One ``profile*.json`` of a run directory."""

    hardware: str  # e.g. "loihi2"
    title: str  # e.g. "Loihi 2"
    file: str  # file name inside the run directory
    data: dict

    @property
    def energy(self) -> float:
        return float(self.data["energy_joules"])

    def breakdown(self, kind: str) -> dict[str, float]:
        """``kind`` = "by_operation" or "by_population": {name: joules per inference}."""
        return {str(k): float(v) for k, v in (self.data.get("energy_breakdown", {}).get(kind) or {}).items()}


@dataclass
class RunData:
    """A validated run directory."""

    path: Path
    name: str  # label, unique within one report
    slug: str  # file-name-safe form of ``name``
    summary: dict  # run.json
    spikes: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # kind -> population -> array
    raster_pops: list[str] = field(default_factory=list)  # populations with a raster/<pop> member
    profiles: list[Profile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def spiking(self) -> bool:
        return self.summary.get("mode") == "spiking"

    @property
    def samples(self) -> int:
        return int(self.summary["samples"])

    @property
    def steps(self) -> int:
        return int(self.summary["steps"])

    @property
    def accuracy(self) -> float:
        return float(self.summary["test_accuracy"])

    def population(self, pop: str) -> dict:
        return self.summary["populations"].get(pop, {})

    @property
    def spike_pops(self) -> list[str]:
        """Populations with recorded spike counts, in run.json's order (input first)."""
        rec = self.spikes.get("per_neuron", {})
        order = [p for p in self.summary["populations"] if p in rec]
        return order + [p for p in rec if p not in order]

    @property
    def hidden_pops(self) -> list[str]:
        """Recorded spiking populations that the network computes (all but the input encoder)."""
        return [p for p in self.spike_pops if self.population(p).get("model") != "input"]

    def activity(self) -> float | None:
        """Spikes per neuron per step (and per sample) over the non-input spiking populations:
        the x axis of the sparsity scatter. None for rate runs or when nothing was recorded."""
        pops = self.hidden_pops
        if not self.spiking or not pops:
            return None
        spikes = sum(float(self.spikes["per_neuron"][p].sum()) for p in pops)
        neurons = sum(int(self.spikes["per_neuron"][p].size) for p in pops)
        return spikes / (neurons * self.samples * self.steps)

    def raster(self, pop: str, samples: int | None = None) -> np.ndarray:
        """``raster/<pop>`` as (T, B, N) bool, optionally only its first ``samples`` samples."""
        key = f"raster/{pop}"
        arr = read_spikes(self.path / SPIKES_NPZ, key.__eq__)[0].get(key)
        if arr is None:
            raise NeurotepError(f"{self.path / SPIKES_NPZ}: no {key}")
        if arr.ndim != 3:
            raise NeurotepError(f"{self.path / SPIKES_NPZ}: {key} has shape {arr.shape}, expected (steps, samples, neurons)")
        arr = arr.astype(bool, copy=False)
        return arr if samples is None else arr[:, :samples]

    def profile(self, hardware: str) -> Profile | None:
        return next((p for p in self.profiles if p.hardware == hardware), None)


def _check_summary(s: dict, path: Path) -> dict:
    acc = s["test_accuracy"]
    if not isinstance(acc, (int, float)) or isinstance(acc, bool) or not 0 <= acc <= 1:
        raise NeurotepError(f"{path}: test_accuracy must be a number in [0, 1], got {acc!r}")
    pops = s["populations"]
    if not isinstance(pops, dict) or not pops:
        raise NeurotepError(f"{path}: populations must be a non-empty object")
    for name, p in pops.items():
        n = p.get("neurons") if isinstance(p, dict) else None
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
            raise NeurotepError(f"{path}: population {name!r} needs a positive integer 'neurons'")
    return s


def _split(key: str) -> tuple[str, str] | None:
    """``(kind, population)`` of a spikes.npz member the report reads, else None (newer runners may add more)."""
    kind, _, pop = key.partition("/")
    return (kind, pop) if kind in SPIKE_KINDS and pop else None


def _read_spikes(path: Path, summary: dict) -> tuple[dict[str, dict[str, np.ndarray]], list[str]]:
    """The small arrays of spikes.npz (all but rasters) and the names of the rastered populations."""
    arrays, names = read_spikes(path, lambda k: (kp := _split(k)) is not None and kp[0] != "raster")
    spikes: dict[str, dict[str, np.ndarray]] = {}
    raster_pops: list[str] = []
    for key in names:
        if (kp := _split(key)) is None:
            continue
        kind, pop = kp
        if kind == "raster":
            raster_pops.append(pop)
            continue
        try:
            spikes.setdefault(kind, {})[pop] = np.asarray(arrays[key], dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise NeurotepError(f"{path}: not a readable spikes file ({key} is not numeric: {e})") from None
    steps, samples, pops = summary["steps"], summary["samples"], summary["populations"]
    for kind, expected in (("per_step", lambda p: steps), ("per_sample", lambda p: samples),
                           ("per_neuron", lambda p: pops[p]["neurons"] if p in pops else None)):
        for pop, arr in spikes.get(kind, {}).items():
            n = expected(pop)
            if arr.ndim != 1 or (n is not None and arr.size != n):
                raise NeurotepError(f"{path}: {kind}/{pop} has shape {arr.shape}, but run.json says {n}; "
                                    "spikes.npz and run.json come from different runs")
    return spikes, raster_pops


def _read_profile(path: Path) -> Profile:
    d = read_json(path)
    if not isinstance(d, dict):
        raise NeurotepError(f"{path}: expected a JSON object, got {type(d).__name__}")
    e = d.get("energy_joules")
    if not isinstance(e, (int, float)) or isinstance(e, bool) or not math.isfinite(e) or e < 0:
        raise NeurotepError(f"{path}: energy_joules must be a non-negative number, got {e!r}; "
                            "not a profile written by `neurotep profile`")
    bd = d.get("energy_breakdown", {})
    if not isinstance(bd, dict) or any(not isinstance(bd.get(k, {}), dict) for k in ("by_operation", "by_population")):
        raise NeurotepError(f"{path}: energy_breakdown must hold by_operation and by_population objects")
    for k in ("by_operation", "by_population"):
        for name, v in (bd.get(k) or {}).items():
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                raise NeurotepError(f"{path}: energy_breakdown.{k}.{name} must be a number, got {v!r}")
    stem = path.stem  # profile or profile-<hardware>
    hw = d.get("hardware") or (stem.split("-", 1)[1] if "-" in stem else "default")
    return Profile(hardware=str(hw), title=str(d.get("hardware_title") or hw), file=path.name, data=d)


def _compare_profile(run: RunData, prof: Profile) -> None:
    """Warn when a profile was computed for another run (the run directory was overwritten)."""
    pr = prof.data.get("run")
    if not isinstance(pr, dict):
        return
    diff = [k for k in ("mode", "precision", "samples", "steps", "spikes_total")
            if k in pr and k in run.summary and pr[k] != run.summary[k]]
    if diff:
        run.warnings.append(f"`{prof.file}` was computed for a different run ({', '.join(diff)} differ from run.json): "
                            f"re-run `{PROFILE_HINT.format(run=run.path)}`.")


def load_run(path: str | Path) -> RunData:
    """Read and check one run directory (see :func:`neurotep.runner.save_run`); ``graph/`` is not
    needed (the report does not read the network)."""
    path, summary = read_run_json(path, graph=False, keys=REQUIRED_KEYS)
    summary = _check_summary(summary, path / RUN_JSON)
    run = RunData(path=path, name=path.name or str(path), slug="", summary=summary)
    if (path / SPIKES_NPZ).is_file():
        run.spikes, run.raster_pops = _read_spikes(path / SPIKES_NPZ, summary)
    elif run.spiking:
        run.warnings.append(f"spiking run without `{SPIKES_NPZ}`: no spike counts to plot.")
    # One profile per hardware: `neurotep profile` writes profile-<hw>.json and a copy of the latest
    # as profile.json, so the named files win and profile.json only adds a hardware they lack.
    files = sorted(path.glob("profile*.json"), key=lambda p: (p.name == "profile.json", p.name))
    for f in files:
        prof = _read_profile(f)
        if run.profile(prof.hardware) is not None:
            if f.name == "profile.json":
                continue
            other = run.profile(prof.hardware).file
            raise NeurotepError(f"{path}: {other} and {f.name} both profile hardware {prof.hardware!r}; remove one")
        run.profiles.append(prof)
        _compare_profile(run, prof)
    return run


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "run"


def load_runs(paths: list[str | Path]) -> list[RunData]:
    """Read every run directory, naming each uniquely (its directory name, else parent/name)."""
    if not paths:
        raise NeurotepError("give at least one run directory")
    runs = [load_run(p) for p in paths]
    names = [r.name for r in runs]
    for r in runs:
        if names.count(r.name) > 1 and r.path.resolve().parent.name:
            r.name = f"{r.path.resolve().parent.name}/{r.name}"
    seen: dict[str, int] = {}
    for r in runs:
        base = r.name
        seen[base] = seen.get(base, 0) + 1
        if seen[base] > 1:
            r.name = f"{base} ({seen[base]})"
    slugs: set[str] = set()
    for r in runs:
        s = _slug(r.name)
        s2, i = s, 2
        while s2 in slugs:
            s2, i = f"{s}-{i}", i + 1
        r.slug = s2
        slugs.add(s2)
    return runs
