"""The Lava backend (Loihi 2 simulated on the CPU, or real Loihi 2 with Intel's lava-loihi).

Importing this package checks that Lava can run here and fails with one clear line otherwise:
lava-nc 0.10 installs and imports only on Python 3.10.
"""

from __future__ import annotations

import sys

from neurotep.errors import BackendError


def require_lava(version_info=sys.version_info) -> None:
    """Raise :class:`BackendError` with one line when Lava cannot be imported here."""
    if tuple(version_info[:2]) != (3, 10):
        raise BackendError(
            f"the Lava backend needs Python 3.10 (lava-nc 0.10 pins it) but this is Python "
            f"{version_info[0]}.{version_info[1]}: create the environment with `make test` or python3.10 -m venv")
    try:
        import lava.magma.core.run_configs  # noqa: F401
    except ImportError as e:
        raise BackendError(f"lava-nc is not installed ({e}): pip install 'lava-nc==0.10.0' on Python 3.10") from None


require_lava()
