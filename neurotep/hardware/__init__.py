"""Hardware profiles (Loihi 2, Loihi), mapping a compiled Lava plan onto neuro-cores, and
detection of a reachable Loihi 2.

The profiles are package data: ``neurotep/hardware/loihi2.json`` and ``loihi.json``.
"""

from neurotep.hardware.detect import detect_loihi2
from neurotep.hardware.mapping import HOST, NEURO_CORE, CoreMap, PopulationRow, map_to_cores, placement_of
from neurotep.hardware.profiles import PROFILES, STATUSES, load_profile, profile_value

__all__ = [
    "load_profile",
    "profile_value",
    "PROFILES",
    "STATUSES",
    "map_to_cores",
    "CoreMap",
    "PopulationRow",
    "placement_of",
    "HOST",
    "NEURO_CORE",
    "detect_loihi2",
]
