"""NeuroBench's MembraneUpdates of a run, by replaying it on the torch path: computed when the run
is saved, so that the profiler reads it from ``run.json`` and never runs a network.

NeuroBench counts the membranes that changed at each step; a run records spikes, not membranes.
Where the run can be replayed exactly (a float run of LIF neurons with its input spike rasters
recorded), :func:`replay_membrane_updates` steps the graph on the torch path
(:class:`neurotep.backends.torch.TorchNetwork`, CPU) from those rasters, and accepts the count only
when the replay reproduces every neuron's recorded spike count; otherwise it says why not, and
the profiler falls back to NeuroBench's upper bound.

It sits at the runner's level, beside :mod:`neurotep.placement`, because it runs a backend: the
profiler (:mod:`neurotep.profile`) reads recordings, never Lava or torch objects. It can go once
the backends record the per-step membrane changes with the spikes.
"""

from __future__ import annotations

import numpy as np

from neurotep.graph import SPIKING_MODELS, Graph
from neurotep.recording import Recording


def membrane_updates(graph: Graph, summary: dict, recording: Recording | None) -> dict:
    """``{"total": int or None, "how": sentence}`` for ``run.json``: the replayed total over the
    whole run (all samples), or None and why not. ``summary`` is the run's ``run.json``."""
    pops = [p.name for p in graph.populations.values() if p.model in SPIKING_MODELS]
    if not pops:
        return {"total": None, "how": "no spiking populations"}
    spikes = None
    if recording is not None:
        spikes = {f"{kind}/{name}": t.cpu().numpy() for kind in ("per_neuron", "raster")
                  for name, t in getattr(recording, kind).items()}
    missing = [p for p in pops if spikes is not None and f"per_neuron/{p}" not in spikes]
    if missing:
        return {"total": None, "how": f"no per-neuron spike counts of {missing[0]} to check a replay against"}
    events = {} if spikes is None else {p: np.rint(spikes[f"per_neuron/{p}"]).astype(np.int64) for p in pops}
    total, how = replay_membrane_updates(graph, summary, spikes, pops, events)
    return {"total": total, "how": how}


def replay_membrane_updates(graph: Graph, run: dict, spikes: dict | None, spiking_pops: list[str],
                            events: dict[str, np.ndarray]) -> tuple[int | None, str]:
    """NeuroBench's MembraneUpdates total (membranes that changed at each step, all of them at the
    first step) by replaying the run on the torch path from its recorded input spike rasters, or
    ``(None, reason)`` where the run cannot be replayed exactly.

    The replay is accepted only when it reproduces the recorded spike count of every neuron."""
    if run.get("mode") != "spiking" or spikes is None:
        return None, "a rate-mode run records no membranes"
    if run.get("precision", "float") != "float":
        return None, "a fixed-point run is not replayed (membranes are integers on another path)"
    models = {graph.populations[p].model for p in spiking_pops}
    if models - {"lif"}:
        return None, ("stochastic neurons draw from a generator keyed by data-set sample ids, which the run "
                      "directory does not hold")
    inputs = graph.inputs()
    missing = [p.name for p in inputs if f"raster/{p.name}" not in spikes]
    if missing:
        return None, (f"the run holds no input spike raster (raster/{missing[0]}); record one with "
                      "`neurotep run --spiking --encoding poisson --raster`")
    import torch

    from neurotep.backends.torch import TorchNetwork

    steps, batch = int(run["steps"]), int(run["samples"])
    frames = {}
    for p in inputs:
        r = spikes[f"raster/{p.name}"]
        if r.shape != (steps, batch, p.size):
            return None, f"raster/{p.name} has shape {r.shape}, expected {(steps, batch, p.size)}"
        frames[p.name] = torch.as_tensor(np.ascontiguousarray(r))
    net = TorchNetwork(graph, device="cpu")
    weights = net.effective_weights()
    st = net.init_state(batch)
    total = 0
    acc = {p: torch.zeros(graph.populations[p].size, dtype=torch.float64) for p in spiking_pops}
    with torch.no_grad():
        for t in range(steps):
            prev = {p: st.v[p] for p in spiking_pops}
            st = net.step(st, {k: f[t].to(net.dtype) for k, f in frames.items()}, weights)
            for p in spiking_pops:
                total += prev[p].numel() if t == 0 else int(torch.count_nonzero(st.v[p] - prev[p]))
                acc[p] += st.out[p].sum(0, dtype=torch.float64)
    for p in spiking_pops:
        if not np.array_equal(np.rint(acc[p].numpy()).astype(np.int64), np.asarray(events[p], dtype=np.int64)):
            return None, (f"replaying the run on the torch path did not reproduce the recorded spikes of {p} "
                          "(e.g. a Lava or GPU run whose rounding differs)")
    return total, "replayed on the torch path from the recorded input spike raster (exact)"
