"""Floating-point ProcessModels of neurotep's Lava processes. Each calls the dynamics written
once in :mod:`neurotep.neurons`; ``self.time_step`` starts at 1, neurotep's step counter at 0."""

from __future__ import annotations

import os

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from neurotep import rng
from neurotep.backends.lava.procs.processes import RateUnits, Recorder, StochasticNeurons, SubtractiveLIF, ToroidalBuffer
from neurotep.neurons import RingBuffer, lif_step, rate_step, stochastic_step


class _NeuronModel(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    bias: np.ndarray = LavaPyType(np.ndarray, float)
    s: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self) -> None:
        i = self.a_in.recv() + self.bias
        self.s[:] = self.update(i)
        self.s_out.send(self.s)

    def update(self, i: np.ndarray) -> np.ndarray:
        raise NotImplementedError


@implements(proc=SubtractiveLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PySubtractiveLIFFloat(_NeuronModel):
    v: np.ndarray = LavaPyType(np.ndarray, float)

    def update(self, i):
        p = self.proc_params
        s, self.v[:] = lif_step(i, self.v, self.s, p["beta"], p["threshold"], "subtract")
        return s


@implements(proc=StochasticNeurons, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyStochasticNeuronsFloat(_NeuronModel):
    v: np.ndarray = LavaPyType(np.ndarray, float)

    def update(self, i):
        p = self.proc_params
        u = rng.uniform_np(p["seed"], self.time_step - 1, p["index"])
        s, self.v[:] = stochastic_step(i, self.v, self.s, u, p["beta"], p["threshold"], p["temperature"], p["reset"])
        return s


@implements(proc=RateUnits, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyRateUnitsFloat(_NeuronModel):
    def update(self, i):
        return rate_step(self.proc_params["model"], i, self.s, self.proc_params["damping"])


@implements(proc=ToroidalBuffer, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyToroidalBufferFloat(PyLoihiProcessModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.taps = proc_params["taps"]
        self.ring = RingBuffer(len(self.taps), np.zeros(proc_params["shape"]))

    def run_spk(self) -> None:
        self.a_out.send(self.ring.weighted_sum(self.taps))
        self.ring.push(self.s_in.recv().copy())


@implements(proc=Recorder, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyRecorderFloat(PyLoihiProcessModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        p = proc_params
        self.b, self.n, self.steps = p["batch"], p["size"], p["steps"]
        self.table = np.zeros((self.steps, self.b))
        self.per_neuron = np.zeros(self.n)
        self.acc = np.zeros((self.b, self.n)) if p["readout"] else None
        self.raster = np.zeros((self.steps, self.b, self.n), dtype=bool) if p.get("raster") else None
        self.last = None

    def run_spk(self) -> None:
        x = self.s_in.recv().reshape(self.b, self.n)
        t = self.time_step - 1
        if t < self.steps:
            self.table[t] = x.sum(1)
            self.per_neuron += x.sum(0)
            if self.acc is not None:
                self.acc += x
                self.last = x.copy()
            if self.raster is not None:
                self.raster[t] = x > 0
        if self.time_step == self.steps:
            arrays = dict(table=self.table, per_neuron=self.per_neuron)
            if self.acc is not None:
                arrays.update(acc=self.acc, last=self.last)
            if self.raster is not None:
                arrays["raster"] = self.raster
            tmp = self.proc_params["path"] + ".tmp.npz"
            np.savez(tmp, **arrays)
            os.replace(tmp, self.proc_params["path"])
