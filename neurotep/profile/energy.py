"""Energy per inference of a run, from its operation counts and a per-operation energy model.

The energy models are data (``neurotep/hardware/energy_<name>.json``, every constant with its
source and status); this module only multiplies counts by them:

Every constant is a ``low``/``high`` range (a single published value gives low = high,
:mod:`neurotep.profile.constants`), so every profile has two ends: ``energy_joules`` and
``energy_breakdown`` are the HIGH end (the figure that does not flatter the hardware),
``energy_range_joules`` and ``energy_breakdown_low`` add the low end.

* ``loihi2`` (ranged: Loihi 1's published figures at the high end, derived from Hala Point at the
  low end, with static power over steps x time per step) and ``loihi`` (Davies et al. 2018):
  effective synaptic operations (and toroidal-buffer taps) x synaptic op energy + neuron updates,
  active (the neuron spiked that step; graded units every step) x active energy and the rest x
  inactive energy + spike messages x within-tile energy + messages that leave their core x one
  tile hop + learning updates x synaptic update energy. Cores per population are read from
  ``run.json`` (``cores``), where the runner records ``map_to_cores(compile_graph(graph, batch=1),
  chip)`` when it saves the run (:mod:`neurotep.placement`); a run directory written before gets
  one core per non-input population.
* ``gpu-rate``: the rate model on a GPU, compute, memory traffic and idle power, at batch 1 and a
  large batch (:mod:`neurotep.profile.gpu_rate`); needs a rate-mode run.
* ``gpu-dense``: the spiking network run densely (snnTorch's way): dense operations (every weight every step, buffer taps included) x fp32 MAC.
* ``45nm``: effective ACs x fp32 add + effective MACs x fp32 MAC.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from neurotep.profile.constants import HARDWARE, check_hardware, load_energy_model
from neurotep.profile.counts import SPIKE, ProfileError, RunCounts, count_run
from neurotep.profile.gpu_rate import gpu_rate, read_measurement
from neurotep.profile.ledger import Ledger
from neurotep.profile.neurobench import neurobench_metrics
from neurotep.profile.rundir import OLD_RUN, read_cores
from neurotep.profile.verdict import CHIPS, compare

__all__ = ["HARDWARE", "check_hardware", "load_energy_model", "profile_run", "write_profile"]
PROFILE_JSON = "profile.json"
GPU_COUNTS_NOTE = ("the counts block is the profiler's generic count of the rate run (every population sending every "
                   "step, the input drive included, as Loihi would); the GPU energy uses the work listed below")
RUN_KEYS = ("backend", "executed_on", "mode", "encoding", "precision", "samples", "steps", "mean_steps_per_sample",
            "test_accuracy")

BASELINES = {
    "loihi2": ("Loihi 2 ranged ESTIMATE from per-operation counts: Intel publishes no Loihi 2 per-operation energies, "
               "so each constant spans the Hala Point all-in bound (low) to Loihi 1's published figure (high, Davies et "
               "al., IEEE Micro 2018), and static power is counted over steps x time per step; a model, not a "
               "measurement on Loihi 2."),
    "loihi": ("Loihi (gen 1) model from per-operation counts and the per-operation energies published by Davies et "
              "al. (IEEE Micro 2018, pre-silicon simulation at 0.75 V); not a measurement."),
    "gpu-rate": ("GPU baseline a GPU engineer would run: the rate model relaxed for the rate run's measured steps, "
                 "input drive once, compute (MACs) and memory traffic (weights and states per step) at batch 1 and a "
                 "large batch, idle power over the wall time as its own line; a model, not a measurement (the NVML "
                 "benchmark measures it where a GPU is present)."),
    "gpu-dense": ("Dense GPU convention (the spiking network run densely, as snnTorch does): every weight of every "
                  "connection is an fp32 multiply-accumulate every step at the 45 nm MAC energy (4.6 pJ, Horowitz "
                  "ISSCC 2014), compute only (no DRAM, no idle power), so sparsity saves nothing; not the best GPU "
                  "implementation (see gpu-rate) and not a GPU measurement."),
    "45nm": ("45 nm AC/MAC convention of SNN papers: effective spike-driven synaptic operations x 0.9 pJ (fp32 add) "
             "+ effective graded ones x 4.6 pJ (fp32 MAC), Horowitz ISSCC 2014; compute only."),
}


# -- core placement and spike messages (Loihi models) --------------------------------------------
def _cores(counts: RunCounts, profile: str) -> tuple[dict[str, int], str]:
    """Neuro-cores per population and a sentence on where they come from."""
    found = read_cores(counts.run, profile, counts.graph, counts.run_dir)
    if found is not None:
        return found
    return ({p.name: 0 if p.model == "input" else 1 for p in counts.graph.populations.values()},
            f"run.json holds no cores ({OLD_RUN}): each non-input population is assumed to sit on one core of its own")


def _blocks(n: int, k: int) -> list[tuple[int, int]]:
    """Contiguous equal blocks, one per core (as neurotep.hardware.mapping cuts populations)."""
    size = max(1, math.ceil(n / max(k, 1)))
    return [(i, min(i + size, n)) for i in range(0, n, size)] or [(0, 0)]


def _messages(counts: RunCounts, cores: dict[str, int]) -> dict[str, tuple[float, float]]:
    """Per sending population: (all messages, messages that leave their core), per inference.

    A spike (or graded event) is one message per destination core holding at least one of its
    nonzero synapses; a toroidal buffer's taps sit on the population's own core (one local message
    per event). Inputs come from the host: all their messages leave a core."""
    g = counts.graph
    out = {p: [0.0, 0.0] for p in counts.populations}
    for d in counts.directions:
        ev = np.asarray(counts.events_per_neuron[d.src], dtype=np.float64)
        nz = d.weight != 0
        src_blocks = _blocks(g.populations[d.src].size, cores[d.src]) if cores[d.src] else None
        for bi, (r0, r1) in enumerate(_blocks(g.populations[d.dst].size, max(cores[d.dst], 1))):
            reach = nz[r0:r1].any(axis=0).astype(np.float64)  # per source neuron: reaches this core?
            m = float(ev @ reach)
            out[d.src][0] += m
            if d.src == d.dst and src_blocks is not None and len(src_blocks) > bi:
                a, b = src_blocks[bi]
                local = float(ev[a:b] @ reach[a:b])
                out[d.src][1] += m - local
            else:
                out[d.src][1] += m
    for b in g.buffers:
        out[b.population][0] += float(np.sum(counts.events_per_neuron[b.population]))
    return {p: (v[0] / counts.samples, v[1] / counts.samples) for p, v in out.items()}


# -- the models -----------------------------------------------------------------------------------
def _loihi(counts: RunCounts, model: dict, profile: str) -> tuple[Ledger, list[str]]:
    ops = ("synaptic_ops", "buffer_taps", "neuron_updates_active", "neuron_updates_inactive",
           "spike_messages_within_tile", "spike_messages_tile_hops", "learning_updates")
    static = "static_power_per_core" in model["entries"]
    led = Ledger(model, counts.populations, ops + (("static",) if static else ()))
    for d in counts.directions:
        led.add("synaptic_ops", d.dst, d.effective_total / counts.samples,
                "synaptic_op" if d.kind == "AC" else "graded_synaptic_op")
    for name, c in counts.populations.items():
        if c.buffer_ops:
            led.add("buffer_taps", name, c.buffer_ops, "synaptic_op" if c.kind == SPIKE else "graded_synaptic_op")
        if c.membrane_updates:
            active = c.spikes if c.kind == SPIKE else c.membrane_updates
            led.add("neuron_updates_active", name, active, "neuron_update_active")
            led.add("neuron_updates_inactive", name, c.membrane_updates - active, "neuron_update_inactive")
        led.add("learning_updates", name, c.learning_updates, "synaptic_update")
    cores, where = _cores(counts, profile)
    for name, (msgs, remote) in _messages(counts, cores).items():
        led.add("spike_messages_within_tile", name, msgs, "spike_within_tile")
        led.add("spike_messages_tile_hops", name, remote, "tile_hop")
    notes = [
        where,
        "spike routing: one message per (event, destination core holding one of its synapses), each at the "
        "within-tile spike energy; a message to another core (inputs come from the host) adds one tile hop at the "
        "mean east-west/north-south hop energy, since placement on the mesh is unknown",
        "a neuron is active in a step where it spiked (graded units: every step); every neuron is updated every step",
        "graded events (linear output units, current-encoded inputs) are costed as one synaptic op per synapse",
        "input spike injection from the host and the host-side processes are not costed",
    ]
    if counts.graph.buffers:
        notes.append("toroidal buffers are costed as K delayed self-synapses on the population's own core "
                     "(neurotep's Lava plan runs them on the host today)")
    if static:
        notes.append(_static(counts, led, cores))
    return led, notes


def _static(counts: RunCounts, led: Ledger, cores: dict[str, int]) -> str:
    """Static power over the run's time on the chip (steps x time per step), per inference; the
    sentence that says what was counted as powered. Low end: the occupied neuro-cores at the low
    power per core; high end: every chip they need, whole, at the high power per chip (nothing
    public documents power gating of unused cores)."""
    used = max(sum(cores.values()), 1)
    chips = math.ceil(used / led.const("cores_per_chip")[0])
    peak = led.const("peak_synaptic_ops_per_core")[0]
    steps = counts.steps_run  # a sample that exits early leaves the chip to the next one
    busiest = max(((c.synaptic_ops_effective + c.buffer_ops) / steps / cores[n]
                   for n, c in counts.populations.items() if cores.get(n)), default=0.0)
    floor = busiest / peak  # seconds: the busiest core's synaptic ops per step at its peak rate
    t_lo, t_hi = (max(t, floor) for t in led.const("time_per_step"))
    core_lo = led.const("static_power_per_core")[0]
    chip_hi = led.const("static_power_per_chip")[1]
    led.add_joules("static", "(static)", used * core_lo * steps * t_lo, chips * chip_hi * steps * t_hi)
    ran = f"{steps:.1f} steps (the mean step its samples exit at)" if steps != counts.steps else f"{counts.steps} steps"
    return (f"static power: {ran} x {t_lo * 1e6:.3g}-{t_hi * 1e6:.3g} us per step on the chip (the "
            f"busiest core's {busiest:,.0f} synaptic ops per step take at least {floor * 1e6:.3g} us at the peak rate); "
            f"low end: the {used} occupied neuro-core(s) powered, high end: {chips} whole chip(s) powered")


def _gpu_dense(counts: RunCounts, model: dict) -> tuple[Ledger, list[str]]:
    led = Ledger(model, counts.populations, ("dense_synaptic_macs", "dense_buffer_macs"))
    for name, c in counts.populations.items():
        led.add("dense_synaptic_macs", name, c.synaptic_ops_dense, "mac_fp32")
        if c.buffer_ops_dense:
            led.add("dense_buffer_macs", name, c.buffer_ops_dense, "mac_fp32")
    return led, ["dense: every weight (zeros included) of every connection direction is one MAC every step, and every "
                 "buffer tap of every neuron is one MAC every step; neuron updates and memory traffic are not costed"]


def _nm45(counts: RunCounts, model: dict) -> tuple[Ledger, list[str]]:
    led = Ledger(model, counts.populations, ("synaptic_acs", "synaptic_macs", "buffer_acs", "buffer_macs"))
    for name, c in counts.populations.items():
        if c.synaptic_ops_ac:
            led.add("synaptic_acs", name, c.synaptic_ops_ac, "add_fp32")
        if c.synaptic_ops_mac:
            led.add("synaptic_macs", name, c.synaptic_ops_mac, "mac_fp32")
        if c.buffer_ops:
            if c.kind == SPIKE:
                led.add("buffer_acs", name, c.buffer_ops, "add_fp32")
            else:
                led.add("buffer_macs", name, c.buffer_ops, "mac_fp32")
    if not led.used:  # nothing to cost: still say which constants the model would use
        led.const("add_fp32")
        led.const("mac_fp32")
    return led, ["an effective spike-driven synaptic operation is an fp32 add (AC), a graded one an fp32 "
                 "multiply-accumulate (MAC); neuron updates, memory access and routing are not costed"]


def profile_run(run_dir: str | os.PathLike, hardware: str = "loihi2", baseline: str | os.PathLike | None = None,
                measured: str | os.PathLike | None = None) -> dict:
    """The profile of the run in ``run_dir`` on ``hardware`` (one of :data:`HARDWARE`): energy per
    inference at both ends with its breakdown, counts, NeuroBench metrics, constants and
    assumptions. ``baseline``: a rate-mode run directory of the same model, priced as
    ``gpu-rate`` and compared (``comparison``, with its one-sentence ``conclusion``); ``measured``
    (``gpu-rate`` only): a stored NVML measurement (``python -m benchmarks gpu_energy``) to show
    beside the model. Writes nothing."""
    check_hardware(hardware)
    model = load_energy_model(hardware)
    counts = count_run(run_dir)
    extra: dict = {}
    if hardware in ("loihi", "loihi2"):
        led, notes = _loihi(counts, model, hardware)
    elif hardware == "gpu-rate":
        led, notes, extra = gpu_rate(counts, model)
    elif hardware == "gpu-dense":
        led, notes = _gpu_dense(counts, model)
    else:
        led, notes = _nm45(counts, model)
    if measured is not None:
        if hardware != "gpu-rate":
            raise ProfileError("--measured holds a GPU measurement: use it with --hardware gpu-rate")
        extra["measured"] = read_measurement(measured)
    doc = {
        "hardware": hardware,
        "hardware_title": model["title"],
        "run": {k: counts.run.get(k) for k in RUN_KEYS},
        **led.as_profile(),
        "counts": counts.as_dict(),
        "neurobench": neurobench_metrics(counts),
        "constants": led.used,
        "assumptions": (counts.assumptions if hardware != "gpu-rate" else [GPU_COUNTS_NOTE]) + notes + [
            "energies are per inference: totals over the run divided by its samples; energy_joules is the high end "
            "of the constants' ranges, energy_range_joules gives both ends",
            "constants: " + ", ".join(f"{k} ({v['status']})" for k, v in led.used.items()),
        ],
        "baseline": BASELINES[hardware],
        **extra,
    }
    if baseline is not None:
        if hardware not in CHIPS:
            raise ProfileError(f"--baseline compares a neuromorphic chip with the GPU rate model: use it with --hardware "
                               f"{' or '.join(CHIPS)}, not {hardware}")
        # the baseline named relative to the run, so that a folder of runs can move (the demo's is written in a
        # temporary sibling first)
        doc["comparison"] = compare(doc, profile_run(baseline, "gpu-rate"), os.path.relpath(baseline, run_dir))
        doc["conclusion"] = doc["comparison"]["sentence"]
    return doc


def write_profile(run_dir: str | os.PathLike, hardware: str = "loihi2", baseline: str | os.PathLike | None = None,
                  measured: str | os.PathLike | None = None) -> Path:
    """Compute :func:`profile_run` and write it to ``RUN_DIR/profile.json`` (the latest profile)
    and ``RUN_DIR/profile-<hardware>.json`` (one per hardware, what reports compare), each
    atomically (a temporary sibling, then ``os.replace``). Returns the path of profile.json."""
    doc = profile_run(run_dir, hardware, baseline, measured)
    from neurotep.outputs import atomic_file, jsonable

    text = json.dumps(doc, indent=2, default=jsonable) + "\n"
    for name in (f"profile-{hardware}.json", PROFILE_JSON):
        target = Path(run_dir) / name
        try:
            with atomic_file(target) as tmp:
                tmp.write_text(text, encoding="utf-8")
        except OSError as e:
            raise ProfileError(f"cannot write {target}: {e.strerror or e}") from None
    return target
