"""How a graph's connections are applied on the torch path: the order in which populations
update within a step (delay-0 sources first) and a population's input current (synapses,
toroidal-buffer feedback and bias, summed in Lava's order)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from neurotep.errors import BackendError
from neurotep.graph import Graph
from neurotep.neurons import torus_feedback
from neurotep.backends.torch.accumulate import event_matmul, sparse_matmul
from neurotep.backends.torch.state import SimState

if TYPE_CHECKING:  # annotations only: the network calls into this module
    from neurotep.backends.torch.network import TorchNetwork


def input_current(net: TorchNetwork, st: SimState, name: str, new: dict, weights: dict, drive: dict | None,
                  bias: bool = True) -> torch.Tensor:
    """Synaptic input + toroidal buffer feedback + bias of population ``name`` at this step
    (``bias=False``: without it, for a neuron that adds its bias after integrating, SigmaDelta).

    Without ``drive`` the terms are added in Lava's order: the incoming connections in graph
    order, then the buffer (a Lava InPort sums its connections in that order), then the bias (the
    neuron models' ``a_in.recv() + bias``), so float64 runs round like Lava's float models."""
    u = drive.get(name) if drive is not None else None
    for c, transposed in net._incoming[name]:
        src = c.post if transposed else c.pre
        if drive is not None and not transposed and net.graph.populations[src].model == "input":
            continue  # already in the static drive
        x = new[src] if c.delay == 0 else st.hist[src].tap(c.delay - 1)
        term = None
        if c.name in net._diagonal:  # one-to-one synapses (e.g. TPEqProp's identities): same sums, no dense matmul
            term = x * torch.diagonal(weights[c.name])
        elif (c.name, transposed) in net._csr:  # few synapses: the sparse matrix (inference runs)
            term = sparse_matmul(x, net._csr[(c.name, transposed)])
        elif (c.name, transposed) in net._events:  # a large spike source: a sparse product, when few fired
            term = event_matmul(x, net._events[(c.name, transposed)], net.event_max)
        if term is None:
            term = x @ weights[c.name] if transposed else x @ weights[c.name].T
        if transposed and c.feedback != 1.0:  # scaled feedback direction (predictive coding)
            term = c.feedback * term
        u = term if u is None else u + term
    if name in net._buffers:
        taps, kernel = weights.get(f"torus:{name}") or net.torus_weights()[name]
        fb = torus_feedback(st.hist[name], taps, kernel)
        u = fb if u is None else u + fb
    if bias and drive is None and name in net.biases:
        u = net.biases[name] if u is None else u + net.biases[name]
    if u is None:
        u = torch.zeros_like(st.out[name])
    elif u.dim() == 1:
        u = u.expand_as(st.out[name])
    return u


def update_order(graph: Graph) -> list[str]:
    """Populations in an order where every delay-0 source comes before its target (validation
    has excluded delay-0 cycles); inputs first, otherwise insertion order."""
    names = list(graph.populations)
    deps = {n: set() for n in names}
    for c in graph.connections:
        if c.delay == 0:
            deps[c.post].add(c.pre)
    order, done = [], set()
    pending = sorted(names, key=lambda n: graph.populations[n].model != "input")
    while pending:
        for n in pending:
            if deps[n] <= done:
                order.append(n)
                done.add(n)
                pending.remove(n)
                break
        else:  # pragma: no cover - validate() rejects delay-0 cycles
            raise BackendError("delay-0 cycle in graph")
    return order


def is_diagonal(mask) -> bool:
    """Whether a connection's mask keeps exactly the diagonal of a square matrix."""
    return mask is not None and mask.ndim == 2 and mask.shape[0] == mask.shape[1] and \
        int(mask.sum()) == int(mask.trace()) == mask.shape[0]
