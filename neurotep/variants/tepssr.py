"""TEP-SSR: toroidal Equilibrium Propagation with state-space recirculation (seed 004).

The block's feed-forward part becomes a stable, diagonal, linear state-space layer; the looped
TorEqProp block then relaxes to equilibrium on its state. Populations:

* ``x`` (input, ``F`` features per step): one sequence element per step;
* ``s`` (linear rate units with damping 1, ``N = 2M`` states): the SSM, ``M`` complex modes
  ``z_n`` (a diagonal complex ``A``: S4D), i.e. a bank of ``M`` leaky integrators with different
  complex decays. With the fixed self-connection ``A`` and the input connection ``B`` (both delay
  1, no learning rule)::

      z_n(t) = lambda_n z_n(t-1) + b_n . x(t-1),    |lambda_n| < 1

  held as real pairs ``s = (Re z_0, Im z_0, Re z_1, ...)``: ``A`` is block-diagonal with one
  scaled rotation ``[[Re l, -Im l], [Im l, Re l]]`` per mode (norm ``|lambda_n|``: contractive)
  and ``B`` feeds the real parts. After the ``L`` elements ``u_0..u_{L-1}`` (``L + 1`` steps:
  Lava's synapses, hence ours, add one step) ``z_L = sum_t lambda^(L-1-t) B u_t``.
  Initialisation S4D-Lin, deterministic: ``lambda_n = exp(dt (-1/2 + i pi n))`` with ``dt = 1/L``
  by default (the slowest mode keeps ``e^-1/2`` of the first element), ``b_n ~ N(0, 1/F)`` divided
  by ``sqrt(sum_{k<L} |lambda_n|^2k)`` (unit gain over the sequence). Real decays alone
  (S4D-Real) were tried first: their final state is a Laplace transform of the sequence, so
  ill-conditioned that a logistic regression on it reached 84% on digits-rows and 59% on
  digits-pixels (a validation split of the training data) against 96% on the raw pixels; the
  complex modes reach 95-96% on both;
* ``h`` (hard-sigmoid rate units, damping ``a``, toroidal buffer of depth ``K``): the looped
  block, driven by the SSM read-out ``C s`` and the direct term ``D x`` (the seed's
  ``y = C s + D u``), coupled symmetrically to the linear output ``y`` by ``W``.

**Sequence semantics** (an :class:`~neurotep.graph.InputStream` on ``x`` and two
:class:`~neurotep.graph.Stage` s, ``feed`` then ``relax``: :mod:`neurotep.graph.stages`): the SSM
steps once per element while the block holds; then the SSM holds ``s_L`` and the block relaxes
to equilibrium with the last element on ``x``. ``s`` receives no feedback, so for the block it
is a clamped input and the base model's energy applies unchanged::

    E(h, y) = sum G(h) + sum G(y) - h.(C s_L + D x_L + b_h) - y.b_y - y.W h - 1/2 g_K ||h||^2

(``g_K = gain * sum_j decay^j``, the buffer's loop gain). Relaxing only on the final state (not
a few steps per element) keeps the cost ``O(L)`` SSM steps + ``O(relaxation)`` block steps per
sequence and gives EqProp one fixed point per sample.

**Training** (pure EqProp, no BPTT): ``C``, ``D``, ``W`` and the biases by the usual symmetric
two-phase contrast; ``B`` and ``lambda`` stay at their S4D initialisation (no learning rule). Their
exact local gradients would follow from forward eligibility traces ``e_ij = sum_t
lambda_i^(L-1-t) u_tj`` and ``dL/ds_L ~= -(1/2 beta) C^T (h^+ - h^-)``; :func:`neurotep.learning.ssm.ssm_gradients`
computes that estimate (used to measure it against BPTT), training does not apply it.

**Stabilisation**: the Hessian of ``E`` over ``(h, y)`` is ``I - M`` with ``M = [[g_K I, W^T],
[W, 0]]``, whose largest eigenvalue is ``(g_K + sqrt(g_K^2 + 4 sigma^2)) / 2`` (``sigma =
||W||_2``). Spectral normalisation keeps it at most ``rho < 1``, i.e. ``sigma <= sqrt(rho (rho -
g_K))``: the energy stays strongly convex with a unique minimum and the damped relaxation
contracts. It is enforced at build time and after every optimiser update (``meta["spectral"]``,
applied by :func:`neurotep.learning.train.train`). ``|lambda| < 1`` holds by construction.

**Attention** (the seed's optional part) is left out: softmax attention over the sequence is not
a local, energy-based operation, and its quadratic cost is what the benchmark compares against.
"""

from __future__ import annotations

import numpy as np

from neurotep.errors import GraphError
from neurotep.graph import Connection, Graph, InputStream, LearningRule, Population, Stage, ToroidalBuffer
from neurotep.neurons.s4d import mode_gain, rotation_blocks, s4d_lin

NAME = "tepssr"
DESCRIPTION = ("TEP-SSR: diagonal linear SSM (bank of leaky integrators) feeding a looped TorEqProp block "
               "with a toroidal buffer; reads sequences, spectrally normalised, trained by EqProp")

DEFAULTS = dict(
    step_features=None,  # features per sequence element; None: the whole input is one element
    state=128,  # real states: state/2 complex modes
    hidden=256,
    dt=None,  # S4D-Lin step; None: 1 / sequence length
    damping=0.5,
    buffer_depth=4,
    buffer_decay=0.8,
    buffer_gain=0.05,
    rho=0.95,
    beta=0.5,
    free_steps=200,
    nudge_steps=60,
    tol=1e-4,
)
SSM, BLOCK = ("s",), ("h", "y")


def _fail(msg: str):
    raise GraphError(f"tepssr: {msg}")


def sigma_bound(rho: float, loop_gain: float) -> float:
    """Largest ``||W||_2`` keeping the block's coupling eigenvalue at most ``rho`` (module docstring)."""
    return float(np.sqrt(rho * (rho - loop_gain)))


def build(n_in: int = 64, n_out: int = 10, seed: int = 0, step_features: int | None = DEFAULTS["step_features"],
          state: int = DEFAULTS["state"], hidden: int = DEFAULTS["hidden"], dt: float | None = DEFAULTS["dt"],
          damping: float = DEFAULTS["damping"],
          buffer_depth: int = DEFAULTS["buffer_depth"], buffer_decay: float = DEFAULTS["buffer_decay"],
          buffer_gain: float = DEFAULTS["buffer_gain"], rho: float = DEFAULTS["rho"], beta: float = DEFAULTS["beta"],
          free_steps: int = DEFAULTS["free_steps"], nudge_steps: int = DEFAULTS["nudge_steps"],
          tol: float = DEFAULTS["tol"]) -> Graph:
    """Build TEP-SSR for sequences of ``n_in / step_features`` elements (``n_in`` is the flattened
    length, as data sets store it)."""
    feats = int(n_in if step_features is None else step_features)
    if feats < 1 or n_in % feats:
        _fail(f"step_features={step_features} must divide the flattened input length n_in={n_in}")
    length = n_in // feats
    for name, v in (("state", state), ("hidden", hidden)):
        if not (isinstance(v, (int, np.integer)) and v >= 1):
            _fail(f"{name} must be a positive int, got {v!r}")
    if state % 2:
        _fail(f"state must be even (pairs of real states hold the complex modes), got {state}")
    dt = 1.0 / length if dt is None else float(dt)
    if not (np.isfinite(dt) and dt > 0):
        _fail(f"dt must be a positive number, got {dt!r}")
    if not 0 < damping <= 1:
        _fail(f"damping must lie in (0, 1], got {damping}")
    loop = buffer_gain * sum(buffer_decay ** j for j in range(buffer_depth)) if buffer_depth > 0 else 0.0
    if not loop < rho < 1:
        _fail(f"rho must lie in (loop gain {loop:.4g}, 1), got {rho}: the block would not be contractive")

    rs = np.random.default_rng(seed)
    lam = s4d_lin(int(state) // 2, dt)
    g = Graph()
    g.add(Population("x", feats, "input"))
    g.add(Population("s", int(state), "linear", {"damping": 1.0}))  # no bias: a pure linear filter
    B = np.zeros((int(state), feats))
    B[0::2] = rs.normal(0, 1 / np.sqrt(feats), (state // 2, feats)) / mode_gain(lam, length)[:, None]
    g.add(Connection("B_x_s", "x", "s", B))
    A = rotation_blocks(lam)
    g.add(Connection("A_s", "s", "s", A, mask=np.kron(np.eye(state // 2), np.ones((2, 2))).astype(bool)))
    rule = LearningRule("eqprop", {"beta": beta})
    bh, by = 1 / np.sqrt(state + feats), 1 / np.sqrt(hidden)
    g.add(Population("h", int(hidden), "hard_sigmoid", {"damping": damping}, bias=rs.uniform(-bh, bh, hidden)))
    g.add(Connection("C_s_h", "s", "h", rs.uniform(-bh, bh, (hidden, state)), learning=rule))
    g.add(Connection("D_x_h", "x", "h", rs.uniform(-bh, bh, (hidden, feats)), learning=rule))
    if buffer_depth > 0 and buffer_gain > 0:
        g.add(ToroidalBuffer("torus_h", "h", buffer_depth, (buffer_decay,), buffer_gain))
    g.add(Population("y", n_out, "linear", {"damping": damping}, bias=rs.uniform(-by, by, n_out)))
    w = rs.uniform(-by, by, (n_out, hidden))
    bound = sigma_bound(rho, loop)
    w *= min(1.0, bound / np.linalg.norm(w, 2))
    g.add(Connection("W_h_y", "h", "y", w, symmetric=True, learning=rule))
    # Time: one element per step into the SSM while the block holds, then the block relaxes with
    # the SSM held and the last element on x (graded during the feed, encoded after it).
    g.add(InputStream("x_sequence", "x", int(length)))
    g.add(Stage("feed", SSM, int(length) + 1, encoded=False))
    g.add(Stage("relax", BLOCK))
    g.meta.update(
        variant=NAME, input="x", output="y",
        spectral=dict(connections=["W_h_y"], bound=bound, rho=rho, loop_gain=float(loop)),
        hyperparameters=dict(n_in=n_in, n_out=n_out, seed=seed, step_features=feats, state=int(state),
                             hidden=int(hidden), dt=dt, damping=damping,
                             buffer_depth=buffer_depth, buffer_decay=buffer_decay, buffer_gain=buffer_gain, rho=rho,
                             beta=beta, free_steps=free_steps, nudge_steps=nudge_steps, tol=tol),
    )
    return g.validate()
