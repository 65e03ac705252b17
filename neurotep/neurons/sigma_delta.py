"""The sigma-delta neuron (Lava's ``SigmaDelta``, which Loihi 2 runs on its neuro-cores): a graded
neuron that sends the change of its activation, and only when that change is large enough.

::

    sigma    <- sigma + a_in                 # sigma: the sum of every message received
    act_new  =  f(sigma + bias)              # f: ReLU or the identity ("unit")
    delta    =  act_new - act + residue      # what the receivers' sum still lacks
    s_out    =  delta if |delta| >= vth else 0
    residue  =  delta - s_out
    act      =  act_new

The receivers sum the messages (their own ``sigma``), so they hold the sender's activation to
within ``vth``; a network at equilibrium sends nothing. This is Lava 0.10's
``AbstractSigmaDeltaModel`` with ``cum_error`` off and ``state_exp = spike_exp = 0``, written once
here for float and for integers (numpy or torch): integer arrays follow Lava's bit-accurate model
exactly, since every operation above is exact on integers.
"""

from __future__ import annotations

from typing import Any

from neurotep.neurons import _xp

ACTIVATIONS = ("relu", "unit")


def sigma_delta_step(a_in: Any, sigma: Any, act: Any, residue: Any, bias: Any, vth: Any,
                     activation: str) -> tuple[Any, Any, Any, Any]:
    """One step; returns ``(s_out, sigma, act, residue)``."""
    sigma = sigma + a_in
    u = sigma + bias
    if activation == "relu":
        act_new = u * _xp.as_float(u > 0, u)
    elif activation == "unit":
        act_new = u
    else:
        raise ValueError(f"unknown sigma-delta activation {activation!r}: use one of {', '.join(ACTIVATIONS)}")
    delta = act_new - act + residue
    s_out = delta * _xp.as_float(_xp.abs_(delta) >= vth, delta)
    return s_out, sigma, act_new, delta - s_out
