"""Recording overhead on Lava: neurotep's spike counting against Lava's ``Monitor``.

Network: the spiking base model ``rate_to_spiking(base.build(seed=0))`` (untrained, seed 0; 64
Poisson inputs -> 256 integrate-and-fire neurons <-> 10 linear units, with its toroidal buffer),
compiled by neurotep for batch 1 and batch 32 (a batch runs as independent copies: 32 x 256 =
8192 hidden neurons) and simulated for T = 200 steps (Loihi2SimCfg, ``floating_pt``). Input: the
first 1 or 32 digits test images, Poisson-encoded (``rate_encode``, encoder seed 1), identical for
every variant. Each run is a fresh process (:mod:`benchmarks._lava_job`). Variants:

* ``none``: ``compile_graph(record=[])``: nothing recorded;
* ``recorder``: ``compile_graph(record=["h0"])``: the hidden population (neurotep's
  SubtractiveLIF process) counts its own spikes per step, per sample and per neuron inside the
  simulation (no extra process) and writes them to a file at the last step; the read-back is
  ``np.load`` of that file (as ``run_lava`` does);
* ``monitor``: ``record=[]`` plus Lava's ``Monitor().probe(hidden.s_out, T)``, read back with
  ``monitor.get_data()`` after ``run()`` and before ``stop()``.

Timed: the ``run()`` call (it includes Lava's compilation and process start, which extra
processes also cost) and the read-back; cost = run + read. Ratios are to the median ``run()`` of
``none`` with the same batch, measured in the same invocation. Medians over repeats (``none`` and
``recorder`` interleaved); the batch-32 Monitor runs once (its ``get_data`` alone takes about a
minute: ``Var.get`` moves data element by element). A run during which other processes used more
than 5 % of a core is repeated after waiting for an idle CPU (at most 3 times, except the long
batch-32 Monitor run; attempts and the other processes' CPU seconds are kept per run).

Check (asserted): the Monitor's spikes, summed per step and sample and per neuron, equal the
Recorder's counts exactly (the simulation is deterministic given the input frames).
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from benchmarks.common import table
from benchmarks.lava_step_time import encoded_input, network

STEPS, BATCHES, REPEATS = 200, (1, 32), 3
MONITOR_REPEATS = {1: 3, 32: 1}
QUICK_STEPS, QUICK_BATCHES, QUICK_REPEATS = 50, (1, 8), 1
VARIANTS = ("none", "recorder", "monitor")


def _job(variant: str, graph, inp: np.ndarray, steps: int, batch: int) -> dict:
    from benchmarks._lava_common import run_job

    spec = dict(kind="neurotep", steps=steps, batch=batch, record=["h0"] if variant == "recorder" else [])
    if variant == "monitor":
        spec["monitor"] = "h0"
    t0 = time.perf_counter()
    res = run_job(spec, dict(input=inp), graph=graph)
    res["wall_seconds"] = time.perf_counter() - t0
    res["read_seconds"] = {"none": 0.0, "recorder": res.get("recorder_read_seconds", 0.0),
                           "monitor": res.get("monitor_read_seconds", 0.0)}[variant]
    return res


def run(quick: bool = False) -> dict:
    from benchmarks._lava_common import uncontended

    steps, batches, repeats = (QUICK_STEPS, QUICK_BATCHES, QUICK_REPEATS) if quick else (STEPS, BATCHES, REPEATS)
    graph = network()
    results, rows = [], []
    for batch in batches:
        inp, _ = encoded_input(steps, batch)
        runs = {v: [] for v in VARIANTS}
        n_mon = 1 if quick else MONITOR_REPEATS.get(batch, 1)
        for r in range(repeats):
            for v in VARIANTS:
                if v == "monitor" and r >= n_mon:
                    continue
                # the long batch-32 Monitor run is not repeated: get_data dominates it anyway
                tries = 1 if v == "monitor" and batch > 1 else 4
                res, other, attempts = uncontended(lambda: _job(v, graph, inp, steps, batch), tries=tries)
                res.update(other_cpu_seconds=other, attempts=attempts)
                runs[v].append(res)
        rec_counts, mon_counts = runs["recorder"][0]["recorders"]["h0"], runs["monitor"][0]["monitor"]
        equal = (np.array_equal(rec_counts["per_step_per_sample"], mon_counts["per_step_per_sample"])
                 and np.array_equal(rec_counts["per_neuron"], mon_counts["per_neuron"]))
        print(f"  batch {batch}: hidden spikes recorder {rec_counts['total']:.0f}, Monitor {mon_counts['total']:.0f}: "
              f"{'identical' if equal else 'DIFFERENT'} per step, sample and neuron", flush=True)
        assert equal, "Monitor and Recorder spike counts differ"
        base_run = statistics.median(x["run_seconds"] for x in runs["none"])
        rec = dict(batch=batch, steps=steps, hidden_neurons=batch * 256, hidden_spikes=rec_counts["total"],
                   counts_identical=equal, variants={})
        for v in VARIANTS:
            run_s = statistics.median(x["run_seconds"] for x in runs[v])
            read_s = statistics.median(x["read_seconds"] for x in runs[v])
            rec["variants"][v] = dict(processes=runs[v][0]["processes"], repeats=len(runs[v]),
                                      run_seconds=[x["run_seconds"] for x in runs[v]],
                                      read_seconds=[x["read_seconds"] for x in runs[v]],
                                      other_cpu_seconds=[x["other_cpu_seconds"] for x in runs[v]],
                                      attempts=[x["attempts"] for x in runs[v]],
                                      median_run_seconds=run_s, median_read_seconds=read_s,
                                      cost_seconds=run_s + read_s, ratio_to_none=(run_s + read_s) / base_run)
            rows.append([batch, v, runs[v][0]["processes"], len(runs[v]), f"{run_s:.3f}", f"{read_s:.3f}",
                         f"{run_s + read_s:.3f}", f"{(run_s + read_s) / base_run:.2f}"])
        results.append(rec)
    print()
    print(table(["batch", "recording", "processes", "repeats", "run() s", "read s", "run + read s", "ratio to none"], rows))
    cheaper = all(r["variants"]["recorder"]["cost_seconds"] < r["variants"]["monitor"]["cost_seconds"] for r in results)
    for r in results:
        v = r["variants"]
        print(f"batch {r['batch']}: recorder {v['recorder']['ratio_to_none']:.2f}x of no recording, Monitor "
              f"{v['monitor']['ratio_to_none']:.2f}x; Monitor / recorder cost "
              f"{v['monitor']['cost_seconds'] / v['recorder']['cost_seconds']:.1f}x")
    print(f"recorder cheaper than Monitor at every batch: {cheaper}")
    return dict(settings=dict(network="rate_to_spiking(base.build(seed=0)), toroidal buffer on", steps=steps,
                              batches=list(batches), repeats=repeats, monitor_repeats={b: (1 if quick else MONITOR_REPEATS.get(b, 1)) for b in batches},
                              input="first digits test images, Poisson (rate_encode, seed 1)",
                              recorded_population="h0", run_cfg="Loihi2SimCfg floating_pt",
                              statistic="median; cost = run() + read-back; ratio to the median run() of 'none'"),
                results=results, recorder_cheaper_than_monitor=cheaper)
