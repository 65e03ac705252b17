"""DiffTorEqProp (seed 003) against the base TorEqProp model on digits, trained in the same run.

Three models, one hidden layer of ``HIDDEN`` units each, the same EqProp settings (``train(method=
"eqprop")``, Adam lr 1e-3, batch 32, ``EPOCHS`` epochs, seeds ``SEEDS``, the fixed 1437/360 split):
``toreqprop`` (the base model), ``difftor`` (its ``DEFAULTS``: eta 0.1 x 0.95^t for the first 40
steps of each relaxation, alpha 0.01, noise scale adapted by the nudged-displacement rule) and
``difftor-seed`` (``SEED_SCHEDULE``: the seed's 0.1 -> 0.01 noise on in every phase, 60 free and
30 nudged steps). Measured:

* **noise robustness**: final-epoch test accuracy (and its difference from the base model,
  paired by seed: same initial weights and data order) with Gaussian input noise ``sigma`` in
  ``SIGMAS`` added to the test digits (pixels in [0, 1] as ``neurotep.data`` gives them; the same
  noise draws for both models), mean ± std over seeds; the seed's claim is for MNIST at sigma 0.5;
* **convergence**: relaxation steps of the free phase to the tolerance (1e-4, budget 200) on the
  clean test set as one batch (``predict``; the slowest sample decides), ratio difftor / base;
* **low-data regime**: test accuracy after training on the first ``LOW_DATA`` training images
  (the split's order), seeds ``LOW_DATA_SEEDS``, ``LOW_DATA_EPOCHS`` epochs, and the gain over
  base paired by seed;
* **generation** (seed-0 models, both, same code): class-conditional samples (output clamped to
  the class code times ``class_scale``) scored by a logistic regression trained on the real train
  split (fraction classified as the conditioned class; diversity = mean within-class pairwise
  distance over that of real test digits) and unconditional samples (class histogram, entropy);
  the grid is written to ``results/difftor-samples.png``. No FID: it needs an Inception network,
  which is not available offline, and is not meaningful for 8x8 digits;
* **memory**: peak tensor MiB of one difftor EqProp training step at two relaxation lengths
  (``torch.profiler``, as ``benchmarks mstep``): flat = O(1) in the number of steps.

Timings (train seconds) were taken on a shared 2-core machine; the runner records the other
processes' CPU use.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from benchmarks.common import RESULTS_DIR, mean_std, pct, table, with_torch_threads

HIDDEN, SEEDS, EPOCHS = (64,), (0, 1, 2, 3, 4), 10
SIGMAS = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)
LOW_DATA, LOW_DATA_EPOCHS, LOW_DATA_SEEDS = (100, 300), 15, (0, 1, 2)
GEN_PER_CLASS, GEN_SCALES, GEN_STEPS = 10, (1.0, 3.0), 300
MEM_STEPS = (10, 100)
QUICK = dict(hidden=(16,), seeds=(0,), epochs=1, low=(100,), low_epochs=1, low_seeds=(0,), per_class=2, gen_steps=40,
             mem=(5, 10))
NOISE_SEED = 1000  # input-noise draws: the same for every model
MODELS = ("toreqprop", "difftor", "difftor-seed")
THREADS = 1  # one torch thread: steadier on a shared machine (common.with_torch_threads)


def run(quick: bool = False) -> dict:
    return with_torch_threads(THREADS, _run, quick)


def _graph(model: str, seed: int, hidden, data):
    from neurotep.variants import base, difftor

    if model == "toreqprop":
        return base.build(n_in=data.n_features, n_out=data.n_classes, seed=seed, hidden=hidden)
    extra = difftor.SEED_SCHEDULE if model == "difftor-seed" else {}
    return difftor.build(n_in=data.n_features, n_out=data.n_classes, seed=seed, hidden=hidden, **extra)


def _run(quick: bool) -> dict:
    from benchmarks.mstep import _memory
    from neurotep import generation
    from neurotep.data import load_digits_split
    from neurotep.learning.train import train
    from neurotep.variants import difftor

    s = QUICK if quick else dict(hidden=HIDDEN, seeds=SEEDS, epochs=EPOCHS, low=LOW_DATA, low_epochs=LOW_DATA_EPOCHS,
                                 low_seeds=LOW_DATA_SEEDS, per_class=GEN_PER_CLASS, gen_steps=GEN_STEPS, mem=MEM_STEPS)
    data = load_digits_split()
    models = MODELS
    per_seed, trained0 = [], {}
    for seed in s["seeds"]:
        row = dict(seed=seed)
        for model in models:
            res = train(_graph(model, seed, s["hidden"], data), data, epochs=s["epochs"], seed=seed, progress=False)
            rob = generation.accuracy_under_noise(res.graph, data.x_test, data.y_test, SIGMAS, seed=NOISE_SEED)
            row[model] = dict(test_accuracy=res.metrics["test_accuracy"], train_seconds=res.metrics["train_seconds"],
                              train_free_steps=res.history[-1]["train_free_steps"],
                              robustness={str(k): v for k, v in rob.items()},
                              noise_scale=res.graph.populations["h0"].param("noise"))
            if seed == s["seeds"][0]:
                trained0[model] = res.graph
            print(f"  seed {seed} {model:<12}: " + ", ".join(f"s={k:g} {pct(v['accuracy'])}" for k, v in rob.items())
                  + f"; {rob[0.0]['relax_steps']:.0f} steps; {res.metrics['train_seconds']:.0f} s", flush=True)
        per_seed.append(row)

    robustness = {}
    for model in models:
        robustness[model] = {}
        for sg in SIGMAS:
            mu, sd = mean_std([r[model]["robustness"][str(sg)]["accuracy"] for r in per_seed])
            robustness[model][str(sg)] = dict(mean=mu, std=sd)
    steps = {m: float(np.mean([r[m]["robustness"]["0.0"]["relax_steps"] for r in per_seed])) for m in models}
    print()
    # paired by seed (same initial weights, same data order): the difference's mean and std
    gain = {m: {str(sg): dict(zip(("mean", "std"), mean_std(
        [100 * (r[m]["robustness"][str(sg)]["accuracy"] - r["toreqprop"]["robustness"][str(sg)]["accuracy"])
         for r in per_seed]))) for sg in SIGMAS} for m in models[1:]}
    print(table(["sigma"] + [f"{m} ({len(per_seed)} seeds)" for m in models] + [f"{m} - base" for m in models[1:]],
                [[sg] + [pct(robustness[m][str(sg)]["mean"], robustness[m][str(sg)]["std"]) for m in models]
                 + [f"{gain[m][str(sg)]['mean']:+.1f} +- {gain[m][str(sg)]['std']:.1f} pts" for m in models[1:]]
                 for sg in SIGMAS]))
    print("\nfree-phase steps (clean test set, tolerance 1e-4 or the budget): "
          + ", ".join(f"{m} {steps[m]:.1f} (x{steps[m] / steps['toreqprop']:.2f})" for m in models))

    # low-data regime: per seed, then mean +- std and the paired gain over base
    low = {}
    for n in s["low"]:
        sub = dataclasses.replace(data, x_train=data.x_train[:n], y_train=data.y_train[:n],
                                  train_index=data.train_index[:n])
        acc = {m: [train(_graph(m, sd, s["hidden"], data), sub, epochs=s["low_epochs"], seed=sd,
                         progress=False).metrics["test_accuracy"] for sd in s["low_seeds"]] for m in models}
        low[str(n)] = {m: dict(per_seed=acc[m], **dict(zip(("mean", "std"), mean_std(acc[m])))) for m in models}
        for m in models[1:]:
            low[str(n)][m]["gain_points"] = dict(zip(("mean", "std"), mean_std(
                [100 * (a - b) for a, b in zip(acc[m], acc["toreqprop"])])))
        print(f"  low data n={n} ({len(s['low_seeds'])} seeds): " + ", ".join(
            f"{m} {pct(low[str(n)][m]['mean'], low[str(n)][m]['std'])}" for m in models), flush=True)

    # generation (seed-0 models)
    gen, grids = {}, []
    classes = np.repeat(np.arange(data.n_classes), s["per_class"])
    for model in models:
        g = trained0[model]
        gen[model] = {}
        for scale in GEN_SCALES:
            x = generation.generate(g, len(classes), classes, seed=0, class_scale=scale, steps=s["gen_steps"])
            gen[model][f"conditional_scale_{scale:g}"] = generation.score_samples(
                x, classes, data.x_train, data.y_train, data.x_test, data.y_test)
            if model == "difftor" and scale == GEN_SCALES[-1]:
                grids = x
        x = generation.generate(g, len(classes), None, seed=1, steps=s["gen_steps"])
        gen[model]["unconditional"] = generation.score_samples(x, None, data.x_train, data.y_train, data.x_test, data.y_test)
        print(f"  generation {model}: " + "; ".join(
            f"{k}: class acc {pct(v['class_accuracy'])}, diversity {v['diversity']:.2f}" if "class_accuracy" in v else
            f"{k}: histogram {v['class_histogram']}, entropy {v['entropy_bits']:.2f} bits" for k, v in gen[model].items()),
            flush=True)
    grid = generation.save_grid(grids, RESULTS_DIR / ("difftor-samples.quick.png" if quick else "difftor-samples.png"),
                                labels=classes, title=f"difftor class-conditional samples (class_scale {GEN_SCALES[-1]:g})")

    mem = {str(T): _memory(trained0["difftor-seed"], data, T) for T in s["mem"]}  # noise on in every step
    print("  peak MiB of one difftor-seed EqProp step: " + ", ".join(f"{T} steps {v:.2f}" for T, v in mem.items()))

    return dict(settings=dict(hidden=list(s["hidden"]), seeds=list(s["seeds"]), epochs=s["epochs"], sigmas=list(SIGMAS),
                              noise_seed=NOISE_SEED, batch_size=32, lr=1e-3, low_data=list(s["low"]),
                              low_data_seeds=list(s["low_seeds"]),
                              low_data_epochs=s["low_epochs"], gen_per_class=s["per_class"], gen_steps=s["gen_steps"],
                              gen_scales=list(GEN_SCALES), seed_schedule=difftor.SEED_SCHEDULE, difftor_defaults={k: v for k, v in difftor.DEFAULTS.items()
                                                                             if k not in ("hidden",)}),
                per_seed=per_seed, robustness=robustness,
                robustness_gain_points=gain,
                relax_steps=steps, relax_steps_ratio={m: steps[m] / steps["toreqprop"] for m in models}, low_data=low,
                generation=gen, grid=str(grid.relative_to(RESULTS_DIR.parent.parent)), memory_mib=mem,
                memory_ratio=mem[str(s["mem"][1])] / mem[str(s["mem"][0])])
