"""Writing outputs so that a run never destroys a user's files and never leaves a half-written one.

:func:`output_dir` is what every command with ``--out DIR`` writes through:

* before any work it checks the path: not a file, not under a file, creatable and writable, not
  the command's input or a directory above it, and either absent, empty, or an earlier neurotep
  output (recognised by its :data:`MARKER` file) that the user asked to replace (``--overwrite``);
* it holds a lock (``.DIR.lock`` beside it, with the owner's pid and command) for the whole
  command, so a second writer to the same directory fails at once and names the first;
* everything is written into a temporary sibling that replaces ``DIR`` in one rename (an atomic
  exchange where the kernel has ``renameat2``), and is removed on any error or signal.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

from neurotep.errors import NeurotepError

MARKER = ".neurotep-output.json"  # written last into every output directory: what --overwrite may replace


class OutputError(NeurotepError):
    """An output path cannot be used: it would destroy files, is not writable, or is in use."""


# -- checks --------------------------------------------------------------------------------------
def _marker(path: Path) -> dict | None:
    """The marker of a neurotep output directory, or None."""
    try:
        doc = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("format") == "neurotep-output" else None


def _inside(a: Path, b: Path) -> bool:
    """``a`` is ``b`` or lies below it."""
    return a == b or b in a.parents


def check_output_dir(final: str | os.PathLike, *, command: str, inputs: Iterable[str | os.PathLike | None] = (),
                     overwrite: bool = False, refresh: bool = False) -> None:
    """Raise :class:`OutputError` unless ``final`` can become ``command``'s output directory without
    losing anything: see the module docstring. ``refresh`` lets a command replace its own earlier
    output without ``--overwrite`` (the demo's cache folder)."""
    final = Path(final)
    where = f"--out {final}"
    try:
        resolved = final.resolve()
    except (OSError, RuntimeError) as e:  # a symlink loop
        raise OutputError(f"{where}: cannot be resolved ({e})") from None
    for src in inputs:
        if src is None:
            continue
        s = Path(src).resolve()
        if _inside(s, resolved):
            what = "is" if s == resolved else "holds"
            raise OutputError(f"{where} {what} the input {src}: writing there would replace it; choose a directory outside it")
    for parent in [final, *final.parents]:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                if parent == final:
                    raise OutputError(f"{where} is a file, not a directory: choose a directory path")
                raise OutputError(f"{where}: {parent} is a file, so no directory can be made under it")
            if not os.access(parent if parent != final else final.parent, os.W_OK | os.X_OK):
                raise OutputError(f"{where}: {parent if parent != final else final.parent} is not writable "
                                  f"(check its permissions or choose another --out)")
            break
    if final.is_dir():
        try:
            empty = not any(final.iterdir())
        except OSError as e:
            raise OutputError(f"{where}: cannot be read ({e.strerror or e})") from None
        if empty:
            return
        mark = _marker(final)
        if mark is None:
            raise OutputError(f"{where} is not empty and was not written by neurotep: nothing was written; "
                              "choose a new or empty directory")
        if not (overwrite or (refresh and mark.get("command") == command)):
            raise OutputError(f"{where} holds an earlier neurotep {mark.get('command', '')} output: "
                              "add --overwrite to replace it, or choose another directory")


# -- the lock ------------------------------------------------------------------------------------
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lock_path(final: Path) -> Path:
    return final.parent / f".{final.name}.lock"


@contextlib.contextmanager
def _locked(final: Path, command: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``.NAME.lock`` beside ``final``; the kernel releases it when
    the holder dies, so a crashed run never blocks the next one."""
    import fcntl

    path = _lock_path(final)
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise OutputError(f"--out {final}: cannot write in {final.parent} ({e.strerror or e})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputError(f"--out {final} is being written by another neurotep process ({_owner(path)}): "
                              "wait for it to finish or choose another directory") from None
        try:  # the holder before us may have unlinked the file after we opened it: lock the live one
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        owner = {"pid": os.getpid(), "command": command, "argv": sys.argv[1:],
                 "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(owner).encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)  # while still holding the lock, so no one locks a file about to vanish
        os.close(fd)


def _owner(path: Path) -> str:
    try:
        o = json.loads(path.read_text())
        return f"pid {o['pid']}, `neurotep {' '.join(o['argv']) or o['command']}`, since {o['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown"


# -- temporary siblings and the final rename -----------------------------------------------------
def _tmp_prefix(final: Path, kind: str) -> str:
    return f".{final.name}.{kind}-"


def _remove_stale(final: Path) -> None:
    """Temporary siblings of ``final`` left by a neurotep process that was killed (SIGKILL, power
    loss): their names carry the owner's pid."""
    for kind in ("tmp", "old"):
        prefix = _tmp_prefix(final, kind)
        for p in final.parent.glob(f"{prefix}*"):
            pid = p.name[len(prefix):].split("-", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
                shutil.rmtree(p, ignore_errors=True)


def _mkdtemp(final: Path, kind: str) -> Path:
    tmp = Path(tempfile.mkdtemp(prefix=f"{_tmp_prefix(final, kind)}{os.getpid()}-", dir=final.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it 0700; outputs get the usual permissions
    return tmp


_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2
_AT_FDCWD = -100


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """Linux's renameat2(2); False where the C library or the file system lacks it."""
    try:
        fn = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    if fn(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(dst))


def _move_into_place(tmp: Path, final: Path) -> None:
    """Make ``tmp`` be ``final`` in one step: an atomic exchange with an existing ``final`` (then
    removed), a no-replace rename where there is none; a two-step fallback elsewhere."""
    if final.exists():
        if _renameat2(tmp, final, _RENAME_EXCHANGE):
            shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the previous contents
            return
        old = _mkdtemp(final, "old")
        os.replace(final, old)  # rename() cannot replace a non-empty directory: move it aside first
        try:
            os.replace(tmp, final)
        except BaseException:
            os.replace(old, final)  # put the previous contents back
            raise
        shutil.rmtree(old, ignore_errors=True)
    elif not _renameat2(tmp, final, _RENAME_NOREPLACE):
        os.rename(tmp, final)


@contextlib.contextmanager
def _swap_in(tmp: Path, final: Path) -> Iterator[Path]:
    """Yield ``tmp``; when the body succeeds it becomes ``final``, on any exception it is removed."""
    try:
        yield tmp
        _move_into_place(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``final``; on success it replaces ``final`` in one
    step, on any exception it is removed. The caller decides whether ``final`` may be replaced
    (:func:`output_dir` for user-named outputs)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    with _swap_in(_mkdtemp(final, "tmp"), final) as tmp:
        yield tmp


def _missing_parents(final: Path) -> list[Path]:
    return [p for p in final.parents if not p.exists()][::-1]


@contextlib.contextmanager
def output_dir(final: str | os.PathLike, *, command: str, inputs: Iterable[str | os.PathLike | None] = (),
               overwrite: bool = False, refresh: bool = False) -> Iterator[Path]:
    """Claim ``final`` as ``command``'s output before any work (checks, then the lock) and yield a
    temporary sibling to write into; on success the marker is added and the sibling replaces
    ``final`` in one rename. On any error or signal nothing is left: no temporary directory, and
    no parent directory that this call created."""
    final = Path(final)
    inputs = list(inputs)
    check_output_dir(final, command=command, inputs=inputs, overwrite=overwrite, refresh=refresh)
    created = _missing_parents(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"--out {final}: cannot create {final.parent} ({e.strerror or e})") from None
    try:
        with _locked(final, command):
            _remove_stale(final)
            # Checked again under the lock: another writer may have finished in between.
            check_output_dir(final, command=command, inputs=inputs, overwrite=overwrite, refresh=refresh)
            try:
                tmp = _mkdtemp(final, "tmp")
            except OSError as e:
                raise OutputError(f"--out {final}: cannot write in {final.parent} ({e.strerror or e})") from None
            with _swap_in(tmp, final):
                yield tmp
                write_json(tmp / MARKER, {"format": "neurotep-output", "command": command, "argv": sys.argv[1:],
                                          "written": time.strftime("%Y-%m-%d %H:%M:%S")})
    except BaseException:
        for p in reversed(created):
            with contextlib.suppress(OSError):
                p.rmdir()  # only if still empty
        raise


@contextlib.contextmanager
def resumable_dir(final: str | os.PathLike, *, command: str, inputs: Iterable[str | os.PathLike | None] = (),
                  overwrite: bool = False) -> Iterator[Path]:
    """Claim ``final`` for a command that fills it part by part and resumes where it stopped (a
    sweep: each part is written atomically with :func:`output_dir`). The same checks and lock as
    :func:`output_dir`, but ``final`` itself is written in place and kept on errors: it is marked
    at once (so a re-run recognises it) and may be an earlier output of the same command."""
    final = Path(final)
    inputs = list(inputs)
    check_output_dir(final, command=command, inputs=inputs, overwrite=overwrite, refresh=True)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"--out {final}: cannot create {final.parent} ({e.strerror or e})") from None
    with _locked(final, command):
        check_output_dir(final, command=command, inputs=inputs, overwrite=overwrite, refresh=True)
        mark = _marker(final)
        if mark is not None and mark.get("command") != command:  # --overwrite of another command's output
            shutil.rmtree(final)
        final.mkdir(exist_ok=True)
        write_json(final / MARKER, {"format": "neurotep-output", "command": command, "argv": sys.argv[1:],
                                    "written": time.strftime("%Y-%m-%d %H:%M:%S")})
        yield final


# -- files ---------------------------------------------------------------------------------------
@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output_file(path: str | os.PathLike, *, inputs: Iterable[str | os.PathLike | None] = (),
                      overwrite: bool = False) -> None:
    """Raise :class:`OutputError` unless ``path`` can be written as a new file (or replace an
    existing one, with ``overwrite``) without losing anything."""
    target = Path(path)
    where = f"--out {target}"
    for src in inputs:
        if src is not None and Path(src).resolve() == target.resolve():
            raise OutputError(f"{where} is the input {src}: choose another file name")
    if target.is_dir():
        raise OutputError(f"{where} is a directory: give a file name")
    if target.exists() and not overwrite:
        raise OutputError(f"{where} exists: add --overwrite to replace it, or choose another file name")
    parent = next((p for p in target.parents if p.exists()), Path("."))
    if not parent.is_dir():
        raise OutputError(f"{where}: {parent} is a file, so no file can be made under it")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{where}: {parent} is not writable (check its permissions or choose another --out)")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as JSON, atomically (a reader sees the old file or the new one, never half)."""
    text = json.dumps(obj, indent=2, sort_keys=False, default=jsonable) + "\n"
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def jsonable(x: Any) -> Any:
    """``json.dumps(default=...)`` for numpy values and paths."""
    import numpy as np

    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")
