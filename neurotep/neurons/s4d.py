"""S4D's diagonal complex state-space modes as real rate units (TEP-SSR, seed 004): the
eigenvalues, the real block-diagonal matrix that holds them and the way back. Pure numpy, used by
the TEP-SSR builder, its eligibility-trace gradients and the Lava S4D comparison alike."""

from __future__ import annotations

import numpy as np


def s4d_lin(modes: int, dt: float) -> np.ndarray:
    """S4D-Lin eigenvalues ``lambda_n = exp(dt (-1/2 + i pi n))``, n = 0..modes-1 (|lambda| < 1)."""
    return np.exp(dt * (-0.5 + 1j * np.pi * np.arange(modes)))


def mode_gain(lam: np.ndarray, length: int) -> np.ndarray:
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
