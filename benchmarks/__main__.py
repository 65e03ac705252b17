"""``python -m benchmarks [NAME ...] [--quick] [--json-out FILE]``: run benchmarks one after the
other (never in parallel: they share the CPU and would distort each other's timings)."""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from benchmarks import BENCHMARKS
from benchmarks.common import ForeignCpu, command, environment, loadavg, wait_idle, write_result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    ap.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}")
    ap.add_argument("--quick", action="store_true", help="small settings for a smoke test (results go to <name>.quick.json)")
    ap.add_argument("--json-out", metavar="FILE", help="also write every result of this invocation to FILE")
    ap.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                    help="before each benchmark, wait up to SECONDS until other processes leave the CPU idle "
                         "(for shared machines; default: do not wait)")
    args = ap.parse_args(argv)
    names = args.names or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        ap.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    env = environment()
    combined = {}
    for name in names:
        cmd = command(name, args.quick)
        print(f"\n=== {name} ===\nreproduce: {cmd}", flush=True)
        mod = importlib.import_module(f"benchmarks.{name}")
        waited = wait_idle(args.wait_idle) if args.wait_idle > 0 else 0.0
        load0 = loadavg()
        with ForeignCpu() as fc:
            figures = mod.run(args.quick)
        seconds = fc.wall
        if figures is None:  # nothing measurable here (e.g. gpu_energy without a GPU): keep any stored result
            print(f"({name}: skipped, nothing written)", flush=True)
            continue
        foreign = None if fc.seconds is None else round(fc.seconds, 1)
        payload = dict(benchmark=name, command=cmd, quick=args.quick, seconds=round(seconds, 2),
                       loadavg_before=load0, loadavg_after=loadavg(), waited_for_idle_seconds=round(waited, 1),
                       other_processes_cpu_seconds=foreign, environment=env, **figures)
        path = write_result(name, args.quick, payload)
        note = ""
        if foreign is not None and foreign > 0.05 * seconds:
            note = (f"; WARNING: other processes used {foreign:.0f} CPU-seconds meanwhile "
                    f"({100 * foreign / seconds:.0f} % of a core): timings are distorted")
        print(f"({name}: {seconds:.1f} s; written {path}{note})", flush=True)
        combined[name] = payload
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(combined, f, indent=2, default=str)
            f.write("\n")
        print(f"all results written to {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
