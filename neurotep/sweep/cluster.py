"""Connecting to Ray: a local cluster on this machine's cores, or an existing one (``--address``).

Every failure is one line: Ray missing (an optional extra), an address that does not answer.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path
from typing import Iterator

from neurotep.errors import NeurotepError

CONNECT_TIMEOUT_S = 5.0


def import_ray():
    try:
        import ray
    except ModuleNotFoundError as e:
        if not (e.name or "").startswith("ray"):
            raise
        raise NeurotepError("neurotep sweep runs its trials on Ray, which is not installed: "
                            "pip install -e '.[sweep]' (or pip install 'ray==2.60.0')") from None
    return ray


def _host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of ``host:port`` or ``ray://host:port``; None for ``auto``."""
    if address == "auto":
        return None
    rest = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise NeurotepError(f"--address {address}: expected HOST:PORT, ray://HOST:PORT or auto")
    return host.strip("[]"), int(port)


def check_answers(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """A TCP connection to the address, so a dead one fails in seconds (ray.init would wait a minute)."""
    hp = _host_port(address)
    if hp is None:
        return
    try:
        socket.create_connection(hp, timeout=timeout).close()
    except OSError as e:
        raise NeurotepError(f"--address {address} does not answer ({e.strerror or e}): "
                            "start the cluster there (ray start --head) or leave --address out to run locally") from None


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[object]:
    """``ray.init`` for the sweep and ``ray.shutdown`` however it ends (an error, Ctrl-C), which
    also stops the processes of a local cluster. Local workers import this very neurotep (its
    directory goes first on their PYTHONPATH), so a checkout runs its own code."""
    ray = import_ray()
    if address is not None:
        check_answers(address)
    root = str(Path(__file__).resolve().parents[2])
    kw = dict(log_to_driver=False, logging_level="ERROR")
    if address is None:
        # Ray renices its workers to 15 by default: on a machine shared with other work the trials
        # would then get the CPU only when nothing else wants it. A sweep runs at normal priority,
        # like the same trials run from a shell loop; an explicit RAY_worker_niceness still wins.
        os.environ.setdefault("RAY_worker_niceness", "0")
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
        kw.update(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False,
                  runtime_env={"env_vars": {"PYTHONPATH": path}})
    try:
        try:
            ray.init(address=address, **kw)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as e:
            where = f"--address {address}" if address else "a local Ray cluster"
            raise NeurotepError(f"cannot start or reach {where}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        yield ray
    finally:
        ray.shutdown()
