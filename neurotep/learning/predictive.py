"""Single-phase predictive-coding learning (TPEqProp, :mod:`neurotep.variants.tpeqprop`).

One relaxation per batch, with the input ``x`` clamped and the output ``y`` clamped to the target
(``y`` does not update: it holds the target, as an input would); at that predictive equilibrium
every connection whose rule is ``predictive`` feeds an error population ``e`` from a value
population ``h`` (``e = W h + b - value``), and its gradient estimate is::

    grad W = pi d h^T / precision        grad b = pi d / precision        (mean over the batch)
    d = (e + lam v) * 1[0 < e + v < 1 - lam]   (v: the value unit ``e`` compares; d = e for the output)

the error of one layer times the activity of the layer below it: local, no nudged phase, no
second state to keep. ``d`` is the error arriving from the layer above (see
:func:`gated_error` and the equations in :mod:`neurotep.variants.tpeqprop`); it vanishes at the
free equilibrium of a one-hidden-layer network, which is why one phase suffices. Everything
runs under ``torch.no_grad()``: no autograd graph through the relaxation, so memory does not grow
with the number of relaxation steps.

The training-time prediction (for loss and accuracy while training) is the top-down prediction
of the output at that equilibrium, ``W h_L + b = y + e_{L+1} = target + e_{L+1}``: the single
phase gives it for free.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from neurotep.backends.torch import SimState, TorchNetwork
from neurotep.graph.rules import is_predictive  # noqa: F401  (defined below the backends; public here too)


@dataclass
class PredictiveConfig:
    free_steps: int = 300  # inference (x clamped)
    clamp_steps: int = 300  # training's single phase (x and y clamped)
    tol: float = 1e-4

    @classmethod
    def from_meta(cls, meta: dict) -> "PredictiveConfig":
        hp = meta.get("hyperparameters", {})
        return cls(**{k: hp[k] for k in ("free_steps", "clamp_steps", "tol") if k in hp})


@dataclass
class PhaseInfo:
    free_steps: int  # the single clamped phase's steps (named like EqProp's, for the training loop)


def gated_error(graph, s: dict, err: str) -> torch.Tensor:
    """The learning signal ``d = (e + lam v) * 1[0 < mu < 1 - lam]`` of error population ``err``,
    with ``v`` the value unit it compares and ``mu = e + v`` the bottom-up prediction: the buffer's
    share ``lam v`` of dE/dv is added back, so only the error arriving from above remains, and it
    is zeroed where the unit is saturated (there the box, not the layer above, balances the
    error). The gate is the hard sigmoid's derivative at the unconstrained minimiser
    ``v = mu / (1 - lam)``, read from the two units beside the synapse; gating on ``v`` itself
    would miss units that approach a bound geometrically and never reach it. Linear values (the
    output) are not gated."""
    value = graph.meta["error_of"][err]
    lam, h = graph.meta["lam"][value], s[value]
    d = s[err] + lam * h
    if graph.populations[value].model != "hard_sigmoid":
        return d
    mu = s[err] + h
    return d * ((mu > 0) & (mu < 1 - lam)).to(d.dtype)


def clamped_phase(net: TorchNetwork, x: torch.Tensor, target: torch.Tensor, cfg: PredictiveConfig,
                  weights: dict | None = None) -> tuple[SimState, int]:
    """Relax with ``x`` and ``y = target`` clamped, from the zero state; returns (state, steps)."""
    g = net.graph
    inp, out = g.meta["input"], g.meta["output"]
    with torch.no_grad():
        st = net.init_state(x.shape[0], static={inp: x, out: target})
        active = frozenset(p.name for p in g.state_populations() if p.name != out)
        return net.relax({inp: x}, cfg.clamp_steps, cfg.tol, state=st, active=active, weights=weights)


def predictive_gradients(net: TorchNetwork, x: torch.Tensor, target: torch.Tensor, cfg: PredictiveConfig):
    """The single-phase gradient estimate (module docstring) at the clamped predictive equilibrium for
    every ``predictive`` connection and the biases of its error populations; names as in EqProp
    (``weight:<conn>``, ``bias:<pop>``).

    Returns ``(grads, PhaseInfo, state)``; ``state.out[output]`` is replaced by the top-down
    prediction of the output (see the module docstring)."""
    g = net.graph
    st, n = clamped_phase(net, x, target, cfg)
    s = st.out
    with torch.no_grad():
        grads = {}
        top_pi = g.meta["precision"][g.meta["errors"][-1]]
        for c in g.connections:
            if c.learning is None or c.learning.kind != "predictive":
                continue
            # precision-weighted, per unit of the output's precision (a global constant, like EqProp's 1/beta)
            err = gated_error(g, s, c.post) * (g.meta["precision"][c.post] / top_pi)
            gw = err.T @ s[c.pre] / x.shape[0]
            if c.mask is not None:
                gw = gw * net.masks[c.name]
            grads[f"weight:{c.name}"] = gw
            if c.post in net.biases:
                grads[f"bias:{c.post}"] = err.mean(0)
        out, top = g.meta["output"], g.meta["errors"][-1]
        pred = dict(s)
        pred[out] = target + s[top]
    return grads, PhaseInfo(n), SimState(st.t, pred, st.v, st.hist)
