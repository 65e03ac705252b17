"""HTSEP (seed 001): every numeric claim of the seed that digits can test, measured in one run
against the base TorEqProp model.

Models: HTSEP at its default build hyperparameters (``htsep.build(seed=0)``: 16x16 torus chosen
from the digits training split, learned time x space decays, gates 0.5 on the hidden state update)
and the base model (``base.build(seed=0)``, from the benchmarks' cache when present), both trained
by EqProp for the same epochs with the same optimiser settings (``train`` defaults: Adam, lr 1e-3,
batch 32) on the fixed digits split. Nothing is selected on the test images: every figure is the
one after the last epoch, and no setting is picked by test accuracy (the curves report every point).

(a) **accuracy vs spikes**: HTSEP's spiking mode (stochastic neurons, Poisson input; the hidden
    units' spike gate is the sparsity knob, outgoing weights scaled by 1/gate) on torch, all 360
    test images, over temperatures x spike gates x T; one point re-run on Lava (64 images) to
    confirm identical spikes. The plot goes next to the result file (``htsep.png``).
(b) **energy per inference**: ``profile_run`` of the spiking runs on ``loihi2`` and ``gpu-dense``
    (seed claim: 5-10x less on Loihi 2), HTSEP and the base model's LIF spiking mode.
(c) **steps to equilibrium** (free phase, test images): ``relax`` to the model's tol as in
    training and prediction (it also waits K calm steps for the buffer), and the first step at
    which every state is within tol of the fixed point, for plain relaxation and Anderson
    acceleration (seed claims < 10, < 5 with acceleration, vs 30+ for the base model).
(d) **gradient**: cosine of the EqProp update with the implicit-differentiation gradient and with
    BPTT, trained HTSEP, float64, 64 training images (seed claim: > 0.99).
(e) **retention** after class-incremental continual learning (digits 0-4 then 5-9, no replay):
    :func:`neurotep.learning.continual.continual_experiment`, HTSEP vs the base model (seed
    claim: 80-90 %, vs 50 % for LSTMs; we compare with the base model, not an LSTM).
(f) **power effect of gates**: membrane updates, spikes and Loihi 2 energy per inference with the
    spike gate at 1, 0.5, 0.25 (seed claim: 50-70 % less power), and in rate mode the neuron
    updates needed to reach equilibrium with the state-update gate at 0.5 vs 1.

Gates are a property of the plain dynamics; the implicit gradient and Anderson acceleration are
computed on the same network with its gates set to 1 (the fixed points, hence the gradient, are
the same; neurotep's adjoint iteration and Anderson's map evaluate one step at a fixed step count,
where a gated step would freeze the closed units).
"""

from __future__ import annotations

import copy
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import RESULTS_DIR, mean_std, table, train_base

EPOCHS, QUICK_EPOCHS = 40, 2
CL_EPOCHS, QUICK_CL_EPOCHS = 20, 1
CL_SEEDS, QUICK_CL_SEEDS = (0, 1, 2), (0,)
TEMPERATURES, QUICK_TEMPERATURES = (0.02, 0.1, 0.3, 1.0), (0.1, 1.0)
SPIKE_GATES, QUICK_SPIKE_GATES = (1.0, 0.5, 0.25, 0.1), (1.0, 0.5)
STEPS, QUICK_STEPS = (50, 200), (50,)
QUICK_SAMPLES = 100
GRAD_BATCH, BPTT_STEPS, QUICK_BPTT_STEPS = 64, 400, 100
LAVA_SAMPLES = 64
MAX_TRACE = 2000  # steps at most when tracing the distance to the fixed point


def _ungated(graph):
    """The same network with every probabilistic gate set to 1 (same fixed points)."""
    g = copy.deepcopy(graph)
    for p in g.populations.values():
        if "gate" in p.params:
            p.params["gate"] = 1.0
    return g


def _with_gate(graph, gate: float):
    g = copy.deepcopy(graph)
    g.populations["h"].params["gate"] = float(gate)
    return g


def _spiking(graph, temperature: float | None = None, gate: float | None = None):
    g = copy.deepcopy(graph)
    if temperature is not None:
        g.meta["spiking"]["temperature"] = float(temperature)
    if gate is not None:
        g.meta["spiking"]["gate"] = float(gate)
    return g


def _train_htsep(data, epochs: int):
    from neurotep.learning.train import train
    from neurotep.variants import htsep

    g = htsep.build(n_in=data.n_features, n_out=data.n_classes, seed=0)
    res = train(g, data, epochs=epochs, seed=0, progress=False)
    return res.graph, res.metrics, res.history


# -- (a), (b), (f): spiking runs and their profiles ------------------------------------------------
def _profiled_run(graph, data, samples, steps, neuron, workdir: Path, label: str) -> dict:
    """run_model on torch, saved with its sample ids (so closed gates are counted exactly), then
    profiled for Loihi 2 and the dense GPU."""
    from neurotep.profile import profile_run
    from neurotep.runner import run_model, save_run

    res = run_model(graph, data, samples=samples, steps=steps, spiking=True, neuron=neuron)
    res.summary["sample_ids"] = [int(i) for i in data.test_index[:res.summary["samples"]]]
    d = workdir / label
    save_run(res, d)
    prof = {hw: profile_run(d, hw) for hw in ("loihi2", "gpu-dense")}
    s = res.summary
    h = "h" if "h" in s["populations"] else "h0"
    counts = prof["loihi2"]["counts"]
    loihi2_dynamic = prof["loihi2"]["energy_joules"] - prof["loihi2"]["energy_breakdown"]["by_operation"].get("static", 0.0)
    return dict(label=label, neuron=neuron, steps=s["steps"], samples=s["samples"], test_accuracy=s["test_accuracy"],
                spikes_per_hidden_neuron_per_step=s["populations"][h]["spikes_per_neuron_per_step"],
                spikes_per_inference=s["spikes_total"] / s["samples"],
                hidden_spikes_per_inference=s["populations"][h]["spikes"] / s["samples"],
                membrane_updates_per_inference=sum(c["membrane_updates"] for c in counts.values()),
                hidden_membrane_updates_per_inference=counts[h]["membrane_updates"],
                synaptic_ops_per_inference=sum(c["synaptic_ops_effective"] for c in counts.values()),
                # the high end without static power: Loihi 1's per-op figures, as this benchmark always priced it
                energy_loihi2_joules=loihi2_dynamic,
                energy_loihi2_range_joules=prof["loihi2"]["energy_range_joules"],
                energy_gpu_dense_joules=prof["gpu-dense"]["energy_joules"],
                gpu_over_loihi2=prof["gpu-dense"]["energy_joules"] / loihi2_dynamic,
                loihi2_by_operation=prof["loihi2"]["energy_breakdown"]["by_operation"],
                wall_seconds=s["wall_seconds"])


def _sweep(graph, data, samples, temps, gates, steps_list) -> list[dict]:
    from neurotep.runner import run_model

    rows = []
    for T in steps_list:
        for temp in temps:
            for gate in gates:
                s = run_model(_spiking(graph, temp, gate), data, samples=samples, steps=T, spiking=True,
                              neuron="stochastic").summary
                rows.append(dict(steps=T, temperature=temp, spike_gate=gate, test_accuracy=s["test_accuracy"],
                                 spikes_per_hidden_neuron_per_step=s["populations"]["h"]["spikes_per_neuron_per_step"],
                                 hidden_spikes_per_inference=s["populations"]["h"]["spikes"] / s["samples"],
                                 wall_seconds=s["wall_seconds"]))
        print(f"  sweep T={T}: {len(temps) * len(gates)} runs done", flush=True)
    return rows


def _lava_point(graph, data, samples: int, steps: int) -> dict:
    """One spiking setting on Lava and on torch, same images: accuracy and spike counts."""
    from neurotep.runner import run_model

    out = dict(samples=samples, steps=steps, temperature=graph.meta["spiking"]["temperature"],
               spike_gate=graph.meta["spiking"]["gate"])
    try:
        t0 = time.perf_counter()
        lv = run_model(graph, data, backend="lava", samples=samples, steps=steps, spiking=True, neuron="stochastic")
        out["lava_seconds"] = time.perf_counter() - t0
    except Exception as e:  # report, do not hide: Lava may not support something yet
        out["error"] = f"{type(e).__name__}: {e}"
        return out
    tc = run_model(graph, data, backend="torch", samples=samples, steps=steps, spiking=True, neuron="stochastic")
    same = {}
    for kind in ("per_neuron", "per_step", "per_sample"):
        a, b = getattr(tc.recording, kind), getattr(lv.recording, kind)
        for p in a:
            same[f"{kind}/{p}"] = bool(p in b and np.array_equal(a[p].cpu().numpy().astype(np.float64),
                                                                   b[p].cpu().numpy().astype(np.float64)))
    out.update(torch_accuracy=tc.summary["test_accuracy"], lava_accuracy=lv.summary["test_accuracy"],
               torch_spikes=tc.summary["spikes_total"], lava_spikes=lv.summary["spikes_total"],
               counts_identical=all(same.values()), identical_by_array=same)
    return out


def _plot(sweep: list[dict], base_point: dict, rate_acc: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    steps = sorted({r["steps"] for r in sweep})
    for T, style in zip(steps, ("--", "-", ":")):
        for i, temp in enumerate(sorted({r["temperature"] for r in sweep})):
            pts = sorted((r for r in sweep if r["steps"] == T and r["temperature"] == temp),
                         key=lambda r: r["spikes_per_hidden_neuron_per_step"])
            ax.plot([r["spikes_per_hidden_neuron_per_step"] for r in pts], [100 * r["test_accuracy"] for r in pts],
                    style, marker="o", color=f"C{i}", label=f"HTSEP T={T}, temperature {temp:g}")
    ax.axhline(100 * rate_acc, color="k", lw=0.8, label="HTSEP rate mode")
    ax.plot([base_point["spikes_per_hidden_neuron_per_step"]], [100 * base_point["test_accuracy"]], "k*", ms=11,
            label=f"base model, LIF, T={base_point['steps']}")
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator([0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2]))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("hidden spikes per neuron per step (spike gate 1 ... 0.1 from right to left)")
    ax.set_ylabel("digits test accuracy (%)")
    ax.set_title("HTSEP spiking mode: accuracy vs spikes (torch)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6.5, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# -- (c) steps to equilibrium ----------------------------------------------------------------------
def _steps(graph, x, tol: float) -> dict:
    """Steps of the free phase on the images ``x`` (see the module docstring)."""
    import torch

    from neurotep.backends.torch import TorchNetwork
    from neurotep.backends.torch.solvers import anderson
    from neurotep.learning.eqprop import EqPropConfig

    cfg = EqPropConfig.from_meta(graph.meta)
    inp = graph.meta["input"]
    xt = torch.as_tensor(x, dtype=torch.float64)
    net = TorchNetwork(graph, dtype=torch.float64)
    ref = TorchNetwork(_ungated(graph), dtype=torch.float64)
    names = [p.name for p in graph.state_populations()]
    with torch.no_grad():
        star, n_star = ref.relax({inp: xt}, 20000, 1e-12, method="plain")
        _, n_relax = net.relax({inp: xt}, cfg.free_steps, cfg.tol, method="plain")

        def first_within(network, solver) -> np.ndarray:
            """Per image, the first step at which every state is within tol of the fixed point."""
            hit = np.full(len(x), -1)

            def cb(st, k):
                d = torch.stack([(st.out[p] - star.out[p]).abs().amax(1) for p in names]).amax(0).numpy()
                hit[(d < tol) & (hit < 0)] = k
                return bool((hit >= 0).all())

            if solver == "plain":  # plain steps until every image got there
                w = network.effective_weights()
                st = network.init_state(len(x), static={inp: xt})
                drive = network.static_drive({inp: xt}, w)
                for k in range(1, MAX_TRACE + 1):
                    st = network.step(st, {inp: xt}, w, drive=drive)
                    if cb(st, k):
                        break
            else:
                anderson(network, {inp: xt}, MAX_TRACE, tol * 1e-3, callback=cb)
            return hit

        plain_hit = first_within(net, "plain")
        anderson_hit = first_within(ref, "anderson")
        _, n_anderson = ref.relax({inp: xt}, cfg.free_steps, cfg.tol, method="anderson")

    def stats(h):
        ok = h >= 0
        return dict(mean=float(h[ok].mean()) if ok.any() else None, median=float(np.median(h[ok])) if ok.any() else None,
                    max=int(h[ok].max()) if ok.any() else None, not_reached=int((~ok).sum()))

    gate = float(graph.populations["h" if "h" in graph.populations else "h0"].param("gate"))
    hidden = sum(p.size for p in graph.state_populations() if p.model == "hard_sigmoid")
    plain = stats(plain_hit)
    return dict(relax_steps_batch=int(n_relax), relax_tol=cfg.tol, reference_steps=int(n_star), gate=gate,
                within_tol_plain=plain, within_tol_anderson=stats(anderson_hit), anderson_relax_steps_batch=int(n_anderson),
                hidden_updates_to_equilibrium_plain=None if plain["mean"] is None else plain["mean"] * gate * hidden)


# -- (d) gradient ----------------------------------------------------------------------------------
def _gradient(graph, data, bptt_steps: int) -> list[dict]:
    import torch

    from neurotep.backends.torch import TorchNetwork
    from neurotep.data import one_hot
    from neurotep.learning.bptt import bptt_gradients
    from neurotep.learning.eqprop import EqPropConfig, eqprop_gradients
    from neurotep.learning.gradcheck import cosine, implicit_gradients

    net = TorchNetwork(graph, dtype=torch.float64)
    ref = TorchNetwork(_ungated(graph), dtype=torch.float64)
    x = torch.as_tensor(data.x_train[:GRAD_BATCH], dtype=torch.float64)
    t = torch.as_tensor(one_hot(data.y_train[:GRAD_BATCH], data.n_classes), dtype=torch.float64)
    tr = EqPropConfig.from_meta(graph.meta)
    out = []
    bp, _ = bptt_gradients(net, x, t, bptt_steps)
    for label, cfg in (("beta=0.01, long relaxation", EqPropConfig(beta=0.01, free_steps=5000, nudge_steps=5000, tol=1e-9)),
                       (f"training settings (beta={tr.beta}, free {tr.free_steps}, nudge {tr.nudge_steps}, tol {tr.tol:g})", tr)):
        ep, info, free = eqprop_gradients(net, x, t, cfg)
        true = implicit_gradients(ref, x, t, free.out)
        params = {k: dict(cos_eqprop_implicit=cosine(ep[k], true[k]), cos_eqprop_bptt=cosine(ep[k], bp[k]),
                          cos_bptt_implicit=cosine(bp[k], true[k]),
                          rel_norm=float(ep[k].norm() / true[k].norm().clamp_min(1e-30))) for k in ep}
        out.append(dict(setting=label, beta=cfg.beta, free_steps=info.free_steps,
                        nudge_steps=[info.plus_steps, info.minus_steps], params=params,
                        min_cos_eqprop_implicit=min(p["cos_eqprop_implicit"] for p in params.values()),
                        min_cos_eqprop_bptt=min(p["cos_eqprop_bptt"] for p in params.values())))
    return out


# -- (e) continual learning ------------------------------------------------------------------------
def _continual(data, epochs: int, seeds) -> dict:
    from neurotep.learning.continual import continual_experiment
    from neurotep.variants import base, htsep

    out = {}
    for name, mod in (("htsep", htsep), ("base", base)):
        runs = []
        for seed in seeds:
            g = mod.build(n_in=data.n_features, n_out=data.n_classes, seed=seed)
            r = continual_experiment(g, data, epochs=epochs, seed=seed)
            r.pop("graphs")
            runs.append(r)
            print(f"  continual {name} seed {seed}: retention class-incremental "
                  f"{100 * (r['retention']['class_incremental'] or 0):.1f} %, task-incremental "
                  f"{100 * (r['retention']['task_incremental'] or 0):.1f} % ({sum(r['train_seconds']):.0f} s)", flush=True)
        summ = {}
        for mode in ("class_incremental", "task_incremental"):
            ret = [r["retention"][mode] for r in runs]
            a1 = [r["after_task"][0]["task0"][mode] for r in runs]
            a2 = [r["after_task"][1]["task0"][mode] for r in runs]
            b2 = [r["after_task"][1]["task1"][mode] for r in runs]
            summ[mode] = dict(retention=mean_std(ret), task_a_after_a=mean_std(a1), task_a_after_b=mean_std(a2),
                              task_b_after_b=mean_std(b2))
        out[name] = dict(runs=runs, summary=summ)
    return out


def run(quick: bool = False) -> dict:
    import torch

    from neurotep.data import load_digits_split
    from neurotep.runner import run_model

    data = load_digits_split()
    epochs = QUICK_EPOCHS if quick else EPOCHS
    samples = QUICK_SAMPLES if quick else None
    temps, gates, steps_list = (QUICK_TEMPERATURES, QUICK_SPIKE_GATES, QUICK_STEPS) if quick else (TEMPERATURES, SPIKE_GATES, STEPS)
    T = max(steps_list)

    hg, hm, hist = _train_htsep(data, epochs)
    print(f"  HTSEP: EqProp {epochs} epochs, test accuracy {100 * hm['test_accuracy']:.2f} % "
          f"({hm['train_seconds']:.0f} s); learned decays (time, rows, cols) "
          f"{', '.join(f'{d:.4f}' for d in hg.buffers[0].decay)}", flush=True)
    bg, bm, cached = train_base(epochs, 0, "eqprop", data=data)
    print(f"  base: EqProp {epochs} epochs, test accuracy {100 * bm['test_accuracy']:.2f} %"
          f"{' (from cache)' if cached else ''}", flush=True)
    htsep_rate = run_model(hg, data, samples=samples).summary
    base_rate = run_model(bg, data, samples=samples).summary

    # (a) accuracy vs spikes, (b) energy, (f) gates in spiking mode.
    sweep = _sweep(hg, data, samples, temps, gates, steps_list)
    temp0 = hg.meta["spiking"]["temperature"]
    with tempfile.TemporaryDirectory(prefix="htsep-bench-") as tmp:
        work = Path(tmp)
        base_pt = _profiled_run(bg, data, samples, T, "lif", work, "base_lif")
        gate_pts = [_profiled_run(_spiking(hg, temp0, g), data, samples, T, "stochastic", work, f"htsep_gate{g:g}")
                    for g in (1.0, 0.5, 0.25)]
    plot = RESULTS_DIR / ("htsep.quick.png" if quick else "htsep.png")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    _plot(sweep, base_pt, htsep_rate["test_accuracy"], plot)
    lava = (dict(skipped="quick mode (a Lava run takes tens of seconds)") if quick
            else _lava_point(_spiking(hg, temp0, 0.5), data, LAVA_SAMPLES, T))
    print(f"  spiking runs and profiles done; Lava: {lava.get('counts_identical', lava.get('error', lava.get('skipped')))}",
          flush=True)

    # (c) steps to equilibrium on the test images (rate mode).
    x = data.x_test[:samples] if samples else data.x_test
    tol = hg.meta["hyperparameters"]["tol"]
    steps = {"htsep (gate 0.5, as trained)": _steps(hg, x, tol), "htsep, gates set to 1": _steps(_with_gate(hg, 1.0), x, tol),
             "base": _steps(bg, x, tol)}
    print("  steps to equilibrium measured", flush=True)

    # (d) gradient fidelity.
    grad = _gradient(hg, data, QUICK_BPTT_STEPS if quick else BPTT_STEPS)
    print(f"  gradient: min cosine EqProp/implicit at beta 0.01: {grad[0]['min_cos_eqprop_implicit']:.6f}", flush=True)

    # (e) continual learning.
    cl = _continual(data, QUICK_CL_EPOCHS if quick else CL_EPOCHS, QUICK_CL_SEEDS if quick else CL_SEEDS)

    # -- report ----------------------------------------------------------------------------------
    print()
    print(table(["T", "temperature", "spike gate", "test acc %", "hidden spikes/neuron/step"],
                [[r["steps"], r["temperature"], r["spike_gate"], f"{100 * r['test_accuracy']:.2f}",
                  f"{r['spikes_per_hidden_neuron_per_step']:.4f}"] for r in sweep]))
    print()
    pts = [base_pt, *gate_pts]
    print(table(["run (T=%d)" % T, "acc %", "spikes/inf", "membrane upd/inf", "syn ops/inf", "Loihi 2 uJ", "GPU dense uJ",
                 "GPU/Loihi 2"],
                [[p["label"], f"{100 * p['test_accuracy']:.2f}", f"{p['spikes_per_inference']:.0f}",
                  f"{p['membrane_updates_per_inference']:.0f}", f"{p['synaptic_ops_per_inference']:.0f}",
                  f"{1e6 * p['energy_loihi2_joules']:.2f}", f"{1e6 * p['energy_gpu_dense_joules']:.2f}",
                  f"{p['gpu_over_loihi2']:.3f}"] for p in pts]))
    print()
    print(table(["model", "relax steps (tol, +K calm)", "plain: steps to within tol (mean / max)",
                 "Anderson: steps to within tol (mean / max)", "hidden updates to eq."],
                [[k, v["relax_steps_batch"], f"{v['within_tol_plain']['mean']:.1f} / {v['within_tol_plain']['max']}",
                  f"{v['within_tol_anderson']['mean']:.1f} / {v['within_tol_anderson']['max']}",
                  f"{v['hidden_updates_to_equilibrium_plain']:.0f}"] for k, v in steps.items()]))
    print()
    print(table(["gradient setting", "min cos(EqProp, implicit)", "min cos(EqProp, BPTT)"],
                [[g["setting"], f"{g['min_cos_eqprop_implicit']:.6f}", f"{g['min_cos_eqprop_bptt']:.6f}"] for g in grad]))
    print()
    print(table(["model", "mode", "task A after A %", "task A after B %", "task B after B %", "retention %"],
                [[m, mode, *(f"{100 * v[k][0]:.1f} +- {100 * v[k][1]:.1f}" for k in
                             ("task_a_after_a", "task_a_after_b", "task_b_after_b", "retention"))]
                 for m in cl for mode, v in cl[m]["summary"].items()]))
    g1, g5, g25 = gate_pts
    gates_effect = dict(
        spiking=[dict(spike_gate=g, test_accuracy=p["test_accuracy"], spikes_per_inference=p["spikes_per_inference"],
                      membrane_updates_per_inference=p["membrane_updates_per_inference"],
                      energy_loihi2_joules=p["energy_loihi2_joules"],
                      energy_saving_vs_gate1=1 - p["energy_loihi2_joules"] / g1["energy_loihi2_joules"],
                      membrane_update_saving_vs_gate1=1 - p["membrane_updates_per_inference"] / g1["membrane_updates_per_inference"],
                      spike_saving_vs_gate1=1 - p["spikes_per_inference"] / g1["spikes_per_inference"])
                 for g, p in zip((1.0, 0.5, 0.25), gate_pts)],
        rate_updates_to_equilibrium=dict(
            gate_0_5=steps["htsep (gate 0.5, as trained)"]["hidden_updates_to_equilibrium_plain"],
            gate_1=steps["htsep, gates set to 1"]["hidden_updates_to_equilibrium_plain"]),
    )
    print(f"\nenergy (Loihi 2 model vs dense GPU, T={T}): HTSEP gate 1 GPU/Loihi 2 = {g1['gpu_over_loihi2']:.3f}x, "
          f"gate 0.5 {g5['gpu_over_loihi2']:.3f}x, gate 0.25 {g25['gpu_over_loihi2']:.3f}x; base LIF "
          f"{base_pt['gpu_over_loihi2']:.3f}x (seed claim: 5-10x)")
    print(f"gates (spiking, T={T}): Loihi 2 energy saving vs gate 1: gate 0.5 "
          f"{100 * gates_effect['spiking'][1]['energy_saving_vs_gate1']:.1f} %, gate 0.25 "
          f"{100 * gates_effect['spiking'][2]['energy_saving_vs_gate1']:.1f} % (seed claim: 50-70 %)")
    return dict(
        settings=dict(epochs=epochs, seed=0, samples=samples or len(data.x_test),
                      htsep_hyperparameters=hg.meta["hyperparameters"], torus=hg.meta["torus"], temperatures=list(temps),
                      spike_gates=list(gates), steps=list(steps_list), continual_epochs_per_task=QUICK_CL_EPOCHS if quick
                      else CL_EPOCHS, continual_seeds=list(QUICK_CL_SEEDS if quick else CL_SEEDS),
                      gradient_batch=f"first {GRAD_BATCH} training images", bptt_steps=QUICK_BPTT_STEPS if quick else BPTT_STEPS),
        training=dict(htsep=dict(hm, learned_decays=list(hg.buffers[0].decay),
                                 initial_decays=[hg.meta["torus"]["time_decay"], *hg.meta["torus"]["spatial_decay"]],
                                 history=hist),
                      base=dict(bm, from_cache=cached)),
        rate=dict(htsep=dict(test_accuracy=htsep_rate["test_accuracy"], relax_steps=htsep_rate["steps"]),
                  base=dict(test_accuracy=base_rate["test_accuracy"], relax_steps=base_rate["steps"])),
        accuracy_vs_spikes=sweep, plot=str(plot.relative_to(RESULTS_DIR.parent.parent)), lava_point=lava,
        energy=dict(base_lif=base_pt, htsep=gate_pts), steps_to_equilibrium=steps, gradient=grad,
        continual=cl, gates=gates_effect, torch_threads=torch.get_num_threads(),
    )
