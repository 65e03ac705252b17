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
from neurotep.backends.lava.procs.processes import (BatchSource, EqPropSynapses, RateUnits, Recorder, StochasticNeurons,
                                                    SubtractiveLIF, ToroidalBuffer)
from neurotep.graph.phases import PhaseSchedule
from neurotep.neurons import RingBuffer, lif_step, rate_step, stochastic_step, torus_feedback
from neurotep.neurons.fixed import KERNEL_BITS, lif_fixed_step, noise_fixed, rate_fixed_step, stochastic_fixed_step, torus_fixed
from neurotep.neurons.rate import noise_scale


class Counter:
    """Counts what a population emits per step, per sample and per neuron (and, for a readout,
    sums its values and keeps the last ones; with ``raster``, every spike), then writes the arrays
    to ``path`` at step ``steps``: ``Var.get`` moves data element by element (~25 us each), which
    would dominate a run. neurotep's neuron models count their own output with it, so recording
    adds no process (each process costs ~0.14 ms per step); the Recorder uses it for Lava's LIF."""

    def __init__(self, p: dict):
        self.b, self.n, self.steps, self.path = p["batch"], p["size"], p["steps"], p["path"]
        self.table = np.zeros((self.steps, self.b))
        self.per_neuron = np.zeros(self.n)
        self.acc = np.zeros((self.b, self.n)) if p["readout"] else None
        self.first = int(p.get("readout_from", 0))  # a re-timed graph's readout starts at the output's shift
        self.integrate, self.act = bool(p.get("integrate")), 0
        self.raster = np.zeros((self.steps, self.b, self.n), dtype=bool) if p.get("raster") else None
        self.state = np.zeros((self.steps, self.b, self.n)) if p.get("state") else None  # a "state" probe
        self.last = None
        self.events = bool(p.get("events"))  # graded messages: count the nonzero ones

    def add(self, x: np.ndarray, time_step: int) -> None:
        x = x.reshape(self.b, self.n)
        t = time_step - 1
        if t < self.steps:
            e = x != 0 if self.events else x
            self.table[t] = e.sum(1)
            self.per_neuron += e.sum(0)
            if self.acc is not None:
                r = x
                if self.integrate:  # the stochastic delta form: the output's activation, averaged
                    self.act = r = self.act + x
                if t >= self.first:
                    self.acc += r
                if time_step == self.steps:  # the readout's final values (x may be a reused buffer)
                    self.last = x.copy()
            if self.raster is not None:
                self.raster[t] = x != 0
            if self.state is not None:
                self.state[t] = x
        if time_step == self.steps:
            arrays = dict(table=self.table, per_neuron=self.per_neuron)
            if self.acc is not None:
                arrays.update(acc=self.acc, last=self.last)
            if self.raster is not None:
                arrays["raster"] = self.raster
            if self.state is not None:
                arrays["state"] = self.state
            _save(self.path, **arrays)


def _gate(p: dict, time_step: int, dtype) -> np.ndarray | None:
    """The population's open probabilistic gates this step as 0/1 of ``dtype`` (None without a
    gate), keyed like torch: neurotep's step ``time_step - 1`` and the neurons' global ``index``."""
    g = float(p.get("gate", 1.0))
    if g >= 1.0:
        return None
    return rng.gate_open(p["seed"], time_step - 1, np.asarray(p["index"], dtype=np.int64), g).astype(dtype)


def _noise(p: dict, time_step: int, fixed: bool) -> np.ndarray | None:
    """A rate population's Langevin noise this step (DiffTorEqProp), keyed like torch: float as
    ``eta_t * normal``, fixed point as the integer scale of ``noise_table`` (graded units); None
    when off."""
    if not float(p.get("noise", 0.0)) > 0:
        return None
    t = time_step - 1
    if fixed:
        table = p["noise_table"]
        eta = int(table[t]) if t < len(table) else 0
    else:
        eta = noise_scale(p["noise"], p["noise_decay"], p["noise_steps"], t)
    if eta == 0:
        return None
    z = rng.normal_int(p["seed"], t, np.asarray(p["index"], dtype=np.int64))
    return noise_fixed(z, eta) if fixed else eta * (z.astype(np.float64) * rng.NORMAL_SCALE)


class _NeuronModel(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    bias: np.ndarray = LavaPyType(np.ndarray, float)
    s: np.ndarray = LavaPyType(np.ndarray, float)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.counter = Counter(proc_params["record"]) if proc_params.get("record") else None

    def run_spk(self) -> None:
        i = self.a_in.recv() + self.bias
        self.s[:] = self.update(i)
        self.s_out.send(self.s)
        if self.counter is not None:
            self.counter.add(self.s, self.time_step)

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
        s, self.v[:] = stochastic_step(i, self.v, self.s, u, p["beta"], p["threshold"], p["temperature"], p["reset"],
                                       _gate(p, self.time_step, np.float64))
        return s


@implements(proc=RateUnits, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyRateUnitsFloat(_NeuronModel):
    target_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        sched = proc_params.get("schedule")
        self.sched = PhaseSchedule(**{k: sched[k] for k in ("free", "nudge", "beta", "lr")}) if sched else None
        self.plus = None

    def update(self, i):
        p = self.proc_params
        if self.sched is None:
            return rate_step(p["model"], i, self.s, p["damping"], _gate(p, self.time_step, np.float64),
                             _noise(p, self.time_step, False))
        t = self.time_step - 1
        target = self.target_in.recv()
        beta = self.sched.beta_at(t)
        if beta and p["schedule"]["nudged"]:
            i = i - beta * (self.s - target)
        s = rate_step(p["model"], i, self.s, p["damping"])
        if self.sched.plus_end(t):
            self.plus = s.copy()
        if self.sched.minus_end(t):  # EqProp bias update, shared by the batch copies
            b, n = p["schedule"]["batch"], s.size // p["schedule"]["batch"]
            d = (self.plus - s).reshape(b, n).mean(0)
            self.bias[:] = self.bias + self.sched.lr / (2 * self.sched.beta) * np.tile(d, b)
        if self.time_step == p["schedule"]["steps"]:
            _save(p["schedule"]["path"], bias=self.bias[: s.size // p["schedule"]["batch"]])
        return s


@implements(proc=ToroidalBuffer, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyToroidalBufferFloat(PyLoihiProcessModel):
    """The ring holds (batch, n) arrays; the shared :func:`torus_feedback` sums the time taps and,
    for an N-D buffer, spreads them over each sample's spatial torus (see the process)."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.taps = proc_params["taps"]
        k = proc_params.get("kernel")
        self.kernel = None if k is None else np.asarray(k, dtype=np.float64)
        n = int(np.prod(proc_params["shape"]))
        self.rows = (n // self.kernel.shape[0], self.kernel.shape[0]) if self.kernel is not None else (n,)
        self.ring = RingBuffer(len(self.taps), np.zeros(self.rows))

    def run_spk(self) -> None:
        self.a_out.send(torus_feedback(self.ring, self.taps, self.kernel).reshape(-1))
        self.ring.push(self.s_in.recv().reshape(self.rows).copy())


class _NeuronModelFixed(PyLoihiProcessModel):
    """fixed_pt: integer dynamics from neurotep.neurons.fixed, state kept as int64 (the Vars are
    declared with Loihi's widths; products like v * 4096 need 64 bits on the way)."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    bias: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    s: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        n = int(np.prod(proc_params["shape"]))
        self.s64 = np.zeros(n, dtype=np.int64)
        self.v64 = np.zeros(n, dtype=np.int64)
        self.bias64 = np.asarray(proc_params["bias"], dtype=np.int64)
        self.counter = Counter(proc_params["record"]) if proc_params.get("record") else None

    def run_spk(self) -> None:
        a = self.a_in.recv().astype(np.int64)
        self.s64 = self.update(a)
        self.s_out.send(self.s64)
        if self.counter is not None:
            self.counter.add(self.s64, self.time_step)


@implements(proc=SubtractiveLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySubtractiveLIFFixed(_NeuronModelFixed):
    v: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def update(self, a):
        p = self.proc_params
        s, self.v64 = lif_fixed_step(a, self.v64, self.s64, p["dv"], p["vth"], self.bias64, "subtract")
        return s


@implements(proc=StochasticNeurons, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyStochasticNeuronsFixed(_NeuronModelFixed):
    v: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def update(self, a):
        p = self.proc_params
        h24 = rng.hash24(p["seed"], self.time_step - 1, np.asarray(p["index"], dtype=np.int64))
        s, self.v64 = stochastic_fixed_step(a, self.v64, self.s64, h24, p["dv"], p["vth"], self.bias64, p["reset"],
                                            np.asarray(p["table"], dtype=np.int64), p["table_shift"],
                                            _gate(p, self.time_step, np.int64))
        return s


@implements(proc=RateUnits, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyRateUnitsFixed(_NeuronModelFixed):
    target_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)

    def update(self, a):
        p = self.proc_params
        return rate_fixed_step(p["model"], a, self.s64, self.bias64, p["damping"], _gate(p, self.time_step, np.int64),
                               _noise(p, self.time_step, True))


@implements(proc=ToroidalBuffer, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyToroidalBufferFixed(PyLoihiProcessModel):
    """Integer taps, the sum shifted by ``tap_bits``; an N-D buffer then applies the integer
    kernel per sample with :func:`torus_fixed` (``(fb @ kernel) >> KERNEL_BITS``)."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.taps = [int(t) for t in proc_params["taps"]]
        k = proc_params.get("kernel")
        self.kernel = None if k is None else np.asarray(k, dtype=np.int64)
        if self.kernel is not None and proc_params["kernel_bits"] != KERNEL_BITS:
            raise ValueError(f"kernel_bits {proc_params['kernel_bits']} != KERNEL_BITS {KERNEL_BITS}")
        n = int(np.prod(proc_params["shape"]))
        self.rows = (n // self.kernel.shape[0], self.kernel.shape[0]) if self.kernel is not None else (n,)
        self.ring = RingBuffer(len(self.taps), np.zeros(self.rows, dtype=np.int64))

    def run_spk(self) -> None:
        fb = self.ring.weighted_sum(self.taps) >> self.proc_params["tap_bits"]
        if self.kernel is not None:
            fb = torus_fixed(fb, self.kernel)
        self.a_out.send(fb.reshape(-1))
        self.ring.push(self.s_in.recv().astype(np.int64).reshape(self.rows))


@implements(proc=Recorder, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt", "fixed_pt")
class PyRecorderFloat(PyLoihiProcessModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.counter = Counter(proc_params)

    def run_spk(self) -> None:
        self.counter.add(self.s_in.recv(), self.time_step)


def _save(path: str, **arrays) -> None:
    tmp = path + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


@implements(proc=EqPropSynapses, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyEqPropSynapsesFloat(PyLoihiProcessModel):
    pre_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    post_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    a_out_pre: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        p = proc_params
        self.w = np.array(p["weights"], dtype=np.float64)
        self.b = p["batch"]
        s = p["schedule"]
        self.sched = PhaseSchedule(s["free"], s["nudge"], s["beta"], s["lr"])
        self.a_post = np.zeros(self.b * self.w.shape[0])
        self.a_pre = np.zeros(self.b * self.w.shape[1])
        self.plus = None
        self.first_update = None

    def run_spk(self) -> None:
        # Like Dense: send what the previous step's states produced, so the loop never deadlocks.
        self.a_out.send(self.a_post)
        if self.proc_params["symmetric"]:
            self.a_out_pre.send(self.a_pre)
        pre = self.pre_in.recv().reshape(self.b, -1)
        post = self.post_in.recv().reshape(self.b, -1)
        t = self.time_step - 1
        if self.sched.plus_end(t):
            self.plus = (pre.copy(), post.copy())
        if self.sched.minus_end(t):
            dw = (self.plus[1].T @ self.plus[0] - post.T @ pre) * (self.sched.lr / (2 * self.sched.beta * self.b))
            self.w += dw
            if self.first_update is None:
                self.first_update = dw
        self.a_post = (pre @ self.w.T).reshape(-1)
        if self.proc_params["symmetric"]:
            self.a_pre = (post @ self.w).reshape(-1)
        if self.time_step == self.proc_params["steps"]:
            _save(self.proc_params["path"], weights=self.w,
                  first_update=self.first_update if self.first_update is not None else np.zeros_like(self.w))


@implements(proc=BatchSource, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyBatchSourceFloat(PyLoihiProcessModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    target_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)

    def run_spk(self) -> None:
        p = self.proc_params
        k = ((self.time_step - 1) // p["period"]) % p["x"].shape[0]
        self.s_out.send(p["x"][k].reshape(-1))
        self.target_out.send(p["target"][k].reshape(-1))
