"""How good is the EqProp update? Compare it with the true gradient of the cost at the free
equilibrium, computed by implicit differentiation, and with backprop-through-time."""

from __future__ import annotations

import torch

from neurotep.backends.torch import SimState, TorchNetwork
from neurotep.learning.bptt import bptt_gradients, cost, named_parameters
from neurotep.learning.eqprop import EqPropConfig, eqprop_gradients
from neurotep.neurons import RingBuffer


def _equilibrium_map(net: TorchNetwork, x: torch.Tensor, s: dict, weights: dict) -> dict:
    """One step of the dynamics from ``s`` with every history tap (buffers) also holding ``s``,
    gates open: its fixed points are the network's equilibria (gates only change the speed)."""
    inp = net.graph.meta["input"]
    full = {**s, inp: x}
    st = SimState(0, full, {}, {k: RingBuffer(net.history_depth[k], v) for k, v in full.items()})
    new = net.step(st, {inp: x}, weights, drive=net.static_drive({inp: x}, weights), gates=False)
    return {k: new.out[k] for k in s}


def implicit_gradients(net: TorchNetwork, x: torch.Tensor, target: torch.Tensor, free_out: dict,
                       max_iter: int = 5000, tol: float = 1e-10) -> dict[str, torch.Tensor]:
    """dL/dtheta at the equilibrium ``free_out`` by the implicit function theorem.

    The adjoint ``lam = dL/ds + J^T lam`` is solved by fixed-point iteration (it converges when
    the forward relaxation does); then ``dL/dtheta = lam^T dPhi/dtheta``.
    """
    g = net.graph
    names = [p.name for p in g.state_populations()]
    s = {k: free_out[k].detach().clone().requires_grad_(True) for k in names}
    weights = net.effective_weights()
    phi = _equilibrium_map(net, x, s, weights)
    loss = cost(s[g.meta["output"]], target)
    dl = torch.autograd.grad(loss, [s[k] for k in names], allow_unused=True)
    dl = [d if d is not None else torch.zeros_like(s[k]) for d, k in zip(dl, names)]
    lam = [d.clone() for d in dl]
    outs = [phi[k] for k in names]
    for _ in range(max_iter):
        jt = torch.autograd.grad(outs, [s[k] for k in names], grad_outputs=lam, retain_graph=True, allow_unused=True)
        new = [d + (j if j is not None else 0.0) for d, j in zip(dl, jt)]
        delta = max(float((a - b).abs().max()) for a, b in zip(new, lam))
        lam = new
        if delta < tol:
            break
    keys, params = named_parameters(net)
    grads = torch.autograd.grad(outs, params, grad_outputs=lam, allow_unused=True)
    return {k: (gr if gr is not None else torch.zeros_like(p)) for k, gr, p in zip(keys, grads, params)}


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.flatten().double(), b.flatten().double(), dim=0))


def compare_gradients(net: TorchNetwork, x: torch.Tensor, target: torch.Tensor, beta: float,
                      free_steps: int = 5000, nudge_steps: int = 5000, tol: float = 1e-9,
                      bptt_steps: int | None = None) -> dict:
    """Cosine similarity of the EqProp update with the implicit gradient (and with BPTT over
    ``bptt_steps`` steps when given), per parameter. Use a float64 network for tight numbers."""
    cfg = EqPropConfig(beta=beta, free_steps=free_steps, nudge_steps=nudge_steps, tol=tol)
    ep, info, free = eqprop_gradients(net, x, target, cfg)
    true = implicit_gradients(net, x, target, free.out)
    rows = {k: {"cos_eqprop_implicit": cosine(ep[k], true[k]),
                "rel_norm": float(ep[k].norm() / true[k].norm().clamp_min(1e-30))} for k in ep}
    if bptt_steps:
        bp, _ = bptt_gradients(net, x, target, bptt_steps)
        for k in rows:
            rows[k]["cos_bptt_implicit"] = cosine(bp[k], true[k])
            rows[k]["cos_eqprop_bptt"] = cosine(ep[k], bp[k])
    return {"beta": beta, "free_steps": info.free_steps, "nudge_steps": [info.plus_steps, info.minus_steps], "params": rows}
