"""TPEqProp's learning synapses on Lava: one prediction weight ``W`` (and the bias ``b`` of the
prediction) shared by the batch copies, driving the error population with ``W pre + b`` and, when
symmetric, the population below with ``feedback * W.T err``; at the end of every clamped phase it
applies the single-phase local update of :mod:`neurotep.learning.predictive`.

Why not Lava's ``LearningDense``: (1) the prediction weight must also drive the layer below
through its transpose with the opposite sign, and two processes cannot share one learned matrix
(after the first update the feedback copy would be stale); (2) its graded pre-trace
(``GradedSpikeCfg.OVERWRITE``) is written only when the pre neuron sends a nonzero value, so a
value unit resting at 0, the hard sigmoid's lower bound, keeps an older sample's trace; (3) the
post factor is the error gated by the units beside it, ``(e + lam v) * 1[0 < e + v < 1 - lam]``, a
product of two post-side signals that a trace cannot form; (4) one ``LearningDense`` holds one
matrix per sample copy, so a batch could not share it. Hence this process (floating point), in
the pattern of :class:`~neurotep.backends.lava.procs.processes.EqPropSynapses`.
"""

from __future__ import annotations

import os

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol


class PredictiveSynapses(AbstractProcess):
    """Params: ``weights`` (post x pre), ``bias`` (post), ``batch``, ``symmetric``, ``feedback``,
    ``schedule`` = dict(period, lr, scale, lam, gated, steps, path): every ``period`` steps
    ``W -= lr * scale * mean_b(d pre^T)`` and ``b -= lr * scale * mean_b(d)`` with
    ``d = (err + lam * value) * (1[0 < err + value < 1 - lam] if gated else 1)``."""

    def __init__(self, *, shape: tuple[int, ...], weights: np.ndarray, bias: np.ndarray, batch: int, symmetric: bool,
                 feedback: float, schedule: dict) -> None:
        n_post, n_pre = weights.shape
        super().__init__(shape=shape, weights=weights, bias=bias, batch=batch, symmetric=symmetric, feedback=feedback,
                         schedule=schedule)
        self.pre_in = InPort(shape=(batch * n_pre,))
        self.post_in = InPort(shape=(batch * n_post,))
        self.value_in = InPort(shape=(batch * n_post,))
        self.a_out = OutPort(shape=(batch * n_post,))
        self.a_out_pre = OutPort(shape=(batch * n_pre,))


@implements(proc=PredictiveSynapses, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyPredictiveSynapsesFloat(PyLoihiProcessModel):
    pre_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    post_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    value_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    a_out_pre: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        p = proc_params
        self.w = np.array(p["weights"], dtype=np.float64)
        self.bias = np.array(p["bias"], dtype=np.float64)
        self.b = p["batch"]
        self.s = p["schedule"]
        # the first message: W pre(0) + b with pre(0) = 0 (the zero state), as the torch path sees it
        self.a_post = np.tile(self.bias, self.b)
        self.a_pre = np.zeros(self.b * self.w.shape[1])
        self.first = None

    def run_spk(self) -> None:
        # Like Dense: send what the previous step's states produced, so loops never deadlock.
        self.a_out.send(self.a_post)
        if self.proc_params["symmetric"]:
            self.a_out_pre.send(self.a_pre)
        pre = self.pre_in.recv().reshape(self.b, -1)
        err = self.post_in.recv().reshape(self.b, -1)
        value = self.value_in.recv().reshape(self.b, -1)
        s = self.s
        if self.time_step % s["period"] == 0:  # the end of a clamped phase: the local update
            d = err + s["lam"] * value
            if s["gated"]:  # the same gate as neurotep.learning.predictive.gated_error
                mu = err + value
                d = d * ((mu > 0) & (mu < 1 - s["lam"]))
            dw = -s["lr"] * s["scale"] * (d.T @ pre) / self.b
            db = -s["lr"] * s["scale"] * d.mean(0)
            self.w += dw
            self.bias += db
            if self.first is None:
                self.first = (dw, db)
        self.a_post = (pre @ self.w.T + self.bias).reshape(-1)
        if self.proc_params["symmetric"]:
            self.a_pre = (self.proc_params["feedback"] * (err @ self.w)).reshape(-1)
        if self.time_step == s["steps"]:
            first = self.first or (np.zeros_like(self.w), np.zeros_like(self.bias))
            tmp = s["path"] + ".tmp.npz"
            np.savez(tmp, weights=self.w, bias=self.bias, first_dw=first[0], first_db=first[1])
            os.replace(tmp, s["path"])
