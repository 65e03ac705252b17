"""The Boltzmann unit: the stochastic neuron that Loihi 2 runs on its neuro-cores.

It is lava-optimization's ``NEBM`` process (non-equilibrium Boltzmann machine neuron, the unit of
Intel's QUBO solver, whose ``NEBMNcModel`` runs it on Loihi 2's neuro-cores), written here for
float and for integers::

    state  <- state + a_in                     # starts at the bias; sums every message received
    p_on   =  sigmoid(state / temperature)     # NEBM: 1 / (1 + exp(-state / (T / 4)))
    on     =  draw < p_on                      # a fresh uniform draw per neuron per step
    s_out  =  on - on_prev                     # +1 when it turns on, -1 when it turns off

The unit is a binary variable re-drawn at every step and sends only its changes, like a
sigma-delta neuron (:mod:`neurotep.neurons.sigma_delta`): a receiver's sum of the messages is the
sender's present state. A network of them is a Gibbs sampler (all units at once) whose mean-field
equilibrium is ``s = sigmoid((W s + b) / temperature)``. NEBM's model negates the state (it turns a
unit *on* when its energy change is negative); neurotep keeps the natural sign and the Lava
plan negates the weights and the bias into it, which gives the same numbers.

NEBM draws with numpy's global generator (``np.random.rand`` of the whole population each step);
Lava forks every process model from the run's process, so each NEBM process starts from the
state the run seeded. :class:`DrawStream` reproduces that stream; it depends on the batch
layout, unlike neurotep's counter-based draws (:mod:`neurotep.rng`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurotep.neurons import _xp


class DrawStream:
    """NEBM's uniform draws: ``numpy.random.RandomState(seed).rand(batch * size)`` at every step,
    for a batch laid out sample-major as Lava's plan lays it (index ``b * size + n``)."""

    def __init__(self, seed: int, batch: int, size: int):
        self.rs, self.shape = np.random.RandomState(seed), (batch, size)

    def next(self) -> np.ndarray:
        return self.rs.rand(self.shape[0] * self.shape[1]).reshape(self.shape)


def on_probability(state: Any, temperature: float) -> np.ndarray:
    """``1 / (1 + exp(-state / temperature))`` in numpy float64, as NEBM evaluates it, so that every
    backend compares its draws with the very same numbers."""
    s = state.detach().cpu().numpy() if _xp.is_torch(state) else np.asarray(state)
    with np.errstate(over="ignore"):  # exp overflows to inf far below zero: p = 0, as in NEBM
        return 1.0 / (1.0 + np.exp(-s.astype(np.float64) / temperature))


def boltzmann_step(a_in: Any, state: Any, on: Any, draws: np.ndarray, temperature: float) -> tuple[Any, Any, Any]:
    """One step given the uniform ``draws`` (numpy, shaped like ``state``); returns
    ``(s_out, state, on)``: ``on`` as 0/1 of ``state``'s type, ``s_out`` in -1, 0, 1."""
    state = state + a_in
    hit = draws < on_probability(state, temperature)
    if _xp.is_torch(state):
        import torch

        on_new = torch.as_tensor(hit, device=state.device).to(state.dtype)
    else:
        on_new = hit.astype(state.dtype)
    return on_new - on, state, on_new
