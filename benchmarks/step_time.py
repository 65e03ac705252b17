"""Time per simulated step: neurotep's torch path against snnTorch's own loop, same LIF network.

Network: an input population of 64, one ``lif`` population of N neurons (beta 0.9, threshold 1,
subtractive reset), a dense input connection and a recurrent LIF->LIF connection (delay 1).
Weights ~ Normal(0, 1/sqrt(fan_in)) (seed 0), which gives a firing rate of about 9-14 %.
Input: Bernoulli(0.2) spikes precomputed as a (T, B, 64) tensor, fed to both sides; B = 32,
T = 200.

Timing convention: in neurotep a delay-1 connection delivers what its source emitted the previous
step, and the input population's output at step t is the input given at step t. snnTorch's loop
``cur = fc_in(x[t]) + fc_rec(spk_prev)`` uses the input of the same step, so the input
connection gets ``delay=0`` (the recurrent one keeps delay 1, as ``spk_prev``). Both sides must
then give identical per-neuron spike counts; the check is asserted. (With delay 1 on the input,
neurotep equals snnTorch fed ``x[t-1]``: checked too, on the smallest N.)

Timed, under ``torch.no_grad()``, median of 5 repeats of the whole T-step loop, interleaved:

* ``neurotep run``: ``TorchNetwork.run`` (the path ``run_model`` uses; it also records spike
  counts per step, per neuron and per sample for the input and LIF populations);
* ``neurotep step``: a bare loop of ``TorchNetwork.step`` accumulating per-neuron counts;
* ``snnTorch``: ``snn.Leaky`` + two bias-free ``nn.Linear`` with the same weights, accumulating
  per-neuron counts (needed for the check).

The ratios neurotep/snnTorch come from the same process, same run. A CUDA section runs when
``torch.cuda.is_available()``.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from benchmarks.common import table

SIZES = (100, 1000, 4000)
QUICK_SIZES = (100, 1000)
N_IN, BATCH, STEPS, REPEATS = 64, 32, 200, 5
QUICK_STEPS, QUICK_REPEATS = 50, 3
P_IN = 0.2


def build(n: int, delay_in: int = 0, seed: int = 0):
    """The neurotep graph and its float32 weights (exactly representable in the graph's float64)."""
    from neurotep.graph import Connection, Graph, Population

    rs = np.random.default_rng(seed)
    w_in = rs.normal(0.0, 1.0 / np.sqrt(N_IN), (n, N_IN)).astype(np.float32)
    w_rec = rs.normal(0.0, 1.0 / np.sqrt(n), (n, n)).astype(np.float32)
    g = Graph()
    g.add(Population("x", N_IN, "input"))
    g.add(Population("h", n, "lif", {"beta": 0.9, "threshold": 1.0, "reset": "subtract"}))
    g.add(Connection("W_in", "x", "h", w_in.astype(np.float64), delay=delay_in))
    g.add(Connection("W_rec", "h", "h", w_rec.astype(np.float64), delay=1))
    return g.validate(), w_in, w_rec


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _neurotep_run(net, x):
    steps, batch = x.shape[0], x.shape[1]
    _, rec, _ = net.run(lambda t: {"x": x[t]}, steps, batch)
    return rec.per_neuron["h"]


def _neurotep_step(net, x):
    import torch

    with torch.no_grad():
        w = net.effective_weights()
        st = net.init_state(x.shape[1])
        cnt = torch.zeros(net.graph.populations["h"].size, device=x.device, dtype=x.dtype)
        for t in range(x.shape[0]):
            st = net.step(st, {"x": x[t]}, w)
            cnt += st.out["h"].sum(0)
    return cnt


def _snntorch_model(n: int, w_in, w_rec, device):
    import snntorch as snn
    import torch

    fc_in = torch.nn.Linear(N_IN, n, bias=False).to(device)
    fc_rec = torch.nn.Linear(n, n, bias=False).to(device)
    with torch.no_grad():
        fc_in.weight.copy_(torch.as_tensor(w_in))
        fc_rec.weight.copy_(torch.as_tensor(w_rec))
    lif = snn.Leaky(beta=0.9, threshold=1.0, reset_mechanism="subtract").to(device)
    return fc_in, fc_rec, lif


def _snntorch_loop(model, x, shift: bool = False):
    import torch

    fc_in, fc_rec, lif = model
    n = fc_rec.weight.shape[0]
    with torch.no_grad():
        mem = lif.reset_mem()  # (init_leaky() in older tutorials)
        spk = torch.zeros(x.shape[1], n, device=x.device, dtype=x.dtype)
        cnt = torch.zeros(n, device=x.device, dtype=x.dtype)
        for t in range(x.shape[0]):
            xt = (x[t - 1] if t > 0 else torch.zeros_like(x[0])) if shift else x[t]
            cur = fc_in(xt) + fc_rec(spk)
            spk, mem = lif(cur, mem)
            cnt += spk.sum(0)
    return cnt


def _time(fn, device) -> float:
    _sync(device)
    t0 = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - t0


def _bench_device(device_name: str, sizes, steps: int, repeats: int) -> list[dict]:
    import torch

    from neurotep.backends.torch import TorchNetwork

    device = torch.device(device_name)
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(steps, BATCH, N_IN, generator=gen) < P_IN).to(torch.float32).to(device)
    out = []
    for i, n in enumerate(sizes):
        graph, w_in, w_rec = build(n)
        net = TorchNetwork(graph, device=device)
        model = _snntorch_model(n, w_in, w_rec, device)
        # Correctness first: identical per-neuron spike counts (this also warms every path up).
        c_run = _neurotep_run(net, x).double().cpu()
        c_step = _neurotep_step(net, x).double().cpu()
        c_snn = _snntorch_loop(model, x).double().cpu()
        equal = bool(torch.equal(c_run, c_snn)) and bool(torch.equal(c_step, c_snn))
        rec = dict(device=device_name, neurons=n, batch=BATCH, steps=steps,
                   spikes_neurotep_run=int(c_run.sum()), spikes_neurotep_step=int(c_step.sum()),
                   spikes_snntorch=int(c_snn.sum()), per_neuron_counts_equal=equal,
                   firing_rate=float(c_snn.sum()) / (steps * BATCH * n))
        print(f"  [{device_name}] N={n}: spikes neurotep run {rec['spikes_neurotep_run']}, neurotep step "
              f"{rec['spikes_neurotep_step']}, snnTorch {rec['spikes_snntorch']}; per-neuron counts equal: {equal}; "
              f"firing rate {100 * rec['firing_rate']:.1f} %", flush=True)
        if i == 0:
            # The delay convention, demonstrated: delay-1 input == snnTorch fed the previous step's input.
            g1, _, _ = build(n, delay_in=1)
            c1 = _neurotep_run(TorchNetwork(g1, device=device), x).double().cpu()
            c_shift = _snntorch_loop(model, x, shift=True).double().cpu()
            rec["delay1_input_spikes_neurotep"] = int(c1.sum())
            rec["delay1_input_equals_snntorch_shifted_input"] = bool(torch.equal(c1, c_shift))
            rec["delay1_input_equals_snntorch_same_step_input"] = bool(torch.equal(c1, c_snn))
            print(f"  [{device_name}] N={n}, input delay 1: neurotep {int(c1.sum())} spikes; equals snnTorch fed x[t-1]: "
                  f"{rec['delay1_input_equals_snntorch_shifted_input']}; equals snnTorch fed x[t]: "
                  f"{rec['delay1_input_equals_snntorch_same_step_input']}", flush=True)
        assert equal, f"spike counts differ at N={n}: neurotep {rec['spikes_neurotep_run']} vs snnTorch {rec['spikes_snntorch']}"
        times = {"neurotep_run": [], "neurotep_step": [], "snntorch": []}
        for _ in range(repeats):  # interleaved, so drifts in machine load hit all three alike
            times["neurotep_run"].append(_time(lambda: _neurotep_run(net, x), device))
            times["neurotep_step"].append(_time(lambda: _neurotep_step(net, x), device))
            times["snntorch"].append(_time(lambda: _snntorch_loop(model, x), device))
        med = {k: statistics.median(v) for k, v in times.items()}
        rec.update(repeats=repeats, loop_seconds=times, median_loop_seconds=med,
                   us_per_step={k: 1e6 * v / steps for k, v in med.items()},
                   ratio_run_over_snntorch=med["neurotep_run"] / med["snntorch"],
                   ratio_step_over_snntorch=med["neurotep_step"] / med["snntorch"])
        print(f"  [{device_name}] N={n}: us/step neurotep run {rec['us_per_step']['neurotep_run']:.1f}, "
              f"step {rec['us_per_step']['neurotep_step']:.1f}, snnTorch {rec['us_per_step']['snntorch']:.1f}", flush=True)
        out.append(rec)
    return out


def run(quick: bool = False) -> dict:
    import torch

    sizes, steps, repeats = (QUICK_SIZES, QUICK_STEPS, QUICK_REPEATS) if quick else (SIZES, STEPS, REPEATS)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    results = []
    for dev in devices:
        results += _bench_device(dev, sizes, steps, repeats)
    print()
    print(table(["device", "N", "firing %", "spikes equal", "neurotep run us/step", "neurotep step us/step",
                 "snnTorch us/step", "run/snnTorch", "step/snnTorch"],
                [[r["device"], r["neurons"], f"{100 * r['firing_rate']:.1f}", r["per_neuron_counts_equal"],
                  f"{r['us_per_step']['neurotep_run']:.1f}", f"{r['us_per_step']['neurotep_step']:.1f}",
                  f"{r['us_per_step']['snntorch']:.1f}", f"{r['ratio_run_over_snntorch']:.2f}",
                  f"{r['ratio_step_over_snntorch']:.2f}"] for r in results]))
    worst = max(r["ratio_run_over_snntorch"] for r in results)
    print(f"\nworst neurotep run / snnTorch ratio: {worst:.2f} (target <= 1.0: {'met' if worst <= 1.0 else 'NOT met'})")
    if not torch.cuda.is_available():
        print("no CUDA device here: CPU only")
    return dict(settings=dict(n_in=N_IN, batch=BATCH, steps=steps, repeats=repeats, sizes=list(sizes), p_input=P_IN,
                              lif=dict(beta=0.9, threshold=1.0, reset="subtract"),
                              weights="Normal(0, 1/sqrt(fan_in)), seed 0, float32",
                              input_delay=0, recurrent_delay=1, statistic="median of repeats, interleaved",
                              cuda_available=torch.cuda.is_available()),
                worst_ratio_run_over_snntorch=worst, results=results)
