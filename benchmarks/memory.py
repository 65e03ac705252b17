"""Peak memory of ONE training step as a function of the number of relaxation steps T.

EqProp: ``EqPropConfig(beta=0.5, free_steps=T, nudge_steps=T, tol=None)``, so the free phase and
both nudged phases each really run T steps (``relax`` with ``tol=None`` never stops early).
BPTT: ``bptt_gradients(net, x, target, T)``, autograd through T steps. A step is the gradient
computation plus ``apply_gradients`` and one Adam update, on the base model (hidden 256, default
hyperparameters, seed 0) with one batch of 32 digits.

Each (method, T) is measured in a fresh Python process (``subprocess.run([sys.executable, ...])``):
it builds the model and does a warm-up step at T=1 (allocates Adam's state, thread pools, lazy
kernels). Then it resets the kernel's peak-RSS mark (``echo 5 > /proc/self/clear_refs``: VmHWM
becomes the current RSS), reads the current RSS, runs the step at T and reads the peak (VmHWM).
Where the reset is impossible (not Linux) it falls back to ``ru_maxrss`` before and after, which
under-reads when an earlier peak (imports, data loading) was higher. Reported:

* ``rss_increase_mib``: peak RSS during the step minus RSS before it (what the step costs the
  machine, allocator overhead and the autograd graph included; resolution 1 KiB);
* ``tensor_peak_mib``: the peak of tensor bytes live above the step's starting point, from the
  allocation records of ``torch.profiler`` (``profile_memory=True``) for a repeat of the same step
  in the same process after the RSS reading (deterministic; counts tensors only).

Ratios BPTT/EqProp are taken between the two processes of the same T, in the same run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from benchmarks.common import REPO_ROOT, table

STEPS = (10, 100, 500)
QUICK_STEPS = (10, 100)
BATCH = 32
METHODS = ("eqprop", "bptt")

_CHILD = "from benchmarks.memory import _child; _child({method!r}, {steps}, {batch})"


def _child(method: str, steps: int, batch: int) -> None:
    """Runs in a fresh process; prints one JSON line."""
    import resource
    import time

    import torch
    from torch.profiler import ProfilerActivity, profile

    from neurotep.backends.torch import TorchNetwork
    from neurotep.data import load_digits_split, one_hot
    from neurotep.learning.bptt import bptt_gradients
    from neurotep.learning.eqprop import EqPropConfig, apply_gradients, eqprop_gradients
    from neurotep.variants import base

    torch.manual_seed(0)
    data = load_digits_split()
    graph = base.build(n_in=data.n_features, n_out=data.n_classes, seed=0)
    net = TorchNetwork(graph)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.as_tensor(data.x_train[:batch], dtype=net.dtype)
    t = torch.as_tensor(one_hot(data.y_train[:batch], data.n_classes), dtype=net.dtype)
    info = {}

    def step(T: int) -> None:
        opt.zero_grad(set_to_none=True)
        if method == "eqprop":
            grads, ph, _ = eqprop_gradients(net, x, t, EqPropConfig(beta=0.5, free_steps=T, nudge_steps=T, tol=None))
            info["phase_steps"] = [ph.free_steps, ph.plus_steps, ph.minus_steps]
        else:
            grads, _ = bptt_gradients(net, x, t, T)
            info["phase_steps"] = [T]
        apply_gradients(net, grads)
        opt.step()

    step(1)  # warm-up
    hwm_reset = _reset_peak()
    r0 = _rss_kib() if hwm_reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    step(steps)
    secs = time.perf_counter() - t0
    r1 = _status_kib("VmHWM") if hwm_reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step(steps)
    events = sorted((e.time_range.start, e.self_cpu_memory_usage) for e in prof.events() if e.self_cpu_memory_usage)
    cur = peak = 0
    for _, b in events:
        cur += b
        peak = max(peak, cur)
    print(json.dumps(dict(method=method, steps=steps, batch=batch, phase_steps=info["phase_steps"],
                          rss_method="VmHWM after clear_refs reset" if hwm_reset else "ru_maxrss",
                          rss_before_mib=r0 / 1024, rss_increase_mib=(r1 - r0) / 1024,
                          tensor_peak_mib=peak / 2**20, step_seconds=secs)))


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def _rss_kib() -> int:
    return _status_kib("VmRSS")


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS (Linux >= 4.0); False where
    that is not possible, and ``ru_maxrss`` (never reset) is used instead."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        _rss_kib()
        return True
    except OSError:
        return False


def _measure(method: str, steps: int, batch: int) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run([sys.executable, "-c", _CHILD.format(method=method, steps=steps, batch=batch)],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"memory child ({method}, T={steps}) failed (rc {proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def run(quick: bool = False) -> dict:
    steps_list = QUICK_STEPS if quick else STEPS
    meas = {}
    for T in steps_list:
        for method in METHODS:
            meas[(method, T)] = m = _measure(method, T, BATCH)
            print(f"  {method:<6} T={T:<4}: peak RSS +{m['rss_increase_mib']:.2f} MiB, tensors {m['tensor_peak_mib']:.2f} MiB, "
                  f"step {m['step_seconds']:.2f} s", flush=True)
    rows, out = [], []
    for T in steps_list:
        e, b = meas[("eqprop", T)], meas[("bptt", T)]
        # ru_maxrss has 1 KiB resolution; a ratio over a near-zero EqProp increase is reported as is.
        r_rss = b["rss_increase_mib"] / e["rss_increase_mib"] if e["rss_increase_mib"] > 0 else float("inf")
        r_ten = b["tensor_peak_mib"] / e["tensor_peak_mib"] if e["tensor_peak_mib"] > 0 else float("inf")
        out.append(dict(steps=T, eqprop=e, bptt=b, ratio_rss_bptt_over_eqprop=r_rss, ratio_tensor_bptt_over_eqprop=r_ten))
        rows.append([T, f"{e['rss_increase_mib']:.2f}", f"{b['rss_increase_mib']:.2f}", f"{r_rss:.1f}x",
                     f"{e['tensor_peak_mib']:.3f}", f"{b['tensor_peak_mib']:.3f}", f"{r_ten:.1f}x"])
    print()
    print(table(["T", "EqProp RSS+ MiB", "BPTT RSS+ MiB", "BPTT/EqProp", "EqProp tensors MiB", "BPTT tensors MiB",
                 "BPTT/EqProp"], rows))
    first, last = out[0], out[-1]
    growth = dict(eqprop_rss=last["eqprop"]["rss_increase_mib"] - first["eqprop"]["rss_increase_mib"],
                  bptt_rss=last["bptt"]["rss_increase_mib"] - first["bptt"]["rss_increase_mib"],
                  eqprop_tensor=last["eqprop"]["tensor_peak_mib"] - first["eqprop"]["tensor_peak_mib"],
                  bptt_tensor=last["bptt"]["tensor_peak_mib"] - first["bptt"]["tensor_peak_mib"])
    print(f"\nfrom T={first['steps']} to T={last['steps']}: EqProp peak RSS {growth['eqprop_rss']:+.2f} MiB, "
          f"tensors {growth['eqprop_tensor']:+.3f} MiB; BPTT peak RSS {growth['bptt_rss']:+.2f} MiB, "
          f"tensors {growth['bptt_tensor']:+.3f} MiB")
    return dict(settings=dict(model="base TorEqProp, hidden 256, default hyperparameters, seed 0, float32, CPU",
                              batch=BATCH, steps=list(steps_list),
                              eqprop_config="EqPropConfig(beta=0.5, free_steps=T, nudge_steps=T, tol=None)",
                              bptt="bptt_gradients(net, x, target, T)",
                              step="gradients + apply_gradients + Adam step, after a warm-up step at T=1",
                              method="fresh subprocess per (method, T); ru_maxrss increase; torch.profiler tensor peak"),
                growth_first_to_last=growth, results=out)
