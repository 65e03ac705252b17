"""EqProp training on Lava: the rate network learns inside one continuous Lava simulation.

Every connection whose learning rule is ``eqprop`` becomes an :class:`EqPropSynapses` process
(one tied matrix for both directions, shared by the batch copies); rate populations become
:class:`RateUnits` that take the target (output population) and learn their bias; a
:class:`BatchSource` plays mini-batch ``k`` during cycle ``k`` of the phase schedule (free, +beta,
free, -beta; :mod:`neurotep.graph.phases`). Plain SGD: the update is applied at the end of each
cycle, on the chip, with no optimiser state. Toroidal buffers, 1-D or N-D, keep their decays
fixed; learned decays (``learn=True``) and probabilistic gates are refused with a BackendError.
"""

from __future__ import annotations

import copy

import numpy as np

from neurotep.backends.lava.plan import _OURS, LavaPlan, LinkSpec, ProcSpec, torus_spec
from neurotep.errors import BackendError
from neurotep.graph import RATE_MODELS, Graph
from neurotep.graph.phases import PhaseSchedule


def check_trainable(graph: Graph) -> None:
    """Raise a :class:`BackendError` naming what EqProp on Lava cannot honour (before any run)."""
    graph.validate()
    for p in graph.state_populations():
        if p.model not in RATE_MODELS:
            raise BackendError(f"population {p.name!r} is {p.model}: EqProp on Lava trains rate networks; "
                               "train first, then run the spiking form")
        if float(p.param("gate")) < 1.0:
            # The torch path forks the free state for each nudged phase and keys the gates by its
            # own step counter; the Lava schedule runs free, +beta, free, -beta continuously, so the
            # gate draws (and hence the finite-time updates) could not match.
            raise BackendError(f"population {p.name!r} has a probabilistic gate ({p.param('gate')}): EqProp on Lava "
                               "does not support gated rate units; train it on the torch path, or set gate=1")
        if float(p.param("noise")) > 0:
            # Same reason: the noise schedule is keyed by the step within one relaxation, which the
            # continuous free/+beta/free/-beta schedule does not restart (DiffTorEqProp).
            raise BackendError(f"population {p.name!r} has Langevin noise ({p.param('noise')}): EqProp on Lava does not "
                               "support noisy rate units; train it on the torch path, then run it on Lava")
    for c in graph.connections:
        if c.delay != 1:
            raise BackendError(f"connection {c.name!r}: EqProp on Lava needs delay 1, got {c.delay}")
        if c.learning is not None and c.learning.kind != "eqprop":
            raise BackendError(f"connection {c.name!r} learns by the {c.learning.kind!r} rule: training on Lava runs "
                               "EqProp only; train it on the torch path, then run it on Lava")
    for b in graph.buffers:
        if b.learn:
            raise BackendError(f"buffer {b.name!r} learns its decays (learn=True): EqProp on Lava learns weights and "
                               "biases only; train it on the torch path, or set learn=False (N-D buffers with fixed "
                               "decays are supported)")


def compile_training(graph: Graph, batches_x: np.ndarray, batches_t: np.ndarray, schedule: PhaseSchedule,
                     steps: int) -> LavaPlan:
    """Plan for EqProp training of a rate graph on ``batches_x`` (n_batches, B, N_in) with
    targets ``batches_t`` (n_batches, B, N_out), for ``steps`` steps."""
    check_trainable(graph)
    inp, out = graph.meta["input"], graph.meta["output"]
    batch = batches_x.shape[1]
    sched = schedule.as_dict()
    procs, links, holder = [], [], {}
    procs.append(ProcSpec("source", "batch_source", _OURS + "BatchSource", (batch * graph.populations[inp].size,),
                          params=dict(period=schedule.period), arrays=dict(x=batches_x, target=batches_t), population=inp))
    holder[inp] = "source"
    for p in graph.state_populations():
        bias = np.tile(p.bias, batch) if p.bias is not None else np.zeros(batch * p.size)
        procs.append(ProcSpec(f"pop_{p.name}", "rate", _OURS + "RateUnits", (batch * p.size,), population=p.name,
                              params=dict(model=p.model, damping=float(p.param("damping")),
                                          schedule=dict(sched, batch=batch, steps=steps, nudged=p.name == out)),
                              arrays=dict(bias=bias)))
        holder[p.name] = f"pop_{p.name}"
    links.append(LinkSpec("source", "target_out", holder[out], "target_in"))
    for c in graph.connections:
        w = c.weight * c.mask if c.mask is not None else c.weight
        name = f"syn_{c.name}"
        learn = c.learning is not None and c.learning.kind == "eqprop"
        procs.append(ProcSpec(name, "eqprop_syn", _OURS + "EqPropSynapses", w.shape,
                              params=dict(batch=batch, symmetric=c.symmetric, steps=steps,
                                          schedule=dict(sched, lr=sched["lr"] if learn else 0.0)),
                              arrays=dict(weights=np.asarray(w, dtype=np.float64))))
        links += [LinkSpec(holder[c.pre], "s_out", name, "pre_in"), LinkSpec(holder[c.post], "s_out", name, "post_in"),
                  LinkSpec(name, "a_out", holder[c.post], "a_in")]
        if c.symmetric:
            links.append(LinkSpec(name, "a_out_pre", holder[c.pre], "a_in"))
    for b in graph.buffers:  # 1-D or N-D (fixed decays): the same process as inference
        procs.append(torus_spec(graph, b, batch))
        links += [LinkSpec(holder[b.population], "s_out", f"torus_{b.population}", "s_in"),
                  LinkSpec(f"torus_{b.population}", "a_out", holder[b.population], "a_in")]
    return LavaPlan(procs, links, batch, "float", holder, {})


def apply_learned(graph: Graph, arrays: dict[str, dict[str, np.ndarray]]) -> Graph:
    """A copy of ``graph`` with the weights and biases the Lava run wrote (``arrays[proc name]``)."""
    g = copy.deepcopy(graph)
    for c in g.connections:
        c.weight = np.array(arrays[f"syn_{c.name}"]["weights"])
    for p in g.state_populations():
        if p.bias is not None:
            p.bias = np.array(arrays[f"pop_{p.name}"]["bias"])
    return g.validate()


def train_on_lava(graph: Graph, x: np.ndarray, y_onehot: np.ndarray, epochs: int = 1, batch: int = 32,
                  schedule: PhaseSchedule | None = None, seed: int = 0, timeout: float | None = None):
    """Train ``graph`` by EqProp inside one Lava simulation over ``epochs`` passes of (x, y).

    Mini-batches are drawn without replacement each epoch (the last partial batch is dropped).
    Returns ``(trained graph, info)``; ``info["first_update"]`` holds each connection's update
    of the first cycle (for comparison with the torch path).
    """
    from neurotep.backends.lava.runner import DEFAULT_TIMEOUT, execute

    check_trainable(graph)  # fail here, in one line, rather than in the worker
    schedule = schedule or PhaseSchedule(free=60, nudge=30, beta=graph.meta.get("hyperparameters", {}).get("beta", 0.5), lr=0.05)
    if len(x) < batch:
        raise BackendError(f"need at least one full batch of {batch} samples, got {len(x)}")
    rs = np.random.default_rng(seed)
    order = np.concatenate([rs.permutation(len(x))[: len(x) // batch * batch] for _ in range(epochs)])
    bx = x[order].reshape(-1, batch, x.shape[1]).astype(np.float64)
    bt = y_onehot[order].reshape(-1, batch, y_onehot.shape[1]).astype(np.float64)
    steps = len(bx) * schedule.period
    spec = dict(kind="train", steps=steps, tag="floating_pt", schedule=schedule.as_dict())
    res, records = execute(graph, {"x": bx, "target": bt}, spec, timeout or DEFAULT_TIMEOUT)
    trained = apply_learned(graph, records)
    info = dict(res, cycles=len(bx), steps=steps, schedule=schedule.as_dict(),
                first_update={c.name: records[f"syn_{c.name}"]["first_update"] for c in graph.connections})
    trained.meta.setdefault("training", {}).update(method="eqprop-lava", epochs=epochs, batch_size=batch,
                                                  schedule=schedule.as_dict(), seed=seed)
    return trained, info
