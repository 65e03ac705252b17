"""Is a real Loihi 2 reachable from here? A fast, side-effect-free check (no network, no import
of Lava's runtime).

Running on Loihi 2 needs Intel's lava-loihi (neuro-core process models and compilers, distributed
to the Intel Neuromorphic Research Community only) and a configured host: a SLURM controller
(``sinfo``; ``lava.utils.loihi.use_slurm_host`` sets ``SLURM``, ``PARTITION``/``BOARD``,
``LOIHI_GEN``) or an ethernet-attached board (``use_ethernet_host`` sets ``NXSDKHOST``,
``NOSLURM``, ``LOIHI_GEN``). ``lava.utils.slurm.is_available()`` runs ``sinfo`` and raises
FileNotFoundError where it is missing, so it is only called when ``sinfo`` is on the PATH.
"""

from __future__ import annotations

import importlib.util
import os
import shutil

HOST_ENV = ("SLURM", "NOSLURM", "PARTITION", "BOARD", "LOIHI_GEN", "NXSDKHOST")
# The modules Lava 0.10 imports, inside try/except, to reach neuro-core and embedded-core models.
NEUROCORE_MODULES = (
    "lava.magma.compiler.subcompilers.nc.ncproc_compiler",
    "lava.magma.compiler.subcompilers.c.cproc_compiler",
    "lava.magma.core.model.nc.model",
    "lava.magma.core.model.c.model",
)
NOT_INSTALLED = ("Intel's lava-loihi is not installed (it is distributed to the Intel Neuromorphic "
                 "Research Community only)")


def _module_found(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent package is missing
        return False


def detect_loihi2() -> dict:
    """Whether Loihi 2 hardware can be used from this environment.

    Returns ``lava_loihi_installed``, ``neurocore_modules`` (module -> found), ``host_configured``,
    ``host`` (the environment variables set, ``sinfo`` on the PATH, SLURM answering, Lava's own
    ``host`` setting), ``available`` (installed and host configured) and ``reason`` (one sentence).
    Never raises.
    """
    modules = {m: _module_found(m) for m in NEUROCORE_MODULES}
    try:
        from lava.utils import loihi
        check = getattr(loihi, "is_installed", None)
        is_installed = bool(check()) if check is not None else all(modules.values())
        lava_host = getattr(loihi, "host", None)
    except Exception:  # lava-nc missing or broken: then lava-loihi cannot be used either
        is_installed, lava_host = False, None
    installed = is_installed and all(modules.values())

    env = {k: os.environ[k] for k in HOST_ENV if os.environ.get(k)}
    sinfo = shutil.which("sinfo")
    slurm_up = False
    if sinfo and not env.get("NOSLURM"):
        try:
            from lava.utils import slurm
            slurm_up = bool(slurm.is_available())
        except Exception:
            slurm_up = False
    ethernet = bool(env.get("NXSDKHOST"))
    configured = ethernet or slurm_up

    if not is_installed:
        reason = NOT_INSTALLED
    elif not installed:
        missing = ", ".join(m for m, ok in modules.items() if not ok)
        reason = f"lava-loihi looks incomplete: the neuro-core compiler modules {missing} are missing"
    elif not configured:
        if env.get("SLURM") and not sinfo:
            reason = "SLURM is set in the environment but sinfo is not on the PATH, so no SLURM controller can be reached"
        elif sinfo and not slurm_up:
            reason = "sinfo is on the PATH but the SLURM controller does not answer"
        else:
            reason = ("no Loihi host is configured: call lava.utils.loihi.use_slurm_host() on a SLURM "
                      "system or use_ethernet_host() for a board on the network (NXSDKHOST)")
    else:
        reason = f"lava-loihi is installed and a {'ethernet' if ethernet else 'SLURM'} Loihi host is configured"
    return {
        "lava_loihi_installed": installed,
        "neurocore_modules": modules,
        "host_configured": configured,
        "host": {"env": env, "sinfo": sinfo, "slurm_available": slurm_up, "lava_host": lava_host},
        "available": installed and configured,
        "reason": reason,
    }
