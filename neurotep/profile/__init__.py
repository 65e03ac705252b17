"""Profiling a run directory: operation counts per inference, NeuroBench 2.3 metrics and energy
per inference, at both ends of the constants' ranges, on Loihi 2 (ranged estimate), Loihi, the GPU (the rate model,
or the spiking network run densely) or the 45 nm AC/MAC convention.

``count_run(run_dir)`` counts, ``profile_run(run_dir, hardware)`` returns the profile as a dict and
``write_profile(run_dir, hardware)`` writes it to ``RUN_DIR/profile.json``; :data:`HARDWARE` names
the energy models (``neurotep/hardware/energy_*.json``).
"""

from neurotep.profile.counts import PopulationCounts, ProfileError, RunCounts, count_run
from neurotep.profile.energy import HARDWARE, load_energy_model, profile_run, write_profile
from neurotep.profile.neurobench import neurobench_metrics

__all__ = [
    "HARDWARE",
    "PopulationCounts",
    "ProfileError",
    "RunCounts",
    "count_run",
    "load_energy_model",
    "neurobench_metrics",
    "profile_run",
    "write_profile",
]
