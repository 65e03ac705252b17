"""What a run recorded, in one type that every backend returns and the runner and profiler read:
it lives below the backends so that neither imports the other for it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class Recording:
    """Spike counts of a run. ``per_step[p]``: spikes of population ``p`` at each step summed over
    the batch, shape (T,); ``per_neuron[p]``: totals per neuron, (N,); ``per_sample[p]``: totals
    per sample, (B,); ``raster[p]``: (T, B, N) bool when asked for; ``state[p]``: (T, B, N)
    outputs of a population whose ``state`` a probe asks for."""

    per_step: dict[str, torch.Tensor] = field(default_factory=dict)
    per_neuron: dict[str, torch.Tensor] = field(default_factory=dict)
    per_sample: dict[str, torch.Tensor] = field(default_factory=dict)
    raster: dict[str, torch.Tensor] = field(default_factory=dict)
    state: dict[str, torch.Tensor] = field(default_factory=dict)


def merge(recs: list[Recording]) -> Recording:
    """Recordings of consecutive batches as one."""
    first = recs[0]
    return Recording(
        per_step={p: sum(r.per_step[p] for r in recs) for p in first.per_step},
        per_neuron={p: sum(r.per_neuron[p] for r in recs) for p in first.per_neuron},
        per_sample={p: torch.cat([r.per_sample[p] for r in recs]) for p in first.per_sample},
        raster={p: torch.cat([r.raster[p] for r in recs], dim=1) for p in first.raster},
        state={p: torch.cat([r.state[p] for r in recs], dim=1) for p in first.state},
    )


def save_recording(rec: Recording, path) -> None:
    """Spike counts (and rasters when recorded) as an NPZ of plain arrays."""
    arrays = {}
    for kind in ("per_step", "per_neuron", "per_sample", "raster", "state"):
        for name, arr in getattr(rec, kind).items():
            arrays[f"{kind}/{name}"] = arr.cpu().numpy()
    np.savez_compressed(path, **arrays)
