"""Learning rules in the form Loihi's learning engine runs them: sums of products.

A rule such as ``dw = 2^-2 * u0 * x1 * y1 * y2 - 2^-2 * u0 * x1 * y1 * y3`` is a list of
:class:`Product`: a sign and scaling ``mantissa * 2^exp`` (Lava: mantissa in [-8, 7], exponent in
[-7, 8]), one dependency (``u0`` every epoch, ``uk`` every 2^k epochs, ``x0`` / ``y0`` where the
pre / post neuron spiked in the epoch) and factors (traces ``x1 x2 y1 y2 y3``, the synaptic
variables ``w t``, ``sgn(w)``/``sgn(t)``). This module parses that grammar itself, so that
neurotep's torch twin of the learning engine (:mod:`neurotep.hardware.learning_engine`) evaluates
exactly the products Lava compiles, without importing Lava; the string goes to Lava's
``Loihi3FLearningRule`` unchanged, and a test checks that both parsers read it the same way.

What the engine cannot express is refused here, in one line, before anything runs: division,
unknown symbols, a product without a dependency, more factors than the engine multiplies, a
scaling outside the mantissa/exponent ranges, and (:func:`lr_literal`) a learning rate below the
engine's smallest scaling.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from neurotep.errors import RuleError

# Bit widths of Lava 0.10's learning engine (lava/magma/core/learning/constants.py).
W_TRACE = 7
W_WEIGHTS_U = 8
W_TAG_U = 8
W_S_MANT = 4
W_ACC_U = 15
WIDTH = {"x0": 1, "y0": 1, "x1": W_TRACE, "x2": W_TRACE, "y1": W_TRACE, "y2": W_TRACE, "y3": W_TRACE,
         "w": W_WEIGHTS_U + 1, "t": W_TAG_U + 1, "C": 8}
TRACES = ("x1", "x2", "y1", "y2", "y3")
MAX_FACTORS = 3  # beyond three 7-bit traces the engine's int32 product can overflow (Lava does not check)
MAX_PRODUCTS = 8  # neurotep's own bound: a rule longer than this is a mistake, not a learning rule
MAX_EPOCH = 2**6 - 1  # 6-bit epoch time (W_EPOCH_TIME)



@dataclass(frozen=True)
class Product:
    """``mantissa * 2^exp * dependency * factors...``; ``factors`` are names, ``sgn(t)`` for a sign."""

    dependency: str
    factors: tuple[str, ...]
    mantissa: int = 1
    exp: int = 0

    @property
    def shift(self) -> int:
        """The engine's right shift of this product: its factor widths beyond the accumulator."""
        width = sum(WIDTH[f[4] if f.startswith("sgn(") else f] for f in self.factors) + W_S_MANT
        return max(0, width - W_ACC_U)

    def __str__(self) -> str:
        scale = f"{abs(self.mantissa)} * 2^{self.exp}" if self.mantissa not in (1, -1) else f"2^{self.exp}"
        return f"{'-' if self.mantissa < 0 else '+'} {scale} * " + " * ".join((self.dependency, *self.factors))


@dataclass(frozen=True)
class LoihiRule:
    """A weight rule (``dw``) with its epoch length, pre-trace settings and random seed.

    Three-factor form (Lava's ``Loihi3FLearningRule``): the post-synaptic traces ``y1..y3``
    arrive from the post-synaptic neuron at every step; ``x1`` is the pre-synaptic trace, raised by
    ``x1_impulse`` at each pre-synaptic spike and decayed with ``x1_tau`` (0: no decay)."""

    dw: tuple[Product, ...]
    t_epoch: int
    x1_impulse: int = 0
    x1_tau: int = 0
    rng_seed: int = 0

    @property
    def dw_str(self) -> str:
        return " ".join(str(p) for p in self.dw).lstrip("+ ").replace("+ -", "-")

    @property
    def decimate(self) -> int | None:
        ks = {int(p.dependency[1:]) for p in self.dw if p.dependency.startswith("u")}
        return ks.pop() if ks else None

    def validate(self) -> "LoihiRule":
        if not 1 <= self.t_epoch <= MAX_EPOCH:
            raise RuleError(f"learning epoch of {self.t_epoch} steps: Loihi's epoch counter has 6 bits (1..{MAX_EPOCH})")
        if int(self.x1_impulse) != self.x1_impulse or not 0 <= self.x1_impulse < 2**W_TRACE:
            raise RuleError(f"x1 impulse {self.x1_impulse}: use an integer in 0..{2**W_TRACE - 1} (7-bit trace)")
        if not 0 <= self.x1_tau < 2**8:
            raise RuleError(f"x1 decay constant {self.x1_tau}: use 0 (no decay) to 255 (8 bits)")
        if len({p.dependency for p in self.dw if p.dependency.startswith("u")}) > 1:
            raise RuleError("a rule may use one decimation uk only (Lava: one k for dw, dd and dt)")
        return self


def parse_rule(text: str) -> tuple[Product, ...]:
    """Parse a ``dw`` string of the engine's grammar into products; a :class:`RuleError` names
    what the engine cannot express."""
    if "/" in text:
        raise RuleError(f"learning rule {text!r} divides: Loihi's learning engine only adds products "
                          "(write a constant divisor as 2^-k)")
    terms = _split_terms(text.replace(" ", ""))
    if not terms:
        raise RuleError("empty learning rule")
    if len(terms) > MAX_PRODUCTS:
        raise RuleError(f"learning rule has {len(terms)} products: at most {MAX_PRODUCTS}")
    return tuple(_product(t, text) for t in terms)


def _split_terms(s: str) -> list[str]:
    """Split at the + and - that join products (not a sign after ``^`` or inside brackets)."""
    terms, start, depth = [], 0, 0
    for i, ch in enumerate(s):
        depth += (ch == "(") - (ch == ")")
        if ch in "+-" and i > start and depth == 0 and s[i - 1] != "^":
            terms.append(s[start:i])
            start = i
    return [t for t in terms + [s[start:]] if t.lstrip("+")]


def _product(term: str, text: str) -> Product:
    sign = -1 if term.startswith("-") else 1
    mantissa, exp, dependency, factors = sign, 0, None, []
    for sym in term.lstrip("+-").split("*"):
        if re.fullmatch(r"2\^\(?-?\d+\)?", sym):
            exp += int(sym[2:].strip("()"))
        elif re.fullmatch(r"\d+", sym):
            mantissa *= int(sym)
        elif re.fullmatch(r"u\d+|x0|y0", sym) and dependency is None:
            dependency = sym
        elif sym in TRACES or sym in ("x0", "y0", "w", "t") or sym in ("sgn(w)", "sgn(t)"):
            factors.append(sym)
        else:
            raise RuleError(f"learning rule {text!r}: {sym!r} is not a term Loihi's learning engine knows "
                              "(dependencies u0..u9 x0 y0; traces x1 x2 y1 y2 y3; w, t, sgn(w), sgn(t); "
                              "constants n or 2^k)")
    if dependency is None:
        raise RuleError(f"learning rule {text!r}: product {term!r} has no dependency (u0, x0 or y0)")
    if len(factors) > MAX_FACTORS:
        raise RuleError(f"learning rule {text!r}: product {term!r} multiplies {len(factors)} factors; "
                          f"the engine's product of more than {MAX_FACTORS} overflows")
    while abs(mantissa) > 7 and mantissa % 2 == 0 and exp < 8:  # Lava's normalisation
        mantissa, exp = mantissa // 2, exp + 1
    if not -8 <= mantissa < 8 or not -7 <= exp < 9:
        raise RuleError(f"learning rule {text!r}: scaling {mantissa} * 2^{exp} is outside the engine's "
                          "range (mantissa -8..7, exponent -7..8)")
    return Product(dependency, tuple(factors), mantissa, exp)


def lr_literal(lr: float) -> tuple[int, int]:
    """``lr`` as the engine's ``mantissa * 2^exp`` (mantissa 1..7), the nearest it can hold. A
    rate below the smallest scaling, 2^-7, underflows: the engine has no smaller step."""
    if not lr > 0 or not math.isfinite(lr):
        raise RuleError(f"learning rate {lr}: use a positive number")
    if lr < 2.0**-7:
        raise RuleError(f"learning rate {lr:g} underflows the weight precision: the learning engine's smallest "
                        f"scaling is 2^-7 = {2.0**-7:g} (lower the trace impulses instead to learn more slowly)")
    if lr > 7 * 2.0**8:
        raise RuleError(f"learning rate {lr:g} is above the engine's largest scaling, 7 * 2^8")
    best = min(((m, e) for m in range(1, 8) for e in range(-7, 9)), key=lambda me: abs(math.log2(me[0] * 2.0**me[1] / lr)))
    return best


def eqprop_rule(lr: float, t_epoch: int, x1_impulse: int, x1_tau: int, rng_seed: int = 0) -> LoihiRule:
    """Contrastive EqProp as a three-factor rule: at the end of each phase epoch,
    ``dw = lr * x1 * y1 * (y2 - y3)``. The post-synaptic neuron sends its activity trace as ``y1``
    and the phase as the third factor: ``y2`` is raised in the +beta phase, ``y3`` in the -beta
    phase, both are 0 in free phases. The factor 1/beta is folded into ``lr``."""
    m, e = lr_literal(lr)
    scale = f"{m} * 2^{e}" if m != 1 else f"2^{e}"
    return LoihiRule(parse_rule(f"{scale} * u0 * x1 * y1 * y2 - {scale} * u0 * x1 * y1 * y3"), t_epoch,
                     x1_impulse, x1_tau, rng_seed).validate()
