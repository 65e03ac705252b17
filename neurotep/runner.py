"""Inference runs: a trained graph on a data set's test split, on the torch path or on Lava, in
rate or spiking mode, with spike counts. Both backends produce the same ``run.json`` keys."""

from __future__ import annotations

import numbers
import time
from dataclasses import dataclass

import numpy as np
import torch

from neurotep.backends.torch import TorchNetwork
from neurotep.backends.torch.fixed import FixedNetwork
from neurotep.data import Dataset, check_batch, poisson_spikes_torch, rate_encode
from neurotep.data.encoders import ENCODINGS
from neurotep.errors import BackendError, DataError, GraphError, NeurotepError
from neurotep.graph import Graph
from neurotep.graph.validate import MAX_STEPS
from neurotep.graph.transforms import rate_to_spiking
from neurotep.learning.eqprop import EqPropConfig
from neurotep.quantize import encode_input, quantize
from neurotep.recording import Recording, merge, save_recording

BACKENDS = ("torch", "lava")
PRECISIONS = ("float", "fixed")
DEFAULT_SPIKING_STEPS = 200
LAVA_BATCH = 64  # samples per Lava simulation (each batch runs as independent copies)
# Seed of the Poisson input encoder; distinct from stochastic neurons' seeds (see encoders).
ENCODER_SEED = 1
# Memory one run may take (state, delay and buffer histories, spatial kernels, input frames,
# rasters): a full digits or MNIST test split of the variants needs under 1 GiB, so this only stops runs that
# would swap or be killed.
MAX_RUN_BYTES = 4 << 30


@dataclass
class RunOutput:
    summary: dict  # what run.json holds
    recording: Recording | None
    graph: Graph  # the network that ran (the spiking form in spiking mode)
    sample_ids: np.ndarray | None = None  # data-set indices of the samples: they key every random draw


def _check(backend: str, encoding: str, samples: int | None, data: Dataset) -> int:
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}: use torch or lava")
    if encoding not in ENCODINGS:
        raise DataError(f"unknown encoding {encoding!r}: use one of {', '.join(ENCODINGS)}")
    n = len(data.x_test) if samples is None else samples
    if not 1 <= n <= len(data.x_test):
        raise DataError(f"--samples must be between 1 and {len(data.x_test)} (the test split), got {n}")
    return n


def _executed_on(backend: str, device: str, hardware: str | None) -> str:
    if backend == "torch":
        if hardware is not None:
            raise BackendError(f"--hardware {hardware} needs --backend lava")
        return f"torch-{torch.device(device).type}"
    if hardware == "loihi2":
        from neurotep.hardware import detect_loihi2

        found = detect_loihi2()
        if not found["available"]:
            print(f"neurotep: Loihi 2 hardware not available ({found['reason']}); running on the Loihi 2 simulator (Loihi2SimCfg)")
        else:  # pragma: no cover - needs Intel's lava-loihi and a board (untested here)
            return "loihi2-hw"
    elif hardware not in (None, "loihi2-sim"):
        raise BackendError(f"unknown hardware {hardware!r}: use loihi2")
    return "loihi2-sim"


def run_model(graph: Graph, data: Dataset, backend: str = "torch", samples: int | None = None,
              steps: int | None = None, spiking: bool = False, encoding: str = "poisson",
              device: str = "cpu", raster: bool = False, neuron: str | None = None, precision: str = "float",
              hardware: str | None = None) -> RunOutput:
    """Run ``graph`` on the first ``samples`` test images and summarise accuracy and spikes.

    Rate mode relaxes the rate network (on torch until converged, on Lava for the model's
    ``free_steps``) and decodes the final output; spiking mode runs ``steps`` steps of the spiking
    form (:func:`~neurotep.graph.transforms.rate_to_spiking`) and decodes the output's mean;
    ``neuron=None`` takes the variant's spiking neuron (``meta["spiking"]``, else ``lif``).
    """
    n = _check(backend, encoding, samples, data)
    if precision not in PRECISIONS:
        raise BackendError(f"unknown precision {precision!r}: use float or fixed")
    check_resources(graph, backend, n, steps, spiking, spiking and encoding == "poisson", precision, raster)
    executed_on = _executed_on(backend, device, hardware)
    x, y = data.x_test[:n], data.y_test[:n]
    inp = graph.meta["input"]
    check_batch(x, graph.populations[inp].size * graph.meta.get("sequence", {}).get("length", 1))
    if graph.meta.get("relaxation") == "sequence" and (precision == "fixed" or (spiking and backend == "lava")):
        raise BackendError("sequence models (tepssr) run on Lava in rate mode and in floating point only "
                           "(spiking mode runs on the torch path): drop --spiking / --precision fixed")
    ids = np.asarray(data.test_index[:n], dtype=np.int64)
    g = rate_to_spiking(graph, neuron=neuron) if spiking else graph
    spiking_inputs = spiking and encoding == "poisson"
    if precision == "fixed":
        q = quantize(g)  # fails early, in this process, for what fixed point cannot express yet
        if not spiking:
            raise BackendError("fixed point runs the spiking mode: add --spiking")
    t0 = time.perf_counter()
    if backend == "torch" and precision == "fixed":
        pred, rec, steps_taken = _run_torch_fixed(q, x, ids, steps, spiking_inputs, device, raster)
    elif backend == "torch":
        pred, rec, steps_taken = _run_torch(g, x, ids, steps, spiking, spiking_inputs, device, raster)
    else:
        pred, rec, steps_taken = _run_lava(g, x, ids, steps, spiking, spiking_inputs, precision, raster,
                                           on_chip=executed_on == "loihi2-hw")
    wall = time.perf_counter() - t0
    pops = {}
    for p in g.populations.values():
        spikes = int(rec.per_neuron[p.name].sum().item()) if rec is not None and p.name in rec.per_neuron else 0
        pops[p.name] = {"neurons": p.size, "model": p.model, "spikes": spikes,
                        "spikes_per_neuron_per_step": spikes / (p.size * n * steps_taken)}
    summary = dict(
        backend=backend, executed_on=executed_on, precision=precision, device=device if backend == "torch" else "cpu",
        dtype=_dtype_name(backend, precision, device),
        mode="spiking" if spiking else "rate", encoding=encoding if spiking else "current",
        variant=graph.meta.get("variant"), dataset=data.name, samples=n, steps=int(steps_taken),
        test_accuracy=float((pred == y).mean()), spikes_total=int(sum(p["spikes"] for p in pops.values())),
        wall_seconds=wall, populations=pops,
    )
    return RunOutput(summary, rec, g, ids)


def _dtype_name(backend: str, precision: str, device: str) -> str:
    if precision == "fixed":
        return "integer"
    return "float64" if backend == "lava" else str(torch_dtype(device)).removeprefix("torch.")


def _size_words(n: float) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"


def run_steps(graph: Graph, steps: int | None, spiking: bool) -> int:
    """The steps a run takes at most: ``steps``, else 200 spiking steps or the model's
    ``free_steps``; a sequence model (TEP-SSR) also feeds its sequence first."""
    n = steps or (DEFAULT_SPIKING_STEPS if spiking else EqPropConfig.from_meta(graph.meta).free_steps)
    seq = graph.meta.get("sequence") if graph.meta.get("relaxation") == "sequence" else None
    return n + (int(seq["length"]) + 1 if seq else 0)


def estimate_run_bytes(graph: Graph, backend: str, samples: int, steps: int, spiking: bool,
                       spiking_inputs: bool, precision: str = "float", raster: bool = False) -> dict[str, int]:
    """Peak memory of a run by part, in bytes (8 per value, the widest dtype a backend uses).

    The torch path simulates all ``samples`` at once; Lava runs batches of :data:`LAVA_BATCH`.
    Every population keeps its last ``max(delays out of it, its buffer's depth)`` outputs per
    sample; an N-D buffer holds a ``neurons x neurons`` kernel; Lava and fixed-point runs encode
    the Poisson input frames up front; rasters keep one byte per neuron, step and sample."""
    batch = samples if backend == "torch" else min(samples, LAVA_BATCH)
    depth = graph.history_depth()
    sizes = {p.name: p.size for p in graph.populations.values()}
    n_in = sizes.get(graph.meta.get("input"), 0)
    parts = {
        "delay and buffer history (depth x neurons x batch x 8 bytes)": sum(depth[p] * n for p, n in sizes.items()) * batch * 8,
        # outputs, membranes, drives and the next state: a few copies of every neuron per sample
        "neuron state": 4 * sum(sizes.values()) * batch * 8,
        "spatial buffer kernels": sum(sizes[b.population] ** 2 for b in graph.buffers if b.shape) * 8,
        "weights": sum(c.weight.size for c in graph.connections) * 8 * (2 if backend == "lava" else 1),
        "input frames": steps * batch * n_in * 8 if spiking_inputs and (backend == "lava" or precision == "fixed") else 0,
        "spike rasters": steps * samples * sum(sizes.values()) if raster and spiking else 0,
    }
    return parts


def check_resources(graph: Graph, backend: str, samples: int, steps: int | None, spiking: bool,
                    spiking_inputs: bool, precision: str = "float", raster: bool = False) -> None:
    """Everything a run needs that the graph alone cannot say, checked before any work: the meta
    keys a run reads, the step count against :data:`~neurotep.graph.validate.MAX_STEPS`, and the
    peak memory (:func:`estimate_run_bytes`) against :data:`MAX_RUN_BYTES`. One-line errors that
    give the estimate and the limit."""
    graph.validate()  # meta's types and targets, and every static bound (depths, delays, sizes)
    for key, what in (("input", "the input population"), ("output", "the population read out")):
        if key not in graph.meta:
            raise GraphError(f"graph meta: no {key!r} key ({what}); this graph is not a runnable model: "
                             "train one with `neurotep train VARIANT --out DIR`")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, numbers.Integral)
                              or not 1 <= steps <= MAX_STEPS):
        raise NeurotepError(f"--steps must be an int between 1 and {MAX_STEPS}, got {steps!r}")
    total_steps = run_steps(graph, steps, spiking)
    if total_steps > MAX_STEPS:
        raise NeurotepError(f"the run would take {total_steps} steps, over the limit of {MAX_STEPS}: give fewer --steps")
    parts = estimate_run_bytes(graph, backend, samples, total_steps, spiking, spiking_inputs, precision, raster)
    total = sum(parts.values())
    if total > MAX_RUN_BYTES:
        big = max(parts, key=parts.get)
        batch = samples if backend == "torch" else min(samples, LAVA_BATCH)
        raise NeurotepError(
            f"this run would need about {_size_words(total)} of memory ({big}: {_size_words(parts[big])}; "
            f"batch {batch}, {total_steps} steps), over the {_size_words(MAX_RUN_BYTES)} limit per run: "
            "run fewer --samples or --steps, or a model with shallower buffers and delays")


def torch_dtype(device: str) -> torch.dtype:
    """float64 on the CPU, where the torch path is the reference and then meets Lava's float64
    models spike for spike (about 2x the float32 cost); float32 on a GPU, for speed."""
    return torch.float32 if str(device).startswith("cuda") else torch.float64


def _run_torch(g, x, ids, steps, spiking, spiking_inputs, device, raster):
    inp, out = g.meta["input"], g.meta["output"]
    if spiking and g.meta.get("relaxation") == "sequence":  # TEP-SSR: graded SSM first, then the spiking block
        from neurotep.variants.tepssr import run_spiking

        return run_spiking(g, x, ids, steps or DEFAULT_SPIKING_STEPS, spiking_inputs, device, raster)
    net = TorchNetwork(g, device=device, dtype=torch_dtype(device))
    xt = torch.as_tensor(x, device=net.device_, dtype=net.dtype)
    if spiking:
        steps = steps or DEFAULT_SPIKING_STEPS
        tid = torch.as_tensor(ids, device=net.device_)
        if spiking_inputs:
            def input_fn(t):
                return {inp: poisson_spikes_torch(xt, t, ENCODER_SEED, tid)}
        else:
            def input_fn(t):
                return {inp: xt}
        _, rec, y_mean = net.run(input_fn, steps, len(x), sample_ids=tid, raster=raster, readout=out,
                                 spiking_inputs=spiking_inputs)
        pred = y_mean.argmax(1).cpu().numpy()
    else:
        cfg = EqPropConfig.from_meta(g.meta)
        with torch.no_grad():
            st, steps = net.relax({inp: xt}, steps or cfg.free_steps, cfg.tol if steps is None else None)
        pred, rec = st.out[out].argmax(1).cpu().numpy(), None
    if net.device_.type == "cuda":
        torch.cuda.synchronize()
    return pred, rec, steps


def _spike_frames(x, steps, ids, spiking_inputs) -> np.ndarray:
    """Input frames (frames, B, N): Poisson spike trains, or one frame of currents."""
    return rate_encode(x, steps, ENCODER_SEED, ids) if spiking_inputs else x[None]


def _run_torch_fixed(q, x, ids, steps, spiking_inputs, device, raster):
    steps = steps or DEFAULT_SPIKING_STEPS
    net = FixedNetwork(q, device=device, spiking_inputs=spiking_inputs)
    frames = torch.as_tensor(encode_input(_spike_frames(x, steps, ids, spiking_inputs), spiking_inputs), device=net.device_)
    inp = q.graph.meta["input"]
    rec, y_mean = net.run(lambda t: {inp: frames[t % len(frames)]}, steps, len(x), raster=raster,
                          readout=q.graph.meta["output"], spiking_inputs=spiking_inputs,
                          sample_ids=torch.as_tensor(ids, device=net.device_))
    return y_mean.argmax(1).cpu().numpy(), rec, steps


def _run_lava(g, x, ids, steps, spiking, spiking_inputs, precision, raster, on_chip=False):
    from neurotep.backends.lava.runner import run_lava

    inp = g.meta["input"]
    steps = steps or (DEFAULT_SPIKING_STEPS if spiking else EqPropConfig.from_meta(g.meta).free_steps)
    if g.meta.get("relaxation") == "sequence":  # TEP-SSR: the SSM run, then the block run (rate mode)
        from neurotep.variants.tepssr import run_lava_sequence

        ys = [run_lava_sequence(g, x[i:i + LAVA_BATCH], ids[i:i + LAVA_BATCH], steps)[0] for i in range(0, len(x), LAVA_BATCH)]
        return np.concatenate(ys).argmax(1), None, steps
    preds, recs = [], []
    for i in range(0, len(x), LAVA_BATCH):
        xb, idb = x[i:i + LAVA_BATCH], ids[i:i + LAVA_BATCH]
        data = _spike_frames(xb, steps, idb, spiking_inputs)
        data = encode_input(data, spiking_inputs) if precision == "fixed" else data.astype(np.float64)
        rec, readout, _ = run_lava(g, {inp: data}, steps, idb, spiking_inputs=spiking_inputs, precision=precision,
                                   raster=raster, on_chip=on_chip)
        preds.append(readout["mean" if spiking else "last"].argmax(1).numpy())
        recs.append(rec)
    return np.concatenate(preds), merge(recs) if spiking else None, steps


def save_run(res: RunOutput, run_dir) -> None:
    """A self-contained run directory: ``run.json``, ``graph/`` (the network that ran) and, for
    spiking runs, ``spikes.npz``: what ``neurotep profile`` and ``neurotep report`` read."""
    from pathlib import Path

    from neurotep.graph import save_graph
    from neurotep.membranes import membrane_updates
    from neurotep.outputs import write_json
    from neurotep.placement import core_counts

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    # The sample ids let the profiler replay the counter-based draws (e.g. count open gates exactly).
    ids = {} if res.sample_ids is None else {"sample_ids": [int(i) for i in res.sample_ids]}
    # What the profiler needs a backend for, computed here so that it reads recordings only:
    # NeuroBench's exact MembraneUpdates (a replay on the torch path) and neuro-cores per population.
    derived = {"membrane_updates": membrane_updates(res.graph, res.summary, res.recording),
               "cores": core_counts(res.graph)}
    write_json(run_dir / "run.json", {**res.summary, **ids, **derived})
    save_graph(res.graph, run_dir / "graph")
    if res.recording is not None:
        save_recording(res.recording, run_dir / "spikes.npz")
