"""The EqProp phase schedule for a continuously running network (Lava): each cycle of
``2 * (free + nudge)`` steps is free, +beta, free, -beta.

Returning to the free phase between the two nudged phases lets the network relax back to its
(unique) free equilibrium instead of copying state, which a chip cannot do; the torch path forks
the free state instead. Both give the same update once the phases have converged.

It sits in :mod:`neurotep.graph`, below both backends, because it is plain data that the Lava
backend (its training plan, worker and process models) needs and that the learning layer
describes: a backend must not import :mod:`neurotep.learning`. :mod:`neurotep.learning.phases`
re-exports it under its old name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PhaseSchedule:
    free: int
    nudge: int
    beta: float
    lr: float

    @property
    def period(self) -> int:
        return 2 * (self.free + self.nudge)

    def beta_at(self, t: int) -> float:
        """Nudging strength at step ``t`` (0-based)."""
        c = t % self.period
        if self.free <= c < self.free + self.nudge:
            return self.beta
        if c >= 2 * self.free + self.nudge:
            return -self.beta
        return 0.0

    def plus_end(self, t: int) -> bool:
        return t % self.period == self.free + self.nudge - 1

    def minus_end(self, t: int) -> bool:
        return t % self.period == self.period - 1

    def as_dict(self) -> dict:
        return dict(free=self.free, nudge=self.nudge, beta=self.beta, lr=self.lr)
