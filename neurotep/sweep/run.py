"""``neurotep sweep SPEC``: every trial of a spec on Ray, each into its own run directory.

``OUT/`` holds ``spec.json`` (the spec as read, with its trials), ``trials/<name>/`` (one per
trial: :mod:`neurotep.sweep.trial`), ``summary.csv``, ``summary.md`` and, where the spec asks,
``frontier.png``. A re-run with the same ``OUT`` skips the trials that finished (a changed setting
makes a new trial name) and runs the rest, failed ones included. The spec is checked, Ray is
found and ``OUT`` is claimed before any trial starts.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

from neurotep.outputs import resumable_dir, write_json
from neurotep.sweep.cluster import check_answers, import_ray, ray_session
from neurotep.sweep.spec import load_spec
from neurotep.sweep.summary import plot_frontier, summarise, write_tables
from neurotep.sweep.trial import finished, run_trial


def run_sweep(spec_path: str, out: str, address: str | None = None, num_cpus: int | None = None,
              overwrite: bool = False, progress: bool = True) -> dict:
    """Run (or resume) the sweep ``spec_path`` into ``out``; what ``summary`` and the tables hold."""
    spec = load_spec(spec_path)
    import_ray()  # missing Ray, or a cluster that does not answer: one line before anything is written
    if address is not None:
        check_answers(address)
    t0 = time.perf_counter()
    with resumable_dir(out, command="sweep", inputs=[spec.path], overwrite=overwrite) as root:
        trials_dir = root / "trials"
        trials_dir.mkdir(exist_ok=True)
        write_json(root / "spec.json", {"spec": spec.path, "frontier": spec.frontier, "data_path": spec.data_path,
                                        "trials": [dict(name=t.name, **t.config) for t in spec.trials]})
        results = {t.name: finished(trials_dir / t.name) for t in spec.trials}
        todo = [t for t in spec.trials if results[t.name] is None]
        skipped = len(spec.trials) - len(todo)
        if todo:
            results.update(_run_on_ray(todo, trials_dir, spec.data_path, address, num_cpus, progress, skipped,
                                       len(spec.trials)))
        rows = summarise(spec, results)
        write_tables(rows, root)
        figure = plot_frontier(rows, spec.frontier, root) if spec.frontier else None
    failed = {n: r.get("error") for n, r in results.items() if r is not None and r.get("status") != "ok"}
    return {"out": str(out), "trials": len(spec.trials), "skipped": skipped, "ran": len(todo), "failed": failed,
            "wall_seconds": time.perf_counter() - t0, "rows": rows, "frontier": figure and str(figure)}


def _run_on_ray(todo, trials_dir: Path, data_path, address, num_cpus, progress: bool, skipped: int, total: int) -> dict:
    """Run ``todo`` as Ray tasks of one CPU each; their results as they finish, behind a bar of trials."""
    results = {}
    with ray_session(address, num_cpus) as ray:
        task = ray.remote(num_cpus=1, max_retries=0)(run_trial)
        pending = {task.remote(t.config, str(trials_dir / t.name), data_path): t for t in todo}
        bar = tqdm(total=total, initial=skipped, desc="sweep", unit="trial", disable=not progress)
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    t = pending.pop(ref)
                    try:
                        results[t.name] = ray.get(ref)
                    except ray.exceptions.RayError as e:  # the worker died: recorded like any failure
                        results[t.name] = {"status": "failed", "config": t.config, "error": f"{type(e).__name__}: {e}"}
                    bar.update(1)
                    if results[t.name]["status"] != "ok":
                        bar.write(f"trial {t.name} failed: {results[t.name]['error'].splitlines()[0]}", file=sys.stderr)
        finally:
            bar.close()
    return results
