"""The accuracy-energy-latency frontier of the base model and HTSEP (issue 21): rate mode, delta
coding (sigma-delta neurons, the input sent once, early exit; fixed point, the chip form that runs
on Lava's SigmaDelta) at six thresholds, and Poisson spiking (fixed point) at 50, 100 and 200 steps,
each point a real run of all 360 test digits profiled for Loihi 2 (:mod:`neurotep.frontier`).

Models: the base model (``base.build(seed=0)``, 40 epochs, from the benchmarks' cache when
present) and HTSEP (``htsep.build(seed=0)``, 40 epochs), both trained by EqProp with ``train``'s
defaults. The point each model would use is chosen on the training split only (the largest
threshold within 0.5 points of the rate model's training accuracy); the test split is measured
for every point and never used to choose.

Goal (issue 21): synaptic operations per inference (NeuroBench Effective_MACs + Effective_ACs) at
most 1/30 of the rate model's dense MACs, at no more than 0.5 points accuracy loss against the
rate model, in the fixed-point chip form. The plot (``results/frontier.png``) shows both models.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.common import RESULTS_DIR, table, train_base

EPOCHS, QUICK_EPOCHS = 40, 2
QUICK = dict(thresholds=(0.05, 0.2), poisson_steps=(20,), samples=60)


def _htsep(epochs: int, data):
    from neurotep.learning.train import train
    from neurotep.variants import htsep

    g = htsep.build(n_in=data.n_features, n_out=data.n_classes, seed=0)
    return train(g, data, epochs=epochs, seed=0, progress=False).graph


def _plot(docs: dict, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    colors = {"toreqprop": "#228833", "htsep": "#AA3377"}
    for name, doc in docs.items():
        for enc, marker, ls in (("delta", "o", "-"), ("poisson", "^", "--"), ("rate", "s", "none")):
            pts = [p for p in doc["points"] if p["encoding"] == enc]
            for ax, key in zip(axes, ("synaptic_ops", "loihi2_joules")):
                ax.plot([p[key] for p in pts], [100 * p["test_accuracy"] for p in pts], marker=marker, linestyle=ls,
                        color=colors.get(name, "black"), label=f"{name} {enc}")
                for p in pts:
                    ax.annotate(f"{p['latency_steps']:.0f}", (p[key], 100 * p["test_accuracy"]), fontsize=6.5,
                                textcoords="offset points", xytext=(3, 3))
        axes[0].axvline(doc["rate_dense_macs"] / doc["goal_ratio"], color=colors.get(name, "black"), linestyle=":",
                        linewidth=1, label=f"{name}: 1/{doc['goal_ratio']} of the rate model's dense MACs")
    labels = ("synaptic operations per inference", "Loihi 2 energy per inference (J, high end of the estimate)")
    for ax, label in zip(axes, labels):
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("test accuracy (%)")
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=6.5, frameon=False)
    fig.suptitle("Accuracy against work: delta coding, Poisson spiking, rate (latency in steps beside each point)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def run(quick: bool) -> dict:
    from neurotep.data import load_digits_split
    from neurotep.frontier import frontier

    data = load_digits_split()
    epochs = QUICK_EPOCHS if quick else EPOCHS
    models = {"toreqprop": train_base(epochs, 0, data=data)[0], "htsep": _htsep(epochs, data)}
    kw = QUICK if quick else {}
    docs = {}
    with tempfile.TemporaryDirectory(prefix="neurotep-frontier-") as tmp:
        for name, g in models.items():
            docs[name] = frontier(g, data, Path(tmp) / name, progress=lambda m: print("  " + m), **kw)
    for name, doc in docs.items():
        print(f"\n{name}: rate model {doc['rate_dense_macs']:,.0f} dense MACs per inference; chosen {doc['chosen']}")
        print(table(["point", "test acc", "vs rate", "train acc", "syn ops", "vs dense", "Loihi 2 uJ", "steps"],
                    [[p["name"], f"{100 * p['test_accuracy']:.2f}", f"{p['accuracy_vs_rate_points']:+.2f}",
                      "-" if p["train_accuracy"] is None else f"{100 * p['train_accuracy']:.2f}",
                      f"{p['synaptic_ops']:,.0f}", f"1/{1 / p['ops_vs_rate_dense']:.1f}",
                      f"{p['loihi2_joules'] * 1e6:.3g}", f"{p['latency_steps']:.1f}"] for p in doc["points"]]))
        for p in doc["points"]:
            p.pop("run_dir")  # a temporary folder, gone
    plot = RESULTS_DIR / ("frontier.quick.png" if quick else "frontier.png")
    _plot(docs, plot)
    goal = {}
    for name, doc in docs.items():
        c = next((p for p in doc["points"] if p["name"] == doc["chosen"]), None)
        goal[name] = None if c is None else dict(
            point=c["name"], ops_fraction=c["ops_vs_rate_dense"], accuracy_vs_rate_points=c["accuracy_vs_rate_points"],
            met=c["ops_vs_rate_dense"] <= 1 / doc["goal_ratio"] and c["accuracy_vs_rate_points"] >= -0.5)
    print(f"\nplot: {plot}")
    return dict(epochs=epochs, models=docs, goal=goal, plot=str(plot.relative_to(RESULTS_DIR.parent.parent)))
