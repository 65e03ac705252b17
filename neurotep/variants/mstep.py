"""MS-TEP: multi-scale toroidal Equilibrium Propagation (seed 000), a pyramid of TorEqProp blocks.

Levels ``l = 1..L`` (coarsest first) are hard-sigmoid rate populations ``h1..hL`` of sizes
``d_1 < ... < d_L``, each with its own toroidal buffer and its own damping (coarse levels may
relax faster). The input reaches every level: the finest sees the image ``x`` itself, a coarser
level ``l`` sees ``x`` average-pooled by ``pool**(L-l)`` per axis (a square input is a row-major
image, pooled in 2-D; any other input a 1-D signal such as MNIST-1D, pooled along its length), carried by a linear population
``x<l>`` fed from ``x`` by a fixed pooling connection (no learning; it only ever holds the pooled
image) and then by a learned projection ``x<l> -> h<l>``. The output ``y`` (linear) is coupled
to the finest level only, so the target nudges the finest level.

The energy is the seed's

    E = sum_l E_l(h_l) + sum_{l>1} lam ||h_l - U_l h_{l-1}||^2 + sum_{l<L} mu ||h_l - D_l h_{l+1}||^2

with ``E_l`` the base model's Hopfield energy of level l, ``U_l`` the upsampler (each coarse unit
copied to its ``r = d_l / d_{l-1}`` children: units are grouped consecutively, which is no loss
of generality since every level's input projection is dense) and ``D = U^T / r`` the average
over each coarse unit's children. Expanded into graph connections:

* the cross terms ``-2 h_l.(lam U_l + mu D_{l-1}^T) h_{l-1}`` become one symmetric connection
  ``C_h<l-1>_h<l>`` per adjacent pair, initialised at ``2 lam U + 2 mu D^T`` and learned by EqProp
  (the seed's local updates of the coupling weights). ``coupling="local"`` keeps it on the
  parent-child pattern of ``U`` (a mask: no global operation); ``"dense"`` lets it learn all
  pairs;
* the quadratic self-terms become one fixed self-connection ``S_h<l>`` per level (pre == post,
  delay 1, no learning): ``-2 lam I - 2 mu I`` (the levels that have a coarser / finer
  neighbour), ``-2 lam U^T U`` (from the finer neighbour's up-term) and ``-2 mu D^T D`` (from the
  coarser neighbour's down-term). A self-connection ``A`` contributes ``-1/2 s.A s`` to the energy.

The coupling adds ``2 lam B^T B >= 0`` to the energy's Hessian, so at initialisation it can only
help convexity; :func:`spectrum` checks, at build time, that the whole Hessian
``I - W - diag(loop gains)`` is positive definite (otherwise the energy has no unique minimum and
relaxation may diverge) and that the damped iteration is a contraction of it
(``max eig A^1/2 H A^1/2 < 2``; else the strong negative self-coupling makes it oscillate).
Both are recorded in ``meta["spectrum"]``; training can move the learned weights afterwards, as
for the base model.

``meta["levels"]`` lists the populations of each level (``[[x1, h1], ..., [hL, y]]``) and
``meta["relaxation"] = "coarse_to_fine"`` makes :meth:`TorchNetwork.relax` (hence EqProp training
and prediction) use :func:`neurotep.backends.torch.solvers.coarse_to_fine`.

Weight sharing across levels (the seed's "shared or tied weights") is not offered: no two
connections of this pyramid have the same shape, and the graph has no way to tie two
connections' parameters (that would need a tie in the graph format, the torch backend and the
EqProp update). ``share_weights=True`` is rejected with that reason.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from neurotep.errors import GraphError
from neurotep.graph import Connection, Graph, LearningRule, Population, ToroidalBuffer

NAME = "mstep"
DESCRIPTION = ("MS-TEP: pyramid of TorEqProp levels (coarse to fine) with cross-scale energy coupling, "
               "coarse-to-fine relaxation, nudged at the finest level")

DEFAULTS = dict(
    levels=(64, 256),
    pool=2,
    damping=None,  # per level: 0.7 at the coarsest down to 0.5 at the finest (and the output)
    buffer_depth=4,
    buffer_decay=0.8,
    buffer_gain=0.05,
    coupling_up=0.05,
    coupling_down=0.05,
    coupling="local",
    share_weights=False,
    relaxation="coarse_to_fine",
    beta=0.5,
    free_steps=200,
    nudge_steps=60,
    tol=1e-4,
)

COUPLINGS = ("local", "dense")
RELAXATIONS = ("coarse_to_fine", "plain", "anderson")


def _fail(msg: str):
    raise GraphError(f"mstep: {msg}")


def _pool_matrix(side: int, k: int) -> np.ndarray:
    """(side/k)^2 x side^2 average pooling of a row-major square image by k x k blocks."""
    out = side // k
    p = np.zeros((out * out, side * side))
    for i in range(side):
        for j in range(side):
            p[(i // k) * out + j // k, i * side + j] = 1.0 / (k * k)
    return p


def _pool_matrix_1d(n: int, k: int) -> np.ndarray:
    """(n/k) x n average pooling of a 1-D signal by blocks of k consecutive values."""
    return np.kron(np.eye(n // k), np.full((1, k), 1.0 / k))


def _upsampler(d_fine: int, d_coarse: int) -> np.ndarray:
    """U (d_fine x d_coarse): coarse unit j copied to its r = d_fine/d_coarse children."""
    r = d_fine // d_coarse
    return np.kron(np.eye(d_coarse), np.ones((r, 1)))


def build(n_in: int = 64, n_out: int = 10, seed: int = 0, levels: Sequence[int] = DEFAULTS["levels"],
          pool: int = DEFAULTS["pool"], damping: float | Sequence[float] | None = DEFAULTS["damping"],
          buffer_depth: int = DEFAULTS["buffer_depth"], buffer_decay: float = DEFAULTS["buffer_decay"],
          buffer_gain: float = DEFAULTS["buffer_gain"], coupling_up: float = DEFAULTS["coupling_up"],
          coupling_down: float = DEFAULTS["coupling_down"], coupling: str = DEFAULTS["coupling"],
          share_weights: bool = DEFAULTS["share_weights"], relaxation: str = DEFAULTS["relaxation"],
          beta: float = DEFAULTS["beta"], free_steps: int = DEFAULTS["free_steps"],
          nudge_steps: int = DEFAULTS["nudge_steps"], tol: float = DEFAULTS["tol"]) -> Graph:
    """Build an MS-TEP pyramid with fresh weights (input and output weights uniform
    +-1/sqrt(fan_in) as in the base model; couplings at their energy values)."""
    levels = [int(d) for d in levels]
    L = len(levels)
    if L < 1 or any(d < 1 for d in levels):
        _fail(f"levels must be a non-empty list of positive sizes, coarsest first, got {levels}")
    for c, f in zip(levels, levels[1:]):
        if f % c or f <= c:
            _fail(f"levels {levels} do not fit: each level must be a larger multiple of the coarser one "
                  f"({f} after {c}); e.g. levels=(64, 256)")
    if damping is None:  # coarse levels relax faster (the seed's level-specific alpha)
        damp = [0.5] if L == 1 else [float(a) for a in np.round(np.linspace(0.7, 0.5, L), 6)]
    else:
        damp = [float(damping)] * L if np.isscalar(damping) else [float(a) for a in damping]
    if len(damp) != L or not all(0 < a <= 1 for a in damp):
        _fail(f"damping must be one number or one per level ({L}), each in (0, 1], got {damping}")
    side = int(round(np.sqrt(n_in)))
    if not (_is_int(pool) and pool >= 2):
        _fail(f"pool must be an int >= 2, got {pool!r}")
    square = side * side == n_in  # a square input is pooled as an image; any other as a 1-D signal
    if L > 1 and (side % pool ** (L - 1) if square else n_in % pool ** (L - 1)):
        _fail(f"the input ({n_in} features) must be a square image whose side is divisible by "
              f"pool**(levels-1) = {pool ** (L - 1)}, or a 1-D signal whose length is, to feed {L} levels; "
              "use fewer levels or another pool")
    if coupling not in COUPLINGS:
        _fail(f"coupling must be one of {', '.join(COUPLINGS)}, got {coupling!r}")
    if relaxation not in RELAXATIONS:
        _fail(f"relaxation must be one of {', '.join(RELAXATIONS)}, got {relaxation!r}")
    for name, v in (("coupling_up", coupling_up), ("coupling_down", coupling_down)):
        if not (np.isfinite(v) and v >= 0):
            _fail(f"{name} must be a finite number >= 0, got {v!r}")
    if share_weights:
        _fail("share_weights=True is not available: the pyramid's connections all differ in shape and the graph "
              "format cannot tie two connections' parameters; use share_weights=False")

    rs = np.random.default_rng(seed)
    g = Graph()
    g.add(Population("x", n_in, "input"))
    rule = LearningRule("eqprop", {"beta": beta})
    hs = [f"h{l}" for l in range(1, L + 1)]
    level_pops: list[list[str]] = []
    for l, (h, d) in enumerate(zip(hs, levels), start=1):
        k = pool ** (L - l)
        if k > 1:  # the pooled image of this level, as a population that only ever holds it
            pooling = _pool_matrix(side, k) if square else _pool_matrix_1d(n_in, k)
            src, n_src = f"x{l}", pooling.shape[0]
            g.add(Population(src, n_src, "linear", {"damping": 1.0}))
            g.add(Connection(f"P_x_{src}", "x", src, pooling))  # fixed: no learning
            level_pops.append([src, h])
        else:
            src, n_src = "x", n_in
            level_pops.append([h])
        bound = 1.0 / np.sqrt(n_src)
        g.add(Population(h, d, "hard_sigmoid", {"damping": damp[l - 1]}, bias=rs.uniform(-bound, bound, d)))
        g.add(Connection(f"W_{src}_{h}", src, h, rs.uniform(-bound, bound, (d, n_src)), learning=rule))
        if buffer_depth > 0 and buffer_gain > 0:
            g.add(ToroidalBuffer(f"torus_{h}", h, buffer_depth, (buffer_decay,), buffer_gain))

    # Cross-scale coupling, expanded (see the module docstring).
    lam, mu = float(coupling_up), float(coupling_down)
    selfw = [np.zeros((d, d)) for d in levels]
    for l in range(1, L):  # pair (coarse = l-1, fine = l), 0-based
        dc, df = levels[l - 1], levels[l]
        U = _upsampler(df, dc)
        D = U.T / (df // dc)
        cross = 2 * lam * U + 2 * mu * D.T
        mask = U > 0 if coupling == "local" else None
        g.add(Connection(f"C_{hs[l - 1]}_{hs[l]}", hs[l - 1], hs[l], cross, symmetric=True, mask=mask, learning=rule))
        selfw[l] -= 2 * lam * np.eye(df) + 2 * mu * D.T @ D  # lam ||h_f - U h_c||^2, mu ||h_c - D h_f||^2 on h_f
        selfw[l - 1] -= 2 * lam * U.T @ U + 2 * mu * np.eye(dc)  # ... and on h_c
    for h, w in zip(hs, selfw):
        if np.any(w):
            g.add(Connection(f"S_{h}", h, h, w, mask=w != 0))  # fixed (no learning rule): EqProp leaves it alone

    fine, d_fine = hs[-1], levels[-1]
    bound = 1.0 / np.sqrt(d_fine)
    g.add(Population("y", n_out, "linear", {"damping": damp[-1]}, bias=rs.uniform(-bound, bound, n_out)))
    g.add(Connection(f"W_{fine}_y", fine, "y", rs.uniform(-bound, bound, (n_out, d_fine)), symmetric=True, learning=rule))
    level_pops[-1].append("y")

    g.meta.update(
        variant=NAME, input="x", output="y", levels=level_pops, relaxation=relaxation,
        hyperparameters=dict(n_in=n_in, n_out=n_out, seed=seed, levels=levels, pool=pool, damping=damp,
                             buffer_depth=buffer_depth, buffer_decay=buffer_decay, buffer_gain=buffer_gain,
                             coupling_up=lam, coupling_down=mu, coupling=coupling, share_weights=bool(share_weights),
                             relaxation=relaxation, beta=beta, free_steps=free_steps, nudge_steps=nudge_steps, tol=tol),
    )
    g.validate()
    spec = spectrum(g)
    if not spec["hessian_min_eig"] > 0:
        _fail(f"the energy's Hessian is not positive definite (smallest eigenvalue {spec['hessian_min_eig']:.4g}): "
              "lower coupling_up / coupling_down or buffer_gain")
    if not spec["iteration_max_eig"] < 2:
        _fail(f"damped relaxation would oscillate (max eigenvalue of A^1/2 H A^1/2 = {spec['iteration_max_eig']:.4g} "
              ">= 2): lower the damping or the coupling strengths")
    g.meta["spectrum"] = spec
    return g


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def coupling_matrix(graph: Graph) -> tuple[list[str], np.ndarray]:
    """The symmetric matrix ``W`` of the energy's quadratic form over the populations that take
    feedback (every state population except those driven by inputs only, like the pooled
    inputs: they are functions of the input, clamped like it): symmetric
    connections in both directions, self-connections, and each buffer's loop gain on its
    diagonal. Returns the population order and ``W``."""
    def clamped(name: str) -> bool:  # driven by inputs only: a function of the input, not of the state
        return all(graph.populations[c.pre if not t else c.post].model == "input" for c, t in graph.incoming(name))

    names = [p.name for p in graph.state_populations() if not clamped(p.name)]
    off, n = {}, 0
    for name in names:
        off[name], n = n, n + graph.populations[name].size
    W = np.zeros((n, n))
    for c in graph.connections:
        if c.pre not in off or c.post not in off:
            continue
        w = c.weight * c.mask if c.mask is not None else c.weight
        po, pr = slice(off[c.post], off[c.post] + w.shape[0]), slice(off[c.pre], off[c.pre] + w.shape[1])
        W[po, pr] += w
        if c.symmetric:
            W[pr, po] += w.T
    for b in graph.buffers:
        if b.population in off:
            i = off[b.population]
            W[i:i + graph.populations[b.population].size, i:i + graph.populations[b.population].size] += \
                b.loop_gain() * np.eye(graph.populations[b.population].size)
    return names, W


def spectrum(graph: Graph) -> dict:
    """Eigenvalue bounds of the energy's Hessian ``H = I - W`` (inside the hard-sigmoid box) and of
    the damped iteration ``A^1/2 H A^1/2`` (A = diag(damping)). Clipping only removes saturated
    units, i.e. takes a principal submatrix, whose eigenvalues interlace: the bounds hold there too.
    The linearised iteration contracts by ``max |1 - eig(A^1/2 H A^1/2)|`` per step."""
    names, W = coupling_matrix(graph)
    H = np.eye(len(W)) - W
    if not np.allclose(H, H.T, atol=1e-12):
        raise GraphError("mstep: the energy's quadratic form is not symmetric (a one-way recurrent connection?)")
    a = np.concatenate([np.full(graph.populations[n].size, float(graph.populations[n].param("damping"))) for n in names])
    ev_h = np.linalg.eigvalsh(H)
    ev_it = np.linalg.eigvalsh(np.sqrt(a)[:, None] * H * np.sqrt(a)[None, :])
    return dict(hessian_min_eig=float(ev_h[0]), hessian_max_eig=float(ev_h[-1]),
                iteration_min_eig=float(ev_it[0]), iteration_max_eig=float(ev_it[-1]),
                contraction=float(max(abs(1 - ev_it[0]), abs(1 - ev_it[-1]))))
