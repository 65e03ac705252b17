"""Counter-based random numbers: ``uniform(seed, step, index)`` is a pure function.

Stochastic neurons and Poisson encoders draw from a hash of (seed, step, neuron index) instead of
a stateful generator, so every backend (numpy in Lava process models, torch on CPU or CUDA)
produces bit-identical draws without sharing state. The hash is Chris Wellons' "lowbias32"
integer mixer applied three times; arithmetic is done in int64 and masked to 32 bits, which
numpy and torch evaluate identically (products of two 32-bit values wrap the same way in both).

The uniform has 24 bits (``h >> 8`` divided by ``2**24``) so it is exact in float32 and float64,
and comparisons ``u < p`` agree across precisions whenever ``p`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MASK32 = 0xFFFFFFFF
_M1 = 0x7FEB352D
_M2 = 0x846CA68B
# Golden-ratio increments keep (seed, step, index) = (0, 0, 0) away from the hash's fixed point 0.
_G_SEED = 0x9E3779B9
_G_STEP = 0x85EBCA6B
U24 = float(1 << 24)


def _mix(x: Any) -> Any:
    """lowbias32 on int64 arrays (numpy or torch) holding values in [0, 2**32)."""
    x = x ^ (x >> 16)
    x = (x * _M1) & MASK32
    x = x ^ (x >> 15)
    x = (x * _M2) & MASK32
    x = x ^ (x >> 16)
    return x


def hash3(seed: int, step: int, index: Any) -> Any:
    """32-bit hash of (seed, step, index); ``index`` is an int64 numpy array or torch tensor."""
    s = _mix((int(seed) + _G_SEED) & MASK32)
    s = _mix((s ^ ((int(step) + _G_STEP) & MASK32)) & MASK32)
    return _mix((index & MASK32) ^ s)


def hash24(seed: int, step: int, index: Any) -> Any:
    """The integer behind :func:`uniform_np`: ``uniform = hash24 / 2**24`` (numpy or torch)."""
    return hash3(seed, step, index) >> 8


def uniform_np(seed: int, step: int, index: np.ndarray) -> np.ndarray:
    """Uniform draws in [0, 1) as float64 for integer ``index`` (any shape)."""
    idx = np.asarray(index, dtype=np.int64)
    return (hash3(seed, step, idx) >> 8).astype(np.float64) / U24


def uniform_torch(seed: int, step: int, index: "torch.Tensor", dtype: "torch.dtype | None" = None) -> "torch.Tensor":  # noqa: F821
    """The same draws as :func:`uniform_np`, computed on ``index``'s device."""
    import torch

    idx = index.to(torch.int64)
    out = (hash3(seed, step, idx) >> 8).to(dtype or torch.float32) / U24
    return out


# Gate draws use their own stream so they never coincide with a neuron's spike draws.
_GATE_STREAM = 0x6A09E667


def gate_threshold(p: float) -> int:
    """The integer ``G`` with ``hash24 < G`` exactly when the 24-bit uniform is ``< p``."""
    return int(np.ceil(float(p) * U24))


def gate_open(seed: int, step: int, index: Any, p: float) -> Any:
    """Bool array: which units' probabilistic gates are open at ``step`` (probability ``p``).
    Integer comparison, so numpy, torch and fixed point agree bit for bit."""
    return hash24((int(seed) ^ _GATE_STREAM) & MASK32, step, index) < gate_threshold(p)


# Gaussian noise (DiffTorEqProp's Langevin relaxation) has its own stream too.
_NOISE_STREAM = 0xBB67AE85
NORMAL_TERMS = 4
# Irwin-Hall: the sum of NORMAL_TERMS centred 24-bit draws (2h + 1 - 2**24, uniform on +-2**24)
# has variance NORMAL_TERMS * 2**48 / 3; this factor brings it to 1 (4 terms: std 2**25 / sqrt 3).
NORMAL_SCALE = float(np.sqrt(3.0 / NORMAL_TERMS)) / float(1 << 24)


def normal_int(seed: int, step: int, index: Any) -> Any:
    """The integer behind :func:`normal_np`: a sum of ``NORMAL_TERMS`` centred 24-bit hashes, in
    ``[-2**26, 2**26]``, symmetric about 0 (numpy or torch int64). Fixed point scales it with an
    integer multiply and shift; float multiplies by :data:`NORMAL_SCALE`, both exactly."""
    s = (int(seed) ^ _NOISE_STREAM) & MASK32
    total = 0
    for k in range(NORMAL_TERMS):
        total = total + 2 * hash24(s, NORMAL_TERMS * int(step) + k, index) + 1 - (1 << 24)
    return total


def normal_np(seed: int, step: int, index: np.ndarray) -> np.ndarray:
    """Approximately standard normal draws (Irwin-Hall of 4 uniforms: unit variance, bounded at
    +-3.46) as float64, keyed by (seed, step, index) like :func:`uniform_np`."""
    return normal_int(seed, step, np.asarray(index, dtype=np.int64)).astype(np.float64) * NORMAL_SCALE


def normal_torch(seed: int, step: int, index: "torch.Tensor", dtype: "torch.dtype | None" = None) -> "torch.Tensor":  # noqa: F821
    """The same draws as :func:`normal_np`, computed on ``index``'s device (the integer sum is
    exact, so float64 results equal numpy's bit for bit)."""
    import torch

    return normal_int(seed, step, index.to(torch.int64)).to(dtype or torch.float32) * NORMAL_SCALE
