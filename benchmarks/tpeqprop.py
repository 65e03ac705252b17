"""TPEqProp (seed 002, single-phase predictive learning) against two-phase EqProp on the base model.

Both trained in the same run on digits (fixed 1437/360 split) with ``train()``: Adam lr 1e-3,
batch 32, the same epochs and seeds, hidden size 256; the base model ``base.build(seed=s)``
learns by symmetric two-phase EqProp (free phase, then +beta and -beta nudged phases, beta 0.5),
TPEqProp ``tpeqprop.build(seed=s)`` by its one clamped phase and local update
(:mod:`neurotep.learning.predictive`). Reported:

* final-epoch test accuracy over seeds (mean +- sample std; no epoch is chosen on the test set),
  the per-epoch test curve of each seed (for convergence speed and stability: the largest drop
  between consecutive epochs), wall seconds of training;
* time per training step (batch 32, fresh seed-0 models, tolerance 1e-4 as in training; median of
  ``STEP_REPEATS`` steps after one warm-up, the two methods alternating step by step) and relaxation steps per training step (EqProp: free +
  both nudged phases; TPEqProp: its single phase) and at test time;
* memory per training step: the peak of live tensor bytes (``torch.profiler`` with
  ``profile_memory``, CPU allocator events of everything the step allocates: states and their
  history rings, gradients, Adam's update temporaries) of one step with a fixed number ``T`` of
  relaxation steps per phase (``tol=None``), at two ``T``; and the bytes of the relaxation
  state(s) the step holds when it computes its update (EqProp: the free state and both nudged
  states; TPEqProp: one state; each with its history rings), counted tensor by tensor;
* gradient quality: cosine of each method's update with the implicit-differentiation gradient of
  the cost at the free equilibrium (float64, first ``GRAD_BATCH`` training images, trained seed-0
  models, long relaxations);
* Lava (Loihi2SimCfg, float, rate mode, batch 1, trained seed-0 graphs): wall ms per simulated
  step, the slope between ``LAVA_T`` steps (medians of ``LAVA_REPEATS`` runs, the two models
  alternating), processes, and the readout's largest difference from torch's;
* sample efficiency: final test accuracy after ``EPOCHS`` epochs on the first ``n`` images of a
  fixed (seed 0) permutation of the training split, seed 0, for each ``n`` in ``SUBSETS``.

Timings are taken with one torch thread; on a shared machine they are distorted by other work:
the runner records other processes' CPU time.
"""

from __future__ import annotations

import dataclasses
import statistics
import time

import numpy as np

from benchmarks.common import mean_std, pct, table, with_torch_threads

SEEDS, EPOCHS, STEP_REPEATS, GRAD_BATCH, SUBSETS = (0, 1, 2), 30, 30, 64, (100, 300)
QUICK_SEEDS, QUICK_EPOCHS, QUICK_STEP_REPEATS, QUICK_GRAD_BATCH, QUICK_SUBSETS = (0,), 1, 2, 8, (100,)
MEM_STEPS, QUICK_MEM_STEPS = (10, 100), (5, 10)
LAVA_T, QUICK_LAVA_T, LAVA_REPEATS, QUICK_LAVA_REPEATS = (50, 500), (20, 60), 3, 1
MODELS = ("eqprop", "tpeqprop")
THREADS = 1


def _graph(model: str, seed: int, data):
    from neurotep.variants import base, tpeqprop

    builder = tpeqprop if model == "tpeqprop" else base
    return builder.build(n_in=data.n_features, n_out=data.n_classes, seed=seed, hidden=(256,))


def _update(net, model: str, x, t, T=None):
    """One method's gradient estimate (T: fixed steps per phase, else the model's own budget and tol)."""
    from neurotep.learning.eqprop import EqPropConfig, eqprop_gradients
    from neurotep.learning.predictive import PredictiveConfig, predictive_gradients

    if model == "tpeqprop":
        cfg = PredictiveConfig.from_meta(net.graph.meta)
        if T is not None:
            cfg = PredictiveConfig(free_steps=T, clamp_steps=T, tol=None)
        grads, info, _ = predictive_gradients(net, x, t, cfg)
        return grads, info.free_steps
    cfg = EqPropConfig.from_meta(net.graph.meta)
    if T is not None:
        cfg = EqPropConfig(beta=cfg.beta, free_steps=T, nudge_steps=T, tol=None)
    grads, info, _ = eqprop_gradients(net, x, t, cfg)
    return grads, info.free_steps + info.plus_steps + info.minus_steps


def _batch(data, n=32, dtype=None):
    import torch

    from neurotep.data import one_hot

    x = torch.as_tensor(data.x_train[:n], dtype=dtype or torch.float32)
    t = torch.as_tensor(one_hot(data.y_train[:n], data.n_classes), dtype=dtype or torch.float32)
    return x, t


def _step_times(data, repeats: int) -> dict:
    """Median wall ms of one training step (update + Adam) of each method and its relaxation
    steps; the methods alternate step by step, so a change in the machine's load hits both alike."""
    import torch

    from neurotep.backends.torch import TorchNetwork
    from neurotep.learning.eqprop import apply_gradients

    x, t = _batch(data)
    nets = {m: TorchNetwork(_graph(m, 0, data)) for m in MODELS}
    opts = {m: torch.optim.Adam(n.parameters(), lr=1e-3) for m, n in nets.items()}
    walls, steps = {m: [] for m in MODELS}, {m: [] for m in MODELS}
    for i in range(repeats + 1):
        for m in MODELS:
            t0 = time.perf_counter()
            opts[m].zero_grad(set_to_none=True)
            grads, n = _update(nets[m], m, x, t)
            apply_gradients(nets[m], grads)
            opts[m].step()
            if i:  # the first round is a warm-up
                walls[m].append(time.perf_counter() - t0)
                steps[m].append(n)
    return {m: dict(ms_per_step=1e3 * statistics.median(walls[m]), relax_steps_per_update=float(np.mean(steps[m])),
                    repeats=repeats) for m in MODELS}


def _memory(model: str, data, T: int) -> float:
    """Peak live tensor MiB of one training step with ``T`` relaxation steps per phase."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from neurotep.backends.torch import TorchNetwork
    from neurotep.learning.eqprop import apply_gradients

    net = TorchNetwork(_graph(model, 0, data))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x, t = _batch(data)

    def step(T):
        opt.zero_grad(set_to_none=True)
        grads, _ = _update(net, model, x, t, T)
        apply_gradients(net, grads)
        opt.step()

    step(1)  # warm-up: Adam's state, lazy kernels
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step(T)
    cur = peak = 0
    for _, b in sorted((e.time_range.start, e.self_cpu_memory_usage) for e in prof.events() if e.self_cpu_memory_usage):
        cur += b
        peak = max(peak, cur)
    return peak / 2**20


def _state_bytes(model: str, data) -> dict:
    """Bytes of the relaxation states a step holds when it computes its update (outputs and every
    history-ring entry, each distinct tensor once), float32, batch 32."""
    import torch

    from neurotep.backends.torch import Nudge, TorchNetwork
    from neurotep.learning.eqprop import EqPropConfig
    from neurotep.learning.predictive import PredictiveConfig, clamped_phase

    net = TorchNetwork(_graph(model, 0, data))
    x, t = _batch(data)
    with torch.no_grad():
        if model == "tpeqprop":
            states = [clamped_phase(net, x, t, PredictiveConfig(clamp_steps=20, tol=None))[0]]
        else:
            cfg = EqPropConfig.from_meta(net.graph.meta)
            free, _ = net.relax({"x": x}, 20, None)
            states = [free] + [net.relax({"x": x}, 20, None, state=free.fork(), nudge=Nudge("y", s * cfg.beta, t))[0]
                               for s in (1.0, -1.0)]
    seen, total = set(), 0
    for st in states:
        tensors = list(st.out.values()) + [v for rb in st.hist.values() for v in _ring(rb)]
        for v in tensors:
            if v.data_ptr() not in seen and v.numel():
                seen.add(v.data_ptr())
                total += v.numel() * v.element_size()
    return dict(states=len(states), bytes=total, kib=total / 1024)


def _ring(rb) -> list:
    return [rb.tap(k) for k in range(rb.depth)]


def _gradient(graph, model: str, data, batch: int) -> dict:
    """Cosine of the method's update with the implicit gradient at the free equilibrium (float64)."""
    import torch

    from neurotep.backends.torch import TorchNetwork
    from neurotep.learning.eqprop import EqPropConfig, eqprop_gradients
    from neurotep.learning.gradcheck import cosine, implicit_gradients
    from neurotep.learning.predictive import PredictiveConfig, predictive_gradients

    net = TorchNetwork(graph, dtype=torch.float64)
    x, t = _batch(data, batch, torch.float64)
    if model == "tpeqprop":
        est, _, _ = predictive_gradients(net, x, t, PredictiveConfig(clamp_steps=5000, tol=1e-9))
    else:
        est, _, _ = eqprop_gradients(net, x, t, EqPropConfig(beta=graph.meta["hyperparameters"]["beta"],
                                                             free_steps=5000, nudge_steps=5000, tol=1e-9))
    free, _ = net.relax({"x": x}, 5000, 1e-9)
    true = implicit_gradients(net, x, t, free.out)
    rows = {k: dict(cos=cosine(est[k], true[k]), rel_norm=float(est[k].norm() / true[k].norm().clamp_min(1e-30)))
            for k in est}
    return dict(min_cos=min(r["cos"] for r in rows.values()), params=rows)


def _lava(graphs: dict, data, ts: tuple, repeats: int) -> dict:
    """Lava time per step of each graph (rate mode, batch 1, first test image) and its readout vs torch."""
    import torch

    from neurotep.backends.lava.runner import run_lava
    from neurotep.backends.torch import TorchNetwork

    x = data.x_test[:1].astype(np.float64)
    times = {m: {T: [] for T in ts} for m in graphs}
    info, last = {}, {}
    for _ in range(repeats):
        for T in ts:
            for m, g in graphs.items():
                _, ro, res = run_lava(g, {"x": x[None]}, T, np.asarray(data.test_index[:1]), spiking_inputs=False)
                times[m][T].append(res["run_seconds"])
                info[m], last[m] = res["processes"], ro["last"]
    out = {}
    for m, g in graphs.items():
        net = TorchNetwork(g, dtype=torch.float64)
        st, w = net.init_state(1), net.effective_weights()
        with torch.no_grad():
            for _ in range(ts[-1]):
                st = net.step(st, {"x": torch.as_tensor(x)}, w)
        med = {T: statistics.median(v) for T, v in times[m].items()}
        out[m] = dict(processes=info[m], run_seconds={str(T): v for T, v in times[m].items()},
                      ms_per_step=1e3 * (med[ts[-1]] - med[ts[0]]) / (ts[-1] - ts[0]),
                      readout_max_abs_diff_vs_torch=float((st.out[g.meta["output"]] - last[m]).abs().max()))
    return out


def _subset(data, n: int):
    idx = np.sort(np.random.default_rng(0).permutation(len(data.x_train))[:n])
    return dataclasses.replace(data, x_train=data.x_train[idx], y_train=data.y_train[idx],
                               train_index=data.train_index[idx])


def run(quick: bool = False) -> dict:
    return with_torch_threads(THREADS, _run, quick)


def _run(quick: bool) -> dict:
    from neurotep.data import load_digits_split
    from neurotep.learning.train import train
    from neurotep.variants import tpeqprop

    seeds, epochs = (QUICK_SEEDS, QUICK_EPOCHS) if quick else (SEEDS, EPOCHS)
    repeats, grad_batch = (QUICK_STEP_REPEATS, QUICK_GRAD_BATCH) if quick else (STEP_REPEATS, GRAD_BATCH)
    subsets, mem_steps = (QUICK_SUBSETS, QUICK_MEM_STEPS) if quick else (SUBSETS, MEM_STEPS)
    data = load_digits_split()
    t0 = time.perf_counter()
    per_seed, trained = {m: [] for m in MODELS}, {}
    for seed in seeds:
        for m in MODELS:
            r = train(_graph(m, seed, data), data, method="eqprop", epochs=epochs, seed=seed, progress=False)
            curve = [h["test_accuracy"] for h in r.history]
            per_seed[m].append(dict(seed=seed, test_accuracy=r.metrics["test_accuracy"], method=r.metrics["method"],
                                    train_seconds=r.metrics["train_seconds"], test_curve=curve,
                                    test_relax_steps=r.history[-1]["test_relax_steps"],
                                    train_relax_steps=r.history[-1]["train_free_steps"],
                                    largest_epoch_drop=max([0.0] + [a - b for a, b in zip(curve, curve[1:])])))
            if seed == seeds[0]:
                trained[m] = r.graph
            print(f"  seed {seed} {m:<9}: test {pct(r.metrics['test_accuracy'])} ({r.metrics['train_seconds']:.1f} s)",
                  flush=True)
    summary = {}
    for m in MODELS:
        acc = mean_std([r["test_accuracy"] for r in per_seed[m]])
        summary[m] = dict(test_accuracy_mean=acc[0], test_accuracy_std=acc[1],
                          train_seconds_mean=float(np.mean([r["train_seconds"] for r in per_seed[m]])),
                          largest_epoch_drop_max=max(r["largest_epoch_drop"] for r in per_seed[m]),
                          test_relax_steps_mean=float(np.mean([r["test_relax_steps"] for r in per_seed[m]])),
                          mean_test_curve=[float(v) for v in np.mean([r["test_curve"] for r in per_seed[m]], axis=0)])
    steps = _step_times(data, repeats)
    for m in MODELS:
        summary[m].update(step=steps[m])
        summary[m].update(memory_peak_mib={str(T): _memory(m, data, T) for T in mem_steps}, state=_state_bytes(m, data))
    base = summary["eqprop"]
    tp = summary["tpeqprop"]
    ratios = dict(time_per_step=tp["step"]["ms_per_step"] / base["step"]["ms_per_step"],
                  relax_steps_per_update=tp["step"]["relax_steps_per_update"] / base["step"]["relax_steps_per_update"],
                  memory_peak={T: tp["memory_peak_mib"][T] / base["memory_peak_mib"][T] for T in base["memory_peak_mib"]},
                  state_bytes=tp["state"]["bytes"] / base["state"]["bytes"],
                  train_seconds=tp["train_seconds_mean"] / base["train_seconds_mean"])
    print()
    print(table(["method", f"test acc ({len(seeds)} seeds, {epochs} ep)", "largest epoch drop", "train s", "ms/step",
                 "relax steps/update", "test relax steps", "peak MiB " + "/".join(map(str, mem_steps)), "state KiB"],
                [[m, pct(s["test_accuracy_mean"], s["test_accuracy_std"]), pct(s["largest_epoch_drop_max"]),
                  f"{s['train_seconds_mean']:.1f}", f"{s['step']['ms_per_step']:.1f}", f"{s['step']['relax_steps_per_update']:.0f}",
                  f"{s['test_relax_steps_mean']:.0f}", "/".join(f"{v:.3f}" for v in s["memory_peak_mib"].values()),
                  f"{s['state']['kib']:.0f} ({s['state']['states']} state{'s' if s['state']['states'] > 1 else ''})"]
                 for m, s in summary.items()]))
    print(f"TPEqProp / EqProp: time per step {ratios['time_per_step']:.2f}x, relaxation steps per update "
          f"{ratios['relax_steps_per_update']:.2f}x, peak memory " + ", ".join(f"T={T} {v:.2f}x" for T, v in ratios["memory_peak"].items())
          + f", state bytes {ratios['state_bytes']:.2f}x, training time {ratios['train_seconds']:.2f}x")

    gradient = {m: _gradient(trained[m], m, data, grad_batch) for m in MODELS}
    print("cosine with the implicit gradient (trained seed-%d models, float64, %d images): " % (seeds[0], grad_batch)
          + "; ".join(f"{m}: " + ", ".join(f"{k.split(':', 1)[1]} {r['cos']:.3f}" for k, r in g["params"].items())
                      for m, g in gradient.items()))

    lava_t, lava_repeats = (QUICK_LAVA_T, QUICK_LAVA_REPEATS) if quick else (LAVA_T, LAVA_REPEATS)
    lava = _lava(trained, data, lava_t, lava_repeats)
    print("Lava (float, rate, batch 1; slope T=%d..%d): " % lava_t
          + "; ".join(f"{m} {v['ms_per_step']:.3f} ms/step ({v['processes']} processes, readout vs torch "
                      f"{v['readout_max_abs_diff_vs_torch']:.1e})" for m, v in lava.items())
          + f"; ratio {lava['tpeqprop']['ms_per_step'] / lava['eqprop']['ms_per_step']:.2f}x")

    efficiency = {m: {} for m in MODELS}
    for n in subsets:
        sub = _subset(data, n)
        for m in MODELS:
            r = train(_graph(m, seeds[0], sub), sub, method="eqprop", epochs=epochs, seed=seeds[0], progress=False)
            efficiency[m][str(n)] = r.metrics["test_accuracy"]
    for m in MODELS:
        efficiency[m][str(len(data.x_train))] = per_seed[m][0]["test_accuracy"]
    print("sample efficiency (seed %d, %d epochs; test accuracy by training images): " % (seeds[0], epochs)
          + "; ".join(f"{m}: " + ", ".join(f"{n} {pct(a)}" for n, a in e.items()) for m, e in efficiency.items()))
    print(f"({time.perf_counter() - t0:.1f} s)")
    return dict(settings=dict(seeds=list(seeds), epochs=epochs, batch_size=32, lr=1e-3, hidden=256, torch_threads=THREADS,
                              split=dict(train=len(data.x_train), test=len(data.x_test)), step_repeats=repeats,
                              grad_batch=grad_batch, subsets=list(subsets), memory_steps=list(mem_steps),
                              tpeqprop_hyperparameters=tpeqprop.build().meta["hyperparameters"],
                              reported="final-epoch test accuracy; std is the sample std (ddof=1); ratios TPEqProp / "
                                       "EqProp measured in this run"),
                summary=summary, ratios=ratios, per_seed=per_seed, gradient_vs_implicit=gradient,
                lava=dict(models=lava, steps=list(lava_t), repeats=lava_repeats), sample_efficiency=efficiency)
