"""The few array operations the neuron dynamics need, for numpy arrays and torch tensors alike.

Dynamics are written once with these helpers and plain operators, so the torch backend and the
numpy Lava process models run the same code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit


def is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def clip(x: Any, lo: float, hi: float) -> Any:
    return x.clamp(lo, hi) if is_torch(x) else np.clip(x, lo, hi)


def tanh(x: Any) -> Any:
    return x.tanh() if is_torch(x) else np.tanh(x)


def sigmoid(x: Any) -> Any:
    return x.sigmoid() if is_torch(x) else expit(x)  # expit: no overflow at low temperature


def as_float(mask: Any, like: Any) -> Any:
    """A boolean array as 0/1 values of ``like``'s dtype (float or integer)."""
    return mask.to(like.dtype) if is_torch(mask) else mask.astype(like.dtype)


def sign(x: Any) -> Any:
    return x.sign() if is_torch(x) else np.sign(x)


def abs_(x: Any) -> Any:
    return x.abs() if is_torch(x) else np.abs(x)



def where(cond: Any, a: Any, b: Any) -> Any:
    if is_torch(cond):
        import torch

        return torch.where(cond, a, b)
    return np.where(cond, a, b)


def floor_frac(x: Any, scale: float) -> tuple[Any, Any]:
    """``x * scale`` in float64 (torch would multiply an integer tensor in float32, and round
    differently from numpy once in about a million), split into its floor (int64) and fraction."""
    if is_torch(x):
        import torch

        x = x.to(torch.float64) * scale
        return torch.floor(x).to(torch.int64), torch.remainder(x, 1.0)
    x = np.asarray(x, dtype=np.float64) * scale
    return np.floor(x).astype(np.int64), x % 1
