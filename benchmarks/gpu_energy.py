"""Measured GPU energy per inference of the rate model's relaxation (issue 21): the ``gpu-rate``
profile's figures, measured.

The base model trained 40 epochs by EqProp (seed 0, cached) relaxes on CUDA in float32, as a GPU
engineer would run it: its relaxation steps are measured first (``relax(tol)`` on the test split,
as a rate run does), then every inference runs that many steps without the per-step tolerance
check (no host synchronisation), at batch 1 (one test image after another) and at batch 1024 (the
test split tiled). Energy comes from NVML's total-energy counter
(``nvmlDeviceGetTotalEnergyConsumption``, millijoules, Volta and later) read around each workload,
repeated until it has run ``MIN_SECONDS``; idle power is measured in the same run over
``IDLE_SECONDS`` of sleep before, and subtracted for the dynamic figure.

Without a CUDA GPU, or without ``pynvml`` (``pip install nvidia-ml-py``, the ``gpu`` extra), it says
so and writes nothing: there are no figures to fake.
"""

from __future__ import annotations

import time

from benchmarks.common import table, train_base

EPOCHS, QUICK_EPOCHS = 40, 5
LARGE_BATCH = 1024
IDLE_SECONDS, MIN_SECONDS = 5.0, 5.0
QUICK_IDLE, QUICK_MIN = 1.0, 1.0


def energy_figures(idle_mj: float, idle_s: float, run_mj: float, run_s: float, inferences: int) -> dict:
    """Energy per inference from two counter differences: idle (``idle_mj`` over ``idle_s``) and the
    workload (``run_mj`` over ``run_s`` for ``inferences`` inferences). Dynamic = total - idle power
    x the workload's wall time."""
    if idle_s <= 0 or run_s <= 0 or inferences <= 0 or idle_mj < 0 or run_mj < 0:
        raise ValueError("energy counter differences and times must be positive")
    idle_w = idle_mj / 1e3 / idle_s
    total = run_mj / 1e3
    return {"idle_watts": idle_w, "seconds": run_s, "inferences": inferences,
            "average_watts": total / run_s, "energy_per_inference_joules": total / inferences,
            "dynamic_energy_per_inference_joules": (total - idle_w * run_s) / inferences,
            "seconds_per_inference": run_s / inferences}


def measure(nvml, handle, work, idle_s: float, min_s: float, clock=time.perf_counter, sleep=time.sleep) -> dict:
    """Idle power over ``idle_s`` of sleep, then ``work()`` (returns inferences done, synchronised)
    repeated until ``min_s`` have passed, each read through the NVML energy counter (mJ)."""
    read = lambda: nvml.nvmlDeviceGetTotalEnergyConsumption(handle)  # noqa: E731
    e0, t0 = read(), clock()
    sleep(idle_s)
    e1, t1 = read(), clock()
    n, e2, t2 = 0, read(), clock()
    while True:
        n += work()
        t3 = clock()
        if t3 - t2 >= min_s:
            break
    e3 = read()
    return energy_figures(e1 - e0, t1 - t0, e3 - e2, t3 - t2, n)


def _nvml():
    """``(pynvml, handle of GPU 0, its name)``, or a sentence why not."""
    import torch

    if not torch.cuda.is_available():
        return "no CUDA GPU here: gpu_energy measures nothing and writes no result"
    try:
        import pynvml
    except ImportError:
        return "pynvml is not installed (pip install nvidia-ml-py, or neurotep[gpu]): no result written"
    pynvml.nvmlInit()
    h = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
    name = pynvml.nvmlDeviceGetName(h)
    return pynvml, h, name.decode() if isinstance(name, bytes) else name


def run(quick: bool = False) -> dict | None:
    found = _nvml()
    if isinstance(found, str):
        print(f"  {found}")
        return None
    import torch

    from neurotep.backends.torch import TorchNetwork
    from neurotep.data import load_digits_split
    from neurotep.learning.eqprop import EqPropConfig

    nvml, handle, gpu = found
    epochs = QUICK_EPOCHS if quick else EPOCHS
    idle_s, min_s = (QUICK_IDLE, QUICK_MIN) if quick else (IDLE_SECONDS, MIN_SECONDS)
    data = load_digits_split()
    graph, metrics, _ = train_base(epochs, 0, "eqprop", data=data)
    net = TorchNetwork(graph, device="cuda", dtype=torch.float32)
    inp, out = graph.meta["input"], graph.meta["output"]
    x = torch.as_tensor(data.x_test, device="cuda", dtype=torch.float32)
    cfg = EqPropConfig.from_meta(graph.meta)
    with torch.no_grad():
        st, steps = net.relax({inp: x}, cfg.free_steps, cfg.tol)  # the rate run's measured relaxation
        acc = float((st.out[out].argmax(1).cpu().numpy() == data.y_test).mean())
        big = x.repeat(LARGE_BATCH // len(x) + 1, 1)[:LARGE_BATCH]

        def batch1():
            for i in range(len(x)):
                net.relax({inp: x[i:i + 1]}, steps)
            torch.cuda.synchronize()
            return len(x)

        def batch_large():
            net.relax({inp: big}, steps)
            torch.cuda.synchronize()
            return LARGE_BATCH

        batch1(), batch_large()  # warm-up: kernels compiled, caches filled
        rows = [{"batch": 1, **measure(nvml, handle, batch1, idle_s, min_s)},
                {"batch": LARGE_BATCH, **measure(nvml, handle, batch_large, idle_s, min_s)}]
    print(table(["batch", "J / inference", "dynamic J / inference", "us / inference", "idle W", "average W"],
                [[r["batch"], f"{r['energy_per_inference_joules']:.3e}", f"{r['dynamic_energy_per_inference_joules']:.3e}",
                  f"{1e6 * r['seconds_per_inference']:.1f}", f"{r['idle_watts']:.1f}", f"{r['average_watts']:.1f}"]
                 for r in rows]))
    return {"gpu": gpu, "steps": steps, "rate_test_accuracy": acc, "dtype": "float32",
            "model": f"base TorEqProp, EqProp {epochs} epochs, seed 0 (final-epoch test accuracy {metrics['test_accuracy']:.4f})",
            "method": "NVML nvmlDeviceGetTotalEnergyConsumption around each workload; idle power measured in the same "
                      "run and subtracted for the dynamic figure; relaxation without the per-step tolerance check",
            "batches": rows}
