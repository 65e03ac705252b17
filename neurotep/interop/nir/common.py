"""What NIR export and import share: the default time step, the format of neurotep's own
metadata, the error type, the ``dt`` check and the lazy import of the ``nir`` package (loaded only
when a NIR graph is built or read)."""

from __future__ import annotations

import math
from typing import Any

from neurotep.errors import NeurotepError

DT = 1e-4
"""Default export time step: snnTorch's ``import_from_nir`` hard-codes it (Norse's ``from_nir``
takes ``dt`` as an argument)."""

FORMAT = "neurotep-nir"
FORMAT_VERSION = 1


class NIRError(NeurotepError):
    """A graph cannot be exported to NIR, or a NIR file cannot be imported."""


def nir_lib():
    import nir

    return nir


def check_dt(dt: Any) -> None:
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not math.isfinite(dt) or not dt > 0:
        raise NIRError(f"dt must be a number > 0 (seconds per step), got {dt!r}")
