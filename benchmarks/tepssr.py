"""TEP-SSR (seed 004): accuracy on sequence tasks, cost against sequence length, gradient quality.

Measured in one run (torch, CPU, one intra-op thread for every timed model: the matrices are small
and a shared 2-core machine oversubscribes otherwise):

* **accuracy**, EqProp (``train(method="eqprop")``, Adam lr 1e-3, batch 32, the same epochs and
  seeds, final epoch, never chosen on the test split): ``tepssr`` reading each sequence element by
  element against the base TorEqProp model given the whole flattened sequence as one static
  input (the honest baseline: it sees everything at once). Tasks: ``digits-rows`` (8 x 8),
  ``digits-pixels`` (64 x 1) and ``cue-recall-T`` (remember a one-hot cue over T steps of noise);
* **modes** of the digits-rows model (first seed): rate mode, spiking mode on the torch path
  (graded SSM, integrate-and-fire block, Poisson input, 200 steps) and rate mode on Lava's
  Loihi 2 simulator (SSM run + block run, first ``LAVA_SAMPLES`` test images);
* **cost per sequence against T** (random inputs of ``F = 5`` features, batch 1): TEP-SSR
  inference (T + 1 SSM steps, then ``RELAX`` block steps) against one causal softmax
  self-attention layer of the same width (``d = state``: input projection, Q/K/V, causal softmax
  over all T positions, output projection, read-out of the last position) as a transformer
  computes it; wall time (median of repeats), and peak tensor memory of one training step
  (``torch.profiler``): TEP-SSR by EqProp (batch 32), the same TEP-SSR network by BPTT through the
  sequence and the relaxation, and the attention layer by backprop. Growth exponents are
  least-squares slopes of log(cost) against log(T) over the T >= 256 points; ratios are attention
  / TEP-SSR at the same T. A PNG of the curves is written next to the JSON;
* **gradient**: cosine of the EqProp update (C, D, W, biases) plus the eligibility-trace estimate
  (B, A) with autograd BPTT of the same network (float64, 64 digits-rows training images, 400
  relaxation steps for BPTT, phases relaxed to 1e-11), per beta.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from benchmarks.common import RESULTS_DIR, mean_std, pct, table, with_torch_threads

SEEDS, EPOCHS = (0, 1), 8
QUICK_SEEDS, QUICK_EPOCHS = (0,), 1
TASKS = ("digits-rows", "digits-pixels", "cue-recall-16", "cue-recall-64", "cue-recall-256", "cue-recall-1024")
LAVA_SAMPLES, QUICK_LAVA_SAMPLES = 64, 8
QUICK_TASKS = ("digits-rows",)
LENGTHS = (64, 128, 256, 512, 1024, 2048, 4096)
QUICK_LENGTHS = (64, 256, 512)
MEM_LENGTHS = (64, 256, 1024, 2048)
QUICK_MEM_LENGTHS = (64, 128)
REPEATS, QUICK_REPEATS = 3, 1
RELAX = 50  # block steps per sequence in the timing (fixed: convergence depends on the weights)
FEATURES = 5
BETAS, QUICK_BETAS = (0.5, 0.1, 0.01), (0.1,)


def run(quick: bool = False) -> dict:
    return with_torch_threads(1, _run, quick)


def _run(quick: bool) -> dict:
    t0 = time.perf_counter()
    seeds, epochs = (QUICK_SEEDS, QUICK_EPOCHS) if quick else (SEEDS, EPOCHS)
    acc, trained = _accuracy(QUICK_TASKS if quick else TASKS, seeds, epochs)
    print(table(["task", "L x F", "model", f"test acc ({len(seeds)} seeds)", "train s"],
                [[r["task"], r["shape"], m, pct(*mean_std(r[m]["acc"])), f"{np.mean(r[m]['seconds']):.1f}"]
                 for r in acc for m in ("tepssr", "base")]))
    modes = _modes(trained, QUICK_LAVA_SAMPLES if quick else LAVA_SAMPLES)
    lengths = QUICK_LENGTHS if quick else LENGTHS
    scale = _scaling(lengths, QUICK_REPEATS if quick else REPEATS)
    mem = _training_memory(QUICK_MEM_LENGTHS if quick else MEM_LENGTHS)
    print()
    print(table(["T", "tepssr ms", "attention ms", "attn / tepssr"],
                [[r["T"], 1e3 * r["tepssr_s"], 1e3 * r["attention_s"], r["attention_s"] / r["tepssr_s"]] for r in scale]))
    fit = {k: _slope([r["T"] for r in scale], [r[k] for r in scale]) for k in ("tepssr_s", "attention_s")}
    print(f"growth exponent of time per sequence (T >= 256): tepssr {fit['tepssr_s']:.2f}, "
          f"attention {fit['attention_s']:.2f}")
    print()
    print(table(["T", "EqProp MiB", "BPTT MiB", "attention MiB"],
                [[r["T"], r["eqprop_mib"], r["bptt_mib"], r["attention_mib"]] for r in mem]))
    mfit = {k: _slope([r["T"] for r in mem], [r[k] for r in mem]) for k in ("eqprop_mib", "bptt_mib", "attention_mib")}
    print("growth exponent of training memory: " + ", ".join(f"{k[:-4]} {v:.2f}" for k, v in mfit.items()))
    grad = _gradient(QUICK_BETAS if quick else BETAS)
    print()
    print(table(["beta", "cos all", "cos C", "cos W", "cos B (traces)", "cos A (traces)"],
                [[b, g["all"], g["weight:C_s_h"], g["weight:W_h_y"], g["weight:B_x_s"], g["weight:A_s"]]
                 for b, g in grad.items()]))
    png = _plot(scale, mem, quick)
    print(f"figure: {png}")
    print(f"({time.perf_counter() - t0:.1f} s)")
    return dict(settings=dict(seeds=list(seeds), epochs=epochs, batch_size=32, lr=1e-3, relax_steps_timed=RELAX,
                              features_timed=FEATURES, torch_threads=1),
                accuracy=acc, digits_rows_modes=modes, scaling=scale, scaling_exponents=fit, training_memory=mem,
                memory_exponents=mfit, gradient_cosine=grad, figure=str(png))


# -- accuracy -------------------------------------------------------------------------------------------
def _accuracy(tasks, seeds, epochs) -> list[dict]:
    from neurotep.data import load_dataset
    from neurotep.learning.train import train
    from neurotep.variants import base, tepssr

    rows, trained = [], None
    for task in tasks:
        d = load_dataset(task)
        row = dict(task=task, shape=f"{d.steps} x {d.step_features}", tepssr=dict(acc=[], seconds=[]),
                   base=dict(acc=[], seconds=[]))
        for seed in seeds:
            for name, g in (("tepssr", tepssr.build(n_in=d.n_features, n_out=d.n_classes, seed=seed,
                                                    step_features=d.step_features)),
                            ("base", base.build(n_in=d.n_features, n_out=d.n_classes, seed=seed))):
                res = train(g, d, epochs=epochs, seed=seed, progress=False)
                if name == "tepssr" and seed == seeds[0]:
                    res_rows = res.graph
                row[name]["acc"].append(res.metrics["test_accuracy"])
                row[name]["seconds"].append(res.metrics["train_seconds"])
                print(f"  {task} seed {seed} {name:<7}: test {pct(res.metrics['test_accuracy'])} "
                      f"({res.metrics['train_seconds']:.1f} s)", flush=True)
        rows.append(row)
        if task == "digits-rows":
            trained = dict(graph=res_rows, data=d)
    return rows, trained


def _modes(trained: dict, lava_samples: int) -> dict:
    """The digits-rows TEP-SSR model (first seed) in rate mode, in spiking mode (torch: graded SSM,
    integrate-and-fire block, Poisson input, 200 steps) and in rate mode on Lava's simulator (first
    ``lava_samples`` test images; agreement with the torch predictions)."""
    from neurotep.runner import run_model

    g, d = trained["graph"], trained["data"]
    rate = run_model(g, d)
    spk = run_model(g, d, spiking=True)
    lava = run_model(g, d, backend="lava", samples=lava_samples)
    torch_first = run_model(g, d, samples=lava_samples)
    hidden = spk.summary["populations"]["h"]
    out = dict(rate_accuracy=rate.summary["test_accuracy"], spiking_accuracy=spk.summary["test_accuracy"],
               spiking_steps=spk.summary["steps"], hidden_spikes_per_neuron_per_step=hidden["spikes_per_neuron_per_step"],
               lava_samples=lava_samples, lava_accuracy=lava.summary["test_accuracy"],
               torch_accuracy_same_samples=torch_first.summary["test_accuracy"], lava_seconds=lava.summary["wall_seconds"])
    print(f"digits-rows model: rate {pct(out['rate_accuracy'])}, spiking {pct(out['spiking_accuracy'])} "
          f"({out['hidden_spikes_per_neuron_per_step']:.3f} spikes/hidden neuron/step); Lava rate on {lava_samples} "
          f"images {pct(out['lava_accuracy'])} (torch {pct(out['torch_accuracy_same_samples'])})", flush=True)
    return out


# -- cost against sequence length ------------------------------------------------------------------------
class CausalAttention:
    """One causal softmax self-attention layer of width ``d`` with a linear read-out of the last
    position (the quadratic baseline; plain torch)."""

    def __init__(self, f: int, d: int, n_out: int, seed: int = 0):
        import torch

        gen = torch.Generator().manual_seed(seed)
        self.params = [torch.randn(a, b, generator=gen) / np.sqrt(b) for a, b in
                       ((d, f), (d, d), (d, d), (d, d), (d, d), (n_out, d))]
        for p in self.params:
            p.requires_grad_(True)

    def __call__(self, x):  # x: (B, T, F)
        import torch

        wi, wq, wk, wv, wo, wr = self.params
        h = x @ wi.T
        q, k, v = h @ wq.T, h @ wk.T, h @ wv.T
        scores = q @ k.transpose(1, 2) / np.sqrt(q.shape[-1])
        mask = torch.ones(x.shape[1], x.shape[1], dtype=torch.bool).triu(1)
        a = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1) @ v
        return (h + a @ wo.T)[:, -1] @ wr.T


def _models(T: int):
    from neurotep.backends.torch import TorchNetwork
    from neurotep.variants import tepssr

    g = tepssr.build(n_in=T * FEATURES, n_out=10, seed=0, step_features=FEATURES)
    return g, TorchNetwork(g), CausalAttention(FEATURES, g.meta["hyperparameters"]["state"], 10)


def _scaling(lengths, repeats) -> list[dict]:
    import torch

    out = []
    for T in lengths:
        g, net, attn = _models(T)
        x = torch.rand(1, T * FEATURES, generator=torch.Generator().manual_seed(T))
        with torch.no_grad():
            net.relax({"x": x}, 2, None), attn(x.reshape(1, T, FEATURES))  # warm-up
            ts, ta = [], []
            for _ in range(repeats):
                t0 = time.perf_counter()
                net.relax({"x": x}, RELAX, None)
                ts.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                attn(x.reshape(1, T, FEATURES))
                ta.append(time.perf_counter() - t0)
        out.append(dict(T=T, tepssr_s=statistics.median(ts), attention_s=statistics.median(ta)))
        print(f"  T={T}: tepssr {1e3 * out[-1]['tepssr_s']:.1f} ms, attention {1e3 * out[-1]['attention_s']:.1f} ms",
              flush=True)
    return out


def _peak_mib(fn) -> float:
    """Peak tensor MiB allocated while ``fn`` runs (``torch.profiler``, CPU)."""
    from torch.profiler import ProfilerActivity, profile

    fn()  # warm-up
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    cur = peak = 0
    for _, b in sorted((e.time_range.start, e.self_cpu_memory_usage) for e in prof.events() if e.self_cpu_memory_usage):
        cur += b
        peak = max(peak, cur)
    return peak / 2**20


def _training_memory(lengths) -> list[dict]:
    import torch

    from neurotep.learning.bptt import bptt_gradients
    from neurotep.learning.eqprop import EqPropConfig, eqprop_gradients

    out = []
    for T in lengths:
        g, net, attn = _models(T)
        x = torch.rand(32, T * FEATURES, generator=torch.Generator().manual_seed(T))
        t = torch.nn.functional.one_hot(torch.arange(32) % 10, 10).float()
        cfg = EqPropConfig(beta=0.5, free_steps=RELAX, nudge_steps=RELAX // 2, tol=None)

        def attention_step():
            loss = 0.5 * ((attn(x.reshape(32, T, FEATURES)) - t) ** 2).sum(1).mean()
            torch.autograd.grad(loss, attn.params)

        row = dict(T=T, eqprop_mib=_peak_mib(lambda: eqprop_gradients(net, x, t, cfg)),
                   bptt_mib=_peak_mib(lambda: bptt_gradients(net, x, t, RELAX)),
                   attention_mib=_peak_mib(attention_step), input_mib=x.numel() * 4 / 2**20)
        out.append(row)
        print(f"  T={T}: EqProp {row['eqprop_mib']:.1f} MiB, BPTT {row['bptt_mib']:.1f} MiB, "
              f"attention {row['attention_mib']:.1f} MiB", flush=True)
    return out


def _slope(T, y) -> float:
    T, y = np.asarray(T, float), np.asarray(y, float)
    keep = (T >= 256) if (T >= 256).sum() >= 2 else np.ones_like(T, bool)
    return float(np.polyfit(np.log(T[keep]), np.log(y[keep]), 1)[0])


# -- gradient -----------------------------------------------------------------------------------------------
def _gradient(betas) -> dict:
    import torch

    from neurotep.backends.torch import Nudge, TorchNetwork
    from neurotep.data import load_dataset, one_hot
    from neurotep.learning.bptt import bptt_gradients
    from neurotep.learning.eqprop import EqPropConfig, eqprop_gradients
    from neurotep.learning.ssm import project_ssm, ssm_gradients
    from neurotep.variants import tepssr

    d = load_dataset("digits-rows")
    g = tepssr.build(n_in=64, n_out=10, seed=0, step_features=8)
    net = TorchNetwork(g, dtype=torch.float64)
    x, t = torch.as_tensor(d.x_train[:64]), torch.as_tensor(one_hot(d.y_train[:64], 10))
    bp, _ = bptt_gradients(net, x, t, 400)
    bp.update(project_ssm(bp))
    out = {}
    for beta in betas:
        cfg = EqPropConfig(beta=beta, free_steps=2000, nudge_steps=2000, tol=1e-11)
        eq, _, free = eqprop_gradients(net, x, t, cfg)
        with torch.no_grad():
            w = net.effective_weights()
            plus = net.relax({"x": x}, 2000, 1e-11, state=free.fork(), nudge=Nudge("y", beta, t), weights=w)[0].out
            minus = net.relax({"x": x}, 2000, 1e-11, state=free.fork(), nudge=Nudge("y", -beta, t), weights=w)[0].out
        eq.update(ssm_gradients(net, x, plus, minus, beta))
        keys = [k for k in eq if k in bp]
        cos = {k: _cos(eq[k], bp[k]) for k in keys}
        cos["all"] = _cos(torch.cat([eq[k].double().flatten() for k in keys]),
                          torch.cat([bp[k].double().flatten() for k in keys]))
        out[beta] = cos
    return out


def _cos(a, b) -> float:
    a, b = a.double().flatten(), b.double().flatten()
    return float(a @ b / (a.norm() * b.norm()))


def _plot(scale, mem, quick: bool):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    T = [r["T"] for r in scale]
    a1.loglog(T, [r["tepssr_s"] * 1e3 for r in scale], "o-", label="TEP-SSR (SSM + relaxation)")
    a1.loglog(T, [r["attention_s"] * 1e3 for r in scale], "s-", label="causal softmax attention")
    a1.set(xlabel="sequence length T", ylabel="ms per sequence (batch 1)", title="inference time")
    a1.legend()
    Tm = [r["T"] for r in mem]
    for k, lab in (("eqprop_mib", "TEP-SSR, EqProp"), ("bptt_mib", "TEP-SSR, BPTT"), ("attention_mib", "attention, backprop")):
        a2.loglog(Tm, [r[k] for r in mem], "o-", label=lab)
    a2.set(xlabel="sequence length T", ylabel="peak MiB, one training step (batch 32)", title="training memory")
    a2.legend()
    fig.tight_layout()
    path = RESULTS_DIR / ("tepssr.quick.png" if quick else "tepssr.png")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
