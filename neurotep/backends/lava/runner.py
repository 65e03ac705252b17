"""Running a graph on Lava from the user's process: each simulation runs in a worker process in
its own session (:mod:`neurotep.backends.lava.worker`, started by
:func:`neurotep.backends.lava.isolate.run_worker`); whatever way a run ends (normally, on a
timeout, Ctrl-C, SIGTERM, an error, or the parent killed outright) no Lava process, shared-memory
segment or job folder outlives it."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch

from neurotep.backends.lava.isolate import job_dir, reap, run_worker
from neurotep.errors import BackendError
from neurotep.graph import Graph, save_graph
from neurotep.graph.probes import recording_plan
from neurotep.graph.delta import averages_activation
from neurotep.graph.retime import readout_from
from neurotep.quantize import value_bits
from neurotep.recording import Recording

TAGS = {"float": "floating_pt", "fixed": "fixed_pt"}
DEFAULT_TIMEOUT = 1800.0


def kill_group(pid: int) -> None:
    """End the process group ``pid`` leads (a worker started in its own session) and remove the
    shared memory it held: :func:`~neurotep.backends.lava.isolate.reap`."""
    reap(pid)


def _has_nebm() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("lava.lib.optimization.solvers.generic.nebm.process") is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def run_lava(graph: Graph, inputs: dict[str, np.ndarray], steps: int, sample_ids: np.ndarray,
             spiking_inputs: bool = True, precision: str = "float", raster: bool = False,
             timeout: float | None = DEFAULT_TIMEOUT, on_chip: bool = False):
    """Simulate ``graph`` on Loihi2SimCfg for ``steps`` steps with ``inputs[pop]`` of shape
    (frames, batch, N), played cyclically (one frame: a constant input); with ``on_chip`` on
    Loihi2HwCfg (needs Intel's lava-loihi and a board; neurotep's Python processes then run on the
    host). Returns ``(Recording, readout, info)``: the readout (the output
    population's values) as ``{"mean": over the run, "last": at the final step}`` or None."""
    if precision not in TAGS:
        raise BackendError(f"unknown precision {precision!r}: use float or fixed")
    if any(p.model == "boltzmann" for p in graph.populations.values()) and not _has_nebm():
        raise BackendError("Boltzmann units run on Lava as lava-optimization's NEBM, which is not installed: "
                           "pip install --no-deps lava-optimization==0.5.0 (make does)")
    batch = len(sample_ids)
    for pop, arr in inputs.items():
        size = graph.populations[pop].size if pop in graph.populations else None
        if size is None or graph.populations[pop].model != "input":
            raise BackendError(f"{pop!r} is not an input population of the graph")
        if arr.ndim != 3 or arr.shape[1:] != (batch, size) or not np.isfinite(arr).all():
            raise BackendError(f"input {pop!r} must be a finite array of shape (frames, {batch}, {size}), got {arr.shape}")
    spec = dict(kind="run", batch=batch, steps=steps, precision=precision, tag=TAGS[precision],
                sample_ids=[int(i) for i in sample_ids], spiking_inputs=spiking_inputs, raster=raster,
                on_chip=on_chip)
    plan = recording_plan(graph, spiking_inputs, raster)  # checked before the run
    res, records = execute(graph, inputs, spec, timeout)
    records.update({pop: _count_inputs(frames, steps, "raster" in plan[pop]) for pop, frames in inputs.items()
                    if "spikes" in plan.get(pop, ())})
    return _recording(graph, records, plan, precision), _readout(graph, records, steps, precision), res


def _count_inputs(frames: np.ndarray, steps: int, raster: bool) -> dict:
    """Counts of input spikes the host generated (frames played cyclically), in the recorder's format."""
    played = frames[np.arange(steps) % len(frames)] != 0  # (steps, B, N): spikes, or a delta input's changes
    counts = {"table": played.sum(2).astype(np.float64), "per_neuron": played.sum((0, 1)).astype(np.float64)}
    if raster:
        counts["raster"] = played
    return counts


def execute(graph: Graph, arrays: dict[str, np.ndarray], spec: dict, timeout: float | None = DEFAULT_TIMEOUT):
    """Run one job in an isolated worker; returns its result and the arrays its processes wrote
    (``{file stem: {array name: array}}``)."""
    with job_dir("lava") as job:
        save_graph(graph, job / "graph")
        np.savez(job / "inputs.npz", **arrays)
        (job / "job.json").write_text(json.dumps(spec))
        rc = run_worker("neurotep.backends.lava.worker:main", job, timeout)
        res_file = job / "result.json"
        if not res_file.exists():
            tail = (job / "worker.log").read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise BackendError(f"the Lava worker died (exit code {rc}): {tail[0]}")
        res = json.loads(res_file.read_text())
        if not res["ok"]:
            if os.environ.get("NEUROTEP_DEBUG"):
                print(res.get("traceback", ""), file=sys.stderr)
            first = (str(res["error"]).strip().splitlines() or ["no message"])[0]  # Lava's messages may embed whole arrays
            raise BackendError(f"the Lava simulation failed: {first} (set NEUROTEP_DEBUG=1 for the traceback)")
        records = {}
        for f in sorted((job / "records").glob("*.npz")):
            with np.load(f, allow_pickle=False) as z:
                records[f.stem] = {k: z[k] for k in z.files}
    return res, records


def _recording(graph: Graph, records: dict, plan: dict, precision: str) -> Recording:
    rec = Recording()
    for pop, z in records.items():
        if "state" in z:  # in float units (fixed point: graded integers with value_bits fractional bits)
            scale = 2.0 ** value_bits(graph, pop, True) if precision == "fixed" else 1.0
            rec.state[pop] = torch.as_tensor(z["state"] / scale)
        if "spikes" not in plan.get(pop, ()):
            continue  # recorded for its values (the readout, a state probe), not as spikes
        rec.per_step[pop] = torch.as_tensor(np.rint(z["table"].sum(1)).astype(np.int64))
        rec.per_sample[pop] = torch.as_tensor(z["table"].sum(0))
        rec.per_neuron[pop] = torch.as_tensor(z["per_neuron"])
        if "raster" in z:
            rec.raster[pop] = torch.as_tensor(z["raster"])
    return rec


def _readout(graph: Graph, records: dict, steps: int, precision: str = "float") -> dict | None:
    out = graph.meta.get("output")
    z = records.get(out)
    if z is None or "acc" not in z:
        return None
    scale = 2.0 ** value_bits(graph, out, True) if precision == "fixed" else 1.0  # fixed point: graded integers
    span = (1 if "delta_form" in graph.meta and not averages_activation(graph)  # delta: the messages' sum
            else max(steps - readout_from(graph, out), 1))
    return {"mean": torch.as_tensor(z["acc"] / (span * scale)),
            "last": torch.as_tensor(z["last"] / scale)}
