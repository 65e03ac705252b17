"""Shared helpers of the benchmarks: result files, tables, the environment record and a cache of
trained base models (so `spiking` reuses the network `accuracy` trained instead of training it
again).

Nothing here picks an epoch on the test set: a trained model is always the one after its last
epoch.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
CACHE_DIR = Path(os.environ.get("NEUROTEP_BENCH_CACHE", Path(tempfile.gettempdir()) / "neurotep-bench-cache"))


# -- commands and environment -----------------------------------------------------------------
def command(name: str, quick: bool) -> str:
    """The exact command that reproduces benchmark ``name``, as typed from the repository root."""
    rel = os.path.relpath(sys.executable, REPO_ROOT)
    exe = rel if not rel.startswith("..") else sys.executable
    return f"{exe} -m benchmarks {name}" + (" --quick" if quick else "")


def environment() -> dict[str, Any]:
    import numpy as np
    import torch

    env = dict(python=platform.python_version(), platform=platform.platform(), machine=platform.machine(),
               cpu_count=os.cpu_count(), torch=torch.__version__, torch_threads=torch.get_num_threads(),
               numpy=np.__version__, cuda_available=torch.cuda.is_available(),
               date=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    try:
        import snntorch

        env["snntorch"] = snntorch.__version__
    except Exception:  # pragma: no cover - snntorch is a dependency
        pass
    try:
        import sklearn

        env["sklearn"] = sklearn.__version__
    except Exception:  # pragma: no cover
        pass
    if torch.cuda.is_available():
        env["cuda_device"] = torch.cuda.get_device_name(0)
    return env


def loadavg() -> list[float] | None:
    """1/5/15-minute load averages: on a shared 2-core machine they tell whether timings were
    taken while something else was running."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def _busy_seconds() -> float | None:
    """CPU seconds all processes have spent busy since boot (Linux ``/proc/stat``), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    import resource

    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


class ForeignCpu:
    """CPU seconds used by OTHER processes while a block runs: on a shared 2-core machine this
    says whether timings were taken under contention (None where /proc/stat is missing)."""

    def __enter__(self):
        self.busy0, self.own0, self.t0 = _busy_seconds(), _own_seconds(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        busy1, own1 = _busy_seconds(), _own_seconds()
        self.wall = time.perf_counter() - self.t0
        self.seconds = None if busy1 is None or self.busy0 is None else max(0.0, (busy1 - self.busy0) - (own1 - self.own0))


def wait_idle(max_wait: float, threshold: float = 0.15, window: float = 5.0) -> float:
    """Wait until other processes use less than ``threshold`` of one core over ``window`` seconds
    (at most ``max_wait`` seconds); returns the seconds waited."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < max_wait:
        b0 = _busy_seconds()
        if b0 is None:
            return 0.0
        own0 = _own_seconds()
        time.sleep(window)
        other = (_busy_seconds() - b0) - (_own_seconds() - own0)
        if other / window < threshold:
            break
    return time.perf_counter() - t0


def result_path(name: str, quick: bool) -> Path:
    """``results/<name>.json`` for default runs; quick runs go to ``results/<name>.quick.json`` so
    they never overwrite the real measurements."""
    return RESULTS_DIR / (f"{name}.quick.json" if quick else f"{name}.json")


def write_result(name: str, quick: bool, payload: dict) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = result_path(name, quick)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")
    os.replace(tmp, path)
    return path


def _jsonable(x: Any) -> Any:
    """neurotep's JSON conversion, falling back to ``str`` for anything else a result holds."""
    from neurotep.outputs import jsonable

    try:
        return jsonable(x)
    except TypeError:
        return str(x)


# -- printing ---------------------------------------------------------------------------------
def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain fixed-width table."""
    rows = [[_fmt(v) for v in r] for r in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) if rows else len(str(h)) for i, h in enumerate(headers)]
    line = "  ".join(str(h).ljust(w) for h, w in zip(headers, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(out)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.3e}"
    return str(v)


def pct(mean: float, std: float | None = None) -> str:
    return f"{100 * mean:.2f}" + (f" +- {100 * std:.2f}" if std is not None else "") + " %"


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0 for a single value)."""
    import numpy as np

    a = np.asarray(values, dtype=np.float64)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def with_torch_threads(n: int, fn, *args, **kw):
    """Call ``fn`` with ``n`` torch threads and restore the count afterwards. The variant benchmarks
    use one: on the shared 2-core machine two-thread runs slow down 5-8x under contention."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        return fn(*args, **kw)
    finally:
        torch.set_num_threads(threads)


# -- trained base models ----------------------------------------------------------------------
def _source_digest() -> str:
    """SHA-256 of neurotep's Python sources: a cached model is only reused by the same code."""
    import neurotep

    h = hashlib.sha256()
    root = Path(neurotep.__file__).resolve().parent
    for p in sorted(root.rglob("*.py")):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _cache_key(method: str, epochs: int, seed: int, hyper: dict, extra: dict) -> str:
    doc = json.dumps(dict(method=method, epochs=epochs, seed=seed, hyper=hyper, extra=extra, src=_source_digest()),
                     sort_keys=True, default=str)
    return hashlib.sha256(doc.encode()).hexdigest()[:20]


def train_base(epochs: int, seed: int, method: str = "eqprop", use_cache: bool = True, data=None, **train_kw):
    """Train the base model (default build hyperparameters) on the digits split.

    Returns ``(graph, metrics, from_cache)``. With ``use_cache`` a model trained earlier with the
    same settings and the same neurotep sources is loaded from ``CACHE_DIR`` instead; a freshly
    trained model is always stored there. ``metrics`` are the ones of the final epoch.
    """
    from neurotep.data import load_digits_split
    from neurotep.graph import load_graph, save_graph
    from neurotep.learning.train import train
    from neurotep.variants import base

    data = data if data is not None else load_digits_split()
    key = _cache_key(method, epochs, seed, dict(base.DEFAULTS), train_kw)
    entry = CACHE_DIR / f"base-{method}-e{epochs}-s{seed}-{key}"
    if use_cache and (entry / "metrics.json").exists():
        try:
            return load_graph(entry / "model"), json.loads((entry / "metrics.json").read_text()), True
        except Exception:  # a damaged entry: train again
            shutil.rmtree(entry, ignore_errors=True)
    graph = base.build(n_in=data.n_features, n_out=data.n_classes, seed=seed)
    res = train(graph, data, method=method, epochs=epochs, seed=seed, progress=False, **train_kw)
    try:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".entry-", dir=CACHE_DIR))
        save_graph(res.graph, tmp / "model")
        (tmp / "metrics.json").write_text(json.dumps(res.metrics, default=_jsonable))
        if entry.exists():
            shutil.rmtree(entry, ignore_errors=True)
        os.replace(tmp, entry)
    except OSError as e:  # the cache is an optimisation only
        print(f"  (could not cache the trained model: {e})")
    return res.graph, res.metrics, False


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
