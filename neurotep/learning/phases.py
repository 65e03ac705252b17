"""The EqProp phase schedule of a continuously running network (Lava): free, +beta, free, -beta.

Defined in :mod:`neurotep.graph.phases` (plain data, below the backends, which use it); re-exported
here under its old import path.
"""

from __future__ import annotations

from neurotep.graph.phases import PhaseSchedule

__all__ = ["PhaseSchedule"]
