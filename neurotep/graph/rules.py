"""Questions about a graph's learning rules that every layer may ask.

:func:`is_predictive` decides whether a graph trains by the single-phase predictive rule
(TPEqProp) rather than EqProp. It reads only the graph's :class:`~neurotep.graph.LearningRule`
s, so it sits in :mod:`neurotep.graph`: the Lava backend's predictive training plan needs it
and must not import :mod:`neurotep.learning` (which re-exports it from
:mod:`neurotep.learning.predictive`).
"""

from __future__ import annotations

from neurotep.errors import NeurotepError


def is_predictive(graph) -> bool:
    """Whether ``graph`` learns by the predictive rule (every learned connection's rule is ``predictive``)."""
    kinds = {c.learning.kind for c in graph.connections if c.learning is not None}
    if "predictive" in kinds and len(kinds) > 1:
        raise NeurotepError(f"graph mixes learning rules {sorted(kinds)}: predictive learning needs every learned "
                            "connection to use the 'predictive' rule")
    return kinds == {"predictive"}
