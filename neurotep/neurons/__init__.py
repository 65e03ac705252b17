"""Neuron and buffer dynamics, written once as plain array math (numpy or torch).

Norse-style pure step functions: each takes the input current and the previous state and
returns the new output and state. Backends call these; none re-implements them.
"""

from neurotep.neurons.boltzmann import DrawStream, boltzmann_step
from neurotep.neurons.buffer import RingBuffer, torus_feedback
from neurotep.neurons.lif import integrate, lif_step
from neurotep.neurons.rate import activation, energy_term, rate_step, sigma_step
from neurotep.neurons.sigma_delta import sigma_delta_step
from neurotep.neurons.stochastic import spike_probability, stochastic_step

__all__ = [
    "DrawStream",
    "boltzmann_step",
    "sigma_step",
    "sigma_delta_step",
    "RingBuffer",
    "torus_feedback",
    "integrate",
    "lif_step",
    "activation",
    "energy_term",
    "rate_step",
    "spike_probability",
    "stochastic_step",
]
