"""``neurotep sweep`` on Ray against the same trials run back to back.

The spec is ``examples/sweep_mnist1d.toml`` (3 variants x 5 seeds on MNIST-1D; ``--quick``: its
first variant and seed, 1 epoch). Both sides run every trial with
:func:`neurotep.sweep.trial.run_trial` (one torch thread, its own run directory):

* **back to back**: one trial after the other in this process;
* **sweep**: :func:`neurotep.sweep.run_sweep` on a local Ray cluster of every core, timed from
  the call to its return (Ray's start and shutdown, the summary and the plot included).

The goal (issue 18): on 2 cores the sweep takes at most the back-to-back time / 1.6. On a shared
machine other processes' CPU time during each side is recorded: it slows the sweep (which needs
both cores) more than the back-to-back run (which needs one).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO_ROOT, ForeignCpu

SPEC = REPO_ROOT / "examples" / "sweep_mnist1d.toml"
GOAL = 1.6


def run(quick: bool = False) -> dict:
    import os

    from neurotep.sweep import load_spec, run_sweep
    from neurotep.sweep.trial import run_trial

    spec_path = SPEC
    with tempfile.TemporaryDirectory(prefix="neurotep-sweep-bench-") as tmp:
        tmp = Path(tmp)
        if quick:  # the first variant and seed, one epoch
            text = SPEC.read_text().replace('variants = ["toreqprop", "htsep", "mstep"]', 'variants = ["toreqprop"]')
            text = text.replace("seeds = [0, 1, 2, 3, 4]", "seeds = [0]").replace("epochs = 5", "epochs = 1")
            spec_path = tmp / "quick.toml"
            spec_path.write_text(text)
        spec = load_spec(spec_path)
        with ForeignCpu() as serial_cpu:
            per_trial = {t.name: run_trial(t.config, str(tmp / "serial" / t.name)) for t in spec.trials}
        failed = [n for n, r in per_trial.items() if r["status"] != "ok"]
        assert not failed, f"trials failed back to back: {failed}"
        with ForeignCpu() as sweep_cpu:
            res = run_sweep(str(spec_path), str(tmp / "sweep"), progress=False)
        assert not res["failed"], f"trials failed in the sweep: {res['failed']}"
    serial_s, sweep_s = serial_cpu.wall, sweep_cpu.wall
    speedup = serial_s / sweep_s
    print(f"{len(spec.trials)} trials on {os.cpu_count()} cores: back to back {serial_s:.1f} s, sweep on Ray "
          f"{sweep_s:.1f} s: speedup {speedup:.2f} (goal >= {GOAL}); other processes used "
          f"{serial_cpu.seconds or 0:.0f} / {sweep_cpu.seconds or 0:.0f} CPU-seconds meanwhile")
    return dict(spec=str(spec_path.relative_to(REPO_ROOT)) if not quick else "examples/sweep_mnist1d.toml (quick cut)",
                trials=len(spec.trials), cores=os.cpu_count(), back_to_back_seconds=serial_s, sweep_seconds=sweep_s,
                speedup=speedup, goal=GOAL, goal_met=speedup >= GOAL,
                trial_seconds={n: r["seconds"] for n, r in per_trial.items()},
                other_processes_cpu_seconds_back_to_back=serial_cpu.seconds,
                other_processes_cpu_seconds_sweep=sweep_cpu.seconds,
                summary=[{k: v for k, v in r.items() if k.endswith("_mean") or k in ("variant", "seeds")}
                         for r in res["rows"]])
