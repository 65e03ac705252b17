"""Sweeps of variants x seeds x settings on Ray: ``neurotep sweep SPEC`` (:mod:`neurotep.sweep.run`)."""

from neurotep.sweep.run import run_sweep
from neurotep.sweep.spec import Spec, SpecError, Trial, load_spec

__all__ = ["Spec", "SpecError", "Trial", "load_spec", "run_sweep"]
