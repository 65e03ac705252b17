"""HTSEP's stochastic spiking neuron.

The membrane integrates like :mod:`neurotep.neurons.lif`; the spike is a Bernoulli draw with a
noise-modulated threshold::

    p_t = sigmoid((v_t - threshold) / temperature)
    s_t = [u_t < p_t]

where ``u_t`` comes from the counter-based generator (:mod:`neurotep.rng`) keyed by
(seed, step, neuron index), so every backend draws the same ``u_t``. As the temperature goes to
zero the neuron becomes the deterministic LIF; with ``beta = 0`` and zero reset it is a binary
stochastic unit whose mean output is ``sigmoid((i - threshold) / temperature)``.
"""

from __future__ import annotations

from typing import Any

from neurotep.neurons import _xp
from neurotep.neurons.lif import integrate


def spike_probability(v: Any, threshold: float, temperature: float) -> Any:
    return _xp.sigmoid((v - threshold) / temperature)


def stochastic_step(
    i: Any, v: Any, s_prev: Any, u: Any, beta: float, threshold: float, temperature: float, reset: str,
    gate: Any = None,
) -> tuple[Any, Any]:
    """One step given the uniform draws ``u``; returns ``(spikes, v)``.

    ``gate`` (0/1 floats, the open probabilistic gates): a closed neuron neither integrates nor
    spikes this step; only the pending reset of its last spike is applied, so no reset is lost.
    """
    v_open = integrate(i, v, s_prev, beta, threshold, reset)
    s = _xp.as_float(u < spike_probability(v_open, threshold, temperature), v_open)
    if gate is None:
        return s, v_open
    v_closed = v - s_prev * threshold if reset == "subtract" else (1.0 - s_prev) * v
    return s * gate, gate * v_open + (1 - gate) * v_closed
