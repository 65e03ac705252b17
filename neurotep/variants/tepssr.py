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

**Sequence semantics** (``meta["relaxation"] = "sequence"``, :func:`relax_sequence`): the SSM
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
lambda_i^(L-1-t) u_tj`` and ``dL/ds_L ~= -(1/2 beta) C^T (h^+ - h^-)``; :func:`ssm_gradients`
computes that estimate (used to measure it against BPTT), training does not apply it.

**Stabilisation**: the Hessian of ``E`` over ``(h, y)`` is ``I - M`` with ``M = [[g_K I, W^T],
[W, 0]]``, whose largest eigenvalue is ``(g_K + sqrt(g_K^2 + 4 sigma^2)) / 2`` (``sigma =
||W||_2``). Spectral normalisation keeps it at most ``rho < 1``, i.e. ``sigma <= sqrt(rho (rho -
g_K))``: the energy stays strongly convex with a unique minimum and the damped relaxation
contracts. It is enforced at build time and after every optimiser update (:func:`after_update`,
called by :func:`neurotep.learning.train.train`). ``|lambda| < 1`` holds by construction.

**Attention** (the seed's optional part) is left out: softmax attention over the sequence is not
a local, energy-based operation, and its quadratic cost is what the benchmark compares against.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from neurotep.errors import GraphError
from neurotep.graph import Connection, Graph, LearningRule, Population, Probe, ToroidalBuffer

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


def s4d_lin(modes: int, dt: float) -> np.ndarray:
    """S4D-Lin eigenvalues ``lambda_n = exp(dt (-1/2 + i pi n))``, n = 0..modes-1 (|lambda| < 1)."""
    return np.exp(dt * (-0.5 + 1j * np.pi * np.arange(modes)))


def _gain(lam: np.ndarray, length: int) -> np.ndarray:
    """``sqrt(sum_{k<L} |lambda|^2k)``: each mode's gain for white input over L steps (B divides by it)."""
    return np.sqrt(np.sum(np.abs(lam)[:, None] ** (2 * np.arange(length))[None, :], axis=1))


def rotation_blocks(lam: np.ndarray) -> np.ndarray:
    """The real (2M, 2M) block-diagonal ``A`` of complex modes ``lam``: [[a, -b], [b, a]] per mode,
    states interleaved (Re z_0, Im z_0, Re z_1, ...)."""
    m = len(lam)
    A = np.zeros((2 * m, 2 * m))
    i = 2 * np.arange(m)
    A[i, i], A[i + 1, i + 1] = lam.real, lam.real
    A[i, i + 1], A[i + 1, i] = -lam.imag, lam.imag
    return A


def modes_of(A: np.ndarray) -> np.ndarray:
    """The complex eigenvalues of a block-diagonal ``A`` built by :func:`rotation_blocks`."""
    i = 2 * np.arange(A.shape[0] // 2)
    return A[i, i] + 1j * A[i + 1, i]


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
    B[0::2] = rs.normal(0, 1 / np.sqrt(feats), (state // 2, feats)) / _gain(lam, length)[:, None]
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
    for p in ("s", "h", "y"):
        g.add(Probe(f"probe_{p}", p, "spikes"))
    g.meta.update(
        variant=NAME, input="x", output="y", relaxation="sequence",
        sequence=dict(length=int(length), features=feats), ssm=list(SSM), block=list(BLOCK),
        spectral=dict(connections=["W_h_y"], bound=bound, rho=rho, loop_gain=float(loop)),
        hyperparameters=dict(n_in=n_in, n_out=n_out, seed=seed, step_features=feats, state=int(state),
                             hidden=int(hidden), dt=dt, damping=damping,
                             buffer_depth=buffer_depth, buffer_decay=buffer_decay, buffer_gain=buffer_gain, rho=rho,
                             beta=beta, free_steps=free_steps, nudge_steps=nudge_steps, tol=tol),
    )
    return g.validate()


# -- sequence driver (torch path) -------------------------------------------------------------------
def split_sequence(graph: Graph, x: torch.Tensor) -> torch.Tensor:
    """(B, L*F) flattened sequences -> (B, L, F); a one-line error on a wrong width."""
    seq = graph.meta["sequence"]
    if x.dim() != 2 or x.shape[1] != seq["length"] * seq["features"]:
        _fail(f"expected sequences flattened to {seq['length']} x {seq['features']} = "
              f"{seq['length'] * seq['features']} features, got shape {tuple(x.shape)}")
    return x.reshape(x.shape[0], seq["length"], seq["features"])


def feed(net, xs: torch.Tensor, weights: dict) -> "object":
    """Run the SSM over the elements ``xs`` (B, L, F) from the zero state, the block holding:
    ``L + 1`` steps, the last element repeated (it reaches ``s`` one step later). Returns the state."""
    inp = net.graph.meta["input"]
    st = net.init_state(xs.shape[0])
    ssm = frozenset(net.graph.meta["ssm"])
    L = xs.shape[1]
    for t in range(L + 1):
        st = net.step(st, {inp: xs[:, min(t, L - 1)]}, weights, active=ssm)
    return st


def relax_sequence(net, inputs: dict, steps: int, tol: float | None, state=None, nudge=None, weights=None,
                   active=None, callback=None):
    """The ``"sequence"`` solver: feed the sequence through the SSM (unless ``state`` is given:
    the nudged phases start from the free state), then relax the block with the SSM held and the
    last element on the input. Returns ``(state, block relaxation steps)``; differentiable (BPTT)
    when autograd is on."""
    g = net.graph
    inp = g.meta["input"]
    xs = split_sequence(g, inputs[inp])
    weights = weights if weights is not None else net.effective_weights()
    st = feed(net, xs, weights) if state is None else state
    block = frozenset(active) if active is not None else frozenset(g.meta["block"])
    return net.relax({inp: xs[:, -1]}, steps, tol, state=st, nudge=nudge, weights=weights, active=block,
                     method="plain", callback=callback)


def after_update(net) -> None:
    """Spectral normalisation after an optimiser step: rescale each listed connection whose
    largest singular value exceeds the bound back onto it (see the module docstring)."""
    spec = net.graph.meta.get("spectral")
    if not spec:
        return
    with torch.no_grad():
        for name in spec["connections"]:
            w = net.weights[name]
            sigma = float(torch.linalg.matrix_norm(w.double(), 2))
            if sigma > spec["bound"]:
                w.mul_(spec["bound"] / sigma)


# -- SSM gradients from eligibility traces (measured against BPTT; not used by training) -------------
def ssm_gradients(net, x: torch.Tensor, plus: dict, minus: dict, beta: float) -> dict[str, torch.Tensor]:
    """EqProp + forward-trace estimate of the gradients of the mean cost w.r.t. ``B`` and ``A``.

    The block's nudged states give ``dL/ds_L ~= -(1/2 beta) C^T (h^+ - h^-)`` (``s`` is an input
    of the block), packed per mode as ``g_n = dL/dRe z_n + i dL/dIm z_n``. Forward traces, run
    with the sequence: ``e_nj = sum_t lambda_n^(L-1-t) u_tj`` (``= dz_n/db_nj``) and ``q_n =
    dz_n/dlambda_n``, ``q(t) = lambda q(t-1) + z(t-1)``. Then ``dL/db_nj = Re(conj(g_n) e_nj)``
    and, for ``lambda = a + ib``, ``dL/da = Re(conj(g) q)``, ``dL/db = -Im(conj(g) q)``. Returned
    as gradients of the graph's ``B_x_s`` and ``A_s`` weight matrices on their parameterisation's
    entries (``B``'s imaginary rows and ``A``'s off-pattern entries get zero; ``A``'s pair of
    diagonal entries each get half of ``dL/da`` and its two off-diagonal ones ``-/+ dL/db / 2``):
    compare with autograd after projecting onto that parameterisation (:func:`project_ssm`)."""
    g = net.graph
    xs = split_sequence(g, x).to(torch.float64)
    lam = torch.as_tensor(modes_of(net.weights["A_s"].detach().cpu().double().numpy()), device=xs.device)
    b = net.weights["B_x_s"].detach().to(torch.float64)[0::2].to(lam.dtype)
    n, m, f = xs.shape[0], lam.shape[0], xs.shape[2]
    e = torch.zeros(n, m, f, dtype=lam.dtype, device=xs.device)
    z = torch.zeros(n, m, dtype=lam.dtype, device=xs.device)
    q = torch.zeros_like(z)
    for t in range(xs.shape[1]):
        u = xs[:, t].to(lam.dtype)
        q = lam * q + z
        z = lam * z + u @ b.T
        e = lam[None, :, None] * e + u[:, None, :]
    C = net.weights["C_s_h"].detach().to(torch.float64)
    ds = -(1.0 / (2 * beta * n)) * (plus["h"].double() - minus["h"].double()) @ C  # (n, 2M)
    gz = torch.complex(ds[:, 0::2], ds[:, 1::2])
    dB = torch.zeros(2 * m, f, dtype=torch.float64, device=xs.device)
    dB[0::2] = torch.einsum("bn,bnj->nj", gz.conj(), e).real
    w = (gz.conj() * q).sum(0)
    da, db = w.real, -w.imag
    dA = torch.zeros(2 * m, 2 * m, dtype=torch.float64, device=xs.device)
    i = torch.arange(m, device=xs.device) * 2
    dA[i, i], dA[i + 1, i + 1] = da / 2, da / 2
    dA[i, i + 1], dA[i + 1, i] = -db / 2, db / 2
    return {"weight:B_x_s": dB, "weight:A_s": dA}


def project_ssm(grads: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Autograd gradients of ``B_x_s`` / ``A_s`` projected onto the SSM's parameterisation (real
    rows of ``B``; per mode ``a`` and ``b`` of ``[[a, -b], [b, a]]``), in the layout of
    :func:`ssm_gradients`."""
    out = {}
    dB = grads["weight:B_x_s"].double().clone()
    dB[1::2] = 0
    out["weight:B_x_s"] = dB
    G = grads["weight:A_s"].double()
    m = G.shape[0] // 2
    i = torch.arange(m, device=G.device) * 2
    da = G[i, i] + G[i + 1, i + 1]
    db = G[i + 1, i] - G[i, i + 1]
    dA = torch.zeros_like(G)
    dA[i, i], dA[i + 1, i + 1] = da / 2, da / 2
    dA[i, i + 1], dA[i + 1, i] = -db / 2, db / 2
    out["weight:A_s"] = dA
    return out


# -- Lava: the SSM, then the block, each a Loihi2SimCfg run ------------------------------------------
def ssm_graph(graph: Graph) -> Graph:
    """The SSM alone (``x``, ``s``, ``B``, ``A``), read out at ``s``."""
    g = Graph()
    for p in ("x", "s"):
        g.add(copy.deepcopy(graph.populations[p]))
    for c in ("B_x_s", "A_s"):
        g.add(copy.deepcopy(graph.connection(c)))
    g.meta.update(input="x", output="s")
    return g.validate()


def block_graph(graph: Graph) -> Graph:
    """The block with the SSM's final state as a clamped input population ``s``."""
    g = Graph()
    for p in graph.populations.values():
        q = copy.deepcopy(p)
        if p.name in graph.meta["ssm"]:
            q.model, q.params, q.bias = "input", {}, None
        g.add(q)
    for c in graph.connections:
        if c.post not in graph.meta["ssm"]:
            g.add(copy.deepcopy(c))
    for b in graph.buffers:
        g.add(copy.deepcopy(b))
    g.meta.update(input="x", output=graph.meta["output"])
    return g.validate()


def run_lava_sequence(graph: Graph, x: np.ndarray, sample_ids: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """TEP-SSR on Lava's Loihi 2 simulator (float), the two stages of :func:`relax_sequence`: the
    SSM (neurotep's damped linear units with ``damping = 1`` and Lava ``Sparse``/``Dense``
    synapses for ``A`` and ``B``) over ``L + 1`` steps, its final state read back by the host; then
    the block relaxing ``steps`` steps with that state and the last element held as constant
    inputs (a static graph cannot freeze the SSM while the block relaxes, so the host does the
    hand-over, as it would between two chip runs). Returns (final output, final SSM state)."""
    from neurotep.backends.lava.runner import run_lava

    xs = split_sequence(graph, torch.as_tensor(x)).numpy().astype(np.float64)
    frames = np.concatenate([xs, xs[:, -1:]], axis=1).transpose(1, 0, 2)  # (L + 1, B, F)
    _, ro, _ = run_lava(ssm_graph(graph), {"x": frames}, frames.shape[0], sample_ids, spiking_inputs=False)
    s_last = ro["last"].numpy()
    _, ro, _ = run_lava(block_graph(graph), {"x": xs[None, :, -1], "s": s_last[None]}, steps, sample_ids,
                        spiking_inputs=False)
    return ro["last"].numpy(), s_last


def s4d_states_lava(graph: Graph, x: np.ndarray, timeout: float = 300.0) -> np.ndarray:
    """The SSM's final state computed by Lava's own S4D process (``lava.proc.s4d.S4d``, float:
    Lava ships no fixed-point S4D model) on Loihi2SimCfg: ``Dense(B) -> S4d(a = lambda, b = 1)``,
    each complex mode held by two S4d neurons with ``c = 1/2`` (output ``Re z``) and ``c = -i/2``
    (output ``Im z``: S4d sends ``Re(2 c z)``). Runs in an isolated worker (nothing of it outlives
    the call: :func:`neurotep.backends.lava.isolate.run_worker`). Returns (B, 2M) in the layout of ``s``."""
    from neurotep.backends.lava.isolate import job_dir, run_worker
    from neurotep.errors import BackendError

    xs = split_sequence(graph, torch.as_tensor(x)).numpy().astype(np.float64)
    A, B = graph.connection("A_s").weight, graph.connection("B_x_s").weight
    lam = np.repeat(modes_of(A), 2)
    b2 = np.repeat(B[0::2], 2, axis=0)  # both neurons of a mode see the mode's input b_n . x
    with job_dir("s4d") as job:
        np.savez(job / "job.npz", xs=xs, lam=lam, b2=b2)
        run_worker("neurotep.variants.tepssr:_s4d_job", job, timeout, what="the Lava S4D run")
        if not (job / "out.npz").exists():
            tail = (job / "worker.log").read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise BackendError(f"the Lava S4D run failed: {tail[0]}")
        with np.load(job / "out.npz") as z:
            return z["s"]


def _s4d_job(job_dir: str) -> None:  # pragma: no cover - runs in the worker of s4d_states_lava
    import lava.magma.core.run_configs  # noqa: F401  (Lava must set the start method first)
    from pathlib import Path

    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.s4d.process import S4d

    job = Path(job_dir)
    with np.load(job / "job.npz") as z:
        xs, lam, b2 = z["xs"], z["lam"], z["b2"]
    n, L, f = xs.shape
    m2 = len(lam)
    frames = np.concatenate([xs, xs[:, -1:]], axis=1)  # (B, L + 1, F): the last element reaches s a step later
    src = Source(data=frames.transpose(0, 2, 1).reshape(n * f, L + 1))  # sample-major neurons, one column per step
    dense = Dense(weights=np.kron(np.eye(n), b2), num_message_bits=24)
    c = np.tile(np.array([0.5, -0.5j]), m2 // 2)
    s4d = S4d(shape=(n * m2,), a=np.tile(lam, n), b=np.ones(n * m2), c=np.tile(c, n))
    sink = Sink(shape=(n * m2,), buffer=L + 1)
    src.s_out.connect(dense.s_in)
    dense.a_out.connect(s4d.a_in)
    s4d.s_out.connect(sink.a_in)
    try:
        s4d.run(condition=RunSteps(num_steps=L + 1), run_cfg=Loihi2SimCfg(select_tag="floating_pt"))
        last = sink.data.get()[:, -1].reshape(n, m2)
    finally:
        s4d.stop()
    np.savez(job / "out.npz", s=last)


# -- spiking mode (torch path) ------------------------------------------------------------------------
def run_spiking(g_spiking: Graph, x: np.ndarray, sample_ids: np.ndarray, steps: int, spiking_inputs: bool,
                device: str = "cpu", raster: bool = False):
    """Spiking inference of a TEP-SSR graph's spiking form (:func:`rate_to_spiking`: the block's
    hard-sigmoid units become integrate-and-fire neurons; ``s`` and ``y`` stay graded): the SSM
    runs over the sequence in graded values (Loihi 2's graded spikes) as in rate mode, then the
    spiking block runs ``steps`` steps with ``s_L`` as a constant graded input and the last
    element on ``x`` (Poisson spikes or currents). Returns (predictions, Recording, steps) like the
    runner's own paths; ``x``'s Poisson spikes are counted on the host."""
    from neurotep.backends.torch import TorchNetwork
    from neurotep.data import poisson_spikes_torch
    from neurotep.runner import ENCODER_SEED

    net = TorchNetwork(g_spiking, device=device)
    xt = torch.as_tensor(x, device=net.device_, dtype=net.dtype)
    with torch.no_grad():
        s_last = feed(net, split_sequence(g_spiking, xt), net.effective_weights()).out["s"]
    block = TorchNetwork(block_graph(g_spiking), device=device)
    last, tid = split_sequence(g_spiking, xt)[:, -1], torch.as_tensor(sample_ids, device=net.device_)
    played = []

    def input_fn(t):
        xin = poisson_spikes_torch(last, t, ENCODER_SEED, tid) if spiking_inputs else last
        if spiking_inputs:
            played.append(xin > 0)
        return {"x": xin, "s": s_last}

    _, rec, y_mean = block.run(input_fn, steps, len(x), sample_ids=tid, raster=raster,
                               readout=g_spiking.meta["output"], spiking_inputs=False)
    if spiking_inputs:  # the input spikes, counted as the runner counts them
        p = torch.stack(played).to(torch.float64)  # (T, B, F)
        rec.per_step["x"] = p.sum((1, 2)).round().to(torch.int64)
        rec.per_neuron["x"], rec.per_sample["x"] = p.sum((0, 1)), p.sum((0, 2))
        if raster:
            rec.raster["x"] = p > 0
    return y_mean.argmax(1).cpu().numpy(), rec, steps
