"""The torch reference path (snnTorch neurons, CPU or CUDA)."""

from neurotep.backends.torch.network import Recording, TorchNetwork
from neurotep.backends.torch.state import Nudge, SimState, resolve_device

__all__ = ["TorchNetwork", "Nudge", "SimState", "Recording", "resolve_device"]
