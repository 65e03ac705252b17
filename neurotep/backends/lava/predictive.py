"""TPEqProp's single-phase learning on Lava (floating point): the error units, the clamped
relaxation and the local update all run inside one Lava simulation.

The clamped network is the inference plan of :func:`~neurotep.backends.lava.plan.compile_graph`
for a copy of the graph whose output is an input population (it plays the target, as ``x`` plays
the image: clamping is a source on a chip, not a state copy), with every ``predictive``
connection replaced by a :class:`~neurotep.backends.lava.procs.predictive.PredictiveSynapses`
process that holds ``W`` and ``b`` for both directions and applies the update at the end of each
clamped phase of ``period`` steps. Mini-batch ``k`` is played during phase ``k``. Plain SGD, no
optimiser state. Phase ``k + 1`` starts from phase ``k``'s state (a chip does not reset), so only
the first phase's update is the torch path's exactly; later ones differ by where the relaxation
starts, not by where it ends (the equilibrium is unique).

This module only trains; ``neurotep train --backend lava`` (training, then evaluation with the
runner) is :mod:`neurotep.lava_training`.
"""

from __future__ import annotations

import copy

import numpy as np

from neurotep.backends.lava.plan import LavaPlan, LinkSpec, ProcSpec, compile_graph
from neurotep.errors import BackendError
from neurotep.graph import Graph, Population
from neurotep.graph.rules import is_predictive

_SYN = "neurotep.backends.lava.procs.predictive.PredictiveSynapses"


def clamped_graph(graph: Graph) -> Graph:
    """``graph`` with its output clamped: the output becomes an input population (its self- and
    feedback connections go: an input takes no drive), and the readout is the top error."""
    out = graph.meta["output"]
    g = copy.deepcopy(graph)
    g.populations[out] = Population(out, graph.populations[out].size, "input")
    g.connections = [c for c in g.connections if c.post != out]
    for c in g.connections:
        if out in (c.pre, c.post) and c.symmetric:
            c.symmetric, c.feedback = False, 1.0
    g.buffers = [b for b in g.buffers if b.population != out]
    g.probes = [p for p in g.probes if p.population != out]
    g.meta = dict(g.meta, output=g.meta["errors"][-1])
    return g.validate()


def compile_predictive_training(graph: Graph, batch: int, period: int, lr: float, steps: int) -> LavaPlan:
    """The clamped inference plan with learning synapses in place of the learned connections."""
    if not is_predictive(graph):
        raise BackendError("predictive training on Lava needs a graph whose connections learn by the predictive rule")
    g = clamped_graph(graph)
    plan = compile_graph(g, batch=batch, spiking_inputs=False, record=[])
    learned = {c.name: c for c in g.connections if c.learning is not None}
    gone = {f"conn_{n}" for n in learned} | {f"conn_{n}_T" for n in learned}
    procs = [p for p in plan.procs if p.name not in gone]
    links = [lk for lk in plan.links if lk.src not in gone and lk.dst not in gone]
    pi, top = graph.meta["precision"], graph.meta["errors"][-1]
    for name, c in learned.items():
        value = graph.meta["error_of"][c.post]
        post = next(p for p in procs if p.name == plan.populations[c.post])
        post.arrays["bias"] = np.zeros_like(post.arrays["bias"])  # the synapses carry the prediction's bias
        sched = dict(period=period, lr=lr, scale=pi[c.post] / pi[top], lam=graph.meta["lam"][value],
                     gated=graph.populations[value].model == "hard_sigmoid", steps=steps)
        bias = graph.populations[c.post].bias
        procs.append(ProcSpec(f"syn_{name}", "predictive_syn", _SYN, c.weight.shape,
                              params=dict(batch=batch, symmetric=c.symmetric, feedback=float(c.feedback), schedule=sched),
                              arrays=dict(weights=np.asarray(c.weight, dtype=np.float64),
                                          bias=np.zeros(c.weight.shape[0]) if bias is None else np.asarray(bias, dtype=np.float64))))
        links += [LinkSpec(plan.populations[c.pre], "s_out", f"syn_{name}", "pre_in"),
                  LinkSpec(plan.populations[c.post], "s_out", f"syn_{name}", "post_in"),
                  LinkSpec(plan.populations[value], "s_out", f"syn_{name}", "value_in"),
                  LinkSpec(f"syn_{name}", "a_out", plan.populations[c.post], "a_in")]
        if c.symmetric:
            links.append(LinkSpec(f"syn_{name}", "a_out_pre", plan.populations[c.pre], "a_in"))
    return LavaPlan(procs, links, batch, "float", plan.populations, {})


def train_predictive_on_lava(graph: Graph, x: np.ndarray, y_onehot: np.ndarray, batch: int = 32, period: int = 60,
                             lr: float = 0.05, epochs: int = 1, seed: int = 0, timeout: float | None = None):
    """Train ``graph`` by single-phase predictive learning inside one Lava simulation over ``epochs``
    passes (mini-batches without replacement; the last partial batch is dropped). Returns
    ``(trained graph, info)``; ``info["first_update"]`` holds each learned connection's first
    ``(dW, db)``."""
    from neurotep.backends.lava.runner import DEFAULT_TIMEOUT, execute

    if not is_predictive(graph):
        raise BackendError("predictive training on Lava needs a graph whose connections learn by the predictive rule")
    if len(x) < batch:
        raise BackendError(f"need at least one full batch of {batch} samples, got {len(x)}")
    if period < 2:
        raise BackendError(f"the clamped phase needs at least 2 steps, got {period}")
    rs = np.random.default_rng(seed)
    order = np.concatenate([rs.permutation(len(x))[: len(x) // batch * batch] for _ in range(epochs)])
    bx = x[order].reshape(-1, batch, x.shape[1]).astype(np.float64)
    bt = y_onehot[order].reshape(-1, batch, y_onehot.shape[1]).astype(np.float64)
    inp, out = graph.meta["input"], graph.meta["output"]
    frames = {inp: np.repeat(bx, period, axis=0), out: np.repeat(bt, period, axis=0)}  # batch k during phase k
    steps = len(bx) * period
    spec = dict(kind="train_predictive", batch=batch, period=period, lr=lr, steps=steps, tag="floating_pt")
    res, records = execute(graph, frames, spec, timeout or DEFAULT_TIMEOUT)
    trained = copy.deepcopy(graph)
    first = {}
    for c in trained.connections:
        if c.learning is not None:
            r = records[f"syn_{c.name}"]
            c.weight, trained.populations[c.post].bias = np.array(r["weights"]), np.array(r["bias"])
            first[c.name] = (r["first_dw"], r["first_db"])
    trained.meta.setdefault("training", {}).update(method="predictive-lava", epochs=epochs, batch_size=batch,
                                                  period=period, lr=lr, seed=seed, optimizer="sgd")
    return trained.validate(), dict(res, phases=len(bx), steps=steps, first_update=first)

