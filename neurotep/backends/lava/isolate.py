"""Lava runs in a worker process of which nothing outlives the run.

A Lava 0.10 simulation is about ten processes (the runtime, one per process model, the server of
multiprocessing's ``SharedMemoryManager`` and its resource tracker), two dozen POSIX shared-memory
segments (``/dev/shm/psm_*``: Lava's channels are ``multiprocessing.shared_memory`` blocks the
runtime creates) and the manager's socket folder (``pymp-*`` in the temp directory). Lava frees
them only when it stops normally; its processes survive their parent. So:

- :func:`run_worker` starts ``python -m neurotep.backends.lava.isolate MODULE:FUNC JOB`` in its
  own session: the worker and everything Lava forks share one process group;
- :func:`reap` ends that group and removes what it held. The parent calls it on every exit path
  (normal end, timeout, Ctrl-C, the CLI's ``Terminated``, any error);
- when the parent dies without cleaning up (SIGKILL), a watchdog thread in the worker sees it
  within :data:`POLL` seconds and forks a reaper in a session of its own, which calls :func:`reap`
  on the worker's group and removes the job folder;
- job folders are named ``neurotep-<kind>-<owner pid>-XXXX``; :func:`job_dir` removes those of
  owners that are gone (left by a crash of both parent and worker) before making a new one.

Linux-specific parts (``/proc``) are skipped elsewhere: the group is still killed there, but its
segments are not found.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

from neurotep.errors import BackendError

PARENT_ENV = "NEUROTEP_WORKER_PARENT"  # the pid the worker's watchdog watches
POLL = 0.2  # seconds between the watchdog's looks at its parent
_PROC = Path("/proc")
_JOB = re.compile(r"neurotep-[a-z0-9]+-(\d+)-")
# Only the names Python's multiprocessing gives what it creates (psm_: shared_memory blocks,
# sem.mp-: named semaphores) are removed: a group member may have opened someone else's segment.
_SEGMENT = re.compile(r"/dev/shm/(psm_|sem\.mp-)[^/\s]+")


# -- job folders --------------------------------------------------------------------------------------------
@contextlib.contextmanager
def job_dir(kind: str) -> Iterator[Path]:
    """A fresh ``neurotep-<kind>-<pid>-XXXX`` folder in the temp directory, removed on exit; stale
    folders of owners that are gone are removed first."""
    remove_stale_jobs()
    job = Path(tempfile.mkdtemp(prefix=f"neurotep-{kind}-{os.getpid()}-"))
    try:
        yield job
    finally:
        shutil.rmtree(job, ignore_errors=True)


def remove_stale_jobs(tmp: str | os.PathLike | None = None) -> list[Path]:
    """Remove the job folders in ``tmp`` (the temp directory) whose owner pid no longer runs."""
    removed = []
    try:
        entries = list(Path(tmp or tempfile.gettempdir()).iterdir())
    except OSError:
        return removed
    for p in entries:
        m = _JOB.match(p.name)
        if m and p.is_dir() and not _alive(int(m.group(1))):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    state = _stat(pid)
    return state is None or state[0] != "Z"  # a zombie has ended; only its parent has not reaped it


# -- the process group --------------------------------------------------------------------------------------
def _stat(pid: int) -> tuple[str, int] | None:
    """(state, process group) of ``pid`` from /proc, or None (no such process, or no /proc)."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the command name may hold spaces and parentheses
    return fields[0], int(fields[2])


def _stopped(pid: int) -> bool:
    st = _stat(pid)
    return st is None or st[0] in "TtZX"  # stopped, traced, zombie or gone


def group_members(pgid: int) -> list[int]:
    """The pids in process group ``pgid`` (empty without /proc)."""
    try:
        pids = [int(d.name) for d in _PROC.iterdir() if d.name.isdigit()]
    except OSError:
        return []
    return [pid for pid in pids if (st := _stat(pid)) is not None and st[1] == pgid]


def held_paths(pids: list[int]) -> set[Path]:
    """What processes ``pids`` hold that must not outlive them: the multiprocessing shared-memory
    segments they map or have open, and the ``pymp-*`` folders of the unix sockets they listen on."""
    found, sockets = set(), set()
    for pid in pids:
        d = _PROC / str(pid)
        with contextlib.suppress(OSError):
            for line in (d / "maps").read_text().splitlines():
                if (m := _SEGMENT.search(line)) and not line.endswith("(deleted)"):
                    found.add(Path(m.group(0)))
        with contextlib.suppress(OSError):
            for fd in (d / "fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if _SEGMENT.fullmatch(target):
                        found.add(Path(target))
                    elif target.startswith("socket:["):
                        sockets.add(target[8:-1])
    if sockets:
        with contextlib.suppress(OSError):
            for line in (_PROC / "net" / "unix").read_text().splitlines()[1:]:
                cols = line.split()  # Num RefCount Protocol Flags Type St Inode [Path]
                if len(cols) >= 8 and cols[6] in sockets and Path(cols[7]).parent.name.startswith("pymp-"):
                    found.add(Path(cols[7]).parent)
    return found


def reap(pgid: int, job: Path | None = None) -> None:
    """End every process of group ``pgid`` (a worker's session) and remove what it held; with
    ``job``, remove that folder too. Never call it from inside the group."""
    if not hasattr(os, "killpg"):
        return
    if pgid == os.getpgrp():
        raise ValueError("reap() would stop its own process group")
    # A signal arriving now (a second Ctrl-C or SIGTERM) must not leave the group stopped: defer it.
    deferred = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, deferred) if hasattr(signal, "pthread_sigmask") else None
    try:
        try:
            # Frozen first, so that no process forks or creates a segment after we have looked.
            os.killpg(pgid, signal.SIGSTOP)
        except ProcessLookupError:
            members = []
        else:
            members = group_members(pgid)
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline and not all(_stopped(p) for p in members):
                time.sleep(0.005)
        held = held_paths(members)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        for path in held:
            with contextlib.suppress(OSError):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        if job is not None:
            shutil.rmtree(job, ignore_errors=True)
    finally:
        if old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


# -- the parent's side --------------------------------------------------------------------------------------
def run_worker(target: str, job: Path, timeout: float | None, what: str = "the Lava simulation",
               poll=None) -> int:
    """Run ``target`` (``"module:function"``, called with the job folder's path) in a worker in
    its own session, its output in ``job/worker.log``; returns its exit code. Whatever way this
    returns or raises, nothing of the worker is left running. ``poll()``, if given, is called
    every half second while the worker runs (a progress bar reading the job folder)."""
    env = dict(os.environ, **{PARENT_ENV: str(os.getpid())})
    with open(job / "worker.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "neurotep.backends.lava.isolate", target, str(job)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
        try:
            if not _wait_unreaped(proc, timeout, poll):
                raise BackendError(f"{what} did not finish within {timeout:.0f} s and was stopped")
        finally:  # also on Ctrl-C, SIGTERM/SIGHUP (the CLI raises Terminated) and any error
            _reap_surely(proc.pid)
            proc.wait()
    return proc.returncode


def _reap_surely(pgid: int) -> None:
    """:func:`reap`, again if a second Ctrl-C lands before it has deferred signals (a user
    pressing Ctrl-C twice); the interrupt is raised once the group is gone."""
    pending = None
    for _ in range(3):
        try:
            reap(pgid)
            break
        except BaseException as e:  # a signal (KeyboardInterrupt, the CLI's Terminated) or an error
            pending = e
    if pending is not None:
        raise pending


def _wait_unreaped(proc: subprocess.Popen, timeout: float | None, poll=None) -> bool:
    """Wait until ``proc`` has ended (False after ``timeout`` s) without reaping it: until
    ``proc.wait()``, its pid (the group's id) cannot be given to another process, which
    :func:`reap` would then stop and kill."""
    if poll is not None and hasattr(os, "waitid"):  # (without waitid: no progress, the plain wait below)
        deadline = None if timeout is None else time.monotonic() + timeout
        while os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is None:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            poll()
            time.sleep(0.5)
        poll()
        return True
    if not hasattr(os, "waitid"):
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
        return proc.returncode is not None
    flags = os.WEXITED | os.WNOWAIT
    if timeout is None:
        os.waitid(os.P_PID, proc.pid, flags)
        return True
    deadline, delay = time.monotonic() + timeout, 0.001
    while os.waitid(os.P_PID, proc.pid, flags | os.WNOHANG) is None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(2 * delay, 0.05)
    return True


# -- the worker's side --------------------------------------------------------------------------------------
def watch_parent(job: Path | None, parent: int | None = None) -> None:
    """Start the worker's watchdog: once ``parent`` (default: from the environment, else the
    current parent) is gone, reap this worker's group and ``job``.

    Polling ``getppid`` rather than a parent-death signal (``PR_SET_PDEATHSIG``): that signal fires
    when the parent *thread* that started the worker ends (a run started from a thread pool would
    be killed early), and it would kill the worker without cleaning up after it."""
    if parent is None:
        parent = int(os.environ.get(PARENT_ENV) or os.getppid())
    pgid = os.getpgrp()
    if pgid != os.getpid():
        return  # not the leader of a group of its own: the group holds more than this run

    def watch():
        while os.getppid() == parent:
            time.sleep(POLL)
        # reap() must not run inside the group it stops: fork a reaper in a session of its own.
        # Forking from this thread while Lava's threads run is safe here: the reaper takes no lock
        # another thread may hold (no logging, no imports) and ends with os._exit.
        try:
            reaper = os.fork()
        except OSError:  # no reaper: at least end the group (this process included)
            if job is not None:
                shutil.rmtree(job, ignore_errors=True)
            os.killpg(pgid, signal.SIGKILL)
            return
        if reaper == 0:
            try:
                os.setsid()
                reap(pgid, job)
            finally:
                os._exit(0)

    threading.Thread(target=watch, name="neurotep-parent-watchdog", daemon=True).start()


def main(argv: list[str]) -> int:
    """``python -m neurotep.backends.lava.isolate MODULE:FUNCTION JOB``: the watchdog, then the job."""
    target, job = argv
    watch_parent(Path(job))
    module, func = target.split(":")
    rc = getattr(importlib.import_module(module), func)(job)
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
