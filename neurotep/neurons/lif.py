"""Leaky integrate-and-fire, in snnTorch's ``Leaky`` convention (delayed reset, strict threshold).

::

    subtract:  v_t = beta * v_{t-1} + i_t - s_{t-1} * threshold
    zero:      v_t = (1 - s_{t-1}) * beta * v_{t-1} + i_t
    s_t = [v_t > threshold]

With ``beta = 1``, ``threshold = 1`` and subtractive reset this is an integrate-and-fire neuron
whose firing rate over many steps approaches ``clip(mean input, 0, 1)``: the hard-sigmoid of the
rate model, which is why the spiking mode of a trained rate network needs no retraining.
Zero reset produces the same spike train as Lava's LIF (which zeroes ``v`` within the step).
"""

from __future__ import annotations

from typing import Any

from neurotep.neurons import _xp


def integrate(i: Any, v: Any, s_prev: Any, beta: float, threshold: float, reset: str) -> Any:
    """The membrane update shared by the LIF and the stochastic neuron."""
    if reset == "subtract":
        return beta * v + i - s_prev * threshold
    if reset == "zero":
        return (1.0 - s_prev) * beta * v + i
    raise ValueError(f"unknown reset {reset!r}")


def lif_step(i: Any, v: Any, s_prev: Any, beta: float, threshold: float, reset: str) -> tuple[Any, Any]:
    """One step; returns ``(spikes, v)`` with spikes as 0/1 of ``v``'s dtype."""
    v = integrate(i, v, s_prev, beta, threshold, reset)
    return _xp.as_float(v > threshold, v), v
