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


def describe() -> list[dict]:
    """Each variant's name, description and build hyperparameters with their defaults (what
    ``train --set NAME=VALUE`` can change)."""
    return [{"name": m.NAME, "description": m.DESCRIPTION,
             "defaults": {k: list(v) if isinstance(v, tuple) else v for k, v in m.DEFAULTS.items()}}
            for m in REGISTRY.values()]


LAYER_SIZES = ("hidden", "levels")  # build hyperparameters that are lists of layer sizes


def parse_overrides(module: ModuleType, pairs: list[str] | None) -> dict:
    """``NAME=VALUE`` build hyperparameters of a variant (``train --set``), typed like the variant's
    ``DEFAULTS``: a sequence as comma-separated numbers (``hidden=512`` or ``hidden=512,256``),
    numbers, ``true``/``false``. Unknown names and unreadable values are one-line errors."""
    out: dict = {}
    for pair in pairs or ():
        name, sep, text = pair.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name:
            raise NeurotepError(f"--set {pair!r}: write NAME=VALUE, e.g. --set hidden=512")
        if name not in module.DEFAULTS:
            raise NeurotepError(f"--set {name}: {module.NAME} has no build hyperparameter {name!r}; "
                                f"known: {', '.join(module.DEFAULTS)}")
        out[name] = _typed(module.NAME, name, text, module.DEFAULTS[name])
    return out


def _typed(variant: str, name: str, text: str, default):
    def number(t: str, like):
        kind = int if isinstance(like, int) and not isinstance(like, bool) else float
        try:
            return kind(t)
        except ValueError:
            raise NeurotepError(f"--set {name}={text}: {variant}'s {name} takes {kind.__name__} values "
                                f"(default {default!r})") from None

    if isinstance(default, bool):
        if text.lower() not in ("true", "false"):
            raise NeurotepError(f"--set {name}={text}: {variant}'s {name} is true or false")
        return text.lower() == "true"
    if isinstance(default, (tuple, list)):
        like = default[0] if default else 0
        values = tuple(number(t.strip(), like) for t in text.split(",") if t.strip())
        if name in LAYER_SIZES and (not values or min(values) < 1):
            raise NeurotepError(f"--set {name}={text}: layer sizes are whole numbers >= 1, e.g. {name}=512 or {name}=256,128")
        return values
    if isinstance(default, (int, float)):
        return number(text, default)
    if default is None:  # no type to follow: none, a comma-separated tuple of whole numbers, or a number
        if text.lower() == "none":
            return None
        if "," in text:
            return tuple(number(t.strip(), 0) for t in text.split(",") if t.strip())
        try:
            return int(text)
        except ValueError:
            return number(text, 0.0)
    return text
