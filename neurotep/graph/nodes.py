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
    "input": {},
    # Rate units: out <- (1 - damping) * out + damping * f(input).
    "hard_sigmoid": {"damping": 0.5},
    "tanh": {"damping": 0.5},
    "linear": {"damping": 0.5},
    # Leaky integrate-and-fire, the snnTorch Leaky convention: v <- beta * v + input (+ bias),
    # spike when v > threshold, reset by subtraction or to zero.
    "lif": {"beta": 1.0, "threshold": 1.0, "reset": "subtract"},
    # HTSEP's stochastic spiking neuron: spike with probability sigmoid((v - threshold) / temperature),
    # the uniform draw coming from the counter-based generator keyed by (seed, step, neuron).
    "stochastic": {"beta": 0.0, "threshold": 0.5, "temperature": 0.1, "reset": "zero", "seed": 0},
}

RATE_MODELS = frozenset({"hard_sigmoid", "tanh", "linear"})
SPIKING_MODELS = frozenset({"lif", "stochastic"})
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
    """

    name: str
    pre: str
    post: str
    weight: np.ndarray
    delay: int = 1
    symmetric: bool = False
    mask: np.ndarray | None = None
    learning: LearningRule | None = None


@dataclass
class ToroidalBuffer:
    """A ring buffer of a population's last ``depth`` outputs, fed back with fading weights.

    ``decay`` has one factor per torus axis; axis 0 is time, so a 1-D buffer has ``decay=(d,)``
    and tap ``j`` (0 = most recent) is weighted ``gain * d**j``.
    """

    name: str
    population: str
    depth: int
    decay: tuple[float, ...] = (0.9,)
    gain: float = 0.1

    def tap_weights(self) -> np.ndarray:
        """Feedback weight of each tap, most recent first."""
        return self.gain * float(self.decay[0]) ** np.arange(self.depth, dtype=np.float64)

    def loop_gain(self) -> float:
        """``gain * sum_j decay^j``: how much the buffer lowers the energy's curvature at equilibrium."""
        return float(self.tap_weights().sum())


@dataclass
class Probe:
    """What to record from a population: ``"spikes"`` (counts per step), ``"raster"`` (every
    spike) or ``"state"`` (the output value per step)."""

    name: str
    population: str
    what: str = "spikes"


PROBE_KINDS = ("spikes", "raster", "state")
