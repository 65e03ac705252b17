"""Backprop-through-time on the same architecture: the baseline EqProp is measured against.

The relaxation runs a fixed number of steps with autograd recording every one of them, so its
memory grows linearly with the number of steps (that is the point of the comparison).
"""

from __future__ import annotations

import torch

from neurotep.backends.torch import TorchNetwork


def cost(y: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``||y - target||^2 / 2`` (the cost EqProp nudges with)."""
    return 0.5 * ((y - target) ** 2).sum(1).mean()


def named_parameters(net: TorchNetwork) -> tuple[list[str], list[torch.nn.Parameter]]:
    """Every trainable parameter with its gradient name (as in EqProp's gradients)."""
    named = ([(f"weight:{k}", p) for k, p in net.weights.items()] + [(f"bias:{k}", p) for k, p in net.biases.items()]
             + [(f"torus:{k}", p) for k, p in net.torus.items()])
    return [n for n, _ in named], [p for _, p in named]


def bptt_gradients(net: TorchNetwork, x: torch.Tensor, target: torch.Tensor, steps: int):
    """Gradients of :func:`cost` after ``steps`` relaxation steps from the zero state, with the
    same names as :func:`neurotep.learning.eqprop.eqprop_gradients`; also the final output."""
    g = net.graph
    st, _ = net.relax({g.meta["input"]: x}, steps, tol=None)
    loss = cost(st.out[g.meta["output"]], target)
    names, params = named_parameters(net)
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    y = st.out[g.meta["output"]]
    return {n: (gr if gr is not None else torch.zeros_like(p)) for n, gr, p in zip(names, grads, params)}, y
