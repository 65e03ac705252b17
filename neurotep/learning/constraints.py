"""Constraints a graph asks training to keep after every optimiser step, read from the graph itself.

``graph.meta["spectral"] = {"connections": [...], "bound": sigma_max, ...}`` asks for spectral
normalisation (TEP-SSR sets it to keep its energy strongly convex: see
:mod:`neurotep.variants.tepssr`). Training applies it from the graph, not from the variant, so
:mod:`neurotep.learning` never imports :mod:`neurotep.variants`.
"""

from __future__ import annotations

import torch


def spectral_normalise(net) -> None:
    """Spectral normalisation after an optimiser step: rescale each connection listed in
    ``net.graph.meta["spectral"]`` whose largest singular value exceeds the bound back onto it."""
    spec = net.graph.meta.get("spectral")
    if not spec:
        return
    with torch.no_grad():
        for name in spec["connections"]:
            w = net.weights[name]
            sigma = float(torch.linalg.matrix_norm(w.double(), 2))
            if sigma > spec["bound"]:
                w.mul_(spec["bound"] / sigma)
