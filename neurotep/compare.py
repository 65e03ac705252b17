"""``neurotep compare``: variants side by side on the same data, the same way.

Each variant is trained by EqProp on digits (or its model reused from the output folder when it
was trained with the same settings), run on the test split in its rate mode (accuracy and
relaxation steps) and in its spiking mode on the torch path; the spiking run is profiled for
Loihi 2 (both ends of its constants' ranges) against the GPU running the rate model at batch 1, and
all runs go into one report (a comparison table, the sparsity-accuracy-energy scatter, Loihi 2
against the GPU and each run's figures).
"""

from __future__ import annotations

from pathlib import Path

from neurotep import variants
from neurotep.data import load_digits_split
from neurotep.demo import cached_model, write_profile_doc
from neurotep.errors import NeurotepError
from neurotep.graph import save_graph
from neurotep.learning.train import train
from neurotep.outputs import output_dir, write_json
from neurotep.report import write_report
from neurotep.runner import hidden_spike_rate, run_model, save_run

def compare(names: list[str] | None = None, out: str = "runs/compare", epochs: int = 15, seed: int = 0, device: str = "cpu",
            retrain: bool = False, progress: bool = True, overwrite: bool = False) -> dict:
    """Compare ``names`` into ``out``: a new or empty folder, or an earlier comparison's (its
    models reused, then replaced); any other neurotep output only with ``overwrite``."""
    names = list(dict.fromkeys(names or variants.REGISTRY))
    builders = [variants.get(n) for n in names]  # unknown names fail before any work
    if epochs < 1:
        raise NeurotepError(f"--epochs must be at least 1, got {epochs}")
    out_dir = Path(out)
    with output_dir(out_dir, command="compare", refresh=True, overwrite=overwrite) as tmp:
        rows = _compare(names, builders, out_dir, tmp, epochs, seed, device, retrain, progress)
    report = write_report([out_dir / n / d for n in names for d in ("rate", "spiking")], out_dir / "report")
    print()
    print(f"  {'variant':<11} {'rate acc':>8} {'steps':>6} {'spiking acc':>11} {'spk/neuron/step':>15} "
          f"{'Loihi 2 uJ (low-high)':>22} {'GPU rate b=1 uJ':>18}")
    for name, r in rows.items():
        chip, gpu = r["energy_uJ_loihi2"], r["energy_uJ_gpu_rate_batch1"]
        print(f"  {name:<11} {r['rate_accuracy']:>8.4f} {r['relax_steps']:>6} {r['spiking_accuracy']:>11.4f} "
              f"{r['spikes_per_hidden_neuron_per_step']:>15.3f} {chip['low']:>9.3g} - {chip['high']:<10.3g} "
              f"{gpu['low']:>7.3g} - {gpu['high']:<8.3g}")
    print(f"  report: {report.with_suffix('.html').resolve()}")
    return rows


def _compare(names, builders, out_dir: Path, tmp: Path, epochs: int, seed: int, device: str, retrain: bool,
             progress: bool) -> dict:
    data = load_digits_split()
    rows, models, results = {}, {}, {}
    for i, (name, builder) in enumerate(zip(names, builders), 1):
        graph = None if retrain else cached_model(out_dir / name / "model", epochs, seed, variant=name)
        print(f"[{i}/{len(names)}] {name}: {'reusing the cached model' if graph else f'training {epochs} epochs by EqProp'}")
        if graph is None:
            graph = train(builder.build(n_in=data.n_features, n_out=data.n_classes, seed=seed), data, epochs=epochs,
                          seed=seed, device=device, progress=progress).graph
        rate = run_model(graph, data, device=device)
        spiking = run_model(graph, data, spiking=True, device=device)
        models[name], results[name] = graph, (rate, spiking)
        hidden = [p for p in spiking.summary["populations"].values() if p["model"] not in ("input", "linear")]
        rows[name] = dict(
            rate_accuracy=rate.summary["test_accuracy"], relax_steps=rate.summary["steps"],
            spiking_accuracy=spiking.summary["test_accuracy"], spiking_neuron=sorted({p["model"] for p in hidden}),
            spikes_per_hidden_neuron_per_step=hidden_spike_rate(spiking.summary),
            train_seconds=graph.meta.get("training", {}).get("train_seconds"))
    for name in names:
        save_graph(models[name], tmp / name / "model")
        save_run(results[name][0], tmp / name / "rate")
        save_run(results[name][1], tmp / name / "spiking")
        gpu = write_profile_doc(tmp / name / "rate", "gpu-rate")["batches"]["1"]["energy_range_joules"]
        chip = write_profile_doc(tmp / name / "spiking", "loihi2", baseline=tmp / name / "rate")["energy_range_joules"]
        rows[name]["energy_uJ_loihi2"] = {e: v * 1e6 for e, v in chip.items()}  # both ends of the constants' ranges
        rows[name]["energy_uJ_gpu_rate_batch1"] = {e: v * 1e6 for e, v in gpu.items()}
    write_json(tmp / "summary.json", dict(dataset=data.name, epochs=epochs, seed=seed, variants=rows))
    return rows

