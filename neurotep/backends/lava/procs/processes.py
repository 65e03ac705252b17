"""Lava Processes for what Lava lacks: subtractive-reset LIF, HTSEP's stochastic neuron, damped
rate units, the toroidal buffer and a cheap spike recorder. Interfaces only; the dynamics are in
``models.py`` (which calls :mod:`neurotep.neurons`)."""

from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var


class _Neurons(AbstractProcess):
    """Common interface: synaptic input ``a_in``, output ``s_out`` (spikes or graded values),
    per-neuron ``bias`` and the previous output ``s``. Model parameters arrive as keyword
    arguments (float models and fixed_pt models take different ones, see ``models.py``)."""

    def __init__(self, *, shape: tuple[int, ...], bias: np.ndarray, **params) -> None:
        super().__init__(shape=shape, bias=bias, **params)
        self.a_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.bias = Var(shape=shape, init=bias)
        self.s = Var(shape=shape, init=0)


class SubtractiveLIF(_Neurons):
    """LIF with subtractive reset in neurotep's (snnTorch's) convention. Float: beta, threshold;
    fixed_pt: dv, vth (Lava's units) and the effective bias."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.v = Var(shape=kw["shape"], init=0)


class StochasticNeurons(_Neurons):
    """HTSEP's stochastic spiking neuron; ``index`` keys the counter-based generator per neuron.
    Params: beta, threshold, temperature, reset, seed."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.v = Var(shape=kw["shape"], init=0)


class RateUnits(_Neurons):
    """Damped rate units (hard_sigmoid, tanh, linear) sending graded values. Params: model,
    damping (float, or in 1/4096 for fixed_pt).

    For EqProp on Lava (``schedule`` given) they also learn: ``target_in`` carries the target,
    the input gains ``-beta_t (s - target)`` with ``beta_t`` set by the phase schedule, and the bias
    moves by the contrast of the two nudged phases at the end of each cycle."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.target_in = InPort(shape=kw["shape"])


class ToroidalBuffer(AbstractProcess):
    """The last K values received, fed back as ``sum_j taps[j] * x(t-1-j)`` (a connection-like
    process: it sends before it receives, adding one step like Dense). fixed_pt: integer taps and
    the sum shifted right by ``tap_bits``."""

    def __init__(self, *, shape: tuple[int, ...], taps: list, tap_bits: int = 0) -> None:
        super().__init__(shape=shape, taps=taps, tap_bits=tap_bits)
        self.s_in = InPort(shape=shape)
        self.a_out = OutPort(shape=shape)


class Recorder(AbstractProcess):
    """Counts what a population emits, per step, per sample and per neuron; for a readout it also
    sums its values over time and keeps the last ones; with ``raster`` it keeps every spike. It
    writes its arrays to ``path`` at step ``steps``: ``Var.get`` moves data element by element
    (~25 us each), which would dominate a run."""

    def __init__(self, *, shape: tuple[int, ...], batch: int, size: int, readout: bool, steps: int, path: str,
                 raster: bool = False) -> None:
        super().__init__(shape=shape, batch=batch, size=size, readout=readout, steps=steps, path=path, raster=raster)
        self.s_in = InPort(shape=shape)


class EqPropSynapses(AbstractProcess):
    """One weight matrix ``W`` (post x pre), shared by the ``batch`` copies of a population pair,
    driving ``post`` with ``W pre`` and, when ``symmetric``, ``pre`` with ``W.T post`` (tied
    weights, as the EqProp energy needs). It learns by the EqProp contrastive Hebbian rule: at the
    end of the +beta and -beta phases of each cycle it keeps the states of the neurons it
    connects, then ``W += lr / (2 beta) * mean_b(post+ pre+^T - post- pre-^T)``. Final weights and
    the first cycle's update are written to ``path`` at the last step."""

    def __init__(self, *, weights: np.ndarray, batch: int, symmetric: bool, schedule: dict, steps: int, path: str) -> None:
        n_post, n_pre = weights.shape
        super().__init__(weights=weights, batch=batch, symmetric=symmetric, schedule=schedule, steps=steps, path=path)
        self.pre_in = InPort(shape=(batch * n_pre,))
        self.post_in = InPort(shape=(batch * n_post,))
        self.a_out = OutPort(shape=(batch * n_post,))
        self.a_out_pre = OutPort(shape=(batch * n_pre,))


class BatchSource(AbstractProcess):
    """Plays mini-batch ``k`` of ``x`` (and its ``target``) for the ``period`` steps of cycle ``k``."""

    def __init__(self, *, x: np.ndarray, target: np.ndarray, period: int) -> None:
        super().__init__(x=x, target=target, period=period)
        self.s_out = OutPort(shape=(x.shape[1] * x.shape[2],))
        self.target_out = OutPort(shape=(target.shape[1] * target.shape[2],))
