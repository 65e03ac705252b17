"""The host-side processes of on-chip EqProp (:mod:`neurotep.hardware.onchip`), fixed point.

* :class:`OnChipSource` and :class:`OnChipTeacher` sit at the chip's boundary: the rate-coded
  input with the bias neuron, and the nudge (which also scores each sample's free phase).
* :class:`PostTraces` stands in for the learning compartment of Loihi 2's ``LearningLIF``: it
  sends each ``LearningDense`` the post-synaptic trace and the phase gate. Lava 0.10's
  ``LearningLIF`` models never send on their ``s_out_y*`` ports (a run waiting on them
  deadlocks), so in simulation this runs on the host; on the chip the neuron computes them.

Their dynamics are the shared step functions of :mod:`neurotep.hardware.onchip`, the same the
torch twin runs; the neurons (``LIF``) and learning synapses (``LearningDense``) are Lava's own.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from neurotep.hardware.onchip import OnChipForm, PostTraceUnit, Source, Teacher


class OnChipSource(AbstractProcess):
    """Rate-coded pixels (``rates``: integer rates per sample) and the bias neuron."""

    def __init__(self, *, rates: np.ndarray, steps_per_sample: int, bias_period: int) -> None:
        super().__init__(rates=rates, steps_per_sample=steps_per_sample, bias_period=bias_period)
        self.s_out = OutPort(shape=(rates.shape[1],))
        self.b_out = OutPort(shape=(1,))
        self.spikes = Var(shape=(2,), init=0)  # input and bias spikes sent so far


class PostTraces(AbstractProcess):
    """``y1`` (trace), ``y2`` / ``y3`` (phase gates) of population ``pop`` of ``form``."""

    def __init__(self, *, form: dict, pop: str, size: int) -> None:
        super().__init__(form=form, pop=pop, size=size)
        self.s_in = InPort(shape=(size,))
        self.y1_out, self.y2_out, self.y3_out = (OutPort(shape=(size,)) for _ in range(3))
        self.spikes = Var(shape=(1,), init=0)  # the population's spikes so far


class OnChipTeacher(AbstractProcess):
    """The nudge into the output, and the online score: ``correct`` counts the samples whose
    first free phase had the most spikes on the label's neuron (``done``: samples scored)."""

    def __init__(self, *, form: dict, targets: np.ndarray) -> None:
        super().__init__(form=form, targets=targets)
        n = targets.shape[1]
        self.s_in = InPort(shape=(n,))
        self.a_out = OutPort(shape=(n,))
        self.correct = Var(shape=(1,), init=0)
        self.done = Var(shape=(1,), init=0)


def _form(params: dict) -> OnChipForm:
    return OnChipForm(**{**params["form"], "weights": {}})


@implements(proc=OnChipSource, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyOnChipSourceModel(PyLoihiProcessModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=1)
    b_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=1)
    spikes: np.ndarray = LavaPyType(np.ndarray, np.int64)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        p = self.proc_params
        self.source = Source(np.asarray(p["rates"], dtype=np.int64), p["steps_per_sample"], p["bias_period"])

    def run_spk(self) -> None:
        s, b = self.source.step()
        self.spikes += (int(s.sum()), int(b.sum()))
        self.s_out.send(s)
        self.b_out.send(b)


@implements(proc=PostTraces, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyPostTracesModel(PyLoihiProcessModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=1)
    y1_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    y2_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    y3_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=7)
    spikes: np.ndarray = LavaPyType(np.ndarray, np.int64)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        p = self.proc_params
        self.unit = PostTraceUnit(_form(p), p["pop"], np.zeros(p["size"], dtype=np.int64))

    def run_spk(self) -> None:
        # Receive first: the neurons' spikes of this step are there before the synapses read
        # the traces (each LearningDense sends its output before it reads them).
        s = self.s_in.recv().astype(np.int64)
        self.spikes[0] += int(s.sum())
        y1, y2, y3 = self.unit.step(s)
        self.y1_out.send(y1)
        self.y2_out.send(y2)
        self.y3_out.send(y3)


@implements(proc=OnChipTeacher, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyOnChipTeacherModel(PyLoihiProcessModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=1)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    correct: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    done: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        form, targets = _form(self.proc_params), np.asarray(self.proc_params["targets"], dtype=np.int64)
        self.teacher = Teacher(form, targets)
        self.labels = targets.argmax(1)
        self.phase_steps, self.per = form.phase_steps, form.steps_per_sample
        self.counts = np.zeros(targets.shape[1], dtype=np.int64)

    def run_spk(self) -> None:
        self.a_out.send(self.teacher.send())  # before receiving: the output waits for this step's nudge
        s = self.s_in.recv().astype(np.int64)
        self.teacher.receive(s)
        t = (self.time_step - 1) % self.per
        if t < self.phase_steps:
            self.counts += s
        if t == self.phase_steps - 1:
            k = (self.time_step - 1) // self.per
            self.correct[0] += int(self.counts.argmax() == self.labels[k % len(self.labels)])
            self.done[0] += 1
            self.counts[:] = 0
