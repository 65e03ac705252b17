"""One Lava simulation, run by :func:`neurotep.backends.lava.isolate.run_worker` as
``python -m neurotep.backends.lava.isolate neurotep.backends.lava.worker:main JOB_DIR``.

That runs it in its own process session, so that the parent can end the whole group (Lava's own
worker processes survive their parent otherwise), and with a watchdog that ends the group when
the parent dies without doing so. The job directory holds ``graph/`` (a saved graph),
``job.json`` and ``inputs.npz``; the worker writes ``records/<population>.npz`` and ``result.json``.
"""

from __future__ import annotations

# Lava sets the multiprocessing start method to "fork" when its processes are imported; do it first.
import lava.magma.core.run_configs  # noqa: F401,I001
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg

import json
import logging
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from neurotep.backends.lava.build import build
from neurotep.backends.lava.plan import compile_graph
from neurotep.graph import load_graph


def prune_root_handlers() -> None:
    """Every Lava Process adds a handler to the root logger; drop them after a run."""
    for h in list(logging.getLogger().handlers):
        logging.getLogger().removeHandler(h)


def main(job_dir: str) -> int:
    job = Path(job_dir)
    spec = json.loads((job / "job.json").read_text())
    result = {"ok": False}
    procs, ran = None, False
    try:
        graph = load_graph(job / "graph")
        with np.load(job / "inputs.npz", allow_pickle=False) as z:
            inputs = {k: z[k] for k in z.files}
        if spec["kind"] == "train":
            from neurotep.backends.lava.training import compile_training
            from neurotep.graph.phases import PhaseSchedule

            plan = compile_training(graph, inputs["x"], inputs["target"], PhaseSchedule(**spec["schedule"]), spec["steps"])
        elif spec["kind"] == "train_predictive":  # TPEqProp's single-phase learning
            from neurotep.backends.lava.predictive import compile_predictive_training

            plan = compile_predictive_training(graph, spec["batch"], spec["period"], spec["lr"], spec["steps"])
        else:
            plan = compile_graph(graph, batch=spec["batch"], precision=spec["precision"],
                                 sample_ids=np.asarray(spec["sample_ids"]), spiking_inputs=spec["spiking_inputs"],
                                 raster=spec.get("raster", False))
        (job / "records").mkdir(exist_ok=True)
        t0 = time.perf_counter()
        procs = build(plan, inputs, spec["steps"], job / "records")
        t_build = time.perf_counter() - t0
        anchor = next(iter(procs.values()))
        t0 = time.perf_counter()
        if spec.get("on_chip"):  # untested here: needs Intel's lava-loihi and a Loihi 2 board
            from lava.magma.core.run_configs import Loihi2HwCfg

            cfg = Loihi2HwCfg(select_tag=spec["tag"])
        else:
            cfg = Loihi2SimCfg(select_tag=spec["tag"])
        anchor.run(condition=RunSteps(num_steps=spec["steps"]), run_cfg=cfg)
        t_run = time.perf_counter() - t0
        ran = True
        result = {"ok": True, "build_seconds": t_build, "run_seconds": t_run, "processes": len(procs)}
    except BaseException as e:  # report everything, including the workers' tracebacks Lava only logs
        result = {"ok": False, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
    finally:
        # After a failed run stop() can hang forever (LAVA-NOTES): leave the cleanup to the parent,
        # which kills this process group.
        if procs and ran:
            try:
                next(iter(procs.values())).stop()
            except BaseException as e:  # the parent kills the group if this hangs or fails
                result.setdefault("stop_error", f"{type(e).__name__}: {e}")
        prune_root_handlers()
        (job / "result.json").write_text(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":  # by hand, for debugging: with the watchdog, as run_worker runs it
    from neurotep.backends.lava.isolate import watch_parent

    watch_parent(Path(sys.argv[1]))
    sys.exit(main(sys.argv[1]))
