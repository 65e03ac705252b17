"""Backends compile a :class:`~neurotep.graph.Graph` and run it: ``torch`` (snnTorch reference
path, CPU/CUDA) and ``lava`` (Lava processes on Loihi2SimCfg, or Loihi 2 hardware)."""

BACKENDS = ("torch", "lava")
