"""The ``neurotep profile RUN_DIR --hardware NAME [--baseline RATE_RUN] [--measured FILE] [--json]`` subcommand.

``add_parser(subparsers)`` registers it (``fn=cmd_profile``); the main CLI prints a
:class:`~neurotep.errors.NeurotepError` as one line and exits 2.
"""

from __future__ import annotations

import json

from neurotep.profile.energy import HARDWARE, check_hardware, write_profile
from neurotep.profile.verdict import CHIPS


def add_parser(subparsers):
    """Add ``profile`` to ``subparsers`` (an ``argparse`` sub-parsers action); returns its parser."""
    s = subparsers.add_parser(
        "profile", help="energy per inference and NeuroBench metrics of a run directory (writes RUN_DIR/profile.json)")
    s.add_argument("run_dir", help="a run directory written by `neurotep run --out DIR`")
    s.add_argument("--hardware", default="loihi2",
                   help=f"energy model: {', '.join(HARDWARE)} (default loihi2, a ranged estimate)")
    s.add_argument("--baseline", metavar="RATE_RUN",
                   help="a rate-mode run directory of the same model: price it as gpu-rate and say whether the "
                        "conclusion (this hardware against the GPU) holds at both ends of the ranges")
    s.add_argument("--measured", metavar="FILE",
                   help="with --hardware gpu-rate: a stored NVML measurement (benchmarks/results/gpu_energy.json) "
                        "to show beside the model")
    s.add_argument("--json", action="store_true", help="print the whole profile as JSON")
    s.set_defaults(fn=cmd_profile)
    return s


def _joules(x: float) -> str:
    for unit, scale in (("J", 1.0), ("mJ", 1e-3), ("uJ", 1e-6), ("nJ", 1e-9), ("pJ", 1e-12)):
        if abs(x) >= scale:
            return f"{x / scale:.4g} {unit}"
    return f"{x / 1e-15:.4g} fJ" if x else "0 J"


def _num(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.1f}"


def _range(r: dict) -> str:
    return _joules(r["low"]) if r["low"] == r["high"] else f"{_joules(r['low'])} - {_joules(r['high'])}"


def _energy_lines(doc: dict) -> list[str]:
    """Energy per inference at both ends, and what a ranged profile adds (batches, measurement, verdict)."""
    rng = doc.get("energy_range_joules") or {"low": doc["energy_joules"], "high": doc["energy_joules"]}
    lines = [f"energy per inference: {_range(rng)}" + ("" if rng["low"] == rng["high"] else " (low - high end)")]
    for b, v in (doc.get("batches") or {}).items():
        lines.append(f"  batch {b}: {_range(v['energy_range_joules'])}, of which dynamic (idle subtracted) "
                     f"{_range(v['dynamic_range_joules'])}")
    m = doc.get("measured")
    if m:
        lines += [f"  measured on {m['gpu']} ({m['date'][:10]}), batch {b}: {_joules(v['energy_per_inference_joules'])}"
                  f" (dynamic {_joules(v['dynamic_energy_per_inference_joules'])})" for b, v in m["batches"].items()]
    if doc.get("conclusion"):
        lines.append(f"  conclusion: {doc['conclusion']}")
    elif doc["hardware"] in CHIPS:
        lines.append("  conclusion: none without a GPU baseline (add --baseline RATE_RUN, a rate-mode run of this model)")
    return lines


def summary_lines(doc: dict, path: str) -> list[str]:
    """A short human summary of a profile."""
    r, e = doc["run"], doc["energy_joules"]
    acc = r.get("test_accuracy")
    mode = "delta-coded" if r.get("encoding") == "delta" else r.get("mode")
    lines = [f"{doc['hardware_title']} profile of {path}: {mode} run on {r.get('executed_on')}, "
             f"{r.get('samples')} samples x {r.get('steps')} steps"
             + (f" ({r['mean_steps_per_sample']:.1f} per sample on its own)" if r.get("mean_steps_per_sample") else "")
             + (f", accuracy {acc:.4f}" if isinstance(acc, (int, float)) else ""),
             *_energy_lines(doc),
             f"  baseline: {doc['baseline']}"]
    low = doc.get("energy_breakdown_low") or doc["energy_breakdown"]
    for title, key in (("by operation", "by_operation"), ("by population", "by_population")):
        part, lo = doc["energy_breakdown"][key], low[key]
        items = [(f"{k} {_joules(v)}" if lo.get(k, v) == v else f"{k} {_joules(lo[k])} - {_joules(v)}")
                 + (f" ({100 * v / e:.0f}% of the high end)" if e else "") for k, v in part.items() if v]
        lines.append(f"  {title}: " + (", ".join(items) if items else "nothing"))
    nb = doc["neurobench"]
    so = nb["SynapticOperations"]
    lines.append(f"NeuroBench: ActivationSparsity {nb['ActivationSparsity']:.4f}, SynapticOperations per sample: "
                 f"Effective_ACs {_num(so['Effective_ACs'])}, Effective_MACs {_num(so['Effective_MACs'])}, "
                 f"Dense {_num(so['Dense'])}")
    lines.append(f"  MembraneUpdates {_num(nb['MembraneUpdates'])} per sample"
                 + ("" if nb["MembraneUpdates_exact"] else " (upper bound)")
                 + f", ConnectionSparsity {nb['ConnectionSparsity']}, Footprint {nb['Footprint']:,} bytes")
    return lines


def cmd_profile(args) -> None:
    """Profile ``args.run_dir`` on ``args.hardware``, write RUN_DIR/profile.json, print a summary
    (or the JSON with ``args.json``)."""
    check_hardware(args.hardware)
    target = write_profile(args.run_dir, args.hardware, getattr(args, "baseline", None), getattr(args, "measured", None))
    doc = json.loads(target.read_text(encoding="utf-8"))
    if getattr(args, "json", False):
        print(json.dumps(doc, indent=2))
    else:
        print("\n".join(summary_lines(doc, args.run_dir) + [f"written: {target}"]))
