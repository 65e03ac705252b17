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
    Params: beta, threshold, temperature, reset, seed, gate (probabilistic gate, 1 = none; the
    gate draws use the same ``index``, see :func:`neurotep.rng.gate_open`)."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.v = Var(shape=kw["shape"], init=0)


class RateUnits(_Neurons):
    """Damped rate units (hard_sigmoid, tanh, linear) sending graded values. Params: model,
    damping (float, or in 1/4096 for fixed_pt); with a probabilistic gate (``gate`` < 1) also
    ``seed`` and ``index`` (the neurons' generator keys, as for the stochastic neuron); with
    Langevin noise (DiffTorEqProp) ``noise``, ``noise_decay``, ``noise_steps``, ``seed``, ``index``
    and, for fixed_pt, ``noise_table`` (the integer scale per step).

    For EqProp on Lava (``schedule`` given) they also learn: ``target_in`` carries the target,
    the input gains ``-beta_t (s - target)`` with ``beta_t`` set by the phase schedule, and the bias
    moves by the contrast of the two nudged phases at the end of each cycle."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.target_in = InPort(shape=kw["shape"])


class ToroidalBuffer(AbstractProcess):
    """The last K values received, fed back as ``sum_j taps[j] * x(t-1-j)`` (a connection-like
    process: it sends before it receives, adding one step like Dense). fixed_pt: integer taps and
    the sum shifted right by ``tap_bits``.

    An N-D buffer (HTSEP's hyper-torus) also carries ``kernel``, the population's symmetric
    (n, n) wrap-around spatial kernel ``S`` over its grid (``grid``, ``radius``: for the plan's
    description), and feeds back ``(sum_j taps[j] x(t-1-j)) @ S`` per sample (fixed_pt: the
    integer kernel ``round(S * 2**kernel_bits)`` applied to the shifted tap sum, then shifted
    right by ``kernel_bits``). The vectors are batch-flattened (batch * n,): the model reshapes
    them to (batch, n) so samples never mix.

    Why the spatial spread lives here and not in a Lava ``Sparse`` after this process: every Lava
    connection process adds one step (it sends the previous step's accumulation), so
    buffer -> Sparse(S) -> population would deliver ``S x(t-2-j)`` instead of ``S x(t-1-j)``, break
    the buffer's timing and with it the spike-for-spike parity with torch. (K ``DelaySparse``
    connections of ``taps[j] * S`` from the population to itself would keep the timing, but cost K
    processes and round each tap's product separately, so fixed point would no longer be the
    one-shift-after-the-sum of :func:`neurotep.neurons.fixed.torus_fixed`.)
    Honestly, on Loihi 2: a neuro-core has no "buffer process doing a matrix product". There the
    feedback would be the population's own recurrent synapses, the circulant kernel a core-local
    fan-out of each neuron's axon to its ``prod(2 r + 1)`` grid neighbours (one synaptic delay per
    tap), local only while the population fits on one core. neurotep does not emit that mapping:
    this Python process runs on the host like neurotep's other processes, and the Loihi 2 mapping
    report warns about it.
    """

    def __init__(self, *, shape: tuple[int, ...], taps: list, tap_bits: int = 0, kernel: np.ndarray | None = None,
                 kernel_bits: int = 0, grid: tuple[int, ...] = (), radius: tuple[int, ...] = ()) -> None:
        super().__init__(shape=shape, taps=taps, tap_bits=tap_bits, kernel=kernel, kernel_bits=kernel_bits,
                         grid=tuple(grid), radius=tuple(radius))
        if kernel is not None and (np.ndim(kernel) != 2 or shape[0] % np.shape(kernel)[0]):
            raise ValueError(f"kernel of shape {np.shape(kernel)} does not tile a buffer of shape {shape}")
        self.s_in = InPort(shape=shape)
        self.a_out = OutPort(shape=shape)


class Recorder(AbstractProcess):
    """Counts what a population emits, per step, per sample and per neuron; for a readout it also
    sums its values over time and keeps the last ones; with ``raster`` it keeps every spike, with
    ``state`` every value (a "state" probe); with ``events`` (graded messages, SigmaDelta) it counts
    the nonzero values. It writes its arrays to ``path`` at step ``steps``: ``Var.get`` moves data element by element
    (~25 us each), which would dominate a run."""

    def __init__(self, *, shape: tuple[int, ...], batch: int, size: int, readout: bool, steps: int, path: str,
                 raster: bool = False, state: bool = False, readout_from: int = 0, events: bool = False,
                 integrate: bool = False) -> None:
        super().__init__(shape=shape, batch=batch, size=size, readout=readout, steps=steps, path=path, raster=raster,
                         state=state, readout_from=readout_from, events=events, integrate=integrate)
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
