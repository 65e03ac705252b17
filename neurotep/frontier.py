"""``neurotep frontier``: the accuracy-energy-latency frontier of one trained rate network.

Every point is a real run of the model's test split, saved as a run directory under
``OUT/runs/<point>`` and profiled for Loihi 2:

* ``rate``: the rate model itself (float, relaxed until it settles), the reference; its dense
  multiply-accumulates per inference (NeuroBench's Dense: every weight every step) are what the
  event-driven points' synaptic operations (NeuroBench's Effective_MACs + Effective_ACs) are
  compared with;
* ``delta-<threshold>``: the delta form (sigma-delta neurons, the input sent once, early exit,
  :mod:`neurotep.graph.delta`) in fixed point, at each threshold; latency = mean exit step;
* ``poisson-<steps>``: the spiking mode (Poisson input, the variant's spiking neuron) in fixed
  point, at each step count; latency = steps.

The point the demo uses is chosen on the **training split only**: the largest threshold whose
training accuracy stays within ``TOLERANCE`` points of the rate model's training accuracy (the
test split is measured for every point, never used to choose). Writes ``frontier.json``,
``frontier.md`` and ``frontier.png`` (accuracy against synaptic operations and against energy per
inference, latency as the marker label).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from neurotep.data import Dataset
from neurotep.errors import NeurotepError
from neurotep.graph import Graph
from neurotep.graph.delta import check_threshold
from neurotep.outputs import write_json
from neurotep.profile import count_run, profile_run
from neurotep.runner import run_model, save_run

THRESHOLDS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2)
POISSON_STEPS = (50, 100, 200)
TOLERANCE = 0.5  # accuracy points below the rate model that the chosen point may lose (training split)
GOAL_RATIO = 30  # issue 21: synaptic operations at most 1/30 of the rate model's dense MACs


def _train_split(data: Dataset) -> Dataset:
    """The data set with its training split in the place of the test split (choosing on it)."""
    return replace(data, x_test=data.x_train, y_test=data.y_train, test_index=data.train_index)


def synaptic_ops(counts) -> float:
    """Synaptic operations per inference, as issue 21's goal counts them: NeuroBench's
    Effective_MACs + Effective_ACs (a delta-form graph's buffer taps are connections, so they are
    in; a reference-form run's toroidal-buffer taps are not)."""
    t = counts.totals
    return (t["effective_macs"] + t["effective_acs"]) / counts.samples


def dense_macs(counts) -> float:
    """NeuroBench's Dense synaptic operations per inference (every weight of every connection
    direction, every step): the rate model's dense MACs, the reference of issue 21's goal."""
    return counts.totals["dense"] / counts.samples


def _point(name: str, res, run_dir: Path, rate_dir: Path, train_acc: float | None, **extra: Any) -> dict:
    save_run(res, run_dir)
    counts = count_run(run_dir)
    prof = profile_run(run_dir, "loihi2", baseline=rate_dir)  # both ends, and against the GPU rate model
    gpu = prof["comparison"]["batches"]["1"]
    s = res.summary
    latency = s["delta"]["mean_exit_step"] if "delta" in s else float(s["steps"])
    longest = s["delta"]["max_exit_step"] if "delta" in s else s["steps"]
    return dict(name=name, test_accuracy=s["test_accuracy"], train_accuracy=train_acc, latency_steps=latency,
                max_steps=longest, spikes_total=s["spikes_total"],
                synaptic_ops=synaptic_ops(counts), dense_macs=dense_macs(counts),
                loihi2_joules=prof["energy_range_joules"]["high"], loihi2_range_joules=prof["energy_range_joules"],
                gpu_batch1_joules=gpu["gpu_joules"], gpu_batch1_over_loihi2=gpu["gpu_over_chip"], run_dir=str(run_dir),
                **extra)


def frontier(graph: Graph, data: Dataset, out: Path, thresholds=THRESHOLDS, poisson_steps=POISSON_STEPS,
             samples: int | None = None, progress=print) -> dict:
    """Measure the frontier of ``graph`` into the (new, claimed) folder ``out``; returns what
    ``frontier.json`` holds."""
    thresholds = sorted({check_threshold(t) for t in thresholds})
    if not thresholds:
        raise NeurotepError("give at least one delta threshold")
    train = _train_split(data)
    n_train = None if samples is None else min(samples, len(train.x_test))
    progress("frontier: the rate model (reference)")
    rate = run_model(graph, data, samples=samples)
    rate_train = run_model(graph, train, samples=n_train).summary["test_accuracy"]
    rate_dir = out / "runs" / "rate"
    points = [_point("rate", rate, rate_dir, rate_dir, rate_train, encoding="rate", precision="float")]
    for t in thresholds:
        progress(f"frontier: delta coding, threshold {t:g}")
        kw = dict(encoding="delta", threshold=t, precision="fixed")
        tr = run_model(graph, train, samples=n_train, **kw).summary["test_accuracy"]
        points.append(_point(f"delta-{t:g}", run_model(graph, data, samples=samples, **kw),
                             out / "runs" / f"delta-{t:g}", rate_dir, tr, encoding="delta", threshold=t, precision="fixed"))
    for n in sorted(set(poisson_steps)):
        progress(f"frontier: Poisson spiking, {n} steps")
        res = run_model(graph, data, samples=samples, spiking=True, steps=n, precision="fixed")
        points.append(_point(f"poisson-{n}", res, out / "runs" / f"poisson-{n}", rate_dir, None, encoding="poisson",
                             steps=n, precision="fixed"))
    ref = points[0]
    for p in points:
        p["ops_vs_rate_dense"] = p["synaptic_ops"] / ref["dense_macs"]
        p["accuracy_vs_rate_points"] = 100 * (p["test_accuracy"] - ref["test_accuracy"])
    chosen = choose(points)
    doc = dict(variant=graph.meta.get("variant"), dataset=data.name, samples=rate.summary["samples"],
               rate_dense_macs=ref["dense_macs"], tolerance_points=TOLERANCE, goal_ratio=GOAL_RATIO,
               rule=(f"the largest delta threshold whose training-split accuracy is within {TOLERANCE:g} points of the "
                     "rate model's (chosen on the training split only)"),
               chosen=chosen, points=points)
    write_json(out / "frontier.json", doc)
    (out / "frontier.md").write_text(markdown(doc), encoding="utf-8")
    plot(doc, out / "frontier.png")
    return doc


def choose(points: list[dict]) -> str | None:
    """The name of the point the demo uses (see the module docstring), or None if no delta point
    keeps the training accuracy."""
    rate = next(p for p in points if p["encoding"] == "rate")
    ok = [p for p in points if p["encoding"] == "delta"
          and 100 * (p["train_accuracy"] - rate["train_accuracy"]) >= -TOLERANCE]
    return max(ok, key=lambda p: p["threshold"])["name"] if ok else None


def markdown(doc: dict) -> str:
    lines = [f"# Accuracy-energy-latency frontier: {doc['variant']} on {doc['dataset']} ({doc['samples']} test samples)",
             "", f"The rate model computes {doc['rate_dense_macs']:,.0f} dense multiply-accumulates per inference. "
             f"Chosen point: **{doc['chosen'] or 'none'}** ({doc['rule']}).", "",
             "| point | test accuracy | vs rate (points) | train accuracy | synaptic ops / inference | vs rate dense MACs "
             "| Loihi 2 energy / inference (low - high) | GPU rate model at batch 1 / Loihi 2 (worst - best) "
             "| latency (steps) |", "|---|---|---|---|---|---|---|---|---|"]
    for p in doc["points"]:
        train = "–" if p["train_accuracy"] is None else f"{100 * p['train_accuracy']:.2f} %"
        lines.append(f"| {p['name']}{' (chosen)' if p['name'] == doc['chosen'] else ''} | {100 * p['test_accuracy']:.2f} % "
                     f"| {p['accuracy_vs_rate_points']:+.2f} | {train} | {p['synaptic_ops']:,.0f} "
                     f"| 1/{1 / p['ops_vs_rate_dense']:.1f} | {energy_range(p['loihi2_range_joules'])} "
                     f"| {ratio_range(p['gpu_batch1_over_loihi2'])} | {p['latency_steps']:.1f} |")
    lines += ["", "Synaptic operations: NeuroBench's Effective_MACs + Effective_ACs (the delta form's buffer taps are "
              "connections and count; the reference form's buffer taps do not); the rate point's count assumes every "
              "unit sends every step, and its NeuroBench Dense count is the reference. Energy: "
              "`neurotep profile RUN --hardware loihi2 --baseline runs/rate` of each point's run directory (runs/), at "
              "both ends of the constants' ranges, static power included; worst = the chip's high end against the "
              "GPU's low end."]
    return "\n".join(lines) + "\n"


def energy_range(r: dict) -> str:
    return f"{r['low'] * 1e6:.3g} - {r['high'] * 1e6:.3g} uJ"


def ratio_range(r: dict) -> str:
    return f"{r['worst']:.3g}x - {r['best']:.3g}x"


def plot(doc: dict, path: Path) -> Path:
    """Accuracy against synaptic operations and against Loihi 2 energy per inference, one marker
    style per encoding, latency in steps next to each point, the chosen point ringed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2))
    FigureCanvasAgg(fig)
    style = {"rate": ("s", "#4477AA"), "delta": ("o", "#228833"), "poisson": ("^", "#EE6677")}
    for ax, key, label in zip(fig.subplots(1, 2), ("synaptic_ops", "loihi2_joules"),
                              ("synaptic operations per inference", "Loihi 2 energy per inference (J, estimate: high end, bar to low)")):
        for enc, (marker, color) in style.items():
            pts = [p for p in doc["points"] if p["encoding"] == enc]
            if pts:
                ax.plot([p[key] for p in pts], [100 * p["test_accuracy"] for p in pts], marker=marker, color=color,
                        linestyle="-" if enc != "rate" else "none", label=enc)
            if pts and key == "loihi2_joules":  # the low end of the constants' ranges, as a bar to the left
                ax.errorbar([p[key] for p in pts], [100 * p["test_accuracy"] for p in pts], fmt="none", ecolor=color,
                            alpha=0.5, xerr=[[p[key] - p["loihi2_range_joules"]["low"] for p in pts],
                                             [0.0] * len(pts)])
            for p in pts:
                ax.annotate(f"{p['latency_steps']:.0f}", (p[key], 100 * p["test_accuracy"]), fontsize=7,
                            textcoords="offset points", xytext=(4, 3))
        chosen = [p for p in doc["points"] if p["name"] == doc["chosen"]]
        for p in chosen:
            ax.plot([p[key]], [100 * p["test_accuracy"]], "o", markersize=13, markerfacecolor="none", color="black",
                    label=f"chosen ({p['name']})")
        if key == "synaptic_ops":
            ax.axvline(doc["rate_dense_macs"], color="#4477AA", linestyle=":", linewidth=1,
                       label="rate model, dense MACs")
            ax.axvline(doc["rate_dense_macs"] / doc["goal_ratio"], color="grey", linestyle="--", linewidth=1,
                       label=f"goal: 1/{doc['goal_ratio']} of them")
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("test accuracy (%)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, frameon=False)
    fig.suptitle(f"{doc['variant']}: accuracy against work, latency in steps beside each point")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def summary_line(doc: dict) -> str:
    p = next((p for p in doc["points"] if p["name"] == doc["chosen"]), None)
    if p is None:
        return "frontier: no delta threshold keeps the rate model's training accuracy"
    return (f"frontier: chosen {p['name']}: {100 * p['test_accuracy']:.2f} % ({p['accuracy_vs_rate_points']:+.2f} points "
            f"vs rate), {p['synaptic_ops']:,.0f} synaptic ops per inference = 1/{1 / p['ops_vs_rate_dense']:.0f} of the "
            f"rate model's {doc['rate_dense_macs']:,.0f} dense MACs, {p['latency_steps']:.1f} steps; Loihi 2 "
            f"{energy_range(p['loihi2_range_joules'])} per inference, the GPU rate model at batch 1 "
            f"{ratio_range(p['gpu_batch1_over_loihi2'])} that")

