"""Integer (Loihi 2 fixed-point) neuron dynamics, written once for numpy and torch int64 arrays.

They mirror Lava 0.10's bit-accurate models (``lava/proc/lif/models.py``, ``proc/dense/models.py``):

* membrane ``v`` is 24-bit and saturates at +-(2**23 - 1); decays multiply by ``4096 - dv`` and
  shift right by 12 on the magnitude (rounding toward zero, sign kept);
* the synaptic input ``a_in`` and the threshold are shifted left by 6 (``ACT_SHIFT``), so one unit
  of ``a_in`` is 1/64 of a float unit of current and ``v`` counts 4096 per float unit;
* a connection sums its integer weights over the active inputs and shifts the sum by its
  ``weight_exp`` (left when positive, arithmetic right, i.e. floor, when negative).

Zero reset follows Lava's LIF (``v = 0`` in the step of the spike: the same spike train as the
float convention); subtractive reset subtracts the threshold at the next step, as in float.
Graded values (rate units) travel as integers with ``GRADED_BITS`` fractional bits.
"""

from __future__ import annotations

from typing import Any

from neurotep.neurons import _xp
from neurotep.rng import NORMAL_SCALE

ACT_SHIFT = 6  # Lava: a_in << 6 and vth << 6
DECAY_BITS = 12  # decays are (4096 - d) / 4096
GRADED_BITS = 8  # graded payload: 256 per float unit
V_BITS = 2 * ACT_SHIFT  # membrane units: 4096 per float unit
V_MAX = 2**23 - 1  # 24-bit membrane
SD_BITS = 12  # fractional bits of a sigma-delta neuron's sum, activation and messages (4096 per float unit)


def sm_shift(x: Any, bits: int) -> Any:
    """Right shift on the magnitude, sign kept (Lava's rounding toward zero)."""
    return _xp.sign(x) * (_xp.abs_(x) >> bits)


def decay(x: Any, d: int) -> Any:
    """``x * (4096 - d) / 4096`` rounded toward zero."""
    return sm_shift(x * (2**DECAY_BITS - d), DECAY_BITS)


def shift(x: Any, exp: int) -> Any:
    """A connection's output scaling: ``x << exp`` or ``x >> -exp`` (floor)."""
    return x << exp if exp > 0 else x >> (-exp)


def lif_fixed_step(a_in: Any, v: Any, s_prev: Any, dv: int, vth: int, bias: Any, reset: str) -> tuple[Any, Any]:
    """One step of the integer LIF with ``du = 4095`` (the current is this step's input).

    ``vth`` is Lava's threshold parameter (compared as ``vth << 6``), ``bias`` the effective bias
    in membrane units. Returns ``(spikes as 0/1 int, v)``.
    """
    v = decay(v, dv) + (a_in << ACT_SHIFT) + bias
    if reset == "subtract":
        v = v - s_prev * (vth << ACT_SHIFT)
    v = _xp.clip(v, -V_MAX, V_MAX)
    s = _xp.as_float(v > (vth << ACT_SHIFT), v)
    if reset == "zero":
        v = v * (1 - s)
    elif reset != "subtract":
        raise ValueError(f"unknown reset {reset!r}")
    return s, v


def rate_fixed_step(model: str, a_in: Any, s: Any, bias: Any, damping: int, gate: Any = None, noise: Any = None) -> Any:
    """One damped step of an integer rate unit. ``a_in`` in 1/64 units, ``bias`` in membrane units
    (4096 per float), ``s`` graded (``2**GRADED_BITS`` per float), ``damping`` in 1/4096; ``gate``
    (0/1 ints) holds the units whose probabilistic gate is closed; ``noise`` (graded units, see
    :func:`noise_fixed`) is added after the step, hard-sigmoid outputs clipped back to [0, 1]."""
    out = _rate_fixed_update(model, a_in, s, bias, damping, gate)
    if noise is None:
        return out
    out = out + noise
    return _xp.clip(out, 0, 2**GRADED_BITS) if model == "hard_sigmoid" else out


NOISE_BITS = 33  # fractional bits of the integer noise scale: normal_int (+-2**26) * scale >> 33


def noise_scale_int(eta: float) -> int:
    """The integer multiplier that turns :func:`neurotep.rng.normal_int` into graded units of
    standard deviation ``eta``: ``round(eta * NORMAL_SCALE * 2**(GRADED_BITS + NOISE_BITS))``."""
    return int(round(float(eta) * NORMAL_SCALE * 2.0 ** (GRADED_BITS + NOISE_BITS)))


def noise_fixed(z_int: Any, scale: int) -> Any:
    """Integer Gaussian noise in graded units: ``z_int * scale >> NOISE_BITS`` rounded toward zero
    (a floor would bias the noise by half a unit every step)."""
    return sm_shift(z_int * scale, NOISE_BITS)


def _rate_fixed_update(model: str, a_in: Any, s: Any, bias: Any, damping: int, gate: Any = None) -> Any:
    u = ((a_in << ACT_SHIFT) + bias) >> (V_BITS - GRADED_BITS)  # membrane units -> graded units (floor)
    if model == "hard_sigmoid":
        f = _xp.clip(u, 0, 2**GRADED_BITS)
    elif model == "linear":
        f = u
    else:
        raise ValueError(f"rate model {model!r} has no fixed-point form (use hard_sigmoid or linear)")
    step = sm_shift((f - s) * damping, DECAY_BITS)
    return s + (step if gate is None else gate * step)


def stochastic_fixed_step(a_in: Any, v: Any, s_prev: Any, h24: Any, dv: int, vth: int, bias: Any, reset: str,
                          table: Any, table_shift: int, gate: Any = None) -> tuple[Any, Any]:
    """Integer stochastic neuron: the LIF membrane, then a spike when the 24-bit counter hash
    ``h24`` is below ``table[(v - vth << 6) >> table_shift]`` (the sigmoid of the temperature,
    tabulated once as integers so every backend compares the same numbers). ``gate`` (0/1 ints):
    a closed neuron skips the step, applying only a pending subtractive reset."""
    v_prev = v
    v = decay(v, dv) + (a_in << ACT_SHIFT) + bias
    if reset == "subtract":
        v = v - s_prev * (vth << ACT_SHIFT)
    v = _xp.clip(v, -V_MAX, V_MAX)
    half = (len(table) - 1) // 2
    idx = _xp.clip((v - (vth << ACT_SHIFT)) >> table_shift, -half, half) + half
    s = _xp.as_float(h24 < table[idx], v)
    if reset == "zero":
        v = v * (1 - s)
    if gate is None:
        return s, v
    v_closed = v_prev - s_prev * (vth << ACT_SHIFT) if reset == "subtract" else v_prev
    return s * gate, gate * v + (1 - gate) * v_closed


KERNEL_BITS = 8  # fractional bits of an N-D toroidal buffer's integer spatial kernel


def torus_fixed(fb: Any, kernel: Any) -> Any:
    """Spread the integer time-tap sum ``fb`` (batch, neurons) over the spatial torus with the
    integer kernel (``round(S * 2**KERNEL_BITS)``), flooring the shift like a connection does."""
    return (fb @ kernel) >> KERNEL_BITS
