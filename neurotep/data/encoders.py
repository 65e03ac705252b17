"""Spike encoders for spiking runs, identical on numpy and torch.

Three encodings (``ENCODINGS``):

* ``"poisson"``: each step, input j of sample s spikes with probability x[s, j]. The uniform is
  drawn from the counter-based generator (:mod:`neurotep.rng`) at
  ``index = sample_id * N + j``, with ``sample_id`` the sample's index in its dataset, so a
  sample's spike train depends only on (seed, step, sample_id), not on batching or backend.
* ``"current"``: deterministic; the intensities x themselves are injected as input current every
  step. No function is needed: pass x through.
* ``"delta"``: the input is sent as its changes (:func:`delta_frame`): a static input once, at
  step 0, then nothing; a stream, frame by frame, as the difference from the frame before. The
  network is the delta form (:mod:`neurotep.graph.delta`), whose neurons sum what they receive.

Exactness: the uniforms are multiples of 2**-24, exact in float32 and float64, so ``u < x`` is
the same in both precisions whenever x is exactly representable in float32 (digits pixels k/16
are; MNIST's k/255 are not, so pass the same float32 values to every backend). The numpy path
compares in float64; the torch path compares in x's dtype (float16/bfloat16 are upcast to
float32, since they cannot hold the 24-bit uniform).

Use an encoder seed distinct from seeds used by stochastic neurons, so their draws are independent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurotep.errors import DataError
from neurotep.rng import uniform_np, uniform_torch

ENCODINGS = ("poisson", "current", "delta")


def delta_frame(frames: Any, t: int) -> Any:
    """The change of a (cycled) stack of input frames (F, B, N) at step ``t``: ``frames[0]`` at
    step 0, then ``frames[t % F] - frames[(t - 1) % F]`` (zero for a static input, F = 1)."""
    f = len(frames)
    if t == 0:
        return frames[0]
    return frames[t % f] - frames[(t - 1) % f]


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def check_batch(x: Any, n_features: int) -> None:
    """Raise DataError unless x (numpy or torch) is a finite (batch, n_features) array."""
    if x.ndim != 2:
        raise DataError(f"input batch must be 2-D (batch, features), got {x.ndim}-D shape {tuple(x.shape)}")
    if x.shape[1] != n_features:
        raise DataError(f"input batch has wrong feature count: expected {n_features}, got {x.shape[1]}")
    if _is_torch(x):
        import torch

        finite = bool(torch.isfinite(x).all()) if x.is_floating_point() else True
    else:
        finite = bool(np.isfinite(x).all())
    if not finite:
        raise DataError("input batch contains NaN or inf values")


def _check_unit(x: Any, sample_ids: Any) -> None:
    """Poisson intensities must be a (B, N) batch in [0, 1] (NaN fails both comparisons)."""
    if x.ndim != 2:
        raise DataError(f"spike intensities must be 2-D (batch, features), got shape {tuple(x.shape)}")
    if tuple(sample_ids.shape) != (x.shape[0],):
        raise DataError(f"sample_ids must have shape ({x.shape[0]},), got {tuple(sample_ids.shape)}")
    if not bool(((x >= 0) & (x <= 1)).all()):
        raise DataError("spike intensities must lie in [0, 1] with no NaN (Poisson encoding; for inputs outside [0, 1], "
                        "such as mnist1d's standardised values, use --encoding current)")


def _index(sample_ids: Any, n: int, arange: Any) -> Any:
    return sample_ids[:, None] * n + arange[None, :]


def poisson_spikes_np(x: np.ndarray, step: int, seed: int, sample_ids: np.ndarray) -> np.ndarray:
    """Bool spikes of shape (B, N): ``u(seed, step, sample_id * N + j) < x`` compared in float64."""
    x = np.asarray(x, dtype=np.float64)
    ids = np.asarray(sample_ids, dtype=np.int64)
    _check_unit(x, ids)
    u = uniform_np(seed, step, _index(ids, x.shape[1], np.arange(x.shape[1], dtype=np.int64)))
    return u < x


def poisson_spikes_torch(x: "torch.Tensor", step: int, seed: int, sample_ids: Any) -> "torch.Tensor":  # noqa: F821
    """Same spikes as :func:`poisson_spikes_np`, as 0/1 in x's dtype on x's device."""
    import torch

    if not x.is_floating_point():
        raise DataError(f"spike intensities must be a floating tensor, got {x.dtype}")
    ids = torch.as_tensor(sample_ids, dtype=torch.int64, device=x.device)
    _check_unit(x, ids)
    # float16/bfloat16 cannot hold the 24-bit uniform exactly; compare in float32 instead.
    cmp = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    idx = _index(ids, x.shape[1], torch.arange(x.shape[1], dtype=torch.int64, device=x.device))
    u = uniform_torch(seed, step, idx, dtype=cmp)
    return (u < x.to(cmp)).to(x.dtype)


def rate_encode(x: np.ndarray, steps: int, seed: int, sample_ids: np.ndarray, start_step: int = 0) -> np.ndarray:
    """Stack Poisson frames for steps ``start_step .. start_step + steps - 1``: bool (steps, B, N)."""
    if steps < 1:
        raise DataError(f"steps must be >= 1, got {steps}")
    return np.stack([poisson_spikes_np(x, start_step + t, seed, sample_ids) for t in range(steps)])
