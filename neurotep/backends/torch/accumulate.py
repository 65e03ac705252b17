"""Synaptic accumulation on the torch path: ``x @ w`` for one connection, by the cheapest kernel
that gives the same sums.

* **one-to-one** synapses (a diagonal mask: buffer taps, leaks, TPEqProp's identities) multiply
  elementwise instead of through an N x N matmul;
* **events**: a spike source whose share of active neurons this step is at most
  :func:`event_max_activity` multiplies its spikes as a sparse matrix (``torch.sparse.mm``), so
  the cost follows the synaptic events, not the neurons; otherwise the dense matmul runs (the
  fallback, and the faster kernel at high activity);
* **sparse synapses**: a large masked connection with few synapses is kept as a CSR matrix in
  inference runs (float path), so the cost follows the synapses that exist;
* **integer sums through BLAS** (fixed point): torch has no BLAS kernel for int64 matmuls, so an
  integer product runs in float32 or float64 wherever every partial sum is an integer the float
  format holds exactly (below 2**24 or 2**53): the result is then the same integer. The bound is
  ``max |x| * max_j sum_i |w_ij|``, static for spikes (``|x| <= 1``) and checked at each step for
  graded sources; beyond it the int64 matmul runs.

Neither snnTorch nor Norse has an event-driven accumulation for dense layers (they call
``nn.Linear``), hence this module.
"""

from __future__ import annotations

import torch

# Share of a spike source's entries (samples x neurons) active in a step at or below which the
# event kernel runs. Measured crossover on the 2-core CPU of docs/benchmarks.md (`python -m
# benchmarks emulator` prints the sweep): the sparse product beats BLAS's dense one below a few
# per cent of active inputs at batch > 1, and loses above.
EVENT_MAX_ACTIVITY = 0.04
EVENT_MAX_ACTIVITY_SINGLE = 0.25  # batch 1
# A masked connection at most this dense (and from at least EVENT_MIN_SOURCES neurons) is kept
# as a CSR matrix in inference runs: at 1 % connectivity, N = 1e4, it is ~35x the dense product.
SPARSE_MAX_DENSITY = 0.10
# Below this many source neurons the dense product is cheap enough that measuring activity and
# gathering costs more than it saves (and small float models keep BLAS's summation order).
EVENT_MIN_SOURCES = 512

_EXACT = ((torch.float32, 2**24), (torch.float64, 2**53))


class Synapses:
    """``x @ w`` of one connection; ``w`` is (pre, post), already oriented and masked.

    ``spikes``: the source sends 0/1 (enables the event kernel and the static integer bound);
    ``diagonal``: the mask keeps only the diagonal; ``events``: ``"auto"`` (by activity),
    ``"always"`` or ``"never"`` (spike sources only); ``density``: the share of synapses the mask
    keeps (a large, sparse connection multiplies as CSR; integers only through an exact float
    copy, torch having no integer CSR product)."""

    def __init__(self, w: torch.Tensor, spikes: bool, diagonal: bool = False, events: str = "auto",
                 density: float = 1.0):
        w = w.contiguous()  # torch.sparse.mm is many times slower on a transposed view
        self.w, self.spikes, self.integer = w, spikes, not w.is_floating_point()
        self.diag = torch.diagonal(w).clone() if diagonal else None
        self.events = not diagonal and uses_events(w.shape[0], spikes, events)
        self.event_max = 1.0 if events == "always" else None
        self.dense, self.bound = None, None
        if self.integer and self.diag is None:
            self.bound = int(w.abs().sum(0).max().item()) if w.numel() else 0  # max column sum of |w|
            for dtype, limit in _EXACT:
                if self.bound < limit:  # exact for |x| <= 1; graded sources also check max |x| per step
                    self.dense = (dtype, w.to(dtype))
                    if not spikes and dtype == torch.float32:
                        self.dense = (torch.float64, w.to(torch.float64))  # graded values are wide: start at float64
                    break
        self.csr = None
        if (self.diag is None and events != "never" and density <= SPARSE_MAX_DENSITY and w.shape[0] >= EVENT_MIN_SOURCES
                and (not self.integer or self.dense is not None)):
            self.csr = sparse_weights((self.dense[1] if self.integer else w).T)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.diag is not None:
            return x * self.diag
        if self.csr is not None:
            if not self.integer:
                return sparse_matmul(x, self.csr)
            dtype = self.dense[0]
            if self.spikes or int(x.abs().max().item()) * self.bound < 2**53:
                return sparse_matmul(x.to(dtype), self.csr).to(torch.int64)
        if self.events:  # through the exact float copy where there is one (as BLAS below)
            w = self.dense[1] if self.dense is not None else self.w
            y = event_matmul(x if self.dense is None else x.to(w.dtype), w, self.event_max)
            if y is not None:
                return y if self.dense is None else y.to(torch.int64)
        if self.dense is not None:
            dtype, wf = self.dense
            if self.spikes or int(x.abs().max().item()) * self.bound < 2**53:
                return (x.to(dtype) @ wf).to(torch.int64)
        return x @ self.w


EVENT_MODES = ("auto", "always", "never")


def uses_events(sources: int, spikes: bool, events: str = "auto") -> bool:
    """Whether a connection from ``sources`` neurons takes the event kernel (then chosen by
    activity at each step): spike sources only, large ones under ``"auto"``."""
    if events not in EVENT_MODES:
        raise ValueError(f"events must be one of {', '.join(EVENT_MODES)}, got {events!r}")
    return spikes and (events == "always" or (events == "auto" and sources >= EVENT_MIN_SOURCES))


def event_max_activity(batch: int) -> float:
    """The activity below which :func:`event_matmul` beats BLAS's dense product: a single sample
    is a matrix-vector product, memory-bound, which the event kernel beats up to ~30 %."""
    return EVENT_MAX_ACTIVITY_SINGLE if batch == 1 else EVENT_MAX_ACTIVITY


def event_matmul(x: torch.Tensor, w: torch.Tensor, max_activity: float | None = None) -> torch.Tensor | None:
    """``x @ w`` for 0/1 spikes ``x`` (batch, pre) as a sparse-dense product over the spikes that
    were sent, so the cost follows the synaptic events; ``None`` when more than ``max_activity``
    (default :func:`event_max_activity`) of ``x`` is active (the dense product is then cheaper).
    ``w`` should be contiguous: on a transposed view the product is many times slower."""
    limit = event_max_activity(x.shape[0]) if max_activity is None else max_activity
    if float(x.sum()) > limit * x.numel():  # 0/1 spikes: their sum is their count (count_nonzero is 5x slower)
        return None
    idx = x.nonzero().T
    s = torch.sparse_coo_tensor(idx, torch.ones(idx.shape[1], dtype=w.dtype, device=w.device), x.shape,
                                is_coalesced=True, check_invariants=False)  # nonzero() gives sorted, unique indices
    return torch.sparse.mm(s, w)


def sparse_weights(w: torch.Tensor) -> torch.Tensor:
    """A (post, pre) weight matrix with few non-zeros as CSR, for :func:`sparse_matmul`."""
    import warnings

    with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state": matmul is what we use
        warnings.simplefilter("ignore", UserWarning)
        return w.to_sparse_csr()


def sparse_matmul(x: torch.Tensor, w_csr: torch.Tensor) -> torch.Tensor:
    """``x @ w.T`` for a CSR ``w`` (post, pre): the cost follows the synapses that exist."""
    return (w_csr @ x.T).T


# A torus at least this large applies its spatial kernel axis by axis (below, one small matmul is
# cheaper than several).
SEPARABLE_MIN_NEURONS = 256


class SeparableKernel:
    """An N-D toroidal buffer's spatial kernel ``S = K_1 (x) K_2 (x) ...`` (Kronecker product of
    symmetric per-axis circulants), applied as ``x @ S`` one axis at a time: ``N * sum(n_a)``
    multiply-adds per sample instead of ``N**2`` (8x fewer for a 16 x 16 torus). The same sums in
    another order: equal to the dense product up to float rounding. Differentiable in the factors."""

    def __init__(self, factors: list[torch.Tensor], shape: tuple[int, ...]):
        self.factors, self.shape = factors, tuple(int(n) for n in shape)

    def __rmatmul__(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        y = x.reshape(*lead, *self.shape)
        for a, k in enumerate(self.factors):
            axis = len(lead) + a
            y = (y.movedim(axis, -1) @ k).movedim(-1, axis)  # k is symmetric: x K_a on that axis
        return y.reshape(*lead, -1)

    def dense(self) -> torch.Tensor:
        """The full (N, N) matrix (for checks)."""
        out = torch.ones(1, 1, dtype=self.factors[0].dtype, device=self.factors[0].device)
        for k in self.factors:
            out = torch.kron(out, k)
        return out
