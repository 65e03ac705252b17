"""The summary of a sweep: per configuration (variant x settings), mean +- sample std over its seeds
of every metric, as ``summary.csv`` and ``summary.md``; and the frontier plot where the spec asks:
mean accuracy against a cost metric, one point per configuration, the Pareto-best ones joined."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from neurotep.outputs import atomic_file
from neurotep.sweep.spec import METRICS, Spec


def summarise(spec: Spec, results: dict[str, dict]) -> list[dict]:
    """One row per configuration, in the spec's order; ``results`` maps trial name -> result.json."""
    rows: dict[str, dict] = {}
    for t in spec.trials:
        row = rows.setdefault(t.group, {"variant": t.variant, **t.settings, "seeds": [], "failed": [], "values": {}})
        r = results.get(t.name, {})
        if r.get("status") != "ok":
            row["failed"].append(t.seed)
            continue
        row["seeds"].append(t.seed)
        for k in METRICS:
            v = r["metrics"].get(k)
            if v is not None:
                row["values"].setdefault(k, []).append(float(v))
    out = []
    for row in rows.values():
        vals = row.pop("values")
        for k in METRICS:
            a = np.asarray(vals.get(k, []))
            row[f"{k}_mean"] = float(a.mean()) if a.size else None
            row[f"{k}_std"] = float(a.std(ddof=1)) if a.size > 1 else (0.0 if a.size else None)
        out.append(row)
    return out


def _columns(rows: list[dict]) -> list[str]:
    setting_keys = [k for k in rows[0] if k not in ("seeds", "failed") and not k.endswith(("_mean", "_std"))]
    # settings that are the same in every row are said once, not per row
    varying = [k for k in setting_keys if k == "variant" or len({json.dumps(r[k]) for r in rows}) > 1]
    return varying + ["seeds", "failed"]


def write_tables(rows: list[dict], out: Path) -> None:
    """``summary.csv`` (every column, means and stds apart) and ``summary.md`` (mean +- std)."""
    keys = [k for k in rows[0]]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(keys)
    for r in rows:
        w.writerow(["" if r[k] is None else (" ".join(map(str, r[k])) if isinstance(r[k], list) else r[k]) for k in keys])
    with atomic_file(out / "summary.csv") as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")
    cols = _columns(rows)
    metrics = [k for k in METRICS if any(r[f"{k}_mean"] is not None for r in rows)]
    fixed = {k: rows[0][k] for k in rows[0] if k not in cols and not k.endswith(("_mean", "_std"))}
    lines = ["Settings of every row: " + ", ".join(f"{k} = {v}" for k, v in fixed.items() if v is not None)
             + " (others: their defaults)", "",
             "| " + " | ".join(cols + metrics) + " |", "|" + "---|" * (len(cols) + len(metrics))]
    for r in rows:
        cells = [" ".join(map(str, r[k])) if isinstance(r[k], list) else str(r[k]) for k in cols]
        cells += [_pm(r[f"{k}_mean"], r[f"{k}_std"], k) for k in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    with atomic_file(out / "summary.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _pm(mean, std, key: str) -> str:
    if mean is None:
        return "-"
    if "accuracy" in key:
        return f"{100 * mean:.2f} +- {100 * std:.2f} %"
    return f"{mean:.4g} +- {std:.2g}"


def pareto(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats (lower cost x and higher accuracy y), by cost."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    best, keep = -np.inf, []
    for i in order:
        if points[i][1] > best:
            keep.append(i)
            best = points[i][1]
    return keep


def plot_frontier(rows: list[dict], cost: str, out: Path) -> Path | None:
    """``frontier.png``: mean accuracy (spiking where measured) against mean ``cost``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    acc = "spiking_accuracy" if any(r["spiking_accuracy_mean"] is not None for r in rows) else "test_accuracy"
    pts = [(r, r[f"{cost}_mean"], r[f"{acc}_mean"]) for r in rows]
    pts = [p for p in pts if p[1] is not None and p[2] is not None]
    if not pts:
        return None
    cols = [c for c in _columns(rows) if c not in ("seeds", "failed")]
    fig, ax = plt.subplots(figsize=(6, 4))
    for r, x, y in pts:
        ax.errorbar(x, 100 * y, xerr=r[f"{cost}_std"], yerr=100 * r[f"{acc}_std"], fmt="o", capsize=3)
        ax.annotate(", ".join(str(r[c]) for c in cols), (x, 100 * y), fontsize=7, xytext=(4, 4),
                    textcoords="offset points")
    front = pareto([(x, y) for _, x, y in pts])
    ax.plot([pts[i][1] for i in front], [100 * pts[i][2] for i in front], "k--", lw=1, label="frontier")
    ax.set_xlabel(f"{cost} (mean over seeds)")
    ax.set_ylabel(f"{acc} (%)")
    ax.legend()
    fig.tight_layout()
    with atomic_file(out / "frontier.png") as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return out / "frontier.png"
