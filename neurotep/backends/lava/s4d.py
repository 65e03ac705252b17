"""Lava's own S4D process (``lava.proc.s4d.S4d``) run over sequences: the reference that TEP-SSR's
SSM (neurotep's linear rate units with a rotation-block ``A``) is compared against. Float only:
Lava ships no fixed-point S4D model."""

from __future__ import annotations

import numpy as np

from neurotep.backends.lava.isolate import job_dir, run_worker
from neurotep.errors import BackendError


def s4d_final_states(xs: np.ndarray, modes: np.ndarray, b: np.ndarray, timeout: float = 300.0) -> np.ndarray:
    """The SSM's final state computed by Lava's own S4D process (``lava.proc.s4d.S4d``, float:
    Lava ships no fixed-point S4D model) on Loihi2SimCfg: ``Dense(B) -> S4d(a = lambda, b = 1)``,
    each complex mode held by two S4d neurons with ``c = 1/2`` (output ``Re z``) and ``c = -i/2``
    (output ``Im z``: S4d sends ``Re(2 c z)``). Runs in an isolated worker (nothing of it outlives
    the call: :func:`neurotep.backends.lava.isolate.run_worker`). ``xs``: (B, L, F) sequences, ``modes``: the M complex eigenvalues, ``b``: the (2M, F)
    input matrix whose even rows feed the modes. Returns (B, 2M): (Re z_0, Im z_0, Re z_1, ...)."""
    xs = np.asarray(xs, dtype=np.float64)
    lam = np.repeat(np.asarray(modes), 2)
    b2 = np.repeat(np.asarray(b)[0::2], 2, axis=0)  # both neurons of a mode see the mode's input b_n . x
    with job_dir("s4d") as job:
        np.savez(job / "job.npz", xs=xs, lam=lam, b2=b2)
        run_worker("neurotep.backends.lava.s4d:_s4d_job", job, timeout, what="the Lava S4D run")
        if not (job / "out.npz").exists():
            tail = (job / "worker.log").read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise BackendError(f"the Lava S4D run failed: {tail[0]}")
        with np.load(job / "out.npz") as z:
            return z["s"]


def _s4d_job(job_dir: str) -> None:  # pragma: no cover - runs in the worker of s4d_final_states
    import lava.magma.core.run_configs  # noqa: F401  (Lava must set the start method first)
    from pathlib import Path

    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.s4d.process import S4d

    job = Path(job_dir)
    with np.load(job / "job.npz") as z:
        xs, lam, b2 = z["xs"], z["lam"], z["b2"]
    n, L, f = xs.shape
    m2 = len(lam)
    frames = np.concatenate([xs, xs[:, -1:]], axis=1)  # (B, L + 1, F): the last element reaches s a step later
    src = Source(data=frames.transpose(0, 2, 1).reshape(n * f, L + 1))  # sample-major neurons, one column per step
    dense = Dense(weights=np.kron(np.eye(n), b2), num_message_bits=24)
    c = np.tile(np.array([0.5, -0.5j]), m2 // 2)
    s4d = S4d(shape=(n * m2,), a=np.tile(lam, n), b=np.ones(n * m2), c=np.tile(c, n))
    sink = Sink(shape=(n * m2,), buffer=L + 1)
    src.s_out.connect(dense.s_in)
    dense.a_out.connect(s4d.a_in)
    s4d.s_out.connect(sink.a_in)
    try:
        s4d.run(condition=RunSteps(num_steps=L + 1), run_cfg=Loihi2SimCfg(select_tag="floating_pt"))
        last = sink.data.get()[:, -1].reshape(n, m2)
    finally:
        s4d.stop()
    np.savez(job / "out.npz", s=last)
