"""The report's figures, drawn with matplotlib's object API on the Agg canvas (no display, no
pyplot state): per run a spike raster, a firing-rate histogram, spikes over time and the energy
breakdown; across runs a sparsity / accuracy / energy scatter. Every function writes one PNG at
:data:`DPI` and returns its path.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.cm
import matplotlib.colors
import matplotlib.ticker
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from neurotep.report.runs import Profile, RunData

DPI = 110
RASTER_SAMPLES = 3  # test samples shown back to back in a raster
PALETTE = ["#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB", "#000000"]
STYLE = {
    "font.size": 9.5,
    "axes.titlesize": 10,
    "axes.labelsize": 9.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "figure.titlesize": 11.5,
    "figure.titleweight": "bold",
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "image.interpolation": "nearest",
}
ENERGY_UNITS = ((1e-3, "mJ"), (1e-6, "µJ"), (1e-9, "nJ"), (1e-12, "pJ"))


def energy_unit(joules: float) -> tuple[float, str]:
    """(scale, unit) so that ``joules / scale`` reads well: mJ, µJ, nJ or pJ."""
    for scale, unit in ENERGY_UNITS:
        if abs(joules) >= scale:
            return scale, unit
    return ENERGY_UNITS[-1]


def format_energy(joules: float) -> str:
    scale, unit = energy_unit(joules)
    return f"{joules / scale:.4g} {unit}"


def _esc(text: str) -> str:
    """Text shown literally: a ``$`` in a run name must not start matplotlib's mathtext."""
    return str(text).replace("$", r"\$")


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, facecolor="white", metadata={"Software": None})
    return path


def _pop_colors(run: RunData) -> dict[str, str]:
    return {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(run.summary["populations"])}


def _pop_label(run: RunData, pop: str) -> str:
    p = run.population(pop)
    model = p.get("model", "?")
    kind = "input, Poisson-encoded" if model == "input" else model
    return _esc(f"{pop} ({kind}, {p.get('neurons', '?')} neurons)")


def raster_figure(run: RunData, path: Path, samples: int = RASTER_SAMPLES) -> Path:
    """Spike raster per spiking population (neurons on y, steps on x, the first ``samples`` test
    samples back to back); without recorded rasters, a heat map of per-step counts instead."""
    with matplotlib.rc_context(STYLE):
        return (_raster(run, path, samples) if run.raster_pops else _count_heatmap(run, path))


def _raster(run: RunData, path: Path, samples: int) -> Path:
    pops = [p for p in run.spike_pops if p in run.raster_pops] + [p for p in run.raster_pops if p not in run.spike_pops]
    k = min(samples, run.samples)
    T = run.steps
    heights = [float(np.clip(run.population(p).get("neurons", 32), 24, 120)) for p in pops]
    fig = _figure(9.0, 1.0 + 0.028 * sum(heights) + 0.45 * len(pops))
    axes = fig.subplots(len(pops), 1, sharex=True, gridspec_kw={"height_ratios": heights}, squeeze=False)[:, 0]
    colors = _pop_colors(run)
    for ax, pop in zip(axes, pops):
        r = run.raster(pop, k)  # (T, k, N)
        img = np.concatenate([r[:, s, :].T for s in range(r.shape[1])], axis=1)  # (N, k*T)
        cmap = matplotlib.colors.ListedColormap(["white", colors.get(pop, "black")])
        ax.imshow(img, aspect="auto", cmap=cmap, vmin=0, vmax=1, origin="lower",
                  extent=(-0.5, img.shape[1] - 0.5, -0.5, img.shape[0] - 0.5), interpolation="nearest")
        ax.grid(False)
        for s in range(1, r.shape[1]):
            ax.axvline(s * T - 0.5, color="0.25", lw=1.0, ls="--")
        rate = float(r.mean()) if r.size else 0.0
        ax.set_title(f"{_pop_label(run, pop)}: {rate:.3f} spikes / neuron / step in these samples", loc="left")
        ax.set_ylabel("neuron index")
    top = axes[0]
    for s in range(k):
        top.annotate(f"test sample {s}", xy=((s + 0.5) / k, 1.0), xycoords="axes fraction", xytext=(0, 16),
                     textcoords="offset points", ha="center", va="bottom", fontsize=8.5, color="0.3")
    axes[-1].set_xlabel(f"time step ({k} test sample{'s' if k > 1 else ''} back to back, {T} steps each; dashed: next sample)")
    within = [int(t) for t in matplotlib.ticker.MaxNLocator(nbins=4 if k > 1 else 8, integer=True).tick_values(0, T - 1)
              if 0 <= t < T]
    ticks = [s * T + t for s in range(k) for t in within]
    axes[-1].set_xticks(ticks, [str(t % T) for t in ticks])
    fig.suptitle(f"{_esc(run.name)}: spike raster ({run.summary.get('backend', '?')}, {run.summary.get('executed_on', '?')})")
    return _save(fig, path)


def _count_heatmap(run: RunData, path: Path) -> Path:
    pops = [p for p in run.spike_pops if p in run.spikes.get("per_step", {})]
    fig = _figure(9.0, 1.7 + 0.38 * max(len(pops), 1))
    ax = fig.subplots()
    if pops:
        rows = np.stack([run.spikes["per_step"][p] / (run.population(p)["neurons"] * run.samples) for p in pops])
        im = ax.imshow(rows, aspect="auto", cmap="viridis", vmin=0, interpolation="nearest",
                       extent=(-0.5, run.steps - 0.5, len(pops) - 0.5, -0.5))
        ax.set_yticks(range(len(pops)), [_pop_label(run, p) for p in pops])
        fig.colorbar(im, ax=ax, label="spikes / neuron / step\n(mean over samples)", pad=0.01)
    else:
        ax.text(0.5, 0.5, "no spike counts recorded", ha="center", va="center", transform=ax.transAxes)
    ax.grid(False)
    ax.set_xlabel("time step")
    fig.suptitle(f"{_esc(run.name)}: spikes per step by population (no raster recorded)")
    ax.set_title("full rasters need `neurotep run ... --raster`", loc="left", color="0.3", fontsize=9)
    return _save(fig, path)


def rate_histogram(run: RunData, path: Path) -> Path:
    """Firing rate of every neuron (spikes / neuron / step over all samples), one panel per population."""
    pops = run.spike_pops
    with matplotlib.rc_context(STYLE):
        fig = _figure(min(3.3 * max(len(pops), 1) + 0.6, 11.0), 3.3)
        axes = fig.subplots(1, max(len(pops), 1), squeeze=False)[0]
        colors = _pop_colors(run)
        for ax, pop in zip(axes, pops):
            rates = run.spikes["per_neuron"][pop] / (run.samples * run.steps)
            hi = max(float(rates.max()), 1e-3)
            ax.hist(rates, bins=np.linspace(0, hi * 1.0001, 21), color=colors.get(pop), alpha=0.85, edgecolor="white", lw=0.5)
            mean = float(rates.mean())
            ax.axvline(mean, color="0.15", ls="--", lw=1)
            ax.text(0.98, 0.97, f"mean {mean:.3f}\nsilent {int((rates == 0).sum())}/{rates.size}",
                    transform=ax.transAxes, ha="right", va="top", fontsize=8.5,
                    bbox=dict(facecolor="white", edgecolor="0.8", boxstyle="round,pad=0.3"))
            ax.set_title(_pop_label(run, pop), loc="left", fontsize=9)
            ax.set_xlabel("firing rate (spikes / neuron / step)")
        axes[0].set_ylabel("neurons")
        if not pops:
            axes[0].text(0.5, 0.5, "no spike counts recorded", ha="center", va="center", transform=axes[0].transAxes)
        fig.suptitle(f"{_esc(run.name)}: firing-rate distribution over {run.samples} test samples × {run.steps} steps")
        return _save(fig, path)


def spikes_over_time(run: RunData, path: Path) -> Path:
    """Spikes per neuron at each step (mean over samples), one line per population."""
    with matplotlib.rc_context(STYLE):
        fig = _figure(9.0, 3.4)
        ax = fig.subplots()
        colors = _pop_colors(run)
        steps = np.arange(run.steps)
        for pop in run.spike_pops:
            counts = run.spikes.get("per_step", {}).get(pop)
            if counts is None:
                continue
            ax.plot(steps[:counts.size], counts / (run.population(pop)["neurons"] * run.samples), color=colors.get(pop),
                    lw=1.4, label=_pop_label(run, pop))
        ax.set_xlabel("time step")
        ax.set_ylabel("spikes / neuron / step\n(mean over samples)")
        ax.set_xlim(0, max(run.steps - 1, 1))
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.suptitle(f"{_esc(run.name)}: spiking activity over time ({run.samples} test samples)")
        return _save(fig, path)


def _grouped_barh(ax, categories: list[str], profiles: list[Profile], values, scale: float, unit: str):
    n = len(profiles)
    h = 0.8 / n
    y = np.arange(len(categories))
    for i, prof in enumerate(profiles):
        v = np.array([values(prof).get(c, 0.0) for c in categories]) / scale
        bars = ax.barh(y - 0.4 + h * (i + 0.5), v, height=h * 0.92, color=PALETTE[i % len(PALETTE)], label=prof.title)
        total = sum(values(prof).values()) / scale or 1.0
        ax.bar_label(bars, labels=[f"{x:.3g} ({100 * x / total:.0f} %)" for x in v], padding=3, fontsize=8)
    ax.set_yticks(y, [c.replace("_", " ") for c in categories])
    ax.invert_yaxis()
    ax.set_xlabel(f"energy per inference ({unit})")
    ax.grid(axis="y", visible=False)
    ax.margins(x=0.28)


def energy_figure(run: RunData, path: Path) -> Path | None:
    """Energy per inference by operation and by population, one bar per hardware profile."""
    profs = run.profiles
    if not profs:
        return None
    top = max([p.energy for p in profs] + [v for p in profs for k in ("by_operation", "by_population")
                                           for v in p.breakdown(k).values()])
    scale, unit = energy_unit(top)
    with matplotlib.rc_context(STYLE):
        kinds = [(k, t) for k, t in (("by_operation", "by operation"), ("by_population", "by population"))
                 if any(p.breakdown(k) for p in profs)]
        if not kinds:
            kinds = [("total", "total")]
        cats = {}
        for k, _ in kinds:
            cats[k] = list(dict.fromkeys(c for p in profs for c in p.breakdown(k))) if k != "total" else ["total"]
        nrows = [len(cats[k]) * max(1, len(profs)) for k, _ in kinds]
        fig = _figure(9.0, 1.5 + 0.24 * max(nrows) + 0.2 * len(profs))
        axes = fig.subplots(1, len(kinds), squeeze=False)[0]
        for ax, (k, title) in zip(axes, kinds):
            getter = (lambda p: {"total": p.energy}) if k == "total" else (lambda p, k=k: p.breakdown(k))
            _grouped_barh(ax, cats[k], profs, getter, scale, unit)
            ax.set_title(title, loc="left")
        totals = ", ".join(f"{p.title}: {p.energy / scale:.3g} {unit}" for p in profs)
        fig.suptitle(f"{_esc(run.name)}: estimated energy per inference ({totals})")
        if len(profs) > 1:
            handles, labels = axes[0].get_legend_handles_labels()
            fig.legend(handles, labels, loc="outside lower center", ncols=len(profs), title="hardware profile")
        return _save(fig, path)


def scatter_figure(runs: list[RunData], path: Path, hardware: str | None) -> Path:
    """Activity (spikes / neuron / step of the non-input populations) vs test accuracy, coloured by
    energy per inference on ``hardware``; each point labelled with its run. Rate runs are left out."""
    pts = [(r, r.activity()) for r in runs]
    pts = [(r, a) for r, a in pts if a is not None]
    with matplotlib.rc_context(STYLE):
        fig = _figure(7.6, 4.8)
        ax = fig.subplots()
        energies = {r.name: r.profile(hardware).energy for r, _ in pts if hardware and r.profile(hardware)}
        title_hw = ""
        if energies:
            scale, unit = energy_unit(max(energies.values()))
            vals = np.array(list(energies.values())) / scale
            if vals.min() > 0 and vals.max() / vals.min() > 20:  # orders of magnitude apart: log colour scale
                norm = matplotlib.colors.LogNorm(vmin=vals.min(), vmax=vals.max())
            else:
                norm = matplotlib.colors.Normalize(vmin=vals.min() * 0.95, vmax=max(vals.max(), vals.min() * 1.05 + 1e-12))
            cmap = matplotlib.colormaps["viridis"]
            title_hw = next(r.profile(hardware).title for r, _ in pts if r.profile(hardware))
            sm = matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap)
            fig.colorbar(sm, ax=ax, label=f"energy per inference on {title_hw} ({unit})", pad=0.01)
        placed: list[tuple[float, float]] = []
        xs_all = [a for _, a in pts] or [0.0]
        tol_x = max(max(xs_all) - min(xs_all), 0.02) * 0.03
        for r, a in pts:
            y = 100 * r.accuracy
            if r.name in energies:
                ax.scatter(a, y, s=130, color=cmap(norm(energies[r.name] / scale)), edgecolor="0.2", lw=0.8, zorder=4,
                           marker="o")
            else:
                ax.scatter(a, y, s=70, facecolor="none", edgecolor="0.35", lw=1.3, zorder=3, marker="D",
                           label="no energy profile" if "no energy profile" not in ax.get_legend_handles_labels()[1] else None)
            near = sum(1 for px, py in placed if abs(px - a) <= tol_x and abs(py - y) <= 0.6)
            placed.append((a, y))
            label = _esc(f"{r.name} ({format_energy(energies[r.name])})" if r.name in energies else r.name)
            ax.annotate(label, (a, y), xytext=(9, 6 - 12 * near), textcoords="offset points", fontsize=8.5,
                        va="center", zorder=5)
        if not pts:
            ax.text(0.5, 0.5, "no spiking runs to compare", ha="center", va="center", transform=ax.transAxes)
        else:
            xs = [a for _, a in pts]
            span = max(max(xs) - min(xs), 0.02)
            ax.set_xlim(max(0.0, min(xs) - 0.25 * span), max(xs) + 0.45 * span)
            ys = [100 * r.accuracy for r, _ in pts]
            yspan = max(max(ys) - min(ys), 5.0)
            lo, hi = min(ys) - 0.3 * yspan, max(ys) + 0.3 * yspan
            ax.set_ylim(lo, hi)
            ax.set_yticks([t for t in ax.get_yticks() if lo <= t <= hi and 0 <= t <= 100])  # no ticks outside 0-100 %
        if ax.get_legend_handles_labels()[1]:
            ax.legend(loc="best", frameon=True, framealpha=0.9, edgecolor="0.8")
        ax.set_xlabel("activity: spikes / neuron / step (non-input populations; lower = sparser)")
        ax.set_ylabel("test accuracy (%)")
        fig.suptitle("Sparsity vs accuracy" + (" vs energy" if energies else "") + f" across {len(pts)} spiking run"
                     + ("s" if len(pts) != 1 else ""))
        return _save(fig, path)
