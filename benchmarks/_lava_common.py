"""Parent side of the Lava benchmarks: :func:`run_job` runs :mod:`benchmarks._lava_job` in
neurotep's isolated Lava worker (:mod:`neurotep.backends.lava.isolate`), so nothing of a job
outlives it, whatever ends it. Nothing here imports Lava."""

from __future__ import annotations

import json

import numpy as np

from neurotep.backends.lava.isolate import job_dir, run_worker
from neurotep.errors import BackendError


def run_job(spec: dict, arrays: dict, graph=None, timeout: float = 600.0) -> dict:
    """Run one job in a worker of its own (neurotep's isolated Lava worker: nothing of it outlives
    the job, whatever ends it); returns its result (raises on failure). Run from the repository
    root, as ``python -m benchmarks`` is, so that the worker finds ``benchmarks._lava_job``."""
    from neurotep.graph import save_graph

    with job_dir("bench") as job:
        if graph is not None:
            save_graph(graph, job / "graph")
        np.savez(job / "arrays.npz", **arrays)
        (job / "job.json").write_text(json.dumps(spec))
        try:
            code = run_worker("benchmarks._lava_job:main", job, timeout, what=f"Lava job {spec}")
        except BackendError as e:
            raise RuntimeError(str(e)) from None
        res_file = job / "result.json"
        if not res_file.exists():
            tail = (job / "worker.log").read_text(errors="replace").strip().splitlines()[-5:]
            raise RuntimeError(f"Lava job died (exit code {code}): {' | '.join(tail)}")
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
