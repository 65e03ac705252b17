"""Rate units: the neurons of the base TorEqProp model in its rate mode.

A rate unit's output relaxes towards ``f(input)`` with damping ``a``::

    s <- (1 - a) * s + a * f(u)

Its fixed points ``s = f(u)`` are the stationary points of a Hopfield-style energy whose
per-unit term is ``G(s)`` with ``G' = f^{-1}`` (see :func:`energy_term`); that is what makes
Equilibrium Propagation's gradient theorem apply.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurotep.neurons import _xp


LOGISTIC_TEMPERATURE = 0.25


def activation(model: str, u: Any) -> Any:
    """``f(u)`` of a rate model."""
    if model == "hard_sigmoid":
        return _xp.clip(u, 0.0, 1.0)
    if model == "tanh":
        return _xp.tanh(u)
    if model == "logistic":  # a Boltzmann unit's mean at temperature 1/4 (LOGISTIC_TEMPERATURE)
        return _xp.sigmoid((u - 0.5) / LOGISTIC_TEMPERATURE)
    if model == "linear":
        return u
    raise ValueError(f"unknown rate model {model!r}")


def rate_step(model: str, u: Any, s: Any, damping: float, gate: Any = None, noise: Any = None) -> Any:
    """One damped step of a rate population: returns the new output. ``gate`` (0/1 floats, the
    open probabilistic gates) restricts the update to those units; the others hold. ``noise``
    (DiffTorEqProp's Langevin term ``eta_t * xi``, see :func:`noise_scale`) is added to the new
    output, which is what the toroidal buffer recirculates; hard-sigmoid outputs are then
    projected back onto their box [0, 1] (projected Langevin: the energy is defined on the box)."""
    step = damping * (activation(model, u) - s)
    out = s + (step if gate is None else gate * step)
    if noise is None:
        return out
    out = out + noise
    return _xp.clip(out, 0.0, 1.0) if model == "hard_sigmoid" else out


def sigma_step(u: Any, s: Any) -> Any:
    """One step of a graded integrator (Lava's ``Sigma``): the output accumulates the input. In
    fixed point the same sum runs on integers (``a_in`` units, 1/64)."""
    return s + u


def noise_scale(noise: float, decay: float, steps: int, t: int) -> float:
    """The Langevin noise schedule ``eta_t = noise * decay**t`` for steps ``t < steps``, 0 after
    (the relaxation ends deterministically, so it can converge and EqProp's nudged phases see
    no noise). Plain Python floats: every backend computes the same value."""
    return float(noise) * float(decay) ** int(t) if 0 <= int(t) < int(steps) else 0.0


def energy_term(model: str, s: np.ndarray) -> np.ndarray:
    """``G(s)`` per unit, the integral of the inverse activation (numpy, for diagnostics).

    hard_sigmoid: ``s^2 / 2`` on [0, 1] (the box constraint is the clip); linear: ``s^2 / 2``;
    tanh: ``s artanh(s) + log(1 - s^2) / 2``; logistic: ``s / 2 + T (s log s + (1 - s) log(1 - s))``.
    """
    if model in ("hard_sigmoid", "linear"):
        return 0.5 * s**2
    if model == "logistic":
        s = np.clip(s, 1e-12, 1 - 1e-12)
        return 0.5 * s + LOGISTIC_TEMPERATURE * (s * np.log(s) + (1 - s) * np.log1p(-s))
    if model == "tanh":
        s = np.clip(s, -1 + 1e-12, 1 - 1e-12)
        return s * np.arctanh(s) + 0.5 * np.log1p(-(s**2))
    raise ValueError(f"unknown rate model {model!r}")
