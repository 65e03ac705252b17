"""The nodes of neurotep's spiking process graph: plain dataclasses, no behaviour.

Timing semantics, shared by every backend: the simulation advances in discrete steps. A
connection with ``delay = d`` delivers at step ``t`` what its presynaptic population emitted at
step ``t - d``; ``delay = 1`` is the default (Lava's Dense adds exactly one step). ``delay = 0``
delivers within the same step and is only allowed where it creates no cycle. A
:class:`ToroidalBuffer` on a population feeds back ``gain * sum_{j<K} decay^j * out(t-1-j)``: the
population's last ``K`` outputs, most recent first.

Arrays are numpy ``float64`` (weights, biases) or ``bool`` (masks); backends cast as they need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Neuron models the graph accepts, with the scalar parameters each one requires and the defaults
# a builder may omit. The dynamics themselves live in neurotep.neurons (written once).
NEURON_MODELS: dict[str, dict[str, Any]] = {
    # A clamped source: its output is the encoded input, it has no dynamics of its own.
    # ``graded``: it carries graded values even in a spiking run (e.g. a population held from an
    # earlier stage, neurotep.graph.stages), so the run's spike encoding does not apply to it.
    "input": {"graded": False},
    # Rate units: out <- (1 - damping) * out + damping * f(input).
    # ``gate`` < 1 makes the update probabilistic (HTSEP): each step each unit updates with
    # probability ``gate`` (draws from the counter-based generator keyed by ``seed``) and holds
    # its output otherwise. Fixed points do not change; the expected damping is gate * damping.
    # ``noise`` > 0 (DiffTorEqProp) adds Langevin noise eta_t * N(0, 1) to the output after each
    # update, eta_t = noise * noise_decay**t for the first ``noise_steps`` steps of a relaxation
    # (0 after), drawn from the counter-based generator keyed by ``seed`` (its own stream);
    # ``noise_gain`` > 0 lets training adapt ``noise`` (see neurotep.variants.difftor). 0 = off.
    "hard_sigmoid": {"damping": 0.5, "gate": 1.0, "seed": 0, "noise": 0.0, "noise_decay": 1.0, "noise_steps": 0,
                     "noise_gain": 0.0},
    "tanh": {"damping": 0.5, "gate": 1.0, "seed": 0, "noise": 0.0, "noise_decay": 1.0, "noise_steps": 0,
             "noise_gain": 0.0},
    # The mean of a Boltzmann unit at temperature 1/4 (neurotep.neurons.boltzmann): sigmoid(4 (u - 1/2)),
    # the clip's value and slope at u = 1/2. HTSEP's units="logistic" trains with it, so that its
    # stochastic delta form (Loihi 2's NEBM) samples the model it was trained as.
    "logistic": {"damping": 0.5, "gate": 1.0, "seed": 0, "noise": 0.0, "noise_decay": 1.0, "noise_steps": 0,
                 "noise_gain": 0.0},
    "linear": {"damping": 0.5, "gate": 1.0, "seed": 0, "noise": 0.0, "noise_decay": 1.0, "noise_steps": 0,
               "noise_gain": 0.0},
    # A graded integrator, Lava's Sigma: out <- out + input, sent as a graded value every step. It
    # takes no bias and no parameters. The chip form (neurotep.graph.chip) writes a damped linear
    # rate unit as one, with a self-connection carrying the damping.
    "sigma": {},
    # Lava's SigmaDelta (neurotep.neurons.sigma_delta): integrates the messages it receives, applies
    # ``activation`` (relu or unit) to the sum plus its bias, and sends the change of that
    # activation only where it reaches ``threshold``. The delta form (neurotep.graph.delta) writes a
    # rate network with these; its messages are graded events, counted like spikes.
    "sigma_delta": {"threshold": 0.01, "activation": "relu"},
    # The Boltzmann unit, lava-optimization's NEBM (neurotep.neurons.boltzmann), the stochastic
    # neuron Loihi 2 runs on its neuro-cores: a binary unit re-drawn every step, on with probability
    # sigmoid(state / temperature), its state the bias plus the sum of the messages received; it
    # sends +1 / -1 when it turns on / off. The stochastic delta form (neurotep.graph.delta) writes
    # HTSEP's hidden units as these; ``seed`` seeds NEBM's numpy stream.
    "boltzmann": {"temperature": 0.25, "seed": 0},
    # Leaky integrate-and-fire, the snnTorch Leaky convention: v <- beta * v + input (+ bias),
    # spike when v > threshold, reset by subtraction or to zero.
    "lif": {"beta": 1.0, "threshold": 1.0, "reset": "subtract"},
    # HTSEP's stochastic spiking neuron: spike with probability sigmoid((v - threshold) / temperature),
    # the uniform draw coming from the counter-based generator keyed by (seed, step, neuron).
    # With ``gate`` < 1 a neuron whose gate is closed skips the step: no integration, no spike.
    "stochastic": {"beta": 0.0, "threshold": 0.5, "temperature": 0.1, "reset": "zero", "seed": 0, "gate": 1.0},
}

RATE_MODELS = frozenset({"hard_sigmoid", "tanh", "logistic", "linear"})
SPIKING_MODELS = frozenset({"lif", "stochastic"})
GRADED_MODELS = RATE_MODELS | {"sigma", "sigma_delta", "boltzmann"}  # populations that send graded values in every mode
EVENT_MODELS = frozenset({"sigma_delta", "boltzmann"})  # graded, but sent only when nonzero: recorded and counted as events
RESET_MODES = ("subtract", "zero")


@dataclass
class Population:
    """A group of neurons sharing one neuron model.

    ``params`` holds the model's scalar parameters (see :data:`NEURON_MODELS`); ``bias`` is an
    optional per-neuron constant input current.
    """

    name: str
    size: int
    model: str
    params: dict[str, Any] = field(default_factory=dict)
    bias: np.ndarray | None = None

    def param(self, key: str) -> Any:
        """The parameter ``key``, falling back to the model's default."""
        if key in self.params:
            return self.params[key]
        return NEURON_MODELS[self.model][key]


@dataclass
class LearningRule:
    """How a connection's weights learn.

    ``kind`` names the rule ("eqprop" for the contrastive Hebbian update of Equilibrium
    Propagation); ``params`` its hyperparameters (e.g. ``beta``).
    """

    kind: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Connection:
    """Weighted synapses from ``pre`` to ``post``: ``weight`` has shape ``(post.size, pre.size)``.

    ``symmetric`` makes the connection bidirectional with tied weights: ``post`` also drives
    ``pre`` through ``weight.T``. This is what gives the EqProp energy its symmetric recurrent
    matrix. ``mask`` (same shape, bool) marks the synapses that exist; absent means dense.

    ``feedback`` scales the transposed direction of a symmetric connection: ``pre`` is driven by
    ``feedback * weight.T post``. 1 (the default) is the tied symmetric coupling of EqProp; the
    predictive-coding variant (TPEqProp) uses a negative value, because its error units are
    driven by ``+W`` but must push the layer below by ``-eta W.T`` (one weight, two signs).
    """

    name: str
    pre: str
    post: str
    weight: np.ndarray
    delay: int = 1
    symmetric: bool = False
    mask: np.ndarray | None = None
    learning: LearningRule | None = None
    feedback: float = 1.0


@dataclass
class ToroidalBuffer:
    """A ring buffer of a population's last ``depth`` outputs, fed back with fading weights.

    ``decay`` has one factor per torus axis. Axis 0 is time: tap ``j`` (0 = most recent) is
    weighted ``gain * decay[0]**j``. A 1-D buffer (``shape=()``) feeds each neuron its own past.

    An N-D buffer (HTSEP's hyper-torus) also lays the population out on a periodic grid
    ``shape`` (``prod(shape) == size``, row-major) and spreads each tap over the neurons within
    ``radius[a]`` steps along spatial axis ``a``, wrapping around, weighted ``decay[1 + a]**dist``
    per axis. The feedback is ``sum_j w_j S out(t-1-j)`` with ``S`` the symmetric circulant kernel
    :meth:`spatial_kernel`, so the buffer adds ``-1/2 (sum_j w_j) s.S s`` to the energy and EqProp
    still applies. ``learn=True`` lets EqProp learn the decay factors (the gain stays fixed).
    """

    name: str
    population: str
    depth: int
    decay: tuple[float, ...] = (0.9,)
    gain: float = 0.1
    shape: tuple[int, ...] = ()
    radius: tuple[int, ...] = ()
    learn: bool = False

    def tap_weights(self) -> np.ndarray:
        """Feedback weight of each time tap, most recent first."""
        return self.gain * float(self.decay[0]) ** np.arange(self.depth, dtype=np.float64)

    def spatial_kernel(self) -> np.ndarray | None:
        """The (size, size) wrap-around coupling of the spatial axes; ``None`` for a 1-D buffer."""
        return spatial_kernel(self.shape, self.radius, self.decay[1:]) if self.shape else None

    def loop_gain(self) -> float:
        """``sum_j w_j * lambda_max(S)``: how much the buffer lowers the energy's curvature at
        equilibrium (the kernel's largest eigenvalue is its row sum, all weights being >= 0)."""
        return float(self.tap_weights().sum()) * _kernel_row_sum(self.radius, self.decay[1:])

    def worst_loop_gain(self) -> float:
        """The loop gain with every decay factor at 1: the bound that holds while they learn."""
        return self.gain * self.depth * float(np.prod([2 * r + 1 for r in self.radius]))


def circulant_1d(n: int, radius: int, decay: float) -> np.ndarray:
    """``K[i, j] = decay**d(i, j)`` for ring distance ``d <= radius``, else 0 (``K[i, i] = 1``)."""
    i = np.arange(n)
    d = np.abs(i[:, None] - i[None, :])
    d = np.minimum(d, n - d)
    return np.where(d <= radius, float(decay) ** d, 0.0)


def spatial_kernel(shape: tuple[int, ...], radius: tuple[int, ...], decay: tuple[float, ...]) -> np.ndarray:
    """Kronecker product of the per-axis circulant kernels (row-major grid order)."""
    k = np.ones((1, 1))
    for n, r, d in zip(shape, radius, decay):
        k = np.kron(k, circulant_1d(int(n), int(r), float(d)))
    return k


def _kernel_row_sum(radius: tuple[int, ...], decay: tuple[float, ...]) -> float:
    return float(np.prod([1 + 2 * sum(float(d) ** k for k in range(1, int(r) + 1)) for r, d in zip(radius, decay)]))


@dataclass
class Probe:
    """What to record from a population: ``"spikes"`` (counts per step), ``"raster"`` (every
    spike) or ``"state"`` (the output value per step)."""

    name: str
    population: str
    what: str = "spikes"


PROBE_KINDS = ("spikes", "raster", "state")


@dataclass
class InputStream:
    """A sequence played into an input population, one frame per ``every`` steps.

    A sample's input row then holds ``length`` frames of the population's size, flattened
    frame-major (``length * size`` values, as data sets store sequences). At step ``t`` of the
    run (counted from the first :class:`Stage`), frame ``min(t // every, length - 1)`` is on the
    population: the last frame stays on once the sequence has been played. A population without
    a stream holds the same (static) input at every step."""

    name: str
    population: str
    length: int
    every: int = 1

    def frame_at(self, t: int) -> int:
        return min(t // self.every, self.length - 1)


@dataclass
class Stage:
    """A span of a run's steps in which only the ``active`` populations update; every other
    population holds its output (and keeps sending it), as a clamped input would.

    A graph's stages run in order from the zero state. ``steps`` is a fixed count, or ``None`` for
    the last stage, which takes the run's own steps (the relaxation, or the spiking run) and is the
    one recorded and read out. ``encoded``: whether the run's input encoding (Poisson spikes in
    spiking mode) applies during the stage; otherwise its inputs are graded values (Loihi 2's
    graded spikes). A graph without stages has one implicit stage: everything active, encoded."""

    name: str
    active: tuple[str, ...]
    steps: int | None = None
    encoded: bool = True
