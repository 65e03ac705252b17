"""``neurotep report RUN_DIR [RUN_DIR ...] --out DIR``: wire :func:`add_parser` into the main CLI."""

from __future__ import annotations

import json


def add_parser(subparsers):
    """Add the ``report`` sub-command to ``subparsers`` (from ``ArgumentParser.add_subparsers``)."""
    s = subparsers.add_parser(
        "report", help="write report.md, a self-contained report.html, figures and NIR spike data for run directories")
    s.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories written by `neurotep run --out`")
    s.add_argument("--out", required=True, help="report directory to write: new, empty, or see --overwrite")
    s.add_argument("--overwrite", action="store_true", help="replace DIR when it holds an earlier neurotep output (never anything else)")
    s.add_argument("--frontier", default=None, metavar="DIR",
                   help="a folder written by `neurotep frontier`: its table and plot become a section of the report")
    s.add_argument("--json", action="store_true", help="print the written files as JSON")
    s.set_defaults(fn=cmd_report)
    return s


def cmd_report(args) -> None:
    from pathlib import Path

    from neurotep.report.writer import REPORT_HTML, write_report

    frontier = None if args.frontier is None else Path(args.frontier)
    if frontier is not None and not (frontier / "frontier.json").is_file():
        from neurotep.errors import NeurotepError

        raise NeurotepError(f"--frontier {frontier}: no frontier.json there; write one with `neurotep frontier MODEL --out DIR`")
    md = write_report([Path(p) for p in args.run_dirs], Path(args.out), overwrite=args.overwrite, frontier=frontier)
    if args.json:
        files = sorted(p.name for p in md.parent.iterdir())
        print(json.dumps({"report": str(md), "html": str(md.parent / REPORT_HTML), "files": files}, indent=2))
    else:
        print(md)
