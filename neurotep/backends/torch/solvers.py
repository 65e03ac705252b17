"""Equilibrium solvers other than plain relaxation, picked by ``graph.meta["relaxation"]``.

:meth:`TorchNetwork.relax` calls ``SOLVERS[name](net, inputs, steps, tol, state=, nudge=,
weights=, active=)`` for any method other than ``"plain"``; each returns ``(SimState, steps)`` like
plain relaxation, so EqProp training and prediction use them unchanged.

* ``"coarse_to_fine"`` (MS-TEP): relax the coarsest level of ``graph.meta["levels"]`` alone, then
  levels 1..2, ..., then the whole pyramid, each stage by plain relaxation to ``tol``, warm-started
  from the previous stage. Given a ``state`` (the nudged phases start from the free state) it skips
  the staging: everything is relaxed from there.
* ``"anderson"``: Anderson acceleration (type II) of the equilibrium map.

A step of a coarse level costs less than a step of the whole network, so "steps" alone flatters
coarse-to-fine. Every solver attaches a :class:`SolverInfo` to the state it returns
(``state.info``) with the steps per stage and the work they did, counted per sample: neuron
updates, synaptic multiply-accumulates (recurrent connections and buffer taps; the input
projections are computed once per relaxation, ``static_ops``) and the solver's own arithmetic
(Anderson's least squares). :func:`relax_info` gives the same record for plain relaxation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import torch

from neurotep.backends.torch.state import Nudge, SimState
from neurotep.errors import BackendError
from neurotep.neurons import RingBuffer

if TYPE_CHECKING:  # annotations only: TorchNetwork.relax calls the solvers
    from neurotep.backends.torch.network import TorchNetwork


@dataclass
class SolverInfo:
    """What one relaxation did, per sample (see the module docstring)."""

    method: str
    steps: int = 0
    stage_steps: list[int] = field(default_factory=list)
    stage_active: list[list[str]] = field(default_factory=list)
    neuron_updates: int = 0
    synaptic_ops: int = 0
    static_ops: int = 0
    overhead_ops: int = 0
    converged: bool = False

    @property
    def total_ops(self) -> int:
        """Synaptic MACs + one-time input projections + solver overhead."""
        return self.synaptic_ops + self.static_ops + self.overhead_ops

    def as_dict(self) -> dict:
        return dict(method=self.method, steps=self.steps, stage_steps=list(self.stage_steps),
                    stage_active=[list(a) for a in self.stage_active], neuron_updates=self.neuron_updates,
                    synaptic_ops=self.synaptic_ops, static_ops=self.static_ops, overhead_ops=self.overhead_ops,
                    total_ops=self.total_ops, converged=self.converged)


# -- cost accounting ---------------------------------------------------------------------------
def _synapses(c) -> int:
    return int(c.mask.sum()) if c.mask is not None else int(c.weight.size)


def step_cost(net: TorchNetwork, active=None) -> dict[str, int]:
    """Work of one step per sample when the populations in ``active`` (default: all) update:
    ``neuron_updates``, ``synaptic_ops`` (MACs of every connection into an updated population from
    a non-input one, both directions of symmetric connections, plus the toroidal buffer taps)."""
    g = net.graph
    names = {p.name for p in g.state_populations() if active is None or p.name in active}
    syn = 0
    for c in g.connections:
        if g.populations[c.pre].model == "input":
            continue  # in the static drive: once per relaxation, not per step
        n = _synapses(c)
        syn += n if c.post in names else 0
        syn += n if c.symmetric and c.pre in names else 0
    syn += sum(b.depth * g.populations[b.population].size for b in g.buffers if b.population in names)
    return dict(neuron_updates=sum(g.populations[n].size for n in names), synaptic_ops=syn)


def static_cost(net: TorchNetwork) -> int:
    """MACs per sample of the input projections (computed once per relaxation)."""
    g = net.graph
    return sum(_synapses(c) for c in g.connections if g.populations[c.pre].model == "input")


def _account(info: SolverInfo, net: TorchNetwork, steps: int, active) -> None:
    cost = step_cost(net, active)
    info.steps += steps
    info.stage_steps.append(steps)
    info.stage_active.append(sorted(p.name for p in net.graph.state_populations() if active is None or p.name in active))
    info.neuron_updates += steps * cost["neuron_updates"]
    info.synaptic_ops += steps * cost["synaptic_ops"]


def relax_info(net: TorchNetwork, inputs: dict, steps: int, tol: float | None, method: str | None = None,
               **kw) -> tuple[SimState, SolverInfo]:
    """:meth:`TorchNetwork.relax` with any method, and its :class:`SolverInfo` (built here for
    plain relaxation, which records none)."""
    st, n = net.relax(inputs, steps, tol, method=method, **kw)
    info = getattr(st, "info", None)
    if info is None:
        info = SolverInfo("plain", static_ops=static_cost(net), converged=n < steps)
        _account(info, net, n, kw.get("active"))
    return st, info


# -- coarse to fine ----------------------------------------------------------------------------
def coarse_to_fine(net: TorchNetwork, inputs: dict, steps: int, tol: float | None, state: SimState | None = None,
                   nudge: Nudge | None = None, weights: dict | None = None, active=None,
                   callback: Callable[[SimState, int], None] | None = None) -> tuple[SimState, int]:
    """MS-TEP's coarse-to-fine relaxation (see the module docstring).

    Step budget: ``steps`` is the total. Each stage but the last may use at most
    ``steps // (2 (L - 1))`` of it, so the full pyramid always keeps at least half; a stage that
    hits its cap hands over unconverged. ``callback(state, k)`` is called after every step (for
    convergence curves); leave it None when timing.
    """
    levels = net.graph.meta.get("levels")
    if not levels or not all(isinstance(lv, (list, tuple)) and lv for lv in levels):
        raise BackendError("relaxation 'coarse_to_fine' needs graph.meta['levels']: a list of lists of population "
                           "names, coarsest first (built by the mstep variant)")
    known = {p.name for p in net.graph.state_populations()}
    unknown = [n for lv in levels for n in lv if n not in known]
    if unknown:
        raise BackendError(f"graph.meta['levels'] names populations that are not state populations: {unknown}")
    weights = weights if weights is not None else net.effective_weights()
    info = SolverInfo("coarse_to_fine", static_ops=static_cost(net))
    if state is not None:  # nudged phases: the free state is already a fine equilibrium
        stages = [set(known)]
    else:
        stages = [set().union(*levels[:k]) for k in range(1, len(levels))] + [set(known)]
    if active is not None:
        stages = [s & set(active) for s in stages]
    used, st, converged = 0, state, False
    cap = max(1, steps // (2 * max(1, len(stages) - 1)))
    for i, act in enumerate(stages):
        last = i == len(stages) - 1
        budget = steps - used if last else min(cap, steps - used)
        if budget <= 0:
            break
        # The callback counts steps over all stages.
        traced = None if callback is None else (lambda s, k, offset=used: callback(s, offset + k))
        st, n = net.relax(inputs, budget, tol, state=st, nudge=nudge, weights=weights, active=act, method="plain",
                          callback=traced)
        _account(info, net, n, act)
        used += n
        converged = n < budget
    info.converged = converged
    st.info = info
    return st, used


def plain_traced(net: TorchNetwork, inputs: dict, steps: int, tol: float | None,
                 callback: Callable[[SimState, int], None], weights: dict | None = None) -> tuple[SimState, int]:
    """Plain relaxation from the zero state with ``callback(state, k)`` after every step."""
    return net.relax(inputs, steps, tol, weights=weights, method="plain", callback=callback)


# -- Anderson acceleration ---------------------------------------------------------------------
ANDERSON_MEMORY = 5
ANDERSON_MIXING = 1.0
ANDERSON_REG = 1e-8


def anderson(net: TorchNetwork, inputs: dict, steps: int, tol: float | None, state: SimState | None = None,
             nudge: Nudge | None = None, weights: dict | None = None, active=None,
             callback: Callable[[SimState, int], None] | None = None, memory: int | None = None,
             mixing: float | None = None, reg: float | None = None) -> tuple[SimState, int]:
    """Anderson acceleration (type II, Walker & Ni 2011) of the equilibrium map.

    The toroidal buffers and delay lines make the state a history, not a vector. We accelerate
    ``F(s)`` = one network step (damping, nudge, ``active`` included) from the state where every
    history tap holds ``s``: at an equilibrium every tap holds the same value, so the fixed points
    of ``F`` are exactly those of the buffered dynamics (the map :mod:`neurotep.learning.gradcheck`
    differentiates), with every probabilistic gate open. The returned state's history rings are rebuilt from the final iterate, so the
    nudged phases can start from it like from a plain free state.

    Per sample: residual ``g_k = F(s_k) - s_k``; with the last ``m`` differences ``dS``, ``dG``,
    ``gamma = argmin ||g_k - dG gamma||^2 + reg * tr(dG^T dG)/m * ||gamma||^2`` (a small Tikhonov
    term, at least 100 ulp of the dtype; batched ``torch.linalg.solve_ex``, a sample whose system
    is singular takes the plain step); ``s_{k+1} = s_k + b g_k - (dS + b dG) gamma``. Hard-
    sigmoid units are projected back onto [0, 1] (their fixed points lie there; an extrapolated
    iterate outside the box only slows the map down). A sample whose residual is below ``tol``
    takes the plain step ``F(s_k)`` instead of the mixed one. Stops when the largest residual in
    the batch is below ``tol``; every ``F`` evaluation counts as one step.
    """
    m = ANDERSON_MEMORY if memory is None else int(memory)
    b = ANDERSON_MIXING if mixing is None else float(mixing)
    reg = ANDERSON_REG if reg is None else float(reg)
    if m < 1 or not b > 0 or reg < 0:
        raise BackendError(f"anderson needs memory >= 1, mixing > 0 and reg >= 0, got {m}, {b}, {reg}")
    if torch.is_grad_enabled():  # its history ring is written in place: autograd cannot run through it
        raise BackendError("relaxation 'anderson' runs under torch.no_grad() only (EqProp, inference); "
                           "use plain or coarse_to_fine relaxation for BPTT")
    g = net.graph
    weights = weights if weights is not None else net.effective_weights()
    batch = next(iter(inputs.values())).shape[0]
    st0 = state if state is not None else net.init_state(batch, static=inputs)
    drive = net.static_drive(inputs, weights)
    names = [p.name for p in g.state_populations() if active is None or p.name in active]
    sizes = [g.populations[n].size for n in names]
    boxed = torch.cat([torch.full((sz,), g.populations[n].model == "hard_sigmoid", dtype=torch.bool, device=net.device_)
                       for n, sz in zip(names, sizes)])
    inf = float("inf")
    lo = torch.where(boxed, 0.0, -inf).to(net.dtype)  # clamp bounds: [0, 1] for hard-sigmoid units, none otherwise
    hi = torch.where(boxed, 1.0, inf).to(net.dtype)
    held = {**st0.out, **inputs}

    def unflat(vec):
        return dict(zip(names, torch.split(vec, sizes, dim=1)))

    def state_of(vec, t):
        out = {**held, **unflat(vec)}
        return SimState(t, out, dict(st0.v), {k: RingBuffer(net.history_depth[k], v) for k, v in out.items()})

    def F(vec):
        # Gates open: the map must move every unit (gates change the speed, not the fixed points).
        new = net.step(state_of(vec, st0.t), inputs, weights, drive=drive, nudge=nudge, active=active, gates=False)
        return torch.cat([new.out[n] for n in names], dim=1)

    n_state = sum(sizes)
    info = SolverInfo("anderson", static_ops=static_cost(net))
    s = torch.cat([st0.out[n] for n in names], dim=1)
    # Ring of the last m differences (slot order does not matter to the least squares) and their
    # Gram matrix, updated one row per iteration.
    dS = torch.zeros(batch, m, n_state, device=s.device, dtype=s.dtype)
    dG = torch.zeros_like(dS)
    gram = torch.zeros(batch, m, m, device=s.device, dtype=s.dtype)
    eye = torch.eye(m, device=s.device, dtype=s.dtype)
    # The ridge must stay above the dtype's rounding (float32: 1e-8 would vanish next to 1) and
    # the Gram scale above underflow, or identical difference vectors make the system singular.
    fi = torch.finfo(s.dtype)
    ridge, tiny = max(reg, 100 * fi.eps), float(fi.eps) ** 2
    filled, slot = 0, 0
    prev_s = prev_g = None
    f = s
    k = 0
    converged = False
    while k < steps:
        f = F(s)
        k += 1
        gk = f - s
        if callback is not None:
            callback(state_of(f, st0.t + k), k)
        res = gk.abs().amax(dim=1)
        if tol is not None and float(res.max()) < tol:
            converged = True
            break
        if prev_s is not None:
            dS[:, slot] = s - prev_s
            dG[:, slot] = gk - prev_g
            row = (dG * dG[:, slot:slot + 1]).sum(-1)  # (B, m); multiply-sum beats a batched mat-vec on CPU
            gram[:, slot, :] = row
            gram[:, :, slot] = row
            filled, slot = min(filled + 1, m), (slot + 1) % m
        prev_s, prev_g = s, gk
        if filled:
            G, S, A = dG[:, :filled], dS[:, :filled], gram[:, :filled, :filled]
            scale = A.diagonal(dim1=1, dim2=2).mean(1).clamp_min(tiny)[:, None, None]
            rhs = (G * gk[:, None, :]).sum(-1)[:, :, None]  # (B, mk, 1)
            gamma, bad = torch.linalg.solve_ex(A + ridge * scale * eye[:filled, :filled], rhs)
            # a sample whose system is still singular (e.g. its state stopped moving) takes the plain step
            gamma = torch.where((bad != 0)[:, None, None] | ~torch.isfinite(gamma), torch.zeros_like(gamma), gamma)
            mixed = s + b * gk - (gamma * (S + b * G)).sum(1)
            # Gram row, right-hand side, S + bG and the mixing: what the solver adds per step.
            info.overhead_ops += m * n_state + 3 * filled * n_state
        else:
            mixed = s + b * gk
        mixed = torch.clamp(mixed, lo, hi)
        if tol is not None:
            done = res < tol
            if bool(done.any()):
                mixed = torch.where(done[:, None], f, mixed)
        s = mixed
    _account(info, net, k, active)
    info.converged = converged if tol is not None else False
    st = state_of(f, st0.t + k)
    st.info = info
    return st, k


SOLVERS: dict[str, Callable] = {"coarse_to_fine": coarse_to_fine, "anderson": anderson}


def get_solver(name: str) -> Callable:
    """The solver called ``name``; a clear error listing the known ones otherwise."""
    try:
        return SOLVERS[name]
    except KeyError:
        raise BackendError(f"unknown relaxation method {name!r}: known methods are plain, "
                           f"{', '.join(sorted(SOLVERS))}") from None
