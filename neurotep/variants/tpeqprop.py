"""TPEqProp: toroidal predictive Equilibrium Propagation (seed 002), a predictive-coding network.

Value populations ``h_1..h_L`` (hard-sigmoid rate units, each with a toroidal buffer as in the
base model) and the output ``y`` (linear) are joined through **prediction-error populations**
``e_1..e_{L+1}`` (linear, damping 1, one per predicted layer; ``h_0 = x``, ``h_{L+1} = y``)::

    e_l = W_l h_{l-1} + b_l - h_l            (prediction minus value; Whittington & Bogacz 2017)

The energy is the seed's hierarchical predictive energy plus the buffers' term::

    E(h) = sum_{l=1}^{L+1} pi_l/2 ||e_l||^2  -  sum_{l=1}^{L} lam/2 ||h_l||^2
    pi_l = 1 (hidden), pi_{L+1} = precision (the output error's weight)
    lam  = buffer_gain * sum_{j<K} buffer_decay^j

with ``h_l`` in the hard-sigmoid's box [0, 1] (hidden) and ``y`` free. In graph terms:

* ``W_<h_{l-1}>_e<l>`` carries ``+W_l`` forward (``b_l`` is ``e_l``'s bias) and is symmetric with
  ``feedback = -eta pi_l``: it drives ``h_{l-1}`` by ``-eta pi_l W_l^T e_l`` (one weight, two
  signs: :attr:`neurotep.graph.Connection.feedback`);
* ``I_<h_l>_e<l>`` carries ``-I`` forward (fixed) with ``feedback = -eta``: ``+eta e_l`` into ``h_l``;
* ``S_<h_l>`` (fixed self-connection ``+I``) and the toroidal buffer (gain ``eta * buffer_gain``).

So each hidden value's input is ``u_l = h_l - eta dE/dh_l`` (``dE/dh_l = -e_l + pi_{l+1}
W_{l+1}^T e_{l+1} - lam h_l``), and ``y``'s is ``y - (eta / precision) dE/dy``, and the rate
dynamics ``h <- (1 - a) h + a clip(u)`` are a damped projected-gradient iteration on ``E`` over
the box (with a positive diagonal step per population). Its fixed points satisfy
``h = clip(h - D dE/dh)``, exactly the KKT conditions of ``min_{h in box} E``. ``E`` is a convex
quadratic: its Hessian is ``B^T P B - lam I`` with ``B`` the block-triangular map from states to
errors, whose diagonal blocks are ``-I`` (so ``B`` is invertible) and ``P = diag(pi)``; whenever
its smallest eigenvalue is positive the minimum is unique and it is the only fixed point.
:func:`spectrum` checks that at build time (recorded in ``meta["spectrum"]``). The error units
see the values one step late (every connection has delay 1, as on Loihi), which changes the
path, not the fixed points.

**Inference** clamps ``x`` and relaxes: ``y`` settles where ``e_{L+1} = 0``, on the top-down
prediction. **Learning** is single-phase and local (:mod:`neurotep.learning.predictive`): clamp
``x`` and ``y = target``, relax once to the predictive equilibrium, then move each prediction
weight by the error of one layer times the activity of the layer below::

    dW_l = -lr pi_l d_l h_{l-1}^T / precision,    db_l = -lr pi_l d_l / precision,
    d_l  = (e_l + lam h_l) * 1[0 < mu_l < 1 - lam]    (hidden; d_{L+1} = e_{L+1})
    mu_l = e_l + h_l = W_l h_{l-1} + b_l              (the bottom-up prediction)

At any equilibrium an unsaturated hidden unit has ``e_l + lam h_l = pi_{l+1} W_{l+1}^T
e_{l+1}``: ``d_l`` is the error arriving from above, the backpropagated error times the hard
sigmoid's derivative at the unconstrained minimiser ``mu_l / (1 - lam)``, read from the two units
beside the synapse. It vanishes at the free equilibrium of a one-hidden-layer network, so the
one clamped phase needs no free phase to contrast with. With more hidden layers it does not:
the saturated units' errors of a middle layer also reach the layer below through ``W^T``, and
the lowest layer's update loses the gradient's direction (measured on digits, hidden (128, 64),
64 images, untrained: cosine 0.01 for ``W_x_e1``, 0.99 and 1.00 for the two above). The default,
like the base model, has one hidden layer. (``dE/dW_l = pi_l e_l h_{l-1}^T`` itself does not vanish there: saturated units
and the buffer keep errors at the free equilibrium, and descending them trains towards the box
instead of the target: measured cosine about 0 with the true gradient for the first layer.) A small
``precision`` makes the clamped equilibrium a small perturbation of the free one, where the
update tends to the true gradient (as EqProp's small beta does). With the seed's sign convention
``eps = -e`` this is the seed's ``+eps_l h_{l-1}^T``; its second term ``-eps_{l+1} h_l^T`` is the
update of ``W_{l+1}``, which the rule applies to that weight. No nudged phase.

**Spiking mode** (:func:`neurotep.graph.transforms.rate_to_spiking`): hidden values become
integrate-and-fire neurons; the signed errors and the output stay graded (Loihi 2's graded
spikes carry signed values), so no paired ``e+ / e-`` populations are needed.

**On Lava** (floating point) the rate and spiking forms run as any graph (the feedback scale goes
to the ``W.T`` process); training runs there too (:mod:`neurotep.backends.lava.predictive`: the
output becomes a source playing the target, and one process per prediction weight holds ``W`` for
both directions and applies the local update; why not ``LearningDense`` is written in
:mod:`neurotep.backends.lava.procs.predictive`; floating point). In fixed point (the spiking
form, as for every variant) the scaled feedback direction gets its own 8-bit mantissas and
exponent (:mod:`neurotep.quantize`), and the quantised torch path and Lava spike identically.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from neurotep.errors import GraphError
from neurotep.graph import Connection, Graph, LearningRule, Population, ToroidalBuffer

NAME = "tpeqprop"
DESCRIPTION = ("TPEqProp: predictive-coding TorEqProp with signed error populations, relaxed to the "
               "predictive equilibrium; single-phase local learning (no nudged phase)")

DEFAULTS = dict(
    hidden=(256,),
    damping=0.5,
    eta=0.5,
    precision=0.1,
    buffer_depth=4,
    buffer_decay=0.8,
    buffer_gain=0.02,
    free_steps=300,
    clamp_steps=300,
    tol=1e-4,
)


def _fail(msg: str):
    raise GraphError(f"tpeqprop: {msg}")


def build(n_in: int = 64, n_out: int = 10, seed: int = 0, hidden: Sequence[int] = DEFAULTS["hidden"],
          damping: float = DEFAULTS["damping"], eta: float = DEFAULTS["eta"],
          precision: float = DEFAULTS["precision"],
          buffer_depth: int = DEFAULTS["buffer_depth"], buffer_decay: float = DEFAULTS["buffer_decay"],
          buffer_gain: float = DEFAULTS["buffer_gain"], free_steps: int = DEFAULTS["free_steps"],
          clamp_steps: int = DEFAULTS["clamp_steps"], tol: float = DEFAULTS["tol"]) -> Graph:
    """Build a TPEqProp network with fresh prediction weights (uniform +-1/sqrt(fan_in), as the base
    model); the identity and self connections are fixed."""
    hidden = [int(h) for h in hidden]
    if not hidden or any(h < 1 for h in hidden):
        _fail(f"hidden must be a non-empty list of positive sizes, got {hidden}")
    for name, v in (("damping", damping), ("eta", eta), ("precision", precision)):
        if not (np.isfinite(v) and 0 < v <= 1):
            _fail(f"{name} must be in (0, 1], got {v!r}")
    if not (np.isfinite(buffer_gain) and buffer_gain >= 0):
        _fail(f"buffer_gain must be a finite number >= 0, got {buffer_gain!r}")
    rs = np.random.default_rng(seed)
    g = Graph()
    g.add(Population("x", n_in, "input"))
    rule = LearningRule("predictive", {})
    values = [f"h{i + 1}" for i in range(len(hidden))] + ["y"]
    sizes = [n_in, *hidden, n_out]
    errors = []
    for l, (h, size) in enumerate(zip(values, sizes[1:]), start=1):
        model = "linear" if h == "y" else "hard_sigmoid"
        g.add(Population(h, size, model, {"damping": damping}))
        g.add(Connection(f"S_{h}", h, h, np.eye(size), mask=np.eye(size, dtype=bool)))
        if h != "y" and buffer_depth > 0 and buffer_gain > 0:
            g.add(ToroidalBuffer(f"torus_{h}", h, buffer_depth, (buffer_decay,), eta * buffer_gain))
        e, prev = f"e{l}", ("x" if l == 1 else values[l - 2])
        bound = 1.0 / np.sqrt(sizes[l - 1])
        # damping 1: the error unit holds exactly its input, prediction minus value
        g.add(Population(e, size, "linear", {"damping": 1.0}, bias=rs.uniform(-bound, bound, size)))
        pi = precision if h == "y" else 1.0  # the output error's weight in the energy
        g.add(Connection(f"W_{prev}_{e}", prev, e, rs.uniform(-bound, bound, (size, sizes[l - 1])),
                         symmetric=prev != "x", feedback=-eta * pi if prev != "x" else 1.0, learning=rule))
        g.add(Connection(f"I_{h}_{e}", h, e, -np.eye(size), mask=np.eye(size, dtype=bool), symmetric=True,
                         feedback=-eta))
        errors.append(e)
    g.meta.update(
        variant=NAME, input="x", output="y", errors=errors, values=values,
        error_of=dict(zip(errors, values)),
        lam={h: (float(buffer_gain * sum(buffer_decay ** j for j in range(buffer_depth)))
                 if h != "y" and buffer_depth > 0 and buffer_gain > 0 else 0.0) for h in values}, precision={e: (precision if e == errors[-1] else 1.0) for e in errors},  # the value unit each error unit compares with its prediction
        hyperparameters=dict(n_in=n_in, n_out=n_out, seed=seed, hidden=hidden, damping=damping, eta=eta,
                             precision=precision, buffer_depth=buffer_depth, buffer_decay=buffer_decay, buffer_gain=buffer_gain,
                             free_steps=free_steps, clamp_steps=clamp_steps, tol=tol),
    )
    g.validate()
    spec = spectrum(g)
    if not spec["hessian_min_eig"] > 0:
        _fail(f"the predictive energy is not strictly convex (smallest Hessian eigenvalue "
              f"{spec['hessian_min_eig']:.4g}): lower buffer_gain")
    g.meta["spectrum"] = spec
    return g


def error_map(graph: Graph) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``B`` and ``lam``: the errors are ``e = B s + (terms of x and biases)`` over the free states
    ``s = (h_1..h_L, y)`` (in that order), and ``E = 1/2 |e|^2 - 1/2 s.diag(lam) s``. Returns the
    state order, ``B`` and the per-unit ``lam``."""
    values, errors = graph.meta["values"], graph.meta["errors"]
    off, n = {}, 0
    for v in values:
        off[v], n = n, n + graph.populations[v].size
    eoff, m = {}, 0
    for e in errors:
        eoff[e], m = m, m + graph.populations[e].size
    B = np.zeros((m, n))  # rows scaled by sqrt(pi): E's quadratic part is 1/2 |B s|^2
    for c in graph.connections:
        if c.post in eoff and c.pre in off:
            w = c.weight * c.mask if c.mask is not None else c.weight
            w = w * np.sqrt(graph.meta["precision"][c.post])
            B[eoff[c.post]:eoff[c.post] + w.shape[0], off[c.pre]:off[c.pre] + w.shape[1]] += w
    lam = np.zeros(n)
    eta = float(graph.meta["hyperparameters"]["eta"])
    for b in graph.buffers:
        if b.population in off:
            lam[off[b.population]:off[b.population] + graph.populations[b.population].size] = b.loop_gain() / eta
    return values, B, lam


def spectrum(graph: Graph) -> dict:
    """Eigenvalues of the energy's Hessian ``H = B^T P B - diag(lam)`` over the free states
    (clipped or clamped units drop out as a principal submatrix, whose eigenvalues interlace, so
    the bounds hold there too) and of the damped iteration's step ``a D^1/2 H D^1/2`` (``D``: eta
    on hidden values, eta / precision on the output)."""
    names, B, lam = error_map(graph)
    H = B.T @ B - np.diag(lam)
    hp = graph.meta["hyperparameters"]
    d = np.concatenate([np.full(graph.populations[n].size, float(hp["eta"]) / (float(hp["precision"]) if n == "y" else 1.0))
                        for n in names]) * float(hp["damping"])
    ev = np.linalg.eigvalsh(H)
    ev_it = np.linalg.eigvalsh(np.sqrt(d)[:, None] * H * np.sqrt(d)[None, :])
    return dict(hessian_min_eig=float(ev[0]), hessian_max_eig=float(ev[-1]),
                iteration_min_eig=float(ev_it[0]), iteration_max_eig=float(ev_it[-1]))
