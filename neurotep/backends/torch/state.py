"""The torch path's device choice and what a simulation carries from step to step: the state
(:class:`SimState`) and EqProp's nudge (:class:`Nudge`). Below :mod:`.network` so that the
solvers, which advance a network's state, need not import the network."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from neurotep.errors import BackendError
from neurotep.neurons import RingBuffer


def resolve_device(name: str | None) -> torch.device:
    """``"cpu"``, ``"cuda"`` or ``"cuda:N"``; a clear error when CUDA is asked for but absent."""
    name = name or "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise BackendError(f"--device {name} was asked for but no CUDA GPU is available here; use --device cpu")
        return torch.device(name)
    raise BackendError(f"unknown device {name!r}: use cpu or cuda")



@dataclass
class Nudge:
    """EqProp nudging of one population towards ``target``: adds ``-beta * (out - target)``,
    the gradient of the cost ``||out - target||^2 / 2``, to its input."""

    population: str
    beta: float
    target: torch.Tensor


@dataclass
class SimState:
    """Everything that evolves: outputs, membranes and the output histories (delays, buffers)."""

    t: int
    out: dict[str, torch.Tensor]
    v: dict[str, torch.Tensor]
    hist: dict[str, RingBuffer]

    def fork(self) -> "SimState":
        """A copy that can advance independently (e.g. the two nudged phases from one free state)."""
        return SimState(self.t, dict(self.out), dict(self.v), {k: rb.copy() for k, rb in self.hist.items()})
