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


def activation(model: str, u: Any) -> Any:
    """``f(u)`` of a rate model."""
    if model == "hard_sigmoid":
        return _xp.clip(u, 0.0, 1.0)
    if model == "tanh":
        return _xp.tanh(u)
    if model == "linear":
        return u
    raise ValueError(f"unknown rate model {model!r}")


def rate_step(model: str, u: Any, s: Any, damping: float, gate: Any = None) -> Any:
    """One damped step of a rate population: returns the new output. ``gate`` (0/1 floats, the
    open probabilistic gates) restricts the update to those units; the others hold."""
    step = damping * (activation(model, u) - s)
    return s + (step if gate is None else gate * step)


def energy_term(model: str, s: np.ndarray) -> np.ndarray:
    """``G(s)`` per unit, the integral of the inverse activation (numpy, for diagnostics).

    hard_sigmoid: ``s^2 / 2`` on [0, 1] (the box constraint is the clip); linear: ``s^2 / 2``;
    tanh: ``s artanh(s) + log(1 - s^2) / 2``.
    """
    if model in ("hard_sigmoid", "linear"):
        return 0.5 * s**2
    if model == "tanh":
        s = np.clip(s, -1 + 1e-12, 1 - 1e-12)
        return s * np.arctanh(s) + 0.5 * np.log1p(-(s**2))
    raise ValueError(f"unknown rate model {model!r}")
