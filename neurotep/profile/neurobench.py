"""NeuroBench 2.3 metrics (Yik et al., Nature Communications 2025) computed from a run directory.

Each function reproduces what the ``neurobench`` package (v2.3.0) computes on the snnTorch form of
the network: an ``nn.Linear`` (no bias) per connection direction and an ``snn.Leaky`` per ``lif``
population, so the values compare with its leaderboard. ``tests/test_profile.py`` checks them
against NeuroBench's own metric classes on an equivalent snnTorch model.

* ``ActivationSparsity`` (``neurobench.metrics.workload.ActivationSparsity``): over NeuroBench's
  activation layers, i.e. the spiking neurons (``lif``, ``stochastic``; not the inputs, not the
  graded output units), ``(outputs - nonzero outputs) / outputs`` over all steps and samples.
  Exact (spike counts are recorded). A rate-mode run has no spiking layers: 0.0, as NeuroBench
  returns when there are none.
* ``SynapticOperations`` (``...workload.SynapticOperations``): per sample, ``Effective_ACs`` and
  ``Effective_MACs`` = sum over connection layers and steps of (binarised input x binarised
  weights), an AC when the layer's input holds only -1/0/1, else a MAC; ``Dense`` = every weight
  (zeros included) every step. Exact for spike-driven layers. For graded inputs neurotep has no
  recorded values and assumes every one is nonzero (an upper bound; NeuroBench would skip the
  zeros, and classifies a step whose graded inputs happen to be all 0/+-1 as ACs).
* ``MembraneUpdates`` (``...workload.MembraneUpdates``): per sample, over snnTorch neuron layers,
  the membrane entries that changed at each step plus all of them at the first step. Exact when
  ``run.json`` records it: the runner replays a float, lif-only spiking run whose input spike raster
  was recorded (``neurotep run --spiking --raster``) when it saves it (:mod:`neurotep.membranes`);
  otherwise steps x neurons, an upper bound, and the result says why (also for a run directory
  written before run.json recorded the count).
* ``ConnectionSparsity`` (``...static.ConnectionSparsity``): zero weights / all weights over the
  connection layers, computed in float32 and rounded to 4 decimals exactly as NeuroBench does. A
  symmetric connection counts as its two directions (two layers); masks are applied to the weights.
* ``Footprint`` (``...static.Footprint``): bytes of the torch module's parameters and buffers, as
  NeuroBench's ``Benchmark.run`` computes it before the first forward pass: 4 bytes per weight
  (float32; a symmetric connection's weight is one shared parameter) and per bias entry, plus the
  scalar buffers of each ``snn.Leaky`` (snnTorch 0.9-1.0: ``beta``, ``threshold`` and
  ``graded_spikes_factor`` as float32, ``reset_mechanism_val`` as int64: 20 bytes; its ``mem``
  buffer is empty before the first forward pass, afterwards it adds batch x neurons x 4 bytes).
  Stochastic and rate populations and toroidal buffers have no snnTorch module: their scalar
  parameters and ring state are not counted. It describes the float32 torch form whatever the
  run's precision.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurotep.graph import Graph
from neurotep.profile.counts import RunCounts, _directions

# snnTorch Leaky's registered scalar buffers: beta, threshold, graded_spikes_factor (float32) and
# reset_mechanism_val (int64); ``mem`` is empty until the first forward pass.
LEAKY_BUFFER_BYTES = 4 + 4 + 4 + 8
FLOAT32_BYTES = 4

METRICS = ("ActivationSparsity", "SynapticOperations", "MembraneUpdates", "ConnectionSparsity", "Footprint")


def activation_sparsity(counts: RunCounts) -> float:
    total, nonzero = counts.totals["activations"], counts.totals["nonzero_activations"]
    if total == 0:
        return 0.0
    return (total - nonzero) / total


def synaptic_operations(counts: RunCounts) -> dict[str, float]:
    t, n = counts.totals, counts.samples
    return {"Effective_MACs": t["effective_macs"] / n, "Effective_ACs": t["effective_acs"] / n, "Dense": t["dense"] / n}


def membrane_updates(counts: RunCounts) -> tuple[float, bool, str]:
    """``(per-sample updates, exact?, how)``."""
    t = counts.totals
    if not counts.spiking_populations:
        return 0.0, True, "no spiking neuron layers, so NeuroBench counts none"
    if t["membrane_updates"] is not None:
        return t["membrane_updates"] / counts.samples, True, t["membrane_updates_how"]
    bound = t["membrane_updates_upper_bound"] / counts.samples
    return bound, False, f"upper bound (every spiking neuron every step): {t['membrane_updates_how']}"


def connection_sparsity(graph: Graph) -> float:
    zeros = weights = 0
    for _, _, _, w, _ in _directions(graph):
        zeros += int(np.count_nonzero(w == 0))
        weights += int(w.size)
    if weights == 0:
        return 0.0
    # torch: int64 tensor / int -> float32 tensor; .item(); round(., 4).
    return round(float(np.float32(zeros) / np.float32(weights)), 4)


def footprint(graph: Graph) -> int:
    params = sum(int(np.asarray(c.weight).size) for c in graph.connections)
    params += sum(int(np.asarray(p.bias).size) for p in graph.populations.values() if p.bias is not None)
    leaky = sum(1 for p in graph.populations.values() if p.model == "lif")
    return params * FLOAT32_BYTES + leaky * LEAKY_BUFFER_BYTES


def neurobench_metrics(counts: RunCounts) -> dict[str, Any]:
    """The five metrics, NeuroBench's names and units (per sample where NeuroBench divides), plus
    ``notes`` on what is exact and what is assumed."""
    mem, exact, how = membrane_updates(counts)
    syn = synaptic_operations(counts)
    notes = ["ActivationSparsity and Effective_ACs are exact (recorded spikes); Dense, ConnectionSparsity and "
             "Footprint follow from the graph"]
    if syn["Effective_MACs"]:
        notes.append("Effective_MACs assume every graded value is nonzero (an upper bound)")
    notes.append(f"MembraneUpdates: {how}")
    notes.append("Footprint: float32 snnTorch form before the first forward pass (weights, biases, 20 bytes of "
                 "snn.Leaky buffers per lif population)")
    return {
        "ActivationSparsity": activation_sparsity(counts),
        "SynapticOperations": syn,
        "MembraneUpdates": mem,
        "MembraneUpdates_exact": exact,
        "ConnectionSparsity": connection_sparsity(counts.graph),
        "Footprint": footprint(counts.graph),
        "notes": notes,
    }
