"""Variant builders: each module has NAME, DESCRIPTION, DEFAULTS and ``build(n_in, n_out, seed, **hp)``."""

from __future__ import annotations

from types import ModuleType

from neurotep.errors import NeurotepError
from neurotep.variants import base, htsep, mstep, tpeqprop, tepssr, difftor

REGISTRY: dict[str, ModuleType] = {m.NAME: m for m in (base, mstep, htsep, tpeqprop, tepssr, difftor)}


def get(name: str) -> ModuleType:
    """The builder module of variant ``name``; a clear error listing the known ones otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise NeurotepError(f"unknown variant {name!r}: known variants are {', '.join(sorted(REGISTRY))}") from None


def describe() -> list[dict[str, str]]:
    return [{"name": m.NAME, "description": m.DESCRIPTION} for m in REGISTRY.values()]
