"""``neurotep report``: one or more run directories -> ``report.md``, a self-contained
``report.html`` (figures embedded as data URIs, inline CSS, nothing fetched), the PNG figures and
the recorded spikes as NIR data.

The report is built once as a list of blocks (headings, paragraphs, tables, images) and rendered
twice, so the Markdown and the HTML always say the same thing. Everything is read and checked
before anything is written; the output directory appears complete or not at all.

Why one module of ~410 lines: the block list is written once for both renderings, and the two
renderers are the only readers of the block types defined here; figures are in
:mod:`.figures`, run reading in :mod:`.runs`.
"""

from __future__ import annotations

import base64
import html
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from neurotep.errors import NeurotepError
from neurotep.outputs import check_output_dir, output_dir
from neurotep.profile.rundir import read_json
from neurotep.report import energy_compare, figures
from neurotep.report.figures import format_energy
from neurotep.report.nir_export import NIR_SUFFIX, export_run
from neurotep.report.runs import PROFILE_HINT, Profile, RunData, load_runs

REPORT_MD, REPORT_HTML = "report.md", "report.html"
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;max-width:1060px;margin:2em auto;
padding:0 1.2em;color:#1d2329;line-height:1.45}
h1{border-bottom:2px solid #4477AA;padding-bottom:.2em}h2{margin-top:2em;border-bottom:1px solid #d0d7de;padding-bottom:.15em}
h3{margin-top:1.5em}h4{margin:1.2em 0 .4em}
table{border-collapse:collapse;margin:.6em 0 1em;font-size:.92em}
th,td{border:1px solid #d0d7de;padding:.28em .6em;text-align:left;vertical-align:top}
th{background:#f0f3f6}tr:nth-child(even) td{background:#fafbfc}td.num{text-align:right;font-variant-numeric:tabular-nums}
code{background:#f0f3f6;padding:.05em .3em;border-radius:3px;font-size:.92em}
figure{margin:1em 0 1.6em}figure img{max-width:100%;height:auto;border:1px solid #e3e6e8}
figcaption{font-size:.88em;color:#57606a;margin-top:.3em}
blockquote{margin:.8em 0;padding:.5em .9em;border-left:4px solid #CCBB44;background:#fbf8e8}
"""


# -- a tiny document model, rendered as Markdown and as HTML -----------------------------------------
@dataclass
class Doc:
    blocks: list[tuple] = field(default_factory=list)

    def h(self, level: int, text: str, anchor: str | None = None):
        self.blocks.append(("h", level, text, anchor))

    def p(self, text: str):
        self.blocks.append(("p", text))

    def note(self, text: str):
        self.blocks.append(("note", text))

    def ul(self, items: list[str]):
        if items:
            self.blocks.append(("ul", list(items)))

    def table(self, header: list[str], rows: list[list], numeric: set[int] | None = None):
        self.blocks.append(("table", header, [[str(c) for c in r] for r in rows], numeric or set()))

    def img(self, file: str, caption: str):
        self.blocks.append(("img", file, caption))


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def render_md(doc: Doc) -> str:
    out: list[str] = []
    for b in doc.blocks:
        kind = b[0]
        if kind == "h":
            out.append(f"{'#' * b[1]} {b[2]}")
        elif kind == "p":
            out.append(b[1])
        elif kind == "note":
            out.append(f"> {b[1]}")
        elif kind == "ul":
            out.append("\n".join(f"- {i}" for i in b[1]))
        elif kind == "table":
            _, header, rows, numeric = b
            lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |",
                     "|" + "|".join("---:" if i in numeric else "---" for i in range(len(header))) + "|"]
            lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
            out.append("\n".join(lines))
        elif kind == "img":
            out.append(f"![{b[2]}]({b[1]})\n\n*{b[2]}*")
    return "\n\n".join(out) + "\n"


def _inline(text: str) -> str:
    s = html.escape(text, quote=False)
    s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", s)


def render_html(doc: Doc, title: str, images: dict[str, bytes]) -> str:
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{html.escape(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>"]
    for b in doc.blocks:
        kind = b[0]
        if kind == "h":
            anchor = f' id="{html.escape(b[3])}"' if b[3] else ""
            out.append(f"<h{b[1]}{anchor}>{_inline(b[2])}</h{b[1]}>")
        elif kind == "p":
            out.append(f"<p>{_inline(b[1])}</p>")
        elif kind == "note":
            out.append(f"<blockquote>{_inline(b[1])}</blockquote>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b[1]) + "</ul>")
        elif kind == "table":
            _, header, rows, numeric = b
            t = ["<table>", "<thead><tr>" + "".join(f"<th>{_inline(h)}</th>" for h in header) + "</tr></thead>", "<tbody>"]
            for r in rows:
                t.append("<tr>" + "".join(f'<td class="num">{_inline(c)}</td>' if i in numeric else f"<td>{_inline(c)}</td>"
                                          for i, c in enumerate(r)) + "</tr>")
            t.append("</tbody></table>")
            out.append("\n".join(t))
        elif kind == "img":
            data = base64.b64encode(images[b[1]]).decode("ascii")
            out.append(f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(b[2])}">'
                       f"<figcaption>{_inline(b[2])} (<code>{html.escape(b[1])}</code>)</figcaption></figure>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


# -- formatting --------------------------------------------------------------------------------------
def _num(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            return str(v)
        if v == int(v) and abs(v) < 1e15:
            return f"{int(v):,}"
        if abs(v) >= 1e6 or abs(v) < 1e-3:
            return f"{v:.3e}"
        return f"{v:,.1f}" if abs(v) >= 100 else f"{v:.4g}"
    return str(v)


def _acc(a: float) -> str:
    return f"{a:.4f} ({100 * a:.2f} %)"


def _flatten(d: dict, prefix: str = "") -> list[tuple[str, object]]:
    out = []
    for k, v in d.items():
        if isinstance(v, dict):
            out += _flatten(v, f"{prefix}{k}.")
        else:
            out.append((f"{prefix}{k}", v))
    return out


def _status_summary(prof: Profile) -> str:
    consts = prof.data.get("constants") or {}
    counts: dict[str, int] = {}
    for c in consts.values():
        s = str(c.get("status", "unknown")) if isinstance(c, dict) else "unknown"
        counts[s] = counts.get(s, 0) + 1
    if not counts:
        return "no constants listed"
    order = ["published", "derived", "estimate"]
    parts = [f"{counts[s]} {s}" for s in order if s in counts] + [f"{n} {s}" for s, n in counts.items() if s not in order]
    kind = "an estimate" if counts.get("estimate") or counts.get("unknown") else "computed from published and derived figures"
    return f"{', '.join(parts)} (so the figure is {kind}, not a measurement)"


# Sparsity-sensitive hardware first: the dense GPU convention costs the same at any activity.
_SCATTER_PREFERENCE = ("loihi2", "loihi", "45nm", "gpu-dense")


def _scatter_hardware(runs: list[RunData]) -> str | None:
    """The hardware most runs have a profile for; ties go to the one whose energy depends on
    activity (Loihi 2 before the dense GPU baseline)."""
    seen: dict[str, int] = {}
    for r in runs:
        for p in r.profiles:
            seen[p.hardware] = seen.get(p.hardware, 0) + 1
    rank = {h: i for i, h in enumerate(_SCATTER_PREFERENCE)}
    return max(seen, key=lambda h: (seen[h], -rank.get(h, len(rank)))) if seen else None


def _all_hardware(runs: list[RunData]) -> list[tuple[str, str]]:
    hw: dict[str, str] = {}
    for r in runs:
        for p in r.profiles:
            hw.setdefault(p.hardware, p.title)
    return list(hw.items())


# -- sections ----------------------------------------------------------------------------------------
def _summary_section(doc: Doc, run: RunData) -> None:
    s = run.summary
    act = run.activity()
    total_neurons = sum(p["neurons"] for p in s["populations"].values())
    rows = [
        ["variant", s.get("variant") or "–"], ["dataset", s.get("dataset") or "–"],
        ["backend", s.get("backend", "–")], ["executed on", s.get("executed_on", "–")],
        ["precision", s.get("precision", "–")], ["mode", s.get("mode", "–")], ["encoding", s.get("encoding", "–")],
        ["test accuracy", _acc(run.accuracy)], ["samples", _num(run.samples)], ["steps", _num(run.steps)],
        ["spikes (total, all samples)", _num(s.get("spikes_total"))],
        ["spikes / neuron / step (all populations)",
         _num(s.get("spikes_total", 0) / (total_neurons * run.samples * run.steps)) if run.spiking else "– (rate mode)"],
        ["spikes / neuron / step (non-input populations)", _num(act) if act is not None else "–"],
        ["wall time (s)", _num(s.get("wall_seconds"))],
    ]
    doc.table(["field", "value"], rows)
    prow = [[name, p.get("model", "–"), _num(p["neurons"]), _num(p.get("spikes")), _num(p.get("spikes_per_neuron_per_step"))]
            for name, p in s["populations"].items()]
    doc.h(4, "Populations")
    doc.table(["population", "model", "neurons", "spikes", "spikes / neuron / step"], prow, numeric={2, 3, 4})
    _placement_section(doc, run)


def _placement_section(doc: Doc, run: RunData) -> None:
    """Where the run's network would sit on Loihi 2 (the figures `neurotep compile` gives)."""
    chip = (run.summary.get("cores") or {}).get("loihi2") or {}
    frac = chip.get("neuro_core_fraction")
    if frac is None:
        return
    form = run.summary.get("form", "reference")
    doc.h(4, "On Loihi 2")
    doc.p(f"Compiled for Loihi 2 ({form} form), {frac['neurons']:.1%} of the neurons and {frac['synapses']:.1%} of "
          "the synapses sit on neuro-core processes (Lava library classes with a sourced neuro-core model, "
          "hardware/loihi2/README.md; chip I/O left out). The rest runs on the host or embedded CPU: "
          "its energy is not the neuro-cores' energy.")
    off = chip.get("off_core") or []
    if off:
        doc.table(["process", "class", "why not on a neuro-core"],
                  [[o["name"], o["class"].rsplit(".", 1)[-1], o["reason"]] for o in off])


def _spike_section(doc: Doc, run: RunData, out: Path, images: dict[str, Path]) -> None:
    doc.h(3, "Spikes")
    if not run.spiking:
        doc.p("Rate-mode run: the network exchanged analog values, not spikes, so there is no raster, firing-rate "
              "or timeline figure and no NIR spike export. Run with `neurotep run MODEL_DIR --spiking --raster --out DIR` for those.")
        return
    if not run.spike_pops:
        doc.note("No spike counts were recorded for this run (`spikes.npz` is missing or empty).")
        return
    f = f"{run.slug}-raster.png"
    images[f] = figures.raster_figure(run, out / f)
    if run.raster_pops:
        k = min(figures.RASTER_SAMPLES, run.samples)
        doc.img(f, f"{run.name}: spike raster of the first {k} test sample(s): neurons on the vertical axis, time steps on the horizontal one")
    else:
        doc.img(f, f"{run.name}: spikes per step and population (no raster recorded)")
        doc.note(f"This run recorded spike counts only. Full rasters (and the NIR spike export) need "
                 f"`neurotep run MODEL_DIR --spiking --raster --out {run.path}`.")
    f = f"{run.slug}-firing-rates.png"
    images[f] = figures.rate_histogram(run, out / f)
    doc.img(f, f"{run.name}: histogram of per-neuron firing rates (spikes / neuron / step over all samples and steps)")
    f = f"{run.slug}-spikes-over-time.png"
    images[f] = figures.spikes_over_time(run, out / f)
    doc.img(f, f"{run.name}: spikes / neuron at each step, mean over the test samples")
    if run.raster_pops:
        nir_file = f"{run.slug}-spikes{NIR_SUFFIX}"
        export_run(run, out / nir_file)
        doc.p(f"Spike rasters exported as NIR data: `{nir_file}` (read with `nir.read_data`): one node per population "
              f"({', '.join(f'`{p}`' for p in run.raster_pops)}), observable `spikes`, a `TimeGriddedData` of bool "
              f"(samples, steps, neurons) = ({run.samples}, {run.steps}, N) with dt = 1 simulation step.")


def _energy_text(prof: Profile) -> str:
    """The energy per inference, as a range when the profile has two ends."""
    r = prof.data.get("energy_range_joules")
    if isinstance(r, dict) and r.get("low") != r.get("high"):
        return f"{format_energy(r['low'])} – {format_energy(r['high'])}"
    return format_energy(prof.energy)


def _low_breakdown(prof: Profile, kind: str) -> dict[str, float] | None:
    low = (prof.data.get("energy_breakdown_low") or {}).get(kind)
    return {str(k): float(v) for k, v in low.items()} if isinstance(low, dict) else None


def _profile_tables(doc: Doc, prof: Profile) -> None:
    e = prof.energy
    scale, unit = figures.energy_unit(max([e] + list(prof.breakdown("by_operation").values())
                                          + list(prof.breakdown("by_population").values())))
    doc.h(4, f"{prof.title} (`{prof.file}`)")
    ranged = _energy_text(prof) != format_energy(e)
    doc.p(f"Energy per inference on {prof.title}: **{_energy_text(prof)}**"
          + (" (low – high end of the constants' ranges)" if ranged else f" ({e:.4e} J)")
          + f". Constants: {_status_summary(prof)}.")
    if prof.data.get("conclusion"):
        doc.p(f"**Conclusion:** {prof.data['conclusion']}")
    if prof.data.get("baseline"):
        doc.p(f"Baseline: {prof.data['baseline']}")
    for kind, label in (("by_operation", "operation"), ("by_population", "population")):
        bd, low = prof.breakdown(kind), _low_breakdown(prof, kind)
        if bd:
            total = sum(bd.values()) or 1.0
            if ranged and low is not None:
                doc.table([label, f"low end ({unit})", f"high end ({unit})", "share of the high end"],
                          [[k.replace("_", " "), f"{low.get(k, v) / scale:.4g}", f"{v / scale:.4g}",
                            f"{100 * v / total:.1f} %"] for k, v in bd.items()], numeric={1, 2, 3})
            else:
                doc.table([label, f"energy per inference ({unit})", "share"],
                          [[k.replace("_", " "), f"{v / scale:.4g}", f"{100 * v / total:.1f} %"] for k, v in bd.items()],
                          numeric={1, 2})
    counts = prof.data.get("counts") or {}
    if isinstance(counts, dict) and counts:
        cols = list(dict.fromkeys(k for c in counts.values() if isinstance(c, dict) for k in c))
        doc.p("Operation counts per inference:")
        doc.table(["population"] + [c.replace("_", " ") for c in cols],
                  [[pop] + [_num(c.get(k)) for k in cols] for pop, c in counts.items() if isinstance(c, dict)],
                  numeric=set(range(1, len(cols) + 1)) - {cols.index("op_kind") + 1 if "op_kind" in cols else -1})
    nb = prof.data.get("neurobench") or {}
    if isinstance(nb, dict) and nb:
        doc.p("NeuroBench metrics:")
        doc.table(["metric", "value"], [[k, _num(v)] for k, v in _flatten(nb)], numeric={1})
    consts = prof.data.get("constants") or {}
    if isinstance(consts, dict) and consts:
        doc.p("Constants (status: **published** = stated by a public source, **derived** = computed from published "
              "figures, **estimate** = neurotep's own assumption):")
        rows = []
        for name, c in consts.items():
            c = c if isinstance(c, dict) else {"value": c}
            lo, hi = c.get("low", c.get("value")), c.get("high", c.get("value"))
            rows.append([name, _num(lo) if lo == hi else f"{_num(lo)} – {_num(hi)}", c.get("unit", ""),
                         c.get("status", "–"), c.get("source", "–")])
        doc.table(["constant", "value (low – high)", "unit", "status", "source"], rows, numeric={1})
    assumptions = prof.data.get("assumptions") or []
    if assumptions:
        doc.p("Assumptions:")
        doc.ul([str(a) for a in assumptions])


def _energy_section(doc: Doc, run: RunData, out: Path, images: dict[str, Path]) -> None:
    doc.h(3, "Energy")
    if not run.profiles:
        doc.note(f"No energy profile in this run directory. Produce one with `{PROFILE_HINT.format(run=run.path)}` "
                 "(add `profile-<hardware>.json` files for other chips) and write the report again.")
        return
    if len(run.profiles) > 1:
        doc.table(["hardware", "energy per inference", "file", "constants"],
                  [[p.title, _energy_text(p), f"`{p.file}`", _status_summary(p)] for p in run.profiles],
                  numeric={1})
    f = f"{run.slug}-energy.png"
    if figures.energy_figure(run, out / f) is not None:
        images[f] = out / f
        doc.img(f, f"{run.name}: estimated energy per inference by operation and by population "
                   f"({', '.join(p.title for p in run.profiles)})")
    for prof in run.profiles:
        _profile_tables(doc, prof)


def _generated_section(doc: Doc, run: RunData, out: Path, images: dict[str, Path]) -> None:
    """Samples a generative run left in its directory (``generated-samples.png`` and its scores
    in ``generated.json``, see :func:`neurotep.generation.write_generated`); nothing otherwise."""
    png = run.path / "generated-samples.png"
    if not png.is_file():
        return
    doc.h(3, "Generated samples")
    meta = run.path / "generated.json"
    if meta.is_file():
        info = read_json(meta)
        if isinstance(info, dict):
            doc.table(["field", "value"], [[k, _num(v) if isinstance(v, (int, float)) else f"`{v}`"]
                                           for k, v in _flatten(info)])
    f = f"{run.slug}-generated-samples.png"
    shutil.copyfile(png, out / f)
    images[f] = out / f
    doc.img(f, f"{run.name}: samples generated by running the relaxation with the input free, decoded as images")


def _comparison_section(doc: Doc, runs: list[RunData], out: Path, images: dict[str, Path]) -> None:
    doc.h(2, "Comparison", "comparison")
    hws = _all_hardware(runs)
    header = ["run", "variant", "mode", "backend", "executed on", "precision", "samples", "steps", "test accuracy",
              "spikes / neuron / step (non-input)"] + [f"ActivationSparsity ({t})" for _, t in hws] + \
             [f"energy / inference ({t})" for _, t in hws]
    rows = []
    for r in runs:
        s = r.summary
        act = r.activity()
        row = [r.name, s.get("variant") or "–", s.get("mode", "–"), s.get("backend", "–"), s.get("executed_on", "–"),
               s.get("precision", "–"), _num(r.samples), _num(r.steps), _acc(r.accuracy), _num(act) if act is not None else "–"]
        row += [_num((r.profile(h).data.get("neurobench") or {}).get("ActivationSparsity")) if r.profile(h) else "–" for h, _ in hws]
        row += [_energy_text(r.profile(h)) if r.profile(h) else "–" for h, _ in hws]
        rows.append(row)
    doc.table(header, rows, numeric=set(range(6, len(header))))
    missing = [r.name for r in runs if not r.profiles]
    if missing:
        doc.note(f"No energy profile for {', '.join(f'`{m}`' for m in missing)}: run "
                 f"`{PROFILE_HINT.format(run='RUN_DIR')}` on each and write the report again.")
    hw = _scatter_hardware(runs)
    f = "comparison-scatter.png"
    images[f] = figures.scatter_figure(runs, out / f, hw)
    rate = [r.name for r in runs if r.activity() is None]
    cap = ("sparsity vs accuracy" + (f" vs energy on {dict(hws)[hw]} (colour)" if hw else "")
           + ": spikes / neuron / step of the non-input populations against test accuracy, one point per spiking run")
    doc.img(f, cap[0].upper() + cap[1:])
    if rate:
        doc.p(f"Not in the scatter (rate mode or no spike counts): {', '.join(f'`{n}`' for n in rate)}.")


def _frontier_section(doc: Doc, folder: Path, out: Path, images: dict[str, Path]) -> None:
    """The accuracy-energy-latency frontier that ``neurotep frontier`` wrote to ``folder``."""
    data = read_json(folder / "frontier.json")
    if not isinstance(data, dict) or not isinstance(data.get("points"), list):
        raise NeurotepError(f"{folder / 'frontier.json'}: not a frontier written by `neurotep frontier`")
    doc.h(2, "Accuracy, energy and latency", "frontier")
    doc.p(f"`neurotep frontier` on {data.get('variant')} ({data.get('samples')} test samples): the rate model computes "
          f"{_num(data.get('rate_dense_macs'))} dense multiply-accumulates per inference. The point used is chosen on "
          f"the training split only: {data.get('rule')}. Chosen: **{data.get('chosen') or 'none'}**.")
    doc.table(["point", "test accuracy", "train accuracy", "synaptic ops / inference", "vs rate dense MACs",
               "Loihi 2 energy / inference (low – high)", "GPU batch 1 / Loihi 2 (worst – best)", "latency (steps)"],
              [[p["name"] + (" (chosen)" if p["name"] == data.get("chosen") else ""), _acc(p["test_accuracy"]),
                _acc(p["train_accuracy"]) if p.get("train_accuracy") is not None else "–", _num(p["synaptic_ops"]),
                f"1/{1 / p['ops_vs_rate_dense']:.1f}",
                f"{format_energy(p['loihi2_range_joules']['low'])} – {format_energy(p['loihi2_range_joules']['high'])}",
                f"{p['gpu_batch1_over_loihi2']['worst']:.3g}x – {p['gpu_batch1_over_loihi2']['best']:.3g}x",
                _num(p["latency_steps"])]
               for p in data["points"]], numeric={1, 2, 3, 4, 5, 6, 7})
    if (folder / "frontier.png").is_file():
        shutil.copyfile(folder / "frontier.png", out / "frontier.png")
        images["frontier.png"] = out / "frontier.png"
        doc.img("frontier.png", "Test accuracy against synaptic operations and against Loihi 2 energy per inference; "
                                "latency in steps beside each point; the chosen point ringed")


def build(runs: list[RunData], out: Path, frontier: Path | None = None) -> tuple[Doc, dict[str, Path]]:
    """The report's blocks; figures and NIR files are written to ``out`` on the way; ``frontier``:
    a folder written by ``neurotep frontier``, shown as its own section."""
    from neurotep import __version__

    doc, images = Doc(), {}
    title = f"neurotep report: {runs[0].name}" if len(runs) == 1 else f"neurotep report: {len(runs)} runs"
    doc.h(1, title)
    doc.p(f"Generated by neurotep {__version__} from {len(runs)} run director{'y' if len(runs) == 1 else 'ies'}. "
          "Energy figures are model estimates from the hardware profiles' constants, not measurements.")
    doc.table(["run", "directory", "mode", "test accuracy", "energy profiles"],
              [[r.name, f"`{r.path}`", r.summary.get("mode", "–"), _acc(r.accuracy),
                ", ".join(p.title for p in r.profiles) or "none"] for r in runs])
    if len(runs) > 1:
        _comparison_section(doc, runs, out, images)
    energy_compare.section(doc, runs)
    if frontier is not None:
        _frontier_section(doc, Path(frontier), out, images)
    for r in runs:
        doc.h(2, f"Run `{r.name}`", f"run-{r.slug}")
        doc.p(f"Directory: `{r.path}`.")
        for w in r.warnings:
            doc.note(w)
        doc.h(3, "Summary")
        _summary_section(doc, r)
        _spike_section(doc, r, out, images)
        _energy_section(doc, r, out, images)
        _generated_section(doc, r, out, images)
    return doc, images


def write_report(run_dirs: list[Path], out_dir: Path, overwrite: bool = False, frontier: Path | None = None) -> Path:
    """Write the report of ``run_dirs`` (and a ``neurotep frontier`` folder) into ``out_dir`` (a
    new or empty directory, or with ``overwrite`` an earlier neurotep output) and return the path
    of its ``report.md``; ``report.html`` beside it is self-contained."""
    out_dir = Path(out_dir)
    check_output_dir(out_dir, command="report", inputs=run_dirs, overwrite=overwrite)  # before reading the runs
    runs = load_runs([Path(p) for p in run_dirs])
    try:
        with output_dir(out_dir, command="report", inputs=run_dirs, overwrite=overwrite) as tmp:
            doc, images = build(runs, tmp, frontier)
            (tmp / REPORT_MD).write_text(render_md(doc), encoding="utf-8")
            title = next(b[2] for b in doc.blocks if b[0] == "h")
            (tmp / REPORT_HTML).write_text(render_html(doc, title, {k: v.read_bytes() for k, v in images.items()}),
                                           encoding="utf-8")
    except OSError as e:
        raise NeurotepError(f"cannot write the report to {out_dir} ({' '.join(str(e).split())})") from None
    return out_dir / REPORT_MD
