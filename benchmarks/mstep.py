"""MS-TEP (seed 000) against the base TorEqProp model and against Anderson acceleration, on digits.

Trained in the same run, with the same EqProp settings (``train(method="eqprop")``, Adam lr 1e-3,
batch 32, the same epochs and seeds, the fixed 1437/360 split):

* ``base``: ``base.build(seed=s)``, plain relaxation;
* ``base+anderson``: the same graph with ``meta["relaxation"] = "anderson"`` (every phase, free and
  nudged, solved by Anderson acceleration);
* ``mstep``: ``mstep.build(seed=s)`` (levels 64 -> 256, pooled 4x4 input for the coarse level),
  coarse-to-fine relaxation.

Reported per model: the final-epoch test accuracy (no epoch is chosen on the test set) and, at
test time, the free phase to the model's tolerance (1e-4, budget 200 steps) on the trained weights
with each solver that applies: steps for the whole test set as one batch (what ``predict`` does;
the slowest sample decides) and per sample (batch 1, the first ``PER_SAMPLE`` test images),
cost-weighted work per sample (:class:`~neurotep.backends.torch.solvers.SolverInfo`: neuron
updates, synaptic MACs of the recurrent connections and buffer taps counted on the structural
synapses, the input projection once, Anderson's own arithmetic), torch wall time per relaxation
and per step (batch 360, median of ``WALL_REPEATS``), and the accuracy each solver gives. Ratios
are against ``base`` with plain relaxation, per seed, then averaged.

Also: the Hessian's smallest eigenvalue and the linearised contraction factor of each trained
model (``mstep.spectrum``: they set plain relaxation's speed), the peak tensor memory of one EqProp
training step at two relaxation lengths (``torch.profiler``, like ``benchmarks memory``), the
cosine of the EqProp update with the implicit-differentiation gradient on the trained seed-0 MS-TEP
and base models (float64, first 64 training images, beta 0.001, 0.01 and 0.1, ``compare_gradients``
defaults), and the
Lava simulator's time per step (Loihi2SimCfg, float, rate mode, batch 1, via ``run_lava``: the
slope between ``T_SHORT`` and ``T_LONG`` steps, medians over repeats; a run during which other
processes used more than 5 % of a core is repeated once after waiting up to 30 s for an idle CPU, and
runs that stayed contended are listed) of the
trained seed-0 MS-TEP graph against the trained seed-0 base graph. Lava runs the plain dynamics
only: coarse-to-fine staging and Anderson mixing are torch-side solvers.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from benchmarks.common import mean_std, pct, table, with_torch_threads

SEEDS, EPOCHS, PER_SAMPLE, WALL_REPEATS = (0, 1, 2), 30, 100, 3
QUICK_SEEDS, QUICK_EPOCHS, QUICK_PER_SAMPLE, QUICK_WALL_REPEATS = (0,), 2, 10, 1
T_SHORT, T_LONG, LAVA_REPEATS = 50, 1000, 5
QUICK_T_LONG, QUICK_LAVA_REPEATS = 200, 1
MEM_STEPS, QUICK_MEM_STEPS = (10, 100), (5, 10)
GRAD_BETAS = (0.001, 0.01, 0.1)
MODELS = ("base", "base+anderson", "mstep")
EVAL = {"base": ("plain", "anderson"), "base+anderson": ("anderson", "plain"),
        "mstep": ("coarse_to_fine", "plain", "anderson")}
OWN = {"base": "plain", "base+anderson": "anderson", "mstep": "coarse_to_fine"}  # how each model trains


def _graph(model: str, seed: int, data):
    from neurotep.variants import base, mstep

    if model == "mstep":
        return mstep.build(n_in=data.n_features, n_out=data.n_classes, seed=seed)
    g = base.build(n_in=data.n_features, n_out=data.n_classes, seed=seed)
    if model == "base+anderson":
        g.meta["relaxation"] = "anderson"
    return g


def _evaluate(graph, data, method: str, per_sample: int, repeats: int) -> dict:
    """Free phase on the test set with ``method``: steps, work, wall time, accuracy."""
    import torch

    from neurotep.backends.torch import TorchNetwork
    from neurotep.backends.torch.solvers import relax_info
    from neurotep.learning.eqprop import EqPropConfig

    net = TorchNetwork(graph)
    cfg = EqPropConfig.from_meta(graph.meta)
    x = torch.as_tensor(data.x_test, dtype=net.dtype)
    walls = []
    with torch.no_grad():
        relax_info(net, {"x": x[:8]}, cfg.free_steps, cfg.tol, method=method)  # warm-up (lazy linalg init)
        for _ in range(repeats):
            t0 = time.perf_counter()
            st, info = relax_info(net, {"x": x}, cfg.free_steps, cfg.tol, method=method)
            walls.append(time.perf_counter() - t0)
        acc = float((st.out["y"].argmax(1).numpy() == data.y_test).mean())
        one = []
        for i in range(per_sample):
            t0 = time.perf_counter()
            _, inf1 = relax_info(net, {"x": x[i:i + 1]}, cfg.free_steps, cfg.tol, method=method)
            one.append((inf1, time.perf_counter() - t0))
    wall = statistics.median(walls)
    return dict(method=method, test_accuracy=acc, batch_steps=info.steps, batch_stage_steps=info.stage_steps,
                batch_converged=info.converged, batch_ops_per_sample=info.as_dict(), wall_seconds=wall,
                wall_us_per_step=1e6 * wall / max(1, info.steps),
                per_sample=dict(n=per_sample, steps_mean=float(np.mean([i.steps for i, _ in one])),
                                steps_max=int(max(i.steps for i, _ in one)),
                                stage_steps_mean=[float(v) for v in np.mean([i.stage_steps for i, _ in one], axis=0)]
                                if len({len(i.stage_steps) for i, _ in one}) == 1 else None,
                                neuron_updates_mean=float(np.mean([i.neuron_updates for i, _ in one])),
                                synaptic_ops_mean=float(np.mean([i.synaptic_ops for i, _ in one])),
                                total_ops_mean=float(np.mean([i.total_ops for i, _ in one])),
                                converged=sum(i.converged for i, _ in one),
                                wall_ms_mean=1e3 * float(np.mean([w for _, w in one]))))


def _memory(graph, data, steps: int) -> float:
    """Peak tensor MiB of one EqProp training step (gradients + Adam) with ``steps`` per phase."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from neurotep.backends.torch import TorchNetwork
    from neurotep.data import one_hot
    from neurotep.learning.eqprop import EqPropConfig, apply_gradients, eqprop_gradients

    net = TorchNetwork(graph)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.as_tensor(data.x_train[:32], dtype=net.dtype)
    t = torch.as_tensor(one_hot(data.y_train[:32], data.n_classes), dtype=net.dtype)

    def step(T):
        opt.zero_grad(set_to_none=True)
        grads, _, _ = eqprop_gradients(net, x, t, EqPropConfig(beta=0.5, free_steps=T, nudge_steps=T, tol=None))
        apply_gradients(net, grads)
        opt.step()

    step(1)  # warm-up: Adam's state, lazy kernels
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step(steps)
    cur = peak = 0
    for _, b in sorted((e.time_range.start, e.self_cpu_memory_usage) for e in prof.events() if e.self_cpu_memory_usage):
        cur += b
        peak = max(peak, cur)
    return peak / 2**20


def _gradient(graph, data, betas, batch: int) -> dict:
    """Cosine of the EqProp update with the implicit-differentiation gradient (float64, first
    ``batch`` training images, long relaxation: ``compare_gradients`` defaults)."""
    import torch

    from neurotep.backends.torch import TorchNetwork
    from neurotep.data import one_hot
    from neurotep.learning.gradcheck import compare_gradients

    net = TorchNetwork(graph, dtype=torch.float64)
    x = torch.as_tensor(data.x_train[:batch], dtype=torch.float64)
    t = torch.as_tensor(one_hot(data.y_train[:batch], data.n_classes), dtype=torch.float64)
    out = {}
    for beta in betas:
        r = compare_gradients(net, x, t, beta)
        out[str(beta)] = dict(min_cos=min(p["cos_eqprop_implicit"] for p in r["params"].values()),
                              rel_norm_range=[min(p["rel_norm"] for p in r["params"].values()),
                                              max(p["rel_norm"] for p in r["params"].values())],
                              params=r["params"], free_steps=r["free_steps"], nudge_steps=r["nudge_steps"])
    return out


def _lava(graphs: dict, data, t_long: int, repeats: int, tries: int) -> dict:
    """Lava (float, rate mode, batch 1) time per step of each trained graph: slope between T_SHORT
    and t_long, medians over interleaved uncontended repeats; the readout is checked against torch."""
    import torch

    from benchmarks._lava_common import uncontended
    from neurotep.backends.lava.plan import compile_graph
    from neurotep.backends.lava.runner import run_lava
    from neurotep.backends.torch import TorchNetwork

    x = data.x_test[:1].astype(np.float64)
    ids = np.asarray(data.test_index[:1], dtype=np.int64)
    times = {m: {T: [] for T in (T_SHORT, t_long)} for m in graphs}
    procs, readout, retried, contended = {}, {}, 0, []
    for _ in range(repeats):
        for T in (T_SHORT, t_long):
            for m, g in graphs.items():
                (rec, ro, info), other, attempts = uncontended(
                    lambda: run_lava(g, {"x": x[None]}, T, ids, spiking_inputs=False), tries=tries, max_wait=30.0)
                times[m][T].append(info["run_seconds"])
                procs[m] = info["processes"]
                readout[m] = ro["last"]
                retried += attempts - 1
                if other is not None and other > 0.05 * info["run_seconds"] + 0.1:
                    contended.append(dict(model=m, steps=T, other_cpu_seconds=other))
    out = {}
    for m, g in graphs.items():
        net = TorchNetwork(g, dtype=torch.float64)
        st, w = net.init_state(1), net.effective_weights()
        with torch.no_grad():
            for _ in range(t_long):
                st = net.step(st, {"x": torch.as_tensor(x)}, w)
        med = {T: statistics.median(v) for T, v in times[m].items()}
        out[m] = dict(processes=procs[m], synapses=sum(p.get("synapses", 0) for p in compile_graph(g).describe()["processes"]),
                      run_seconds=times[m], ms_per_step=1e3 * (med[t_long] - med[T_SHORT]) / (t_long - T_SHORT),
                      readout_max_abs_diff_vs_torch=float((st.out["y"] - readout[m]).abs().max()))
    return dict(models=out, runs_repeated_for_contention=retried, contended_runs_kept=contended, t_short=T_SHORT,
                t_long=t_long, repeats=repeats)


THREADS = 1  # one torch thread: steadier on a shared machine (common.with_torch_threads)


def run(quick: bool = False) -> dict:
    return with_torch_threads(THREADS, _run, quick)


def _run(quick: bool) -> dict:
    from neurotep.data import load_digits_split
    from neurotep.learning.train import train
    from neurotep.variants import mstep

    seeds, epochs, per_sample, repeats = ((QUICK_SEEDS, QUICK_EPOCHS, QUICK_PER_SAMPLE, QUICK_WALL_REPEATS) if quick
                                          else (SEEDS, EPOCHS, PER_SAMPLE, WALL_REPEATS))
    data = load_digits_split()
    per_seed, trained0 = [], {}
    for seed in seeds:
        row = dict(seed=seed)
        for model in MODELS:
            res = train(_graph(model, seed, data), data, method="eqprop", epochs=epochs, seed=seed, progress=False)
            m = res.metrics
            spec = mstep.spectrum(res.graph)
            evals = {meth: _evaluate(res.graph, data, meth, per_sample, repeats) for meth in EVAL[model]}
            row[model] = dict(test_accuracy=m["test_accuracy"], train_accuracy=m["train_accuracy"],
                              train_seconds=m["train_seconds"], trained_with=OWN[model],
                              history_test_relax_steps=[h["test_relax_steps"] for h in res.history],
                              spectrum=spec, eval=evals)
            if seed == seeds[0]:
                trained0[model] = res.graph
            print(f"  seed {seed} {model:<14}: test {pct(m['test_accuracy'])} ({m['train_seconds']:.1f} s); "
                  + "; ".join(f"{k}: {v['batch_steps']} steps (per sample {v['per_sample']['steps_mean']:.1f}), "
                              f"{v['per_sample']['total_ops_mean'] / 1e3:.0f} kMAC, {v['wall_seconds'] * 1e3:.1f} ms"
                              for k, v in evals.items()) + f"; contraction {spec['contraction']:.3f}", flush=True)
        base_own = row["base"]["eval"]["plain"]
        ratios = {}
        for model in MODELS:
            for meth, ev in row[model]["eval"].items():
                ratios[f"{model}/{meth}"] = dict(
                    batch_steps=ev["batch_steps"] / base_own["batch_steps"],
                    per_sample_steps=ev["per_sample"]["steps_mean"] / base_own["per_sample"]["steps_mean"],
                    per_sample_ops=ev["per_sample"]["total_ops_mean"] / base_own["per_sample"]["total_ops_mean"],
                    wall=ev["wall_seconds"] / base_own["wall_seconds"])
        row["ratios_vs_base_plain"] = ratios
        per_seed.append(row)

    # summary over seeds
    summary = {}
    for model in MODELS:
        mu, sd = mean_std([r[model]["test_accuracy"] for r in per_seed])
        s = dict(test_accuracy_mean=mu, test_accuracy_std=sd,
                 train_seconds_mean=float(np.mean([r[model]["train_seconds"] for r in per_seed])),
                 contraction_mean=float(np.mean([r[model]["spectrum"]["contraction"] for r in per_seed])),
                 hessian_min_eig_mean=float(np.mean([r[model]["spectrum"]["hessian_min_eig"] for r in per_seed])),
                 eval={})
        for meth in EVAL[model]:
            evs = [r[model]["eval"][meth] for r in per_seed]
            rat = [r["ratios_vs_base_plain"][f"{model}/{meth}"] for r in per_seed]
            s["eval"][meth] = dict(
                test_accuracy_mean=float(np.mean([e["test_accuracy"] for e in evs])),
                batch_steps_mean=float(np.mean([e["batch_steps"] for e in evs])),
                per_sample_steps_mean=float(np.mean([e["per_sample"]["steps_mean"] for e in evs])),
                per_sample_total_ops_mean=float(np.mean([e["per_sample"]["total_ops_mean"] for e in evs])),
                per_sample_neuron_updates_mean=float(np.mean([e["per_sample"]["neuron_updates_mean"] for e in evs])),
                wall_ms_mean=1e3 * float(np.mean([e["wall_seconds"] for e in evs])),
                wall_us_per_step_mean=float(np.mean([e["wall_us_per_step"] for e in evs])),
                ratio_vs_base_plain={k: float(np.mean([r[k] for r in rat])) for k in rat[0]})
        summary[model] = s

    print()
    print(table(["model", "trained with", f"test acc ({len(seeds)} seeds)", "train s"],
                [[m, OWN[m], pct(summary[m]["test_accuracy_mean"], summary[m]["test_accuracy_std"]),
                  round(summary[m]["train_seconds_mean"], 1)] for m in MODELS]))
    print()
    rows = []
    for m in MODELS:
        for meth, e in summary[m]["eval"].items():
            r = e["ratio_vs_base_plain"]
            rows.append([m, meth, f"{e['batch_steps_mean']:.1f}", f"{e['per_sample_steps_mean']:.1f}",
                         f"{e['per_sample_total_ops_mean'] / 1e3:.0f}", f"{e['wall_ms_mean']:.1f}",
                         f"{e['wall_us_per_step_mean']:.0f}", f"{r['batch_steps']:.2f}", f"{r['per_sample_steps']:.2f}",
                         f"{r['per_sample_ops']:.2f}", f"{r['wall']:.2f}", pct(e["test_accuracy_mean"])])
    print(table(["model", "test-time solver", "steps (batch 360)", "steps/sample", "kMAC/sample", "wall ms (360)",
                 "us/step", "x steps", "x steps/sample", "x MAC", "x wall", "acc"], rows))
    print("(x = ratio to base with plain relaxation, same seed, averaged over seeds)")

    mem_steps = QUICK_MEM_STEPS if quick else MEM_STEPS
    memory = {m: {T: _memory(_graph(m, 0, data), data, T) for T in mem_steps} for m in ("base", "mstep")}
    print("\npeak tensor MiB of one EqProp training step (batch 32), T steps per phase: "
          + "; ".join(f"{m}: " + ", ".join(f"T={T} {v:.3f}" for T, v in d.items()) for m, d in memory.items()))

    t0 = time.perf_counter()
    gradient = {m: _gradient(trained0[m], data, GRAD_BETAS[:1] if quick else GRAD_BETAS, 16 if quick else 64)
                for m in ("mstep", "base")}
    for m, gr in gradient.items():
        print(f"EqProp vs implicit gradient, trained seed-{seeds[0]} {m} (float64, its own relaxation): "
              + "; ".join(f"beta {b}: min cosine {v['min_cos']:.6f}, |EqProp|/|implicit| {v['rel_norm_range'][0]:.3f}-"
                          f"{v['rel_norm_range'][1]:.3f}" for b, v in gr.items()))
    print(f"({time.perf_counter() - t0:.1f} s)")

    t_long, lava_rep = (QUICK_T_LONG, QUICK_LAVA_REPEATS) if quick else (T_LONG, LAVA_REPEATS)
    # quick: no waiting for an idle CPU (a smoke test); full: a contended run is retried once after <= 30 s
    lava = _lava({"base": trained0["base"], "mstep": trained0["mstep"]}, data, t_long, lava_rep, 1 if quick else 2)
    lb, lm = lava["models"]["base"], lava["models"]["mstep"]
    lava["ratio_mstep_over_base_ms_per_step"] = lm["ms_per_step"] / lb["ms_per_step"]
    # Lava runs plain dynamics: its relaxation costs ms/step x plain steps to the tolerance.
    p_base = per_seed[0]["base"]["eval"]["plain"]["per_sample"]["steps_mean"]
    p_ms = per_seed[0]["mstep"]["eval"]["plain"]["per_sample"]["steps_mean"]
    lava["ms_per_relaxation"] = dict(base=lb["ms_per_step"] * p_base, mstep=lm["ms_per_step"] * p_ms)
    print(f"Lava (float, rate, batch 1; slope T={T_SHORT}..{t_long}): base {lb['ms_per_step']:.3f} ms/step "
          f"({lb['processes']} processes, {lb['synapses']} synapses), MS-TEP {lm['ms_per_step']:.3f} ms/step "
          f"({lm['processes']} processes, {lm['synapses']} synapses): ratio {lava['ratio_mstep_over_base_ms_per_step']:.2f}; "
          f"per relaxation (plain steps to tol, seed 0): base {lava['ms_per_relaxation']['base']:.1f} ms, "
          f"MS-TEP {lava['ms_per_relaxation']['mstep']:.1f} ms; readout vs torch max diff "
          f"{max(lb['readout_max_abs_diff_vs_torch'], lm['readout_max_abs_diff_vs_torch']):.1e}")

    c2f = summary["mstep"]["eval"]["coarse_to_fine"]["ratio_vs_base_plain"]
    anders = summary["base+anderson"]["eval"]["anderson"]["ratio_vs_base_plain"]
    print(f"\nseed claim '2-5x fewer relaxation steps' (ratio 0.2-0.5): MS-TEP with coarse-to-fine takes "
          f"{c2f['per_sample_steps']:.2f}x the per-sample steps of the base model and {c2f['per_sample_ops']:.2f}x its MACs "
          f"({'held' if c2f['per_sample_steps'] <= 0.5 else 'NOT held'}); Anderson on the base model: "
          f"{anders['per_sample_steps']:.2f}x the steps, {anders['per_sample_ops']:.2f}x the MACs")
    return dict(settings=dict(seeds=list(seeds), epochs=epochs, batch_size=32, lr=1e-3, method="eqprop",
                              split=dict(train=len(data.x_train), test=len(data.x_test)), per_sample_images=per_sample,
                              wall_repeats=repeats, tol=1e-4, budget_steps=200, torch_threads=THREADS,
                              mstep_hyperparameters=mstep.build().meta["hyperparameters"],
                              reported="final-epoch test accuracy; std is the sample std (ddof=1); ratios per seed vs "
                                       "base with plain relaxation, then averaged",
                              ops="per sample: synaptic MACs on structural synapses (recurrent + buffer taps per step, "
                                  "input projection once) + solver overhead"),
                summary=summary, per_seed=per_seed, memory_tensor_peak_mib=memory, gradient_vs_implicit=gradient, lava=lava)
