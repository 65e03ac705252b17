"""Parent side of the Lava benchmarks: :func:`run_job` runs :mod:`benchmarks._lava_job` in a
process session of its own and kills the whole group afterwards, so no Lava process outlives a
job. Nothing here imports Lava."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from neurotep.backends.lava.runner import kill_group


def run_job(spec: dict, arrays: dict, graph=None, timeout: float = 600.0) -> dict:
    """Run one job in a fresh process session; returns its result (raises on failure). The
    group is killed afterwards, so no Lava process outlives the job."""
    from neurotep.graph import save_graph

    repo = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="neurotep-bench-lava-") as tmp:
        job = Path(tmp)
        if graph is not None:
            save_graph(graph, job / "graph")
        np.savez(job / "arrays.npz", **arrays)
        (job / "job.json").write_text(json.dumps(spec))
        with open(job / "job.log", "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "benchmarks._lava_job", str(job)], cwd=repo,
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"Lava job {spec} did not finish within {timeout:.0f} s") from None
            finally:
                kill_group(proc.pid)
                proc.wait()
        res_file = job / "result.json"
        if not res_file.exists():
            tail = (job / "job.log").read_text(errors="replace").strip().splitlines()[-5:]
            raise RuntimeError(f"Lava job died (exit code {proc.returncode}): {' | '.join(tail)}")
        res = json.loads(res_file.read_text())
        if not res["ok"]:
            raise RuntimeError(f"Lava job failed: {res['error']}\n{res.get('traceback', '')}")
        return res


def uncontended(fn, tries: int = 4, max_wait: float = 120.0):
    """Call ``fn()``; when other processes used more than 5 % of a core (plus 0.1 CPU-second) while
    it ran, wait until the CPU is idle (up to ``max_wait`` s) and call it again, at most ``tries``
    times. Returns ``(result, other_cpu_seconds, attempts)`` of the last call: on a shared machine
    one timing taken under contention would otherwise decide a median."""
    from benchmarks.common import ForeignCpu, wait_idle

    for attempt in range(1, tries + 1):
        with ForeignCpu() as fc:
            res = fn()
        if fc.seconds is None or fc.seconds <= 0.05 * fc.wall + 0.1 or attempt == tries:
            return res, fc.seconds, attempt
        wait_idle(max_wait)
