"""The toroidal ring buffer: a population's last K outputs, fed back with fading weights.

The buffer keeps references to the last ``K`` output arrays in a ring (no data is copied on a
push, and nothing is modified in place, so torch autograd can run through it for BPTT). Its
feedback is ``sum_j w_j * out(t-1-j)`` with ``w_j = gain * decay^j``, tap 0 the most recent.
The same structure serves connection delays: ``tap(d - 1)`` is the output ``d`` steps ago.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Sequence


class RingBuffer:
    """Ring of the last ``depth`` arrays, most recent first; starts filled with ``fill``."""

    def __init__(self, depth: int, fill: Any):
        if depth < 1:
            raise ValueError("a ring buffer needs depth >= 1")
        self._ring: deque = deque([fill] * depth, maxlen=depth)

    @property
    def depth(self) -> int:
        return self._ring.maxlen

    def copy(self) -> "RingBuffer":
        """A ring that shares the stored arrays but advances independently."""
        new = RingBuffer.__new__(RingBuffer)
        new._ring = self._ring.copy()
        return new

    def push(self, x: Any) -> None:
        self._ring.appendleft(x)

    def tap(self, j: int) -> Any:
        """The array pushed ``j + 1`` pushes ago (``tap(0)`` is the most recent)."""
        return self._ring[j]

    def weighted_sum(self, weights: Sequence[float]) -> Any:
        """``sum_j weights[j] * tap(j)`` over the first ``len(weights)`` taps."""
        total = None
        for w, x in zip(weights, self._ring):
            total = w * x if total is None else total + w * x
        return total



def torus_feedback(ring: RingBuffer, taps: Sequence[Any], kernel: Any = None) -> Any:
    """An N-D toroidal buffer's feedback: the time taps' weighted sum, spread over the spatial
    torus by the symmetric kernel (``None`` for a 1-D buffer). Arrays are (batch, neurons)."""
    fb = ring.weighted_sum(taps)
    return fb if kernel is None else fb @ kernel
