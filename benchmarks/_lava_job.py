"""One Lava simulation for the Lava benchmarks, run as ``python -m benchmarks._lava_job JOB_DIR``.

Lava must run in a process of its own (it fixes the multiprocessing start method, and its worker
processes outlive a parent that dies): :func:`benchmarks._lava_common.run_job` starts this script
in its own process session, waits, and kills the whole group afterwards, as neurotep's own
worker (:mod:`neurotep.backends.lava.worker`) is run. Like that worker, this script imports Lava first,
builds, runs once, reads what it needs BEFORE ``stop()`` and then stops.

``JOB_DIR`` holds ``job.json`` and ``arrays.npz``; the script writes ``result.json``. Jobs:

* ``kind = "neurotep"``: a saved neurotep graph (``graph/``) compiled with
  :func:`~neurotep.backends.lava.plan.compile_graph` (``record``: list of populations, or null
  for neurotep's default recorders; ``drop_buffers``: remove the toroidal buffers first) and
  instantiated with :func:`~neurotep.backends.lava.build.build`; optionally a Lava ``Monitor``
  probing ``monitor``'s ``s_out``. Reports the recorders' counts and/or the Monitor's counts.
* ``kind = "lava_own"``: Lava's own processes only: ``RingBuffer`` source -> ``Dense`` ->
  ``LIF(du=1, dv=0, vth=1)`` -> ``Dense`` -> ``LIF`` with a ``Dense`` back to the hidden LIF
  (``monitor``: also probe the hidden LIF's spikes with a Monitor and report their total).

Timings (``time.perf_counter``): ``build_seconds`` (creating and connecting the processes),
``run_seconds`` (the ``run()`` call, which includes Lava's compilation and the start of its
process workers), ``read_seconds`` (reading recorder files or ``Monitor.get_data``).
"""

from __future__ import annotations

# Lava fixes the multiprocessing start method when its processes are imported: import it first.
import lava.magma.core.run_configs  # noqa: F401,I001
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg

import json
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from neurotep.backends.lava.worker import prune_root_handlers


def _neurotep(job: Path, spec: dict, arrays: dict) -> tuple[dict, object]:
    from neurotep.backends.lava.build import build
    from neurotep.backends.lava.plan import compile_graph
    from neurotep.graph import load_graph

    graph = load_graph(job / "graph")
    if spec.get("drop_buffers"):
        graph.buffers.clear()
    steps, batch = spec["steps"], spec["batch"]
    plan = compile_graph(graph, batch=batch, record=spec.get("record"), sample_ids=np.arange(batch),
                         spiking_inputs=True)
    rec_dir = job / "records"
    rec_dir.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    procs = build(plan, {graph.meta["input"]: arrays["input"]}, steps, rec_dir)
    monitor = None
    if spec.get("monitor"):
        from lava.proc.monitor.process import Monitor

        monitor = Monitor()
        monitor.probe(procs[plan.populations[spec["monitor"]]].s_out, steps)
    t_build = time.perf_counter() - t0
    anchor = next(iter(procs.values()))
    out = dict(processes=len(procs) + (monitor is not None), process_names=list(procs) + (["monitor"] if monitor else []))
    t0 = time.perf_counter()
    anchor.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="floating_pt"))
    out.update(build_seconds=t_build, run_seconds=time.perf_counter() - t0)
    if monitor is not None:  # before stop(): get_data fails afterwards
        t0 = time.perf_counter()
        data = monitor.get_data()
        proc_name = procs[plan.populations[spec["monitor"]]].name
        raster = np.asarray(data[proc_name]["s_out"], dtype=np.float64)  # (steps, batch * N)
        out["monitor_read_seconds"] = time.perf_counter() - t0
        n = raster.shape[1] // batch
        r = raster.reshape(steps, batch, n)
        out["monitor"] = dict(per_step_per_sample=r.sum(2).tolist(), per_neuron=r.sum((0, 1)).tolist(),
                              total=float(r.sum()))
    return out, anchor


def _read_recorders(job: Path) -> tuple[dict, float]:
    """The recorders' files, read as :func:`neurotep.backends.lava.runner.run_lava` reads them."""
    t0 = time.perf_counter()
    counts = {}
    for f in sorted((job / "records").glob("*.npz")):
        with np.load(f, allow_pickle=False) as z:
            table = z["table"]
            counts[f.stem] = dict(per_step_per_sample=table.tolist(), per_neuron=z["per_neuron"].tolist(),
                                  total=float(table.sum()))
    return counts, time.perf_counter() - t0


def _lava_own(spec: dict, arrays: dict) -> tuple[dict, object]:
    from lava.proc.dense.process import Dense
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF

    steps = spec["steps"]
    x = arrays["input"]  # (frames, 1, n_in)
    w_in, w_out = arrays["w_in"], arrays["w_out"]  # (H, n_in), (O, H)
    t0 = time.perf_counter()
    src = RingBuffer(data=x.reshape(x.shape[0], -1).T.astype(np.float64))
    d_in = Dense(weights=w_in, num_message_bits=0)
    hid = LIF(shape=(w_in.shape[0],), du=1.0, dv=0.0, vth=1.0, bias_mant=arrays["b_hid"])
    d_fwd = Dense(weights=w_out, num_message_bits=0)
    out = LIF(shape=(w_out.shape[0],), du=1.0, dv=0.0, vth=1.0, bias_mant=arrays["b_out"])
    d_back = Dense(weights=w_out.T.copy(), num_message_bits=24)
    src.s_out.connect(d_in.s_in)
    d_in.a_out.connect(hid.a_in)
    hid.s_out.connect(d_fwd.s_in)
    d_fwd.a_out.connect(out.a_in)
    out.s_out.connect(d_back.s_in)
    d_back.a_out.connect(hid.a_in)
    procs = [src, d_in, hid, d_fwd, out, d_back]
    monitor = None
    if spec.get("monitor"):  # hidden spikes, for the activity only (not for timing)
        from lava.proc.monitor.process import Monitor

        monitor = Monitor()
        monitor.probe(hid.s_out, steps)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    src.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="floating_pt"))
    res = dict(processes=len(procs) + (monitor is not None), process_names=[type(p).__name__ for p in procs],
               build_seconds=t_build, run_seconds=time.perf_counter() - t0)
    if monitor is not None:
        res["monitor_total"] = float(np.asarray(monitor.get_data()[hid.name]["s_out"]).sum())
    return res, src


def main(job_dir: str) -> int:
    job = Path(job_dir)
    spec = json.loads((job / "job.json").read_text())
    with np.load(job / "arrays.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    result, anchor = {"ok": False}, None
    try:
        if spec["kind"] == "neurotep":
            result, anchor = _neurotep(job, spec, arrays)
        elif spec["kind"] == "lava_own":
            result, anchor = _lava_own(spec, arrays)
        else:
            raise ValueError(f"unknown job kind {spec['kind']!r}")
        result["ok"] = True
    except BaseException as e:
        result = {"ok": False, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
        anchor = None  # after a failed run stop() can hang: the parent kills the group
    finally:
        if anchor is not None:
            try:
                t0 = time.perf_counter()
                anchor.stop()
                result["stop_seconds"] = time.perf_counter() - t0
            except BaseException as e:
                result["stop_error"] = f"{type(e).__name__}: {e}"
        if result.get("ok") and spec["kind"] == "neurotep":
            result["recorders"], result["recorder_read_seconds"] = _read_recorders(job)
        prune_root_handlers()
        (job / "result.json").write_text(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
