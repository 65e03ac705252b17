"""On-chip EqProp on Lava: the on-chip form (:mod:`neurotep.hardware.onchip`) learning inside one
Lava simulation, with Lava's ``LIF`` neurons and ``LearningDense`` synapses in fixed point.

The simulation runs in an isolated worker (:mod:`neurotep.backends.lava.isolate`) in chunks of
samples: after each chunk it reads the weights and writes a checkpoint (an on-chip model
directory, written under temporary names and renamed) and ``progress.json``, which the parent
turns into a progress bar. Ctrl-C in the parent ends the worker's whole process group; the last
checkpoint stays as it was.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from neurotep.errors import BackendError
from neurotep.hardware.onchip import CONNECTIONS, ENDS, OnChipForm, pixel_rates

DEFAULT_CHUNK = 20  # samples per run() call: a checkpoint and a progress tick each


def build_processes(form: OnChipForm, rates: np.ndarray, targets: np.ndarray) -> dict:
    """Lava processes of the on-chip form, connected; ``rates`` (samples, n_in) integer pixel
    rates in training order, ``targets`` one-hot (samples, n_out)."""
    from dataclasses import asdict

    from lava.magma.core.learning.learning_rule import Loihi3FLearningRule
    from lava.proc.dense.process import LearningDense
    from lava.proc.lif.process import LIF

    from neurotep.backends.lava.procs.onchip import OnChipSource, OnChipTeacher, PostTraces

    n_in, n_h, n_out = form.sizes
    settings = {k: v for k, v in asdict(form).items() if k not in ("weights", "meta")}
    p = {"source": OnChipSource(rates=rates, steps_per_sample=form.steps_per_sample, bias_period=form.bias_period),
         "h": LIF(shape=(n_h,), du=4095, dv=form.dv, vth=form.vth, bias_mant=0, name="h"),
         "y": LIF(shape=(n_out,), du=4095, dv=form.dv, vth=form.vth, bias_mant=0, name="y"),
         "traces_h": PostTraces(form=settings, pop="h", size=n_h),
         "traces_y": PostTraces(form=settings, pop="y", size=n_out),
         "teacher": OnChipTeacher(form=settings, targets=targets)}
    out = {"x": p["source"].s_out, "b": p["source"].b_out, "h": p["h"].s_out, "y": p["y"].s_out}
    for c in CONNECTIONS:
        pre, post = ENDS[c]
        r = form.rule(c)
        rule = Loihi3FLearningRule(dw=r.dw_str, x1_impulse=r.x1_impulse, x1_tau=r.x1_tau, t_epoch=r.t_epoch,
                                   rng_seed=r.rng_seed)
        conn = p[f"syn_{c}"] = LearningDense(weights=np.asarray(form.weights[c], dtype=np.int64), learning_rule=rule,
                                             name=f"syn_{c}")
        out[pre].connect(conn.s_in)
        conn.a_out.connect(p[post].a_in)
        traces = p[f"traces_{post}"]
        for port, y in zip((conn.s_in_y1, conn.s_in_y2, conn.s_in_y3), (traces.y1_out, traces.y2_out, traces.y3_out)):
            y.connect(port)
    p["h"].s_out.connect(p["traces_h"].s_in)
    p["y"].s_out.connect(p["traces_y"].s_in)
    p["y"].s_out.connect(p["teacher"].s_in)
    p["teacher"].a_out.connect(p["y"].a_in)
    return p


def read_weights(procs: dict) -> dict[str, np.ndarray]:
    return {c: np.rint(procs[f"syn_{c}"].weights.get()).astype(np.int64) for c in CONNECTIONS}


def worker_main(job_dir: str) -> int:
    """The worker: train in chunks, checkpointing after each (see the module's docstring)."""
    import lava.magma.core.run_configs  # noqa: F401  (Lava fixes the start method first)
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    from neurotep.backends.lava.worker import prune_root_handlers

    job = Path(job_dir)
    spec = json.loads((job / "job.json").read_text())
    result, procs, ran = {"ok": False}, None, False
    try:
        form = OnChipForm.load(job / "form")
        with np.load(job / "inputs.npz", allow_pickle=False) as z:
            rates, targets = z["rates"], z["targets"]
        t0 = time.perf_counter()
        procs = build_processes(form, rates, targets)
        anchor, cfg = procs["source"], Loihi2SimCfg(select_tag="fixed_pt")
        n, chunk, per = len(rates), spec["chunk"], form.steps_per_sample
        run_seconds, done = 0.0, 0
        while done < n:
            k = min(chunk, n - done)
            t1 = time.perf_counter()
            anchor.run(condition=RunSteps(num_steps=k * per), run_cfg=cfg)
            run_seconds += time.perf_counter() - t1
            ran, done = True, done + k
            form.weights = read_weights(procs)
            form.meta = dict(form.meta, samples_done=spec["start"] + done)
            form.save(job / "checkpoint")
            correct = int(procs["teacher"].correct.get()[0])
            tmp = job / "progress.json.tmp"
            tmp.write_text(json.dumps(dict(done=done, total=n, correct=correct, run_seconds=run_seconds)))
            tmp.replace(job / "progress.json")
        xs, bs = (int(v) for v in procs["source"].spikes.get())
        spikes = dict(x=xs, b=bs, h=int(procs["traces_h"].spikes.get()[0]), y=int(procs["traces_y"].spikes.get()[0]))
        result = dict(ok=True, samples=n, correct=correct, run_seconds=run_seconds,
                      seconds=time.perf_counter() - t0, steps=n * per, spikes=spikes)
    except BaseException as e:  # report everything, including the workers' tracebacks Lava only logs
        result = {"ok": False, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
    finally:
        if procs and ran:
            try:
                procs["source"].stop()
            except BaseException as e:  # the parent kills the group if this hangs or fails
                result.setdefault("stop_error", f"{type(e).__name__}: {e}")
        prune_root_handlers()
        (job / "result.json").write_text(json.dumps(result))
    return 0 if result["ok"] else 1


def train_onchip(form: OnChipForm, x: np.ndarray, labels: np.ndarray, checkpoint: Path | None = None,
                 start: int = 0, chunk: int = DEFAULT_CHUNK, timeout: float | None = None, progress=None):
    """Train ``form`` on ``(x, labels)`` in that order, one sample per four phases, inside one
    Lava simulation. Each chunk's checkpoint is copied to ``checkpoint`` (an on-chip model
    directory) as soon as the worker writes it. ``progress(done, total, correct)`` is called as
    chunks finish. Returns ``(learned form, result dict)``."""
    from neurotep.backends.lava.isolate import job_dir, run_worker

    form.validate()
    rates = pixel_rates(x)
    targets = np.eye(form.sizes[2], dtype=np.int64)[np.asarray(labels)]
    seen = {"done": -1}
    with job_dir("onchip") as job:
        form.save(job / "form")
        np.savez(job / "inputs.npz", rates=rates, targets=targets)
        (job / "job.json").write_text(json.dumps(dict(chunk=int(chunk), start=int(start))))

        def poll():
            f = job / "progress.json"
            if not f.exists():
                return
            state = json.loads(f.read_text())
            if state["done"] != seen["done"]:
                seen["done"] = state["done"]
                if checkpoint is not None:
                    _copy_checkpoint(job / "checkpoint", Path(checkpoint))
                if progress is not None:
                    progress(state["done"], state["total"], state["correct"])

        rc = run_worker("neurotep.backends.lava.onchip:worker_main", job, timeout, what="on-chip training on Lava",
                        poll=poll)
        res_file = job / "result.json"
        if not res_file.exists():
            raise BackendError(f"the Lava worker died (exit code {rc})")
        res = json.loads(res_file.read_text())
        if not res["ok"]:
            if os.environ.get("NEUROTEP_DEBUG"):
                print(res.get("traceback", ""), file=sys.stderr)
            raise BackendError(f"on-chip training on Lava failed: {str(res['error']).splitlines()[0]} "
                               "(set NEUROTEP_DEBUG=1 for the traceback)")
        learned = OnChipForm.load(job / "checkpoint")
    return learned, res


def _copy_checkpoint(src: Path, dst: Path) -> None:
    """Copy a checkpoint (two files) so that ``dst`` always holds a complete one: each file goes
    to a temporary name first, then both are renamed."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("weights.npz", "onchip.json"):
        (dst / f".{name}.tmp").write_bytes((src / name).read_bytes())
    for name in ("weights.npz", "onchip.json"):
        (dst / f".{name}.tmp").replace(dst / name)


def learning_dense_weights(rule, weights: np.ndarray, pre: np.ndarray, ys: np.ndarray, epochs: int,
                           timeout: float | None = 300) -> list[np.ndarray]:
    """One ``LearningDense`` (fixed_pt) under ``rule`` (a :class:`~neurotep.hardware.learning_rule.LoihiRule`),
    fed the pre-synaptic spikes ``pre`` (n_pre, steps) and the post-synaptic values ``ys``
    (3, n_post, steps) from ring buffers, in an isolated worker: its weights after each of
    ``epochs`` learning epochs. What a rule does on Lava's model, to check a twin against."""
    from neurotep.backends.lava.isolate import job_dir, run_worker

    with job_dir("rule") as job:
        np.savez(job / "inputs.npz", weights=weights, pre=pre, ys=ys)
        (job / "job.json").write_text(json.dumps(dict(dw=rule.dw_str, x1_impulse=rule.x1_impulse, x1_tau=rule.x1_tau,
                                                      t_epoch=rule.t_epoch, rng_seed=rule.rng_seed, epochs=epochs)))
        run_worker("neurotep.backends.lava.onchip:_rule_worker", job, timeout, what="the LearningDense run")
        res = json.loads((job / "result.json").read_text()) if (job / "result.json").exists() else {"ok": False}
        if not res["ok"]:
            raise BackendError(f"the LearningDense run failed: {str(res.get('error', 'no result')).splitlines()[0]}")
        with np.load(job / "weights.npz", allow_pickle=False) as z:
            return list(z["weights"])


def _rule_worker(job_dir: str) -> int:
    import lava.magma.core.run_configs  # noqa: F401  (Lava fixes the start method first)
    from lava.magma.core.learning.learning_rule import Loihi3FLearningRule
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import LearningDense
    from lava.proc.io.source import RingBuffer

    job = Path(job_dir)
    spec = json.loads((job / "job.json").read_text())
    result, conn = {"ok": False}, None
    try:
        with np.load(job / "inputs.npz", allow_pickle=False) as z:
            weights, pre, ys = z["weights"], z["pre"], z["ys"]
        epochs = spec.pop("epochs")
        src, ysrc = RingBuffer(data=pre), [RingBuffer(data=ys[i]) for i in range(3)]
        conn = LearningDense(weights=weights, learning_rule=Loihi3FLearningRule(**spec))
        src.s_out.connect(conn.s_in)
        for s, port in zip(ysrc, (conn.s_in_y1, conn.s_in_y2, conn.s_in_y3)):
            s.s_out.connect(port)
        out = []
        for _ in range(epochs):
            conn.run(condition=RunSteps(num_steps=spec["t_epoch"]), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
            out.append(np.rint(conn.weights.get()).astype(np.int64))
        np.savez(job / "weights.npz", weights=np.stack(out))
        result = {"ok": True}
    except BaseException as e:
        result = {"ok": False, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
    finally:
        if conn is not None and result["ok"]:
            conn.stop()
        (job / "result.json").write_text(json.dumps(result))
    return 0 if result["ok"] else 1
