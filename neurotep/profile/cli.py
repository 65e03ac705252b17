"""The ``neurotep profile RUN_DIR --hardware NAME [--json]`` subcommand.

``add_parser(subparsers)`` registers it (``fn=cmd_profile``); the main CLI prints a
:class:`~neurotep.errors.NeurotepError` as one line and exits 2.
"""

from __future__ import annotations

import json

from neurotep.profile.energy import HARDWARE, check_hardware, write_profile


def add_parser(subparsers):
    """Add ``profile`` to ``subparsers`` (an ``argparse`` sub-parsers action); returns its parser."""
    s = subparsers.add_parser(
        "profile", help="energy per inference and NeuroBench metrics of a run directory (writes RUN_DIR/profile.json)")
    s.add_argument("run_dir", help="a run directory written by `neurotep run --out DIR`")
    s.add_argument("--hardware", default="loihi2",
                   help=f"energy model: {', '.join(HARDWARE)} (default loihi2, an estimate from Loihi 1 figures)")
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


def summary_lines(doc: dict, path: str) -> list[str]:
    """A short human summary of a profile."""
    r, e = doc["run"], doc["energy_joules"]
    acc = r.get("test_accuracy")
    lines = [f"{doc['hardware_title']} profile of {path}: {r.get('mode')} run on {r.get('executed_on')}, "
             f"{r.get('samples')} samples x {r.get('steps')} steps"
             + (f", accuracy {acc:.4f}" if isinstance(acc, (int, float)) else ""),
             f"energy per inference: {_joules(e)}",
             f"  baseline: {doc['baseline']}"]
    for title, part in (("by operation", doc["energy_breakdown"]["by_operation"]),
                        ("by population", doc["energy_breakdown"]["by_population"])):
        items = [f"{k} {_joules(v)}" + (f" ({100 * v / e:.0f}%)" if e else "") for k, v in part.items() if v]
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
    target = write_profile(args.run_dir, args.hardware)
    doc = json.loads(target.read_text(encoding="utf-8"))
    if getattr(args, "json", False):
        print(json.dumps(doc, indent=2))
    else:
        print("\n".join(summary_lines(doc, args.run_dir) + [f"written: {target}"]))
