"""Machine-readable chip profiles (``loihi2.json``, ``loihi.json``), shipped as package data.

A profile is ``{"name", "title", "description", "entries"}``; every entry is
``{"value", "unit", "source", "status", "note"}`` with ``status`` one of :data:`STATUSES`:
``published`` (a figure stated by a public source: Intel's briefs, Davies et al. 2018, Lava's
source code), ``derived`` (computed from published figures, the computation is its ``source``)
or ``estimate`` (neurotep's own assumption, e.g. bytes per synapse).
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from importlib import resources
from typing import Any

from neurotep.errors import BackendError

PROFILES = ("loihi2", "loihi")
STATUSES = ("published", "estimate", "derived")
ENTRY_KEYS = ("value", "unit", "source", "status", "note")


@lru_cache(maxsize=None)
def _read(name: str) -> dict:
    text = resources.files("neurotep.hardware").joinpath(f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)


def load_profile(name: str) -> dict:
    """The profile ``name`` (``"loihi2"`` or ``"loihi"``) as a fresh dict.

    Raises :class:`~neurotep.errors.BackendError` for an unknown name, listing the known ones.
    """
    if name not in PROFILES:
        raise BackendError(f"unknown hardware profile {name!r}: use one of {', '.join(PROFILES)}")
    return copy.deepcopy(_read(name))


@lru_cache(maxsize=None)
def load_classes() -> dict[str, dict]:
    """Where each Lava process class runs on Loihi 2 (``loihi2_classes.json``, the table of
    ``hardware/loihi2/README.md``): ``neuro_core`` maps a class to its public sources (a class
    counts only with a source that shows a Loihi 2 neuro-core model for it), ``boundary`` and
    ``host`` map a class to the one-line reason it is not on the neuro-cores. Read-only: cached."""
    doc = _read("loihi2_classes")
    return {k: doc[k] for k in ("neuro_core", "boundary", "host")}


def profile_value(profile: dict, key: str, default: Any = None) -> Any:
    """The ``value`` of entry ``key`` in ``profile``, or ``default`` when it has none."""
    entry = profile.get("entries", {}).get(key)
    if entry is None or entry.get("value") is None:
        return default
    return entry["value"]
