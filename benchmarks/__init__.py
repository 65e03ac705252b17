"""neurotep's benchmarks: ``python -m benchmarks [NAME ...] [--quick] [--json-out FILE]``.

Each benchmark is a module with ``run(quick: bool) -> dict`` that prints a short table and returns
its measured figures; the runner adds the environment and writes ``benchmarks/results/<name>.json``
(``<name>.quick.json`` for ``--quick`` runs). A benchmark that can measure nothing on this machine
(``gpu_energy`` without a GPU) returns None, and nothing is written. See ``benchmarks/README.md``.
"""

BENCHMARKS = ("accuracy", "gradient", "memory", "spiking", "step_time", "emulator", "lava_step_time", "lava_recording", "lava_accuracy", "mstep", "htsep", "difftor", "tpeqprop", "tepssr", "mnist1d", "sweep", "frontier", "onchip", "gpu_energy")
