"""The torch reference path (snnTorch neurons, CPU or CUDA)."""

from neurotep.backends.torch.network import Nudge, Recording, SimState, TorchNetwork, resolve_device

__all__ = ["TorchNetwork", "Nudge", "SimState", "Recording", "resolve_device"]
