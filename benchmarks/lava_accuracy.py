"""Digits accuracy of the trained base model on Lava (simulated Loihi 2, float) against torch.

Model: the base TorEqProp model trained 40 epochs by EqProp with seed 0 (``train_base(40, 0)``,
reused from the benchmarks' cache). All 360 test images, through ``run_model`` on both backends
(Lava runs them in chunks of 64 samples, each chunk one simulation in its own process):

* rate mode, ``steps = free_steps`` (200) on both backends: on Lava the rate network runs 200
  steps and the output's last value is decoded; torch relaxes the same 200 steps (``steps`` given,
  so no early stop). torch's default relaxation (until converged, ``tol`` 1e-4) is reported too;
* spiking mode, T = 200, Poisson input (``rate_to_spiking``: integrate-and-fire hidden units), the
  output's mean over the run decoded.

Reported: accuracies side by side, wall seconds of each ``run_model`` call and the ratio
lava/torch, and, in spiking mode, whether the spike counts are identical: per population the
run summaries' totals, and the recordings' counts per neuron, per step and per sample (with the
number of differing entries where they differ). ``run_model``'s torch path computes in float32
and Lava's float models in float64, so a membrane potential within float32 rounding of the
threshold can cross it one step earlier or later on one backend: such a spike keeps every total
and moves between two neighbouring steps. To tell that apart from a semantic difference, the
spiking run is also done on the torch path in float64 (``TorchNetwork(dtype=torch.float64)``, the
same input function as ``run_model``), whose counts are compared with Lava's too.
"""

from __future__ import annotations

import numpy as np

from benchmarks.common import table, train_base

EPOCHS, QUICK_EPOCHS = 40, 5
STEPS, QUICK_STEPS = 200, 50
QUICK_SAMPLES = 64


def _count_diffs(a, b) -> dict:
    """Per population and kind (per neuron, per step, per sample): are two recordings' counts
    identical, and if not, how many entries differ and by how many spikes in all."""
    out = {}
    for kind in ("per_neuron", "per_step", "per_sample"):
        da, db = getattr(a, kind), getattr(b, kind)
        for p in sorted(set(da) | set(db)):
            if p not in da or p not in db:
                out[f"{kind}/{p}"] = dict(identical=False, missing_on="torch" if p not in da else "lava")
                continue
            x, y = da[p].cpu().numpy().astype(np.float64), db[p].cpu().numpy().astype(np.float64)
            d = np.abs(x - y)
            out[f"{kind}/{p}"] = dict(identical=bool(np.array_equal(x, y)), differing_entries=int((d > 0).sum()),
                                      abs_difference_sum=float(d.sum()))
    return out


def _torch_float64(graph, data, samples: int | None, steps: int):
    """The spiking run of ``run_model(backend="torch")``, in float64: its Recording."""
    import torch

    from neurotep.backends.torch import TorchNetwork
    from neurotep.data import poisson_spikes_torch
    from neurotep.graph.transforms import rate_to_spiking
    from neurotep.runner import ENCODER_SEED

    n = len(data.x_test) if samples is None else samples
    g = rate_to_spiking(graph)
    net = TorchNetwork(g, dtype=torch.float64)
    xt = torch.as_tensor(data.x_test[:n], dtype=torch.float64)
    tid = torch.as_tensor(np.asarray(data.test_index[:n], dtype=np.int64))
    with torch.no_grad():
        _, rec, _ = net.run(lambda t: {g.meta["input"]: poisson_spikes_torch(xt, t, ENCODER_SEED, tid)}, steps, n,
                            sample_ids=tid, readout=g.meta["output"], spiking_inputs=True)
    return rec


def run(quick: bool = False) -> dict:
    from neurotep.data import load_digits_split
    from neurotep.learning.eqprop import EqPropConfig
    from neurotep.runner import run_model

    epochs, steps, samples = (QUICK_EPOCHS, QUICK_STEPS, QUICK_SAMPLES) if quick else (EPOCHS, STEPS, None)
    data = load_digits_split()
    graph, metrics, cached = train_base(epochs, 0, "eqprop", data=data)
    print(f"  model: base TorEqProp, EqProp {epochs} epochs, seed 0, final-epoch test accuracy "
          f"{100 * metrics['test_accuracy']:.2f} %{' (from cache)' if cached else ''}", flush=True)
    free = EqPropConfig.from_meta(graph.meta).free_steps
    out = {}
    converged = run_model(graph, data, backend="torch", samples=samples, spiking=False).summary
    for mode, spiking, T in (("rate", False, free), ("spiking", True, steps)):
        res = {}
        for backend in ("torch", "lava"):
            o = run_model(graph, data, backend=backend, samples=samples, spiking=spiking, steps=T)
            res[backend] = o
            print(f"  {mode} {backend}: {100 * o.summary['test_accuracy']:.2f} % in {o.summary['wall_seconds']:.1f} s",
                  flush=True)
        st, sl = res["torch"].summary, res["lava"].summary
        rec = dict(steps=T, samples=st["samples"],
                   accuracy=dict(torch=st["test_accuracy"], lava=sl["test_accuracy"]),
                   accuracy_equal=st["test_accuracy"] == sl["test_accuracy"],
                   wall_seconds=dict(torch=st["wall_seconds"], lava=sl["wall_seconds"]),
                   wall_ratio_lava_over_torch=sl["wall_seconds"] / st["wall_seconds"])
        if spiking:
            spikes = {p: dict(torch=st["populations"][p]["spikes"], lava=sl["populations"][p]["spikes"])
                      for p in st["populations"]}
            rec.update(spikes=spikes, spike_totals_identical=all(v["torch"] == v["lava"] for v in spikes.values()),
                       spikes_total=dict(torch=st["spikes_total"], lava=sl["spikes_total"]),
                       counts=_count_diffs(res["torch"].recording, res["lava"].recording))
            rec["counts_identical"] = all(v["identical"] for v in rec["counts"].values())
            f64 = _count_diffs(_torch_float64(graph, data, samples, T), res["lava"].recording)
            rec.update(counts_torch_float64_vs_lava=f64,
                       counts_identical_torch_float64=all(v["identical"] for v in f64.values()))
        out[mode] = rec
    print()
    rows = [["rate (torch until converged)", converged["steps"], f"{100 * converged['test_accuracy']:.2f}", "-",
             f"{converged['wall_seconds']:.2f}", "-", "-", "-"]]
    for mode, r in out.items():
        same = "-" if mode == "rate" else (
            ("totals yes" if r["spike_totals_identical"] else "totals NO")
            + ("; all counts yes" if r["counts_identical"] else "; counts differ (below)"))
        rows.append([mode, r["steps"], f"{100 * r['accuracy']['torch']:.2f}", f"{100 * r['accuracy']['lava']:.2f}",
                     f"{r['wall_seconds']['torch']:.2f}", f"{r['wall_seconds']['lava']:.2f}",
                     f"{r['wall_ratio_lava_over_torch']:.1f}", same])
    print(table(["mode", "steps", "torch acc %", "lava acc %", "torch s", "lava s", "lava/torch time", "spikes identical"],
                rows))
    sp = out["spiking"]
    print("spikes per population (torch / lava): "
          + ", ".join(f"{p} {v['torch']} / {v['lava']}" for p, v in sp["spikes"].items()))
    for k, v in sp["counts"].items():
        if not v["identical"]:
            print(f"  torch (float32) vs lava, {k}: {v.get('differing_entries', '-')} entries differ, "
                  f"{v.get('abs_difference_sum', '-'):g} spikes in all (a spike moved to a neighbouring step keeps the "
                  "per-neuron and per-sample totals)")
    print(f"all counts (per neuron, step, sample) identical, torch float32 vs lava: {sp['counts_identical']}; "
          f"torch float64 vs lava: {sp['counts_identical_torch_float64']}")
    equal = all(r["accuracy_equal"] for r in out.values())
    print(f"\naccuracy on Lava equal to torch in both modes: {equal}")
    return dict(settings=dict(model=f"base TorEqProp, EqProp {epochs} epochs, seed 0",
                              model_final_epoch_test_accuracy=metrics["test_accuracy"],
                              samples=out["rate"]["samples"], rate_steps=free, spiking_steps=steps,
                              encoding="poisson (encoder seed 1)", precision="float", lava_batch=64),
                torch_rate_converged=dict(steps=converged["steps"], test_accuracy=converged["test_accuracy"],
                                          wall_seconds=converged["wall_seconds"]),
                **out, accuracy_equal_both_modes=equal)
