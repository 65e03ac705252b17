"""Graph-to-graph transforms."""

from __future__ import annotations

import copy

from neurotep.errors import GraphError
from neurotep.graph.graph import Graph


def rate_to_spiking(graph: Graph, neuron: str = "lif", temperature: float = 0.1, seed: int = 0) -> Graph:
    """The spiking mode of a rate network, with the same weights.

    Hard-sigmoid units become integrate-and-fire neurons (``beta = 1``, threshold 1, subtractive
    reset) whose firing rate approaches ``clip(input, 0, 1)``, the hard-sigmoid itself; with
    ``neuron="stochastic"`` they become HTSEP's stochastic neurons instead. Linear output units stay
    graded leaky integrators (Loihi 2 graded spikes). Toroidal buffers then recirculate spikes.
    """
    g = copy.deepcopy(graph)
    for p in g.populations.values():
        if p.model == "hard_sigmoid":
            if neuron == "lif":
                p.model, p.params = "lif", {"beta": 1.0, "threshold": 1.0, "reset": "subtract"}
            elif neuron == "stochastic":
                p.model, p.params = "stochastic", {"beta": 1.0, "threshold": 1.0, "temperature": temperature,
                                                   "reset": "subtract", "seed": seed}
            else:
                raise GraphError(f"unknown spiking neuron {neuron!r}: use lif or stochastic")
        elif p.model == "tanh":
            raise GraphError(f"population {p.name!r}: tanh units have negative outputs and no spiking equivalent; use hard_sigmoid")
    g.meta["mode"] = "spiking"
    return g.validate()
