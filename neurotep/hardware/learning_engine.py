"""A torch twin of Loihi's learning engine, as Lava 0.10 models it in fixed point.

Lava's ``LearningDense`` ``fixed_pt`` model (``PyLearningDenseModelBitApproximate``, in
``lava/magma/core/model/py/connection.py``) is itself tagged *bit-approximate*: it approximates
the chip's engine. This twin reproduces Lava's model bit for bit (a test checks the weights after
every update), so a network trained here learns exactly what it would learn in Lava's simulation;
how close both are to the silicon is Intel's statement, not ours.

What one connection does, per step (three-factor rules, ``Loihi3FLearningRule``):

* forward: ``a = (W[:, spiked].sum) << weight_exp`` with the weights of the step's start;
* pre-synaptic trace ``x1``: the first spike of an epoch records its time ``tx``; every further
  spike adds the impulse at once (clipped to 7 bits); ``x2`` likewise (unused here, impulse 0);
* post-synaptic traces ``y1 y2 y3``: overwritten by the values the post-synaptic neuron sends;
* at the end of each epoch (every ``t_epoch`` steps): the trace history of the epoch is rebuilt
  step by step, decaying ``x1`` by ``exp(-1/tau)`` and the ``y`` traces by ``exp(-1/65535)``
  with stochastic rounding (one random number per epoch and trace kind), and adding ``x1``'s
  impulse at the last spike time; then each product of the rule is evaluated on the epoch's
  last trace values, shifted and clipped into a 16-bit accumulator that starts at ``w << 7``;
  the sum is stochastically rounded to the weight's 8 bits (+ sign) and clipped to [-256, 255].

The random numbers come from numpy generators seeded and advanced exactly as Lava's
``TraceRandom`` / ``ConnVarRandom`` (traces: the rule's seed, advanced twice per step; weights:
seed 2, advanced once per epoch). Only the ``u``-dependency and ``x0`` products are supported
(a three-factor connection has no back-propagating spikes, so ``y0`` is never set).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from neurotep.hardware.learning_rule import W_ACC_U, W_TRACE, W_WEIGHTS_U, WIDTH, LoihiRule, Product
from neurotep.neurons import _xp

Y_TAU = int(np.iinfo(np.uint16).max)  # Loihi3FLearningRule: post traces come from the neuron; they barely decay
CONN_VAR_SEED = 2  # ConnVarRandom's default seed: the same for every connection
_ACC_SHIFT = (W_ACC_U + 1) - (W_WEIGHTS_U + 1)  # the weight's place in the accumulator (7 bits)
_TRACE_MAX = 2**W_TRACE - 1


def decay_factor(tau: int) -> float:
    """``exp(-1/tau)`` as Lava computes it (numpy's exp, float64)."""
    return float(np.exp(-1 / np.array([tau]))[0])


def stochastic_decay(v: Any, factor: float, r: float) -> Any:
    """``v * factor`` rounded down, plus one where ``r`` is below the fraction (Lava's stochastic rounding)."""
    whole, frac = _xp.floor_frac(v, factor)
    return whole + _xp.as_float(r < frac, whole)


def trace_spikes(x1: Any, tx: Any, spiked: Any, ts: int, impulse: int) -> tuple[Any, Any]:
    """One step of a pre-synaptic trace: a spike after the epoch's first adds the impulse at
    once (7-bit clip); every spike records its time ``ts`` in the epoch (1..t_epoch)."""
    spiked = spiked != 0
    if impulse:
        x1 = _xp.where((tx > 0) & spiked, _xp.clip(x1 + impulse, 0, _TRACE_MAX), x1)
    return x1, _xp.where(spiked, tx * 0 + ts, tx)


def trace_history(x1: Any, tx: Any, t_epoch: int, factor: float | None, r: float, impulse: int) -> list:
    """The trace at each step of the epoch as the engine rebuilds it at the epoch's end (index 0:
    the epoch's start): decayed step by step with one random number ``r`` (without a decay
    constant the trace restarts from 0), the impulse added at the last spike time."""
    xs = [x1]
    for t in range(1, t_epoch + 1):
        x = stochastic_decay(xs[-1], factor, r) if factor is not None else x1 * 0
        if impulse:
            x = _xp.where(tx == t, _xp.clip(x + impulse, 0, _TRACE_MAX), x)
        xs.append(x)
    return xs


class RandomStream:
    """One of Lava's scalar random streams (``rng.random(1)[0]`` at creation and per advance)."""

    def __init__(self, seed: int):
        self._rng = np.random.default_rng(seed)
        self.value = float(self._rng.random(1)[0])

    def advance(self, n: int = 1) -> float:
        if n:
            self.value = float(self._rng.random(n)[-1])
        return self.value


class PreTrace:
    """The pre-synaptic trace ``x1`` of a population, exactly as a learning connection whose rule
    has seed ``seed`` computes it (its random stream advances twice per step, as Lava's). The
    post-trace units run one too, so that a neuron's ``y1`` in one direction of a symmetric pair
    is its ``x1`` in the other."""

    def __init__(self, x1: Any, t_epoch: int, impulse: int, tau: int, seed: int):
        self.x1, self.tx = x1, x1 * 0
        self.t_epoch, self.impulse = t_epoch, impulse
        self.factor = decay_factor(tau) if tau else None
        self.random = RandomStream(seed)
        self.time_step = 0
        self.history = [x1]

    def step(self, spiked: Any) -> bool:
        """Take one step's spikes; at the epoch's end (returns True) ``x1`` holds its final value,
        ``history`` the epoch's trace and ``last_tx`` each neuron's last spike time in it."""
        self.time_step += 1
        ts = self.time_step % self.t_epoch or self.t_epoch
        self.x1, self.tx = trace_spikes(self.x1, self.tx, spiked, ts, self.impulse)
        self.random.advance(2)
        if self.time_step % self.t_epoch:
            return False
        self.history = trace_history(self.x1, self.tx, self.t_epoch, self.factor, self.random.value, self.impulse)
        self.x1, self.last_tx, self.tx = self.history[-1], self.tx, self.tx * 0
        return True


def truncate_weights(w: torch.Tensor) -> torch.Tensor:
    """Lava's ``truncate_weights`` for 8-bit mixed-sign weights (odd values floor to even), which
    the learning connection applies once, at its first step."""
    return (w >> 1) << 1


class LearningEngine:
    """One ``LearningDense`` connection: integer weights ``(post, pre)``, its rule and traces."""

    def __init__(self, rule: LoihiRule, weights: torch.Tensor | np.ndarray, weight_exp: int = 0):
        self.rule = rule.validate()
        if any(p.dependency == "y0" for p in rule.dw):
            raise ValueError("the engine twin evaluates u and x0 dependencies (three-factor rules have no y0)")
        w = torch.as_tensor(np.asarray(weights), dtype=torch.int64)
        if int(w.min()) < -256 or int(w.max()) > 255:
            raise ValueError("learning weights are 8-bit mantissas with sign: -256..255")
        self.w = truncate_weights(w)
        self.weight_exp = int(weight_exp)
        n_post, n_pre = self.w.shape
        self.pre = PreTrace(torch.zeros(n_pre, dtype=torch.int64), rule.t_epoch, rule.x1_impulse, rule.x1_tau,
                            rule.rng_seed)
        self.y = torch.zeros(3, n_post, dtype=torch.int64)
        self._y_decay = RandomStream(rule.rng_seed + 2)
        self._w_round = RandomStream(CONN_VAR_SEED)
        self._y_factor = decay_factor(Y_TAU)
        self.updates = 0

    def accumulate(self, s_in: torch.Tensor) -> torch.Tensor:
        """The connection's output for binary input spikes ``s_in`` (sent one step later)."""
        a = self.w[:, s_in.bool()].sum(1)
        return a << self.weight_exp if self.weight_exp > 0 else a >> (-self.weight_exp)

    def observe(self, s_in: torch.Tensor, y: torch.Tensor) -> bool:
        """One step's traces: pre-synaptic spikes ``s_in`` and the three post-synaptic values
        ``y`` (shape ``(3, n_post)``); learns at the epoch's end. Returns whether it learned."""
        self.y = torch.as_tensor(y, dtype=torch.int64).reshape(3, -1)
        self._y_decay.advance(2)
        if not self.pre.step(s_in.bool()):
            return False
        self._learn()
        return True

    def _learn(self) -> None:
        r_w = self._w_round.advance()
        xs = self.pre.history
        r_y = self._y_decay.value
        if r_y < 1 - 2 * int(self.y.abs().max()) * (1 - self._y_factor):
            # Exact shortcut: v * f loses less than r's distance to 1, so every step rounds back up
            # to v (decay constant 65535, 7-bit values; the margin of 2 covers float rounding).
            ys = [self.y] * (self.rule.t_epoch + 1)
        else:
            ys = trace_history(self.y, None, self.rule.t_epoch, self._y_factor, r_y, 0)
        k = self.rule.decimate
        u = int(k is not None and (self.pre.time_step // self.rule.t_epoch) % 2**k == 0)
        acc = self.w << _ACC_SHIFT
        lim = 2**W_ACC_U
        for p in self.rule.dw:
            term = _int32(_int32(self._product(p, xs, ys, u) * p.mantissa) >> p.shift << (p.exp + 7))
            acc = (acc + term.clamp(-lim - 1, lim - 1)).clamp(-lim - 1, lim - 1)
        whole, frac = _xp.floor_frac(acc, 2.0**-_ACC_SHIFT)
        rounded = (whole + (r_w < frac).to(torch.int64)) << _ACC_SHIFT
        self.w = (rounded >> _ACC_SHIFT).clamp(-(2**W_WEIGHTS_U), 2**W_WEIGHTS_U - 1)
        self.updates += 1

    def _product(self, p: Product, xs: list, ys: list, u: int) -> torch.Tensor:
        """One product of the rule on the epoch's traces, in the engine's int32 arithmetic."""
        n_post, n_pre = self.w.shape
        tx = self.pre.last_tx
        x0 = (tx > 0).to(torch.int64).reshape(1, -1)
        if p.dependency == "x0":  # traces at each pre-synaptic neuron's last spike time
            term = x0.expand(n_post, n_pre)
            x_at = torch.stack(xs)[tx, torch.arange(n_pre)].reshape(1, -1)
            y_at = torch.stack(ys)[tx].permute(1, 2, 0)  # (3, post, pre)
        else:
            term = torch.full((n_post, n_pre), u, dtype=torch.int64)
            x_at, y_at = xs[-1].reshape(1, -1), ys[-1].reshape(3, -1, 1)
        values = {"x1": x_at, "x2": torch.zeros_like(x_at), "y1": y_at[0], "y2": y_at[1], "y3": y_at[2],
                  "w": self.w, "t": torch.zeros_like(self.w), "x0": x0}  # no tag rule: t stays 0
        for f in p.factors:
            sgn = f.startswith("sgn(")
            name = f[4] if sgn else f
            v = values[name]
            v = torch.sign(v) if sgn else v.clamp(-(2 ** WIDTH[name]), 2 ** WIDTH[name] - 1)
            term = _int32(term * v)
        return term


def _int32(v: torch.Tensor) -> torch.Tensor:
    """Wrap to int32 as the engine's (and Lava's numpy) int32 products do."""
    return v.to(torch.int32).to(torch.int64)
