"""Instantiate a :class:`~neurotep.backends.lava.plan.LavaPlan` as connected Lava processes."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix

from neurotep.backends.lava.plan import LavaPlan


def _cls(path: str):
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def build(plan: LavaPlan, inputs: dict[str, np.ndarray], steps: int, record_dir: Path) -> dict:
    """Create every process of ``plan`` and connect them. ``inputs[pop]`` is the input played by
    the source of input population ``pop``, shape (frames, batch, N); Lava's source plays the
    frames cyclically, so one frame is a constant input. Returns processes by name."""
    procs = {}
    for spec in plan.procs:
        cls = _cls(spec.lava_class)
        if spec.kind == "source":
            data = inputs[spec.population]
            procs[spec.name] = cls(data=data.reshape(data.shape[0], -1).T.astype(np.float64))
        elif spec.kind == "lif":
            procs[spec.name] = cls(shape=spec.shape, name=spec.name, **spec.params, **spec.arrays)
        elif spec.kind == "sigma":
            procs[spec.name] = cls(shape=spec.shape)
        elif spec.kind == "sigma_delta":
            from lava.proc.sdn.process import ActivationMode

            params = dict(spec.params, act_mode=ActivationMode(spec.params["act_mode"]))
            procs[spec.name] = cls(shape=spec.shape, **params, **spec.arrays)
        elif spec.kind == "boltzmann":  # lava-optimization's NEBM; seed: see below
            params = {k: v for k, v in spec.params.items() if k != "seed"}
            procs[spec.name] = cls(shape=spec.shape, **params, **spec.arrays)
        elif spec.kind == "dense":
            procs[spec.name] = cls(weights=spec.arrays["weights"], name=spec.name, **spec.params)
        elif spec.kind in ("sparse", "delay_sparse"):
            params = dict(spec.params)
            weights = csr_matrix(spec.arrays["weights"])  # no-op if sparse
            weights.eliminate_zeros()
            if spec.kind == "delay_sparse":
                # A sparse delay matrix with the weights' pattern: given an int, Lava expands it to a
                # dense (post, pre) matrix that its model compares against every delay at every step
                # (hours for a batch of 64 copies); sparse, the same arithmetic takes milliseconds.
                delays = weights.copy().astype(int)  # Lava checks for the int dtype itself
                delays.data[:] = int(params.pop("delay"))
                params["delays"] = delays
            procs[spec.name] = cls(weights=weights, name=spec.name, **params)
        elif spec.kind == "recorder":
            procs[spec.name] = cls(shape=spec.shape, steps=steps, path=str(record_dir / f"{spec.population}.npz"), **spec.params)
        elif spec.kind in ("batch_source", "eqprop_syn"):
            params = dict(spec.params)
            if spec.kind == "eqprop_syn":
                params["path"] = str(record_dir / f"{spec.name}.npz")
            procs[spec.name] = cls(**params, **spec.arrays)
        else:  # neurotep's own neuron and buffer processes
            params = dict(spec.params)
            if params.get("record"):  # counted inside the process, written at the last step
                params["record"] = dict(params["record"], steps=steps, path=str(record_dir / f"{spec.population}.npz"))
            if params.get("schedule"):  # learning rate units write their bias at the end
                params["schedule"] = dict(params["schedule"], path=str(record_dir / f"{spec.name}.npz"))
            procs[spec.name] = cls(shape=spec.shape, **params, **spec.arrays)
    for link in plan.links:
        getattr(procs[link.src], link.src_port).connect(getattr(procs[link.dst], link.dst_port))
    seeds = {spec.params["seed"] for spec in plan.procs if spec.kind == "boltzmann"}
    if seeds:  # NEBM draws from numpy's global generator, in processes Lava forks from this one at run()
        np.random.seed(seeds.pop())
    return procs
