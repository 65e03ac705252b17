"""Energy models as data: ``neurotep/hardware/energy_<name>.json``, read and checked here.

Every entry is a constant with ``unit``, ``source``, ``status`` (published | derived | estimate)
and ``note``, and either one ``value`` (a published figure used as is) or a ``low``/``high``
range (where no figure is published and sources bound it from both sides). Loading normalises
both to ``low``/``high`` (``value`` gives low = high), so the profiler always computes two ends.
An entry without a source, with low > high, a missing end or an unknown status makes the model
fail to load with one :class:`ProfileError` line that names the file and the entry: a constant
nobody can trace must never reach a report.
"""

from __future__ import annotations

import copy
import json
import math
from functools import lru_cache
from importlib import resources

from neurotep.profile.rundir import ProfileError

HARDWARE = ("loihi2", "loihi", "gpu-rate", "gpu-dense", "45nm")
STATUSES = ("published", "derived", "estimate")
UNITS = ("J", "W", "s", "B", "1", "op/s", "FLOP/s")


def file_name(hardware: str) -> str:
    return "energy_" + hardware.replace("-", "_") + ".json"


def check_hardware(hardware) -> str:
    if hardware not in HARDWARE:
        raise ProfileError(f"unknown hardware {hardware!r}: use one of {', '.join(HARDWARE)}")
    return hardware


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x >= 0


def check_entry(where: str, name: str, e) -> dict:
    """``e`` with ``low``/``high`` filled in, or one ProfileError line naming ``where: entry name``."""
    def bad(why: str) -> ProfileError:
        return ProfileError(f"{where}: entry {name!r} {why}; every constant needs a source, a status "
                            f"({', '.join(STATUSES)}), a unit and a value or a low <= high range")

    if not isinstance(e, dict):
        raise bad("is not an object")
    if not isinstance(e.get("source"), str) or not e["source"].strip():
        raise bad("has no source")
    if e.get("status") not in STATUSES:
        raise bad(f"has status {e.get('status')!r}")
    if e.get("unit") not in UNITS:
        raise bad(f"has unit {e.get('unit')!r} (known: {', '.join(UNITS)})")
    out = dict(e)
    if "value" in e:
        if "low" in e or "high" in e:
            raise bad("gives both a value and a range")
        if not _number(e["value"]):
            raise bad(f"has value {e['value']!r}, not a non-negative number")
        out["low"] = out["high"] = float(e["value"])
        return out
    for end in ("low", "high"):
        if end not in e:
            raise bad(f"has no {end!r} (and no single 'value')")
        if not _number(e[end]):
            raise bad(f"has {end} {e[end]!r}, not a non-negative number")
    if e["low"] > e["high"]:
        raise bad(f"has low {e['low']:g} > high {e['high']:g}")
    return out


def check_model(doc, where: str) -> dict:
    """A parsed energy model, every entry checked and normalised (see the module docstring)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("entries"), dict) or not doc.get("title"):
        raise ProfileError(f"{where}: not an energy model (needs a title and an 'entries' object)")
    doc = dict(doc)
    doc["entries"] = {k: check_entry(where, k, v) for k, v in doc["entries"].items()}
    return doc


@lru_cache(maxsize=None)
def _read(hardware: str) -> dict:
    fname = file_name(hardware)
    try:
        doc = json.loads(resources.files("neurotep.hardware").joinpath(fname).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ProfileError(f"neurotep/hardware/{fname}: cannot read the energy model ({e})") from None
    return check_model(doc, f"neurotep/hardware/{fname}")


def load_energy_model(hardware: str) -> dict:
    """The energy model ``hardware`` (one of :data:`HARDWARE`), checked, as a fresh dict."""
    return copy.deepcopy(_read(check_hardware(hardware)))
