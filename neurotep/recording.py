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
    outputs of a population whose ``state`` a probe asks for; ``exit_step``: (B,) the step each
    sample of a delta-coded run exited at (:class:`EarlyExit`), else None."""

    per_step: dict[str, torch.Tensor] = field(default_factory=dict)
    per_neuron: dict[str, torch.Tensor] = field(default_factory=dict)
    per_sample: dict[str, torch.Tensor] = field(default_factory=dict)
    raster: dict[str, torch.Tensor] = field(default_factory=dict)
    state: dict[str, torch.Tensor] = field(default_factory=dict)
    exit_step: torch.Tensor | None = None


class EarlyExit:
    """Stop at convergence: a sample has settled once it has sent nothing (no spike, no message,
    no input change) for ``quiet`` consecutive steps. With ``quiet`` at least the longest delay,
    nothing is in flight then, and a delta-coded network (:mod:`neurotep.graph.delta`) that
    receives nothing sends nothing again: the exit changes no output, it only ends the work. A
    sample's exit step is the number of steps it ran (detection included); a sample that never
    settles runs every step."""

    def __init__(self, quiet: int, batch: int, steps: int, device=None):
        self.quiet = int(quiet)
        self.calm = torch.zeros(batch, dtype=torch.int64, device=device)
        self.step = torch.full((batch,), int(steps), dtype=torch.int64, device=device)
        self.done = torch.zeros(batch, dtype=torch.bool, device=device)

    def update(self, t: int, events: torch.Tensor) -> bool:
        """Take step ``t``'s event count per sample; returns whether every sample has exited."""
        self.calm = torch.where(events > 0, torch.zeros_like(self.calm), self.calm + 1)
        now = (self.calm >= self.quiet) & ~self.done
        self.step[now] = t + 1
        self.done |= now
        return bool(self.done.all())


def exit_steps(raster: dict[str, torch.Tensor], quiet: int, steps: int) -> torch.Tensor:
    """:class:`EarlyExit`'s exit steps from full (T, B, N) rasters (a backend that cannot stop a
    sample early, Lava, records every step and exits afterwards)."""
    events = sum(r.sum(2) for r in raster.values())
    ex = EarlyExit(quiet, events.shape[1], steps)
    for t in range(events.shape[0]):
        if ex.update(t, events[t]):
            break
    return ex.step


def merge(recs: list[Recording]) -> Recording:
    """Recordings of consecutive batches as one."""
    first = recs[0]
    return Recording(
        per_step={p: sum(r.per_step[p] for r in recs) for p in first.per_step},
        per_neuron={p: sum(r.per_neuron[p] for r in recs) for p in first.per_neuron},
        per_sample={p: torch.cat([r.per_sample[p] for r in recs]) for p in first.per_sample},
        raster={p: torch.cat([r.raster[p] for r in recs], dim=1) for p in first.raster},
        state={p: torch.cat([r.state[p] for r in recs], dim=1) for p in first.state},
        exit_step=None if first.exit_step is None else torch.cat([r.exit_step for r in recs]),
    )


def save_recording(rec: Recording, path) -> None:
    """Spike counts (and rasters when recorded) as an NPZ of plain arrays."""
    arrays = {}
    for kind in ("per_step", "per_neuron", "per_sample", "raster", "state"):
        for name, arr in getattr(rec, kind).items():
            arrays[f"{kind}/{name}"] = arr.cpu().numpy()
    if rec.exit_step is not None:
        arrays["exit_step"] = rec.exit_step.cpu().numpy()
    np.savez_compressed(path, **arrays)
