"""Digits test accuracy of the base TorEqProp model trained by EqProp, next to BPTT on the same
architecture and two scikit-learn baselines, over several seeds.

* data: the fixed 1437/360 split of ``load_digits_split()`` (independent of the seed);
* EqProp: ``base.build(seed=s)`` with default hyperparameters, ``train(method="eqprop")``;
* BPTT: the same graph, ``train(method="bptt")`` with the default ``bptt_steps`` (40);
* sklearn: ``MLPClassifier(hidden_layer_sizes=(256,), max_iter=500, random_state=s)`` and
  ``LogisticRegression(max_iter=2000)``.

Reported: the test accuracy after the LAST epoch (no epoch is chosen on the test set), mean and
sample std (ddof=1) over the seeds, and training seconds.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from benchmarks.common import mean_std, pct, table, train_base

SEEDS = (0, 1, 2, 3, 4)
EPOCHS = 40
QUICK_SEEDS = (0, 1)
QUICK_EPOCHS = 5


def _sklearn(data, seed: int) -> dict:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    out = {}
    for name, model in (("mlp_256", MLPClassifier(hidden_layer_sizes=(256,), max_iter=500, random_state=seed)),
                        ("logreg", LogisticRegression(max_iter=2000))):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(data.x_train, data.y_train)
        secs = time.perf_counter() - t0
        n_iter = int(np.max(model.n_iter_))
        out[name] = dict(test_accuracy=float((model.predict(data.x_test) == data.y_test).mean()), train_seconds=secs,
                         n_iter=n_iter, converged=n_iter < model.max_iter)
    return out


def run(quick: bool = False) -> dict:
    from neurotep.data import load_digits_split
    from neurotep.variants import base

    seeds, epochs = (QUICK_SEEDS, QUICK_EPOCHS) if quick else (SEEDS, EPOCHS)
    data = load_digits_split()
    per_seed = []
    for seed in seeds:
        row = dict(seed=seed)
        for method in ("eqprop", "bptt"):
            # Always train afresh (this IS the measurement); the model is cached for `spiking`.
            _, m, _ = train_base(epochs, seed, method, use_cache=False, data=data)
            row[method] = dict(test_accuracy=m["test_accuracy"], train_accuracy=m["train_accuracy"],
                               train_seconds=m["train_seconds"], relax_steps_free=m.get("relax_steps_free"))
            print(f"  seed {seed} {method:<6}: test {pct(m['test_accuracy'])}  ({m['train_seconds']:.1f} s)", flush=True)
        row.update(_sklearn(data, seed))
        per_seed.append(row)

    summary = {}
    for key in ("eqprop", "bptt", "mlp_256", "logreg"):
        accs = [r[key]["test_accuracy"] for r in per_seed]
        secs = [r[key]["train_seconds"] for r in per_seed]
        mu, sd = mean_std(accs)
        summary[key] = dict(mean=mu, std=sd, min=float(np.min(accs)), max=float(np.max(accs)),
                            train_seconds_mean=float(np.mean(secs)))
    labels = {"eqprop": f"TorEqProp, EqProp ({epochs} ep)", "bptt": f"same graph, BPTT 40 steps ({epochs} ep)",
              "mlp_256": "sklearn MLP (256,), max_iter 500", "logreg": "sklearn LogisticRegression"}
    print()
    print(table(["model", f"test acc, mean +- std over {len(seeds)} seeds", "min", "max", "train s (mean)"],
                [[labels[k], pct(v["mean"], v["std"]), pct(v["min"]), pct(v["max"]), round(v["train_seconds_mean"], 1)]
                 for k, v in summary.items()]))
    gap = summary["eqprop"]["mean"] - summary["bptt"]["mean"]
    print(f"\nEqProp - BPTT: {100 * gap:+.2f} points; target >= 98.3 % mean: "
          f"{'met' if summary['eqprop']['mean'] >= 0.983 else 'NOT met'}")
    return dict(settings=dict(seeds=list(seeds), epochs=epochs, batch_size=32, lr=1e-3, bptt_steps=40,
                              build_hyperparameters={k: (list(v) if isinstance(v, tuple) else v) for k, v in base.DEFAULTS.items()},
                              split=dict(train=len(data.x_train), test=len(data.x_test)),
                              reported="final-epoch test accuracy; std is the sample std (ddof=1)"),
                summary=summary, eqprop_minus_bptt=gap, per_seed=per_seed)
