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

import numpy as np
import torch

from neurotep.learning.loihi_rule import W_ACC_U, W_TRACE, W_WEIGHTS_U, WIDTH, LoihiRule, Product

Y_TAU = np.iinfo(np.uint16).max  # Loihi3FLearningRule: post traces come from the neuron; they barely decay
CONN_VAR_SEED = 2  # ConnVarRandom's default seed: the same for every connection
_ACC_SHIFT = (W_ACC_U + 1) - (W_WEIGHTS_U + 1)  # the weight's place in the accumulator (7 bits)
_TRACE_MAX = 2**W_TRACE - 1


class _Stream:
    """One of Lava's scalar random streams (``rng.random(1)[0]`` at creation and per advance)."""

    def __init__(self, seed: int):
        self._rng = np.random.default_rng(seed)
        self.value = float(self._rng.random(1)[0])

    def advance(self, n: int = 1) -> float:
        if n:
            self.value = float(self._rng.random(n)[-1])
        return self.value


def _decay_factor(tau: int) -> float:
    return float(np.exp(-1 / np.array([tau]))[0])  # as Lava computes it: numpy's exp, float64


def _decay(v: torch.Tensor, factor: float, r: float) -> torch.Tensor:
    """``v * factor`` rounded down, plus one where ``r`` is below the fraction (Lava's stochastic rounding)."""
    exact = v.to(torch.float64) * factor
    frac = torch.remainder(exact, 1.0)
    return torch.floor(exact).to(torch.int64) + (r < frac).to(torch.int64)


def truncate_weights(w: torch.Tensor) -> torch.Tensor:
    """Lava's ``truncate_weights`` for 8-bit mixed-sign weights (odd values floor to even), which
    the learning connection applies once, at its first step."""
    return (w >> 1) << 1


class LearningEngine:
    """One ``LearningDense`` connection: integer weights ``(post, pre)``, its rule and traces."""

    def __init__(self, rule: LoihiRule, weights: torch.Tensor | np.ndarray, weight_exp: int = 0):
        self.rule = rule.validate()
        for p in rule.dw:
            if p.dependency == "y0":
                raise ValueError("the engine twin evaluates u and x0 dependencies (three-factor rules have no y0)")
        w = torch.as_tensor(np.asarray(weights), dtype=torch.int64)
        if int(w.min()) < -256 or int(w.max()) > 255:
            raise ValueError("learning weights are 8-bit mantissas with sign: -256..255")
        self.w = truncate_weights(w)
        self.weight_exp = int(weight_exp)
        n_post, n_pre = self.w.shape
        self.x1 = torch.zeros(n_pre, dtype=torch.int64)
        self.tx = torch.zeros(n_pre, dtype=torch.int64)
        self.y = torch.zeros(3, n_post, dtype=torch.int64)
        self.time_step = 0
        s = rule.rng_seed
        self._x_decay, self._y_decay = _Stream(s), _Stream(s + 2)
        self._w_round = _Stream(CONN_VAR_SEED)
        self._x_factor = _decay_factor(rule.x1_tau) if rule.x1_tau else None
        self._y_factor = _decay_factor(Y_TAU)
        self.updates = 0

    def accumulate(self, s_in: torch.Tensor) -> torch.Tensor:
        """The connection's output for binary input spikes ``s_in`` (sent one step later)."""
        a = self.w[:, s_in.bool()].sum(1)
        return a << self.weight_exp if self.weight_exp > 0 else a >> (-self.weight_exp)

    def observe(self, s_in: torch.Tensor, y: torch.Tensor) -> bool:
        """One step's traces: pre-synaptic spikes ``s_in`` and the three post-synaptic values
        ``y`` (shape ``(3, n_post)``); learns at the epoch's end. Returns whether it learned."""
        self.time_step += 1
        spiked = s_in.bool()
        multi = (self.tx > 0) & spiked
        if self.rule.x1_impulse:
            self.x1 = torch.where(multi, (self.x1 + self.rule.x1_impulse).clamp(0, _TRACE_MAX), self.x1)
        ts = self.time_step % self.rule.t_epoch or self.rule.t_epoch
        self.tx = torch.where(spiked, torch.full_like(self.tx, ts), self.tx)
        self.y = torch.as_tensor(y, dtype=torch.int64).reshape(3, -1).clone()
        self._x_decay.advance(2)
        self._y_decay.advance(2)
        if self.time_step % self.rule.t_epoch:
            return False
        self._learn()
        return True

    def _history(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Trace values at each step of the epoch (index 0: its start), as Lava rebuilds them."""
        xs, ys = [self.x1], [self.y]
        rx, ry = self._x_decay.value, self._y_decay.value
        for t in range(1, self.rule.t_epoch + 1):
            x = _decay(xs[-1], self._x_factor, rx) if self._x_factor is not None else torch.zeros_like(self.x1)
            if self.rule.x1_impulse:
                x = torch.where(self.tx == t, (x + self.rule.x1_impulse).clamp(0, _TRACE_MAX), x)
            xs.append(x)
            ys.append(_decay(ys[-1], self._y_factor, ry))
        return xs, ys

    def _learn(self) -> None:
        r_w = self._w_round.advance()
        xs, ys = self._history()
        k = self.rule.decimate
        u = int(k is not None and (self.time_step // self.rule.t_epoch) % 2**k == 0)
        x0 = (self.tx > 0).to(torch.int64)
        acc = self.w << _ACC_SHIFT
        lim = 2**W_ACC_U
        for p in self.rule.dw:
            term = self._product(p, xs, ys, u, x0)
            term = _int32(_int32(term * p.mantissa) >> p.shift << (p.exp + 7))
            acc = (acc + term.clamp(-lim - 1, lim - 1)).clamp(-lim - 1, lim - 1)
        q = acc.to(torch.float64) / 2**_ACC_SHIFT
        rounded = (torch.floor(q).to(torch.int64) + (r_w < torch.remainder(q, 1.0)).to(torch.int64)) << _ACC_SHIFT
        self.w = (rounded >> _ACC_SHIFT).clamp(-(2**W_WEIGHTS_U), 2**W_WEIGHTS_U - 1)
        self.x1 = xs[-1]
        self.tx = torch.zeros_like(self.tx)
        self.updates += 1

    def _product(self, p: Product, xs, ys, u: int, x0: torch.Tensor) -> torch.Tensor:
        """One product of the rule on the epoch's traces, in the engine's int32 arithmetic."""
        n_post, n_pre = self.w.shape
        if p.dependency == "x0":
            term = x0.reshape(1, -1).expand(n_post, n_pre)
            at = self.tx  # traces at each pre-synaptic neuron's last spike time
            x_at = torch.stack(xs)[at, torch.arange(n_pre)].reshape(1, -1)
            y_at = torch.stack(ys)[at].permute(1, 2, 0)  # (3, post, pre)
        else:
            term = torch.full((n_post, n_pre), u, dtype=torch.int64)
            x_at, y_at = xs[-1].reshape(1, -1), ys[-1].reshape(3, -1, 1)
        for f in p.factors:
            sgn = f.startswith("sgn(")
            name = f[4] if sgn else f
            if name == "x1":
                v = x_at
            elif name == "x2":
                v = torch.zeros_like(x_at)
            elif name in ("y1", "y2", "y3"):
                v = y_at[int(name[1]) - 1]
            elif name == "w":
                v = self.w
            elif name == "t":
                v = torch.zeros_like(self.w)  # the tag is not learned by a weight-only rule
            elif name == "x0":
                v = x0.reshape(1, -1)
            else:
                raise ValueError(f"factor {f!r} is not supported by the engine twin")
            v = torch.sign(v) if sgn else v.clamp(-(2 ** WIDTH[name]), 2 ** WIDTH[name] - 1)
            term = _int32(term * v)
        return term


def _int32(v: torch.Tensor) -> torch.Tensor:
    """Wrap to int32 as the engine's (and Lava's numpy) int32 products do."""
    return v.to(torch.int32).to(torch.int64)
