"""The Hopfield-style energy of a rate graph, for diagnostics and tests.

    E(s) = sum_p [ sum_i G_p(s_pi) - b_p.s_p - (c_p / 2) s_p.S_p s_p ]
           - sum_c s_post . W_c s_pre

where ``G_p' = f_p^{-1}`` (:func:`neurotep.neurons.energy_term`), ``c_p`` is the sum of the taps
of population p's toroidal buffer and ``S_p`` its spatial kernel (the identity for a 1-D buffer;
at equilibrium every tap holds ``s_p``) and the sum over connections includes those from clamped
inputs. Its gradient is ``f^{-1}(s) - u(s)`` with
``u(s)`` the input current at equilibrium, so its stationary points are exactly the fixed points
``s = f(u(s))`` of the damped dynamics (the box of the hard-sigmoid acting as a constraint).
"""

from __future__ import annotations

import torch

from neurotep.backends.torch import TorchNetwork
from neurotep.learning.eqprop import buffer_energy
from neurotep.neurons.rate import LOGISTIC_TEMPERATURE


def _G(model: str, s: torch.Tensor) -> torch.Tensor:
    if model in ("hard_sigmoid", "linear"):
        return 0.5 * s**2
    if model == "tanh":
        s = s.clamp(-1 + 1e-12, 1 - 1e-12)
        return s * torch.atanh(s) + 0.5 * torch.log1p(-(s**2))
    if model == "logistic":
        s = s.clamp(1e-12, 1 - 1e-12)
        return 0.5 * s + LOGISTIC_TEMPERATURE * (s * torch.log(s) + (1 - s) * torch.log1p(-s))
    raise ValueError(f"no energy term for neuron model {model!r}")


def energy(net: TorchNetwork, states: dict[str, torch.Tensor]) -> torch.Tensor:
    """Energy per sample, shape (B,), for ``states`` holding every population (inputs included)."""
    g = net.graph
    weights = net.effective_weights()
    e = 0.0
    for p in g.state_populations():
        s = states[p.name]
        e = e + _G(p.model, s).sum(1)
        if p.name in net.biases:
            e = e - s @ net.biases[p.name]
        if g.buffer_of(p.name) is not None:
            e = e + buffer_energy(net, p.name, s)
    for c in g.connections:
        # A (symmetric) self-connection is a quadratic term -1/2 s.A s: its gradient is the drive -A s.
        half = 0.5 if c.pre == c.post else 1.0
        e = e - half * ((states[c.pre] @ weights[c.name].T) * states[c.post]).sum(1)
    return e
