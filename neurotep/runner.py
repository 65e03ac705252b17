"""Inference runs: a trained graph on a data set's test split, rate or spiking, with spike counts."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from neurotep.backends.torch import Recording, TorchNetwork
from neurotep.data import Dataset, check_batch, poisson_spikes_torch
from neurotep.data.encoders import ENCODINGS
from neurotep.errors import BackendError, DataError
from neurotep.graph import Graph
from neurotep.graph.transforms import rate_to_spiking
from neurotep.learning.eqprop import EqPropConfig

DEFAULT_SPIKING_STEPS = 200
# Seed of the Poisson input encoder; distinct from stochastic neurons' seeds (see encoders).
ENCODER_SEED = 1


@dataclass
class RunOutput:
    summary: dict  # what run.json holds
    recording: Recording | None


def run_model(graph: Graph, data: Dataset, backend: str = "torch", samples: int | None = None,
              steps: int | None = None, spiking: bool = False, encoding: str = "poisson",
              device: str = "cpu", raster: bool = False, neuron: str = "lif") -> RunOutput:
    """Run ``graph`` on the first ``samples`` test images and summarise accuracy and spikes."""
    if backend != "torch":
        if backend == "lava":
            raise BackendError("the lava backend is not available in this version yet; use --backend torch")
        raise BackendError(f"unknown backend {backend!r}: use torch or lava")
    if encoding not in ENCODINGS:
        raise DataError(f"unknown encoding {encoding!r}: use one of {', '.join(ENCODINGS)}")
    n = len(data.x_test) if samples is None else samples
    if not 1 <= n <= len(data.x_test):
        raise DataError(f"--samples must be between 1 and {len(data.x_test)} (the test split), got {n}")
    x, y = data.x_test[:n], data.y_test[:n]
    inp, out = graph.meta["input"], graph.meta["output"]
    check_batch(x, graph.populations[inp].size)
    ids = torch.as_tensor(data.test_index[:n], dtype=torch.int64)
    t0 = time.perf_counter()
    if spiking:
        g = rate_to_spiking(graph, neuron=neuron)
        net = TorchNetwork(g, device=device)
        steps = steps or DEFAULT_SPIKING_STEPS
        xt = torch.as_tensor(x, device=net.device_, dtype=net.dtype)
        ids = ids.to(net.device_)
        if encoding == "poisson":
            def input_fn(t):
                return {inp: poisson_spikes_torch(xt, t, ENCODER_SEED, ids)}
        else:
            def input_fn(t):
                return {inp: xt}
        _, rec, y_mean = net.run(input_fn, steps, len(x), sample_ids=ids, raster=raster, readout=out,
                                 spiking_inputs=encoding == "poisson")
        pred = y_mean.argmax(1).cpu().numpy()
        steps_taken = steps
    else:
        net = TorchNetwork(graph, device=device)
        cfg = EqPropConfig.from_meta(graph.meta)
        max_steps = steps or cfg.free_steps
        with torch.no_grad():
            xt = torch.as_tensor(x, device=net.device_, dtype=net.dtype)
            st, steps_taken = net.relax({inp: xt}, max_steps, cfg.tol if steps is None else None)
        pred = st.out[out].argmax(1).cpu().numpy()
        rec = None
    if net.device_.type == "cuda":
        torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    pops = {}
    for p in graph.populations.values():
        spikes = int(rec.per_neuron[p.name].sum().item()) if rec is not None and p.name in rec.per_neuron else 0
        pops[p.name] = {"neurons": p.size, "model": (g if spiking else graph).populations[p.name].model, "spikes": spikes,
                        "spikes_per_neuron_per_step": spikes / (p.size * len(x) * steps_taken)}
    summary = dict(
        backend=backend, executed_on=f"torch-{net.device_.type}", precision="float", device=str(net.device_),
        mode="spiking" if spiking else "rate", encoding=encoding if spiking else "current",
        variant=graph.meta.get("variant"), dataset=data.name, samples=len(x), steps=int(steps_taken),
        test_accuracy=float((pred == y).mean()), spikes_total=int(sum(p["spikes"] for p in pops.values())),
        wall_seconds=wall, populations=pops,
    )
    return RunOutput(summary, rec)


def save_recording(rec: Recording, path) -> None:
    """Spike counts (and rasters when recorded) as an NPZ of plain arrays."""
    arrays = {}
    for kind in ("per_step", "per_neuron", "per_sample", "raster"):
        for name, arr in getattr(rec, kind).items():
            arrays[f"{kind}/{name}"] = arr.cpu().numpy()
    np.savez_compressed(path, **arrays)
