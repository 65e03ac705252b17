"""Equilibrium Propagation with symmetric nudging (Laborieux et al. 2021).

Free phase: relax to the energy minimum ``s*`` with the input clamped. Nudged phases: starting
from ``s*`` (toroidal buffers included: they are part of the state), relax with the output pulled
towards the target with strength ``+beta`` and ``-beta``. Each weight then moves by the contrast
of the products of the two neurons it connects::

    dL/dW ~= -(1 / 2 beta) * (post^+ pre^+T - post^- pre^-T)        (dE/dW = -post pre^T)

Everything runs under ``torch.no_grad()``: no autograd graph through the relaxation, so memory
does not grow with the number of relaxation steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from neurotep.backends.torch import Nudge, TorchNetwork


@dataclass
class EqPropConfig:
    beta: float = 0.5
    free_steps: int = 200
    nudge_steps: int = 60
    tol: float = 1e-4

    @classmethod
    def from_meta(cls, meta: dict) -> "EqPropConfig":
        hp = meta.get("hyperparameters", {})
        return cls(**{k: hp[k] for k in ("beta", "free_steps", "nudge_steps", "tol") if k in hp})


@dataclass
class PhaseInfo:
    free_steps: int
    plus_steps: int
    minus_steps: int


def free_phase(net: TorchNetwork, x: torch.Tensor, cfg: EqPropConfig):
    """Relax with the input clamped; returns (state, steps)."""
    with torch.no_grad():
        return net.relax({net.graph.meta["input"]: x}, cfg.free_steps, cfg.tol)


def eqprop_gradients(net: TorchNetwork, x: torch.Tensor, target: torch.Tensor, cfg: EqPropConfig):
    """Estimate the gradient of the mean cost ``||y - target||^2 / 2`` for every parameter of the
    connections whose learning rule is ``eqprop`` and for the biases.

    Returns ``({parameter name: gradient}, PhaseInfo, free state)``; gradient names are
    ``weight:<connection>``, ``bias:<population>`` and ``torus:<population>`` (learned buffer
    decays, as logits), and ``noise:<population>`` (adapted Langevin noise scales, as logs: a local
    rule, not a gradient, see :func:`_noise_updates`).
    """
    g = net.graph
    inp, out = g.meta["input"], g.meta["output"]
    with torch.no_grad():
        weights = net.effective_weights()
        free, n0 = net.relax({inp: x}, cfg.free_steps, cfg.tol, weights=weights)
        states, steps = {}, []
        for sign in (1.0, -1.0):
            start = free.fork()
            st, n = net.relax({inp: x}, cfg.nudge_steps, cfg.tol, state=start,
                              nudge=Nudge(out, sign * cfg.beta, target), weights=weights)
            states[sign], steps = st.out, steps + [n]
        plus, minus = states[1.0], states[-1.0]
        scale = -1.0 / (2.0 * cfg.beta * x.shape[0])
        grads = {}
        for c in g.connections:
            if c.learning is None or c.learning.kind != "eqprop":
                continue
            gw = scale * (plus[c.post].T @ plus[c.pre] - minus[c.post].T @ minus[c.pre])
            if c.mask is not None:
                gw = gw * net.masks[c.name]
            grads[f"weight:{c.name}"] = gw
        for name in net.biases:
            grads[f"bias:{name}"] = scale * (plus[name] - minus[name]).sum(0)
    grads.update(_torus_gradients(net, plus, minus, -scale))
    grads.update(_noise_updates(net, plus, minus, cfg.beta))
    return grads, PhaseInfo(n0, steps[0], steps[1]), free


def buffer_energy(net: TorchNetwork, pop: str, s: torch.Tensor, torus: dict | None = None) -> torch.Tensor:
    """A toroidal buffer's energy term per sample at equilibrium (every tap holds ``s``):
    ``-1/2 (sum_j w_j) s.S s``; differentiable in learned decays."""
    taps, kernel = (torus or net.torus_weights())[pop]
    total = sum(taps)
    return -0.5 * total * (((s @ kernel) if kernel is not None else s) * s).sum(1)


def _torus_gradients(net: TorchNetwork, plus: dict, minus: dict, scale: float) -> dict[str, torch.Tensor]:
    """EqProp estimate for learned buffer decays: ``scale * (dE/dtheta(s+) - dE/dtheta(s-))``,
    the same contrast as for weights, with dE/dtheta taken by autograd on the buffer's energy term
    alone (it is local: it needs only the population's own state)."""
    grads = {}
    if not len(net.torus):
        return grads
    with torch.enable_grad():
        torus = net.torus_weights()
        for pop, param in net.torus.items():
            e = (buffer_energy(net, pop, plus[pop], torus) - buffer_energy(net, pop, minus[pop], torus)).sum()
            grads[f"torus:{pop}"] = scale * torch.autograd.grad(e, param, retain_graph=True)[0]
    return grads


def _noise_updates(net: TorchNetwork, plus: dict, minus: dict, beta: float) -> dict[str, torch.Tensor]:
    """DiffTorEqProp's learnable Langevin noise scales. The noise is not in the energy, so EqProp
    gives it no gradient; this is a local heuristic instead, stated as such: the nudged phases
    measure how far the target moves each unit, ``d = mean |s+ - s-| / (2 beta)`` (the sensitivity
    of the equilibrium to the cost: large where the data leave the prediction uncertain), and the
    "gradient" ``log eta - log(noise_gain * d)`` lets the optimiser move ``log eta`` towards that
    target. Keys ``noise:<population>``."""
    out = {}
    for pop, log_eta in net.noise.items():
        gain = float(net.graph.populations[pop].param("noise_gain"))
        d = float((plus[pop] - minus[pop]).abs().mean()) / (2.0 * beta)
        target = torch.as_tensor(max(gain * d, 1e-6), dtype=log_eta.dtype, device=log_eta.device)
        out[f"noise:{pop}"] = (log_eta.detach() - target.log()).reshape(log_eta.shape)
    return out


def parameter(net: TorchNetwork, key: str) -> torch.nn.Parameter:
    """The parameter behind a gradient name (``weight:``, ``bias:``, ``torus:`` or ``noise:``)."""
    kind, name = key.split(":", 1)
    return {"weight": net.weights, "bias": net.biases, "torus": net.torus,
            "noise": getattr(net, "noise", {})}[kind][name]


def apply_gradients(net: TorchNetwork, grads: dict[str, torch.Tensor]) -> None:
    """Write gradients into ``.grad`` so any torch optimiser can take the step."""
    for key, gr in grads.items():
        param = parameter(net, key)
        param.grad = gr.to(param.dtype)

