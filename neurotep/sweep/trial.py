"""One sweep trial, in whichever process runs it (a Ray worker, or the caller's): train, optionally
run the spiking mode, and write the trial's own run directory.

The directory is written through :func:`neurotep.outputs.output_dir`, so it appears whole or not
at all: ``result.json`` (``status`` ``"ok"`` with the metrics, or ``"failed"`` with the error),
and for a finished trial ``model/`` and, with ``steps``, ``spiking/`` (a run directory that
``neurotep profile`` and ``neurotep report`` read). A failed trial is recorded, not raised, so the
other trials go on; Ctrl-C and signals are not caught.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path

RESULT = "result.json"


def finished(trial_dir: Path) -> dict | None:
    """The result of a trial that finished (``status == "ok"``) in ``trial_dir``, else None."""
    import json

    try:
        doc = json.loads((Path(trial_dir) / RESULT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("status") == "ok" else None


def run_trial(config: dict, trial_dir: str, data_path: str | None = None, threads: int = 1) -> dict:
    """Run the trial ``config`` (variant, seed and settings: :data:`neurotep.sweep.spec.SETTINGS`)
    into ``trial_dir``; its ``result.json`` content."""
    import torch

    from neurotep.outputs import output_dir, write_json

    torch.set_num_threads(threads)  # one core per trial: the trials themselves are the parallelism
    t0 = time.perf_counter()
    try:
        with output_dir(trial_dir, command="sweep-trial", overwrite=True) as tmp:
            doc = {"status": "ok", "config": config, **_train_and_run(config, data_path, tmp)}
            doc["seconds"] = time.perf_counter() - t0
            write_json(tmp / RESULT, doc)
        return doc
    except Exception as e:  # recorded: one failed trial must not stop the sweep
        doc = {"status": "failed", "config": config, "error": f"{type(e).__name__}: {e}",
               "traceback": traceback.format_exc(), "seconds": time.perf_counter() - t0}
        with output_dir(trial_dir, command="sweep-trial", overwrite=True) as tmp:
            write_json(tmp / RESULT, doc)
        return doc


def _train_and_run(config: dict, data_path: str | None, out: Path) -> dict:
    from neurotep.data import load_dataset
    from neurotep.graph import save_graph
    from neurotep.runner import hidden_spike_rate, run_model, save_run
    from neurotep.train_job import train_variant

    data = load_dataset(config["dataset"], data_path)
    lr = {} if config.get("lr") is None else {"lr": config["lr"], "lr_lava": config["lr"]}
    m = train_variant(config["variant"], config["dataset"], epochs=config["epochs"], seed=config["seed"],
                      method=config["method"], backend=config["backend"], progress=False, data=data, **lr)
    graph = m.pop("graph")
    save_graph(graph, out / "model")
    metrics = {k: m.get(k) for k in ("test_accuracy", "train_accuracy", "train_seconds")}
    if config.get("steps"):
        delta = config["encoding"] == "delta"
        res = run_model(graph, data, spiking=True, steps=config["steps"], encoding=config["encoding"],
                        neuron=config.get("neuron"), samples=config.get("samples"),
                        threshold=config.get("delta_threshold") if delta else None)
        run = save_run(res, out / "spiking")
        metrics["spiking_accuracy"] = run["test_accuracy"]
        metrics["spikes_per_neuron_per_step"] = hidden_spike_rate(run)  # delta: messages per neuron per step
        if delta:
            metrics["mean_exit_step"] = run["delta"]["mean_exit_step"]
    return {"metrics": metrics, "history": m.get("history", [])}
