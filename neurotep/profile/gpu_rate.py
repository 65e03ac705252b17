"""``gpu-rate``: the best sensible GPU implementation of the trained network, priced.

That is the rate model (no spikes) relaxed for the steps the rate run measured, as a GPU engineer
would write it: the constant input drive ``W x`` once per inference (the torch path's
``static_drive``), then per step one dense matrix-vector product per recurrent connection
direction (a MAC per weight, zeros included), the toroidal buffer's K taps per neuron, and the
states read and written. Priced per inference at batch 1 and at a large batch (weights read once
per step for the whole batch):

* compute: MACs x ``mac``;
* on-chip memory: weight bytes per step (and the input weights once) / batch + state bytes per
  step, x ``sram_byte``; weights this size (tens of kB) stay in the L2 cache;
* DRAM: ``dram_weight_reads`` x all weight bytes / batch x ``dram_byte`` (0 at the low end:
  weights resident across inferences);
* ``static_idle``: idle power x steps x time per step / batch (a batch-1 GPU is launch-bound;
  the step time is raised to the compute time at ``peak_flops`` when that is longer).

Neuron nonlinearities (O(N) per step against O(N^2) MACs) are not costed.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from neurotep.profile.counts import ProfileError, RunCounts, buffer_fan_out
from neurotep.profile.ledger import ENDS, Ledger
from neurotep.profile.rundir import read_json

OPS = ("macs", "weight_reads_sram", "weight_reads_dram", "state_traffic_sram", "static_idle")
MEMORY, STATIC = "(memory)", "(static)"


def rate_work(counts: RunCounts) -> dict[str, float]:
    """Per sample: MACs and weight elements once per inference (the input drive) and per step
    (recurrent directions and buffer taps), state elements moved per step, all weight elements."""
    g = counts.graph
    inputs = {p.name for p in g.populations.values() if p.model == "input"}
    once = sum(d.weight.size for d in counts.directions if d.src in inputs)
    step_w = sum(d.weight.size for d in counts.directions if d.src not in inputs)
    taps = sum(b.depth * buffer_fan_out(b) * g.populations[b.population].size for b in g.buffers)
    state = sum(3 * p.size for p in g.populations.values() if p.name not in inputs)  # read, write, drive
    state += sum((b.depth + 1) * g.populations[b.population].size for b in g.buffers)  # K taps read, one written
    return {"macs_once": float(once), "weights_once": float(once), "macs_step": float(step_w + taps),
            "weights_step": float(step_w), "state_step": float(state),
            "input_elements": float(sum(g.populations[p].size for p in inputs)),
            "weights_all": float(sum(c.weight.size for c in g.connections))}


def _price(led: Ledger, w: dict[str, float], steps: int, batch: int) -> dict[str, float]:
    """Add one batch size's energy per inference to ``led``; returns the time per inference."""
    mac, bpv, sram, dram = (led.const(k) for k in ("mac", "bytes_per_value", "sram_byte", "dram_byte"))
    reads, idle, t_step = led.const("dram_weight_reads"), led.const("idle_power"), led.const("time_per_step")
    peak = led.const("peak_flops")[0]
    macs = w["macs_once"] + steps * w["macs_step"]
    led.add("macs", "(compute)", macs, "mac")
    weights = (w["weights_once"] + steps * w["weights_step"]) / batch
    state = w["input_elements"] + steps * w["state_step"]
    floor = 2 * w["macs_step"] * batch / peak
    t = [max(x, floor) for x in t_step]
    lo, hi = ({k: v[i] for k, v in (("bpv", bpv), ("sram", sram), ("dram", dram), ("reads", reads), ("idle", idle))}
              for i in (0, 1))
    led.add_joules("weight_reads_sram", MEMORY, weights * lo["bpv"] * lo["sram"], weights * hi["bpv"] * hi["sram"])
    led.add_joules("weight_reads_dram", MEMORY, *(e["reads"] * w["weights_all"] * e["bpv"] * e["dram"] / batch
                                                 for e in (lo, hi)))
    led.add_joules("state_traffic_sram", MEMORY, state * lo["bpv"] * lo["sram"], state * hi["bpv"] * hi["sram"])
    led.add_joules("static_idle", STATIC, lo["idle"] * steps * t[0] / batch, hi["idle"] * steps * t[1] / batch)
    return {"macs": macs, "time_per_step_s": {"low": t[0], "high": t[1]},
            "wall_time_per_batch_s": {"low": steps * t[0], "high": steps * t[1]}}


def _summary(led: Ledger, batch: int, info: dict) -> dict:
    return {"batch": batch, **info,
            "energy_range_joules": {e: led.total(e) for e in ENDS},
            "dynamic_range_joules": {e: led.total(e, without=("static_idle",)) for e in ENDS},
            "by_operation_low": led.breakdown("low")["by_operation"],
            "by_operation_high": led.breakdown("high")["by_operation"]}


def gpu_rate(counts: RunCounts, model: dict) -> tuple[Ledger, list[str], dict]:
    """The ledger at batch 1 (the profile's energy), its notes and the ``batches`` block (batch 1
    and the large batch)."""
    if counts.mode != "rate":
        raise ProfileError(f"{counts.run_dir}: gpu-rate prices the rate model's relaxation, so it needs a rate-mode run "
                           "(`neurotep run MODEL --out DIR` without --spiking, e.g. the demo's rate/); this run is "
                           f"{counts.mode}")
    # batch 1: a sample relaxes alone, for its own steps; a batch runs until its slowest sample settles
    w, steps = rate_work(counts), counts.steps
    alone = float(counts.run.get("mean_steps_per_sample", steps))
    led = Ledger(model, (), OPS)
    one = _summary(led, 1, _price(led, w, alone, 1))
    big_n = int(model["entries"]["large_batch"]["low"])
    big = Ledger(model, (), OPS)
    big_info = _summary(big, big_n, _price(big, w, steps, big_n))
    led.used.update(big.used)
    led.const("large_batch")
    notes = [
        f"relaxation steps, measured by the rate run (relax(tol) on the torch path): batch {big_n}, {steps} (run.json "
        f"'steps': the batch stops when its slowest sample has settled); batch 1, {alone:.1f} (run.json "
        "'mean_steps_per_sample': the mean step at which each sample settles by the same test)",
        f"per inference at batch 1: {w['macs_once']:,.0f} MACs once (the constant input drive) + {alone:.1f} steps x "
        f"{w['macs_step']:,.0f} MACs (recurrent directions, dense, and buffer taps) = {one['macs']:,.0f} MACs",
        f"memory: {w['weights_all']:,.0f} weights; per step {w['weights_step']:,.0f} weight and {w['state_step']:,.0f} "
        "state elements from on-chip SRAM (L2-resident); DRAM: none at the low end, one read of all weights per "
        "inference (per batch) at the high end",
        f"static_idle: idle power x wall time, a batch-1 step taking {one['time_per_step_s']['low'] * 1e6:.3g}-"
        f"{one['time_per_step_s']['high'] * 1e6:.3g} us (launch-bound); at batch {big_n} the same wall time is shared "
        "by the batch",
        "neuron nonlinearities, host transfers and the host CPU are not costed",
    ]
    return led, notes, {"batches": {"1": one, str(big_n): big_info}}


def read_measurement(path: str | os.PathLike) -> dict:
    """A stored NVML measurement (``benchmarks/results/gpu_energy.json``), checked, one-line errors."""
    doc = read_json(Path(path))
    rows = doc.get("batches") if isinstance(doc, dict) else None
    if not isinstance(rows, list) or not rows or not isinstance(doc.get("gpu"), str) or not isinstance(
            (doc.get("environment") or {}).get("date"), str):
        raise ProfileError(f"{path}: not a GPU energy measurement (needs gpu, environment.date and batches); "
                           "write one with `python -m benchmarks gpu_energy` on a GPU")
    for r in rows:
        for k in ("batch", "energy_per_inference_joules", "dynamic_energy_per_inference_joules"):
            v = r.get(k) if isinstance(r, dict) else None
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                raise ProfileError(f"{path}: a batch row has no number {k!r}")
    return {"file": str(path), "gpu": doc["gpu"], "date": doc["environment"]["date"],
            "command": doc.get("command"), "steps": doc.get("steps"),
            "batches": {str(r["batch"]): {k: r[k] for k in ("energy_per_inference_joules",
                                                            "dynamic_energy_per_inference_joules")} for r in rows}}
