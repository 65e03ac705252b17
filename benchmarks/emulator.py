"""The Loihi 2 emulator against Lava's simulator, and the torch path's event-driven cost against
snnTorch's loop (issue 17).

**A. Emulator vs Lava.** The base model trained 40 epochs by EqProp (seed 0, the `spiking`
benchmark's cached model; 2 epochs with ``--quick``), its chip form in fixed point, Poisson input,
T = 200 steps, on the first B = 1, 64 and 360 digits test images (16 with ``--quick``): the whole
``run_model`` call a user's ``neurotep run`` makes, timed from outside, with
``backend="emulator"`` (torch, one batch) and ``backend="lava"`` (Loihi2SimCfg ``fixed_pt``, chunks
of 64 samples, each one simulation). Emulator median of 3, Lava once (minutes at B = 360). Spike
counts per step and per neuron of every recorded population are asserted identical. Lava's time
includes compiling the process graph and starting one OS process per Lava process, which the
user also waits for.

**B. Event kernel crossover.** ``x @ w`` for 0/1 spikes ``x`` (B x pre) and float32 ``w`` (pre x
1024): BLAS's dense product against :func:`neurotep.backends.torch.accumulate.event_matmul` at
activities 0.5-30 %, pre = 1024 and 4096, B = 1 and 32; median of 7. The crossover is the
highest activity at which the event kernel is faster; ``event_max_activity(batch)`` should sit
at or below it.

**C. Torch path vs snnTorch's loop.** A layer of N LIF neurons (beta 0.9, threshold 1, subtract
reset) driven by N inputs with Bernoulli(p) spikes (so p sets the synaptic events exactly):
weights Normal(0, 1/sqrt(fan-in)) with all-to-all connectivity at N = 1e3 and 1 % connectivity at
N = 1e4, float32, batch 32, 50 steps, p = 1, 10 and 30 %. ``TorchNetwork.run`` (the path
``run_model`` takes, spike counting included) against ``cur = fc(x[t]); spk, mem = lif(cur, mem)``
with snnTorch's ``Leaky`` and ``nn.Linear`` on the same (masked) weights, median of 3, interleaved.
N = 1e5 is not run: the graph stores dense weight matrices (1e10 entries, 40 GB in float32), and
so does ``nn.Linear``.

**D. Scaling.** The same layer at p = 2 % for N = 500 ... 16000 (all-to-all; 16000 x 16000
float32 is 1 GiB, several copies of which the graph, the torch module and snnTorch hold): time per
step against synaptic events per step (p * N * N * batch), with a least-squares line through the
origin and the plot ``results/emulator-scaling.png``.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from benchmarks.common import table, train_base, with_torch_threads

RESULTS = Path(__file__).resolve().parent / "results"
EMU_BATCHES, QUICK_EMU_BATCHES = (1, 64, 360), (1, 16)
EMU_STEPS = 200
LAYER = dict(beta=0.9, threshold=1.0, reset="subtract")
CMP_SIZES = ((1000, 1.0), (10000, 0.01))  # (N, connectivity)
QUICK_CMP_SIZES = ((1000, 1.0),)
ACTIVITIES = (0.01, 0.10, 0.30)
SCALE_SIZES, QUICK_SCALE_SIZES = (500, 1000, 2000, 4000, 8000, 16000), (250, 500, 1000)
SCALE_ACTIVITY = 0.02
BATCH, STEPS, REPEATS = 32, 50, 3


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# -- A. the emulator against Lava ---------------------------------------------------------------
def emulator_vs_lava(quick: bool) -> list[dict]:
    import torch

    from neurotep.data import load_digits_split
    from neurotep.runner import run_model

    graph, _, _ = train_base(2 if quick else 40, 0)
    data = load_digits_split()
    out = []
    for b in QUICK_EMU_BATCHES if quick else EMU_BATCHES:
        kw = dict(samples=b, steps=EMU_STEPS, spiking=True, precision="fixed", form="chip")
        runs = {}
        emu_seconds = _median_time(lambda: runs.__setitem__("emulator", run_model(graph, data, backend="emulator", **kw)), 3)
        t0 = time.perf_counter()
        runs["lava"] = run_model(graph, data, backend="lava", **kw)
        lava_seconds = time.perf_counter() - t0
        a, l = runs["emulator"].recording, runs["lava"].recording
        same = set(a.per_step) == set(l.per_step) and all(
            torch.equal(a.per_step[p].double(), l.per_step[p].double())
            and torch.equal(a.per_neuron[p].double(), l.per_neuron[p].double()) for p in a.per_step)
        assert same, f"emulator and Lava spikes differ at batch {b}"
        rec = dict(batch=b, steps=EMU_STEPS, spikes=runs["emulator"].summary["spikes_total"], identical_spikes=same,
                   accuracy=runs["emulator"].summary["test_accuracy"], emulator_seconds=emu_seconds,
                   lava_seconds=lava_seconds, speedup=lava_seconds / emu_seconds,
                   emulator_us_per_step=1e6 * emu_seconds / EMU_STEPS)
        print(f"  A. batch {b}: emulator {emu_seconds:.3f} s, Lava {lava_seconds:.2f} s: {rec['speedup']:.0f}x; "
              f"{rec['spikes']} spikes, identical: {same}", flush=True)
        out.append(rec)
    return out


# -- B. where events beat BLAS ------------------------------------------------------------------
def event_crossover(quick: bool) -> list[dict]:
    import torch

    from neurotep.backends.torch.accumulate import event_matmul

    gen = torch.Generator().manual_seed(0)
    out = []
    for pre in (1024,) if quick else (1024, 4096):
        w = torch.randn(pre, 1024, generator=gen)
        for b in (1, 32):
            for p in (0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.30):
                x = (torch.rand(b, pre, generator=gen) < p).float()
                dense = _median_time(lambda: x @ w, 7)
                events = _median_time(lambda: event_matmul(x, w, 1.0), 7)
                out.append(dict(pre=pre, post=1024, batch=b, activity=p, dense_us=1e6 * dense, events_us=1e6 * events,
                                events_faster=events < dense))
    return out


def crossovers(rows: list[dict]) -> dict[str, float | None]:
    """Per (pre, batch): the highest activity at which the event kernel was faster."""
    res = {}
    for r in rows:
        key = f"pre={r['pre']},batch={r['batch']}"
        res.setdefault(key, None)
        if r["events_faster"]:
            res[key] = max(res[key] or 0.0, r["activity"])
    return res


# -- C, D. a spiking layer: the torch path against snnTorch ----------------------------------
def layer(n: int, connectivity: float, seed: int = 0):
    """An input of ``n`` -> ``n`` LIF neurons (delay 0, as snnTorch's same-step ``fc(x[t])``):
    the graph and its float32 weights (masked)."""
    from neurotep.graph import Connection, Graph, Population

    rs = np.random.default_rng(seed)
    w = rs.standard_normal((n, n), dtype=np.float32) / np.float32(np.sqrt(max(1.0, connectivity * n)))
    mask = None
    if connectivity < 1.0:
        mask = rs.random((n, n), dtype=np.float32) < connectivity
        w *= mask
    g = Graph()
    g.add(Population("x", n, "input"))
    g.add(Population("h", n, "lif", dict(LAYER)))
    g.add(Connection("W", "x", "h", w, delay=0, mask=mask))
    return g.validate(), w


def _snntorch(w):
    import snntorch as snn
    import torch

    fc = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
    with torch.no_grad():
        fc.weight.copy_(torch.as_tensor(w))
    return fc, snn.Leaky(beta=LAYER["beta"], threshold=LAYER["threshold"], reset_mechanism=LAYER["reset"])


def _snntorch_loop(model, x):
    import torch

    fc, lif = model
    with torch.no_grad():
        mem = lif.reset_mem()
        cnt = torch.zeros(fc.weight.shape[0])
        for t in range(x.shape[0]):
            spk, mem = lif(fc(x[t]), mem)
            cnt += spk.sum(0)
    return cnt


def _neurotep_run(net, x):
    _, rec, _ = net.run(lambda t: {"x": x[t]}, x.shape[0], x.shape[1])
    return rec.per_neuron["h"]


def compare_layer(n: int, connectivity: float, activity: float, repeats: int) -> dict:
    import torch

    from neurotep.backends.torch import TorchNetwork

    g, w = layer(n, connectivity)
    net = TorchNetwork(g, dtype=torch.float32)
    model = _snntorch(w)
    del g  # the module holds its own copy
    x = (torch.rand(STEPS, BATCH, n, generator=torch.Generator().manual_seed(1)) < activity).float()
    c_nt, c_snn = _neurotep_run(net, x).double(), _snntorch_loop(model, x).double()  # also warms up
    differ = int((c_nt != c_snn).sum())
    t_nt, t_snn = [], []
    for _ in range(repeats):  # interleaved
        t_nt.append(_median_time(lambda: _neurotep_run(net, x), 1))
        t_snn.append(_median_time(lambda: _snntorch_loop(model, x), 1))
    nt, sn = statistics.median(t_nt), statistics.median(t_snn)
    events = float(x.sum()) * connectivity * n / STEPS  # synaptic events per step (all samples)
    return dict(neurons=n, connectivity=connectivity, activity=activity, batch=BATCH, steps=STEPS,
                synaptic_events_per_step=events, neurotep_us_per_step=1e6 * nt / STEPS,
                snntorch_us_per_step=1e6 * sn / STEPS, speedup_over_snntorch=sn / nt,
                spikes_neurotep=int(c_nt.sum()), spikes_snntorch=int(c_snn.sum()), neurons_with_other_counts=differ)


def scaling_plot(rows: list[dict], path: Path) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ev = np.array([r["synaptic_events_per_step"] for r in rows])
    fit = {}
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for key, label, mark in (("neurotep_us_per_step", "neurotep torch path (events)", "o-"),
                             ("snntorch_us_per_step", "snnTorch loop (dense)", "s--")):
        us = np.array([r[key] for r in rows])
        slope = float((ev @ us) / (ev @ ev))  # least squares through the origin: us = slope * events
        resid = us - slope * ev
        fit[key] = dict(us_per_million_events=1e6 * slope, r2=float(1 - (resid @ resid) / ((us - us.mean()) @ (us - us.mean()))))
        ax.loglog(ev, us, mark, label=label)
        for r, e, u in zip(rows, ev, us):
            if key == "neurotep_us_per_step":
                ax.annotate(f"N={r['neurons']}", (e, u), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlabel(f"synaptic events per step (activity {100 * SCALE_ACTIVITY:g} %, batch {BATCH})")
    ax.set_ylabel("time per step (us)")
    ax.set_title("Cost against synaptic events, one LIF layer (CPU)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return fit


def run(quick: bool = False) -> dict:
    # One torch thread on every side: on the shared 2-core machine two OpenMP threads spin against
    # other processes and distort BLAS timings several-fold (see benchmarks/README.md).
    return with_torch_threads(1, _run, quick)


def _run(quick: bool) -> dict:
    import torch

    from neurotep.backends.torch.accumulate import event_max_activity

    emu = emulator_vs_lava(quick)
    print(table(["batch", "spikes", "identical", "emulator s", "Lava s", "Lava / emulator"],
                [[r["batch"], r["spikes"], r["identical_spikes"], f"{r['emulator_seconds']:.3f}",
                  f"{r['lava_seconds']:.2f}", f"{r['speedup']:.0f}x"] for r in emu]))
    cross_rows = event_crossover(quick)
    cross = crossovers(cross_rows)
    print("\n  B. highest activity at which events beat BLAS: "
          + ", ".join(f"{k}: {v if v is None else f'{100 * v:g} %'}" for k, v in cross.items())
          + f" (neurotep switches at {100 * event_max_activity(1):g} % for batch 1, {100 * event_max_activity(32):g} % "
            "for larger batches)", flush=True)
    cmp_rows = []
    for n, conn in QUICK_CMP_SIZES if quick else CMP_SIZES:
        for p in ACTIVITIES:
            r = compare_layer(n, conn, p, 1 if quick else REPEATS)
            print(f"  C. N={n} ({100 * conn:g} % connected), activity {100 * p:g} %: neurotep {r['neurotep_us_per_step']:.0f} "
                  f"us/step, snnTorch {r['snntorch_us_per_step']:.0f}: {r['speedup_over_snntorch']:.2f}x", flush=True)
            cmp_rows.append(r)
    print(table(["N", "connected", "activity", "neurotep us/step", "snnTorch us/step", "speedup", "neurons with other counts"],
                [[r["neurons"], f"{100 * r['connectivity']:g} %", f"{100 * r['activity']:g} %",
                  f"{r['neurotep_us_per_step']:.0f}", f"{r['snntorch_us_per_step']:.0f}",
                  f"{r['speedup_over_snntorch']:.2f}x", r["neurons_with_other_counts"]] for r in cmp_rows]))
    scale_rows = [compare_layer(n, 1.0, SCALE_ACTIVITY, 1 if quick else REPEATS) for n in (QUICK_SCALE_SIZES if quick else SCALE_SIZES)]
    for r in scale_rows:
        print(f"  D. N={r['neurons']}: {r['synaptic_events_per_step']:.3g} events/step, neurotep {r['neurotep_us_per_step']:.0f} "
              f"us/step, snnTorch {r['snntorch_us_per_step']:.0f}", flush=True)
    plot = RESULTS / ("emulator-scaling.quick.png" if quick else "emulator-scaling.png")
    fit = scaling_plot(scale_rows, plot)
    print(f"  D. line through the origin: neurotep {fit['neurotep_us_per_step']['us_per_million_events']:.1f} us per million "
          f"events (R^2 {fit['neurotep_us_per_step']['r2']:.3f}); plot {plot}")
    goals = {
        "emulator_100x_at_batch_64_plus": all(r["speedup"] >= 100 for r in emu if r["batch"] >= 64) if not quick else None,
        "emulator_10x_at_batch_1": all(r["speedup"] >= 10 for r in emu if r["batch"] == 1),
        "torch_1.5x_snntorch_at_1e4_low_activity": all(r["speedup_over_snntorch"] >= 1.5 for r in cmp_rows
                                                       if r["neurons"] >= 10000 and r["activity"] <= 0.10) if not quick else None,
        "torch_not_slower_elsewhere": all(r["speedup_over_snntorch"] >= 1.0 for r in cmp_rows),
    }
    print("  goals: " + ", ".join(f"{k}: {v}" for k, v in goals.items()))
    return dict(settings=dict(emulator_steps=EMU_STEPS, layer=LAYER, batch=BATCH, steps=STEPS, repeats=REPEATS,
                              scale_activity=SCALE_ACTIVITY,
                              event_max_activity={"batch 1": event_max_activity(1), "batch > 1": event_max_activity(32)},
                              torch_threads=torch.get_num_threads(), cuda_available=torch.cuda.is_available()),
                emulator_vs_lava=emu, event_crossover=cross_rows, crossovers=cross, torch_vs_snntorch=cmp_rows,
                scaling=scale_rows, scaling_fit=fit, scaling_plot=str(plot.relative_to(RESULTS.parent.parent)), goals=goals)
