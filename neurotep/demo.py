"""``neurotep demo``: the main job, on embedded data and with no downloads.

Trains the base TorEqProp model on the digits set with EqProp (or reuses the model cached in the
output folder when it was trained with the same settings), then runs it on the test split in its
rate mode and in its spiking mode, on the torch path and on Lava's Loihi 2 simulator (in floating
and fixed point, and the fixed-point chip form made of Loihi 2 library classes only, see
:mod:`neurotep.graph.chip`), measures the accuracy-energy-latency frontier
(:mod:`neurotep.frontier`) and runs the event-efficient network it chooses on the training split
(the delta form: Lava's SigmaDelta neurons, the input sent once, early exit; :mod:`neurotep.graph.delta`)
on Lava in fixed point, profiles the Lava runs for Loihi 2 and for the dense GPU baseline, and
writes everything, with a report (report.md, self-contained report.html, figures), to one folder it
names at the end.
"""

from __future__ import annotations

import json
from pathlib import Path

from neurotep.data import load_digits_split
from neurotep.errors import ModelFileError
from neurotep.frontier import frontier, summary_line
from neurotep.graph import load_graph, save_graph
from neurotep.learning.train import train
from neurotep.outputs import output_dir, write_json
from neurotep.profile import write_profile
from neurotep.report import write_report
from neurotep.runner import run_model, save_run
from neurotep.variants import base


def write_profile_doc(run_dir, hardware: str, baseline=None) -> dict:
    """Profile ``run_dir`` for ``hardware`` (files written beside the run; ``baseline``: the rate
    run the chip is compared with) and return the profile."""
    return json.loads(write_profile(run_dir, hardware, baseline=baseline).read_text())


def cached_model(model_dir: Path, epochs: int, seed: int, variant: str = base.NAME):
    """The model saved in ``model_dir`` if it is ``variant`` trained by EqProp with these settings."""
    try:
        g = load_graph(model_dir)
    except ModelFileError:
        return None
    t = g.meta.get("training", {})
    same = (t.get("epochs"), t.get("seed"), t.get("method"), g.meta.get("variant")) == (epochs, seed, "eqprop", variant)
    return g if same else None


def demo(out: str = "runs/demo", epochs: int = 40, device: str = "cpu", retrain: bool = False, seed: int = 0,
         overwrite: bool = False) -> dict:
    """Run the demo into ``out``: a new or empty folder, or an earlier demo's (reused, then
    replaced); any other neurotep output only with ``overwrite``, anything else never."""
    out_dir = Path(out)
    with output_dir(out_dir, command="demo", refresh=True, overwrite=overwrite) as tmp:
        summary, energy = _demo(out_dir, tmp, epochs, device, retrain, seed)
    _report_and_print(out_dir, summary, energy)
    return summary


def _demo(out_dir: Path, tmp: Path, epochs: int, device: str, retrain: bool, seed: int) -> tuple[dict, dict]:
    data = load_digits_split()
    graph = None if retrain else cached_model(out_dir / "model", epochs, seed)
    print(f"[1/7] {'reusing the cached model in ' + str(out_dir / 'model') if graph else 'training the base TorEqProp model on digits by EqProp'}")
    history = None
    if graph is None:
        result = train(base.build(n_in=data.n_features, n_out=data.n_classes, seed=seed), data, epochs=epochs,
                       seed=seed, device=device)
        graph, history = result.graph, result.history
    print("[2/7] running the rate mode on the test split")
    rate = run_model(graph, data, device=device)
    print("[3/7] running the spiking mode (integrate-and-fire neurons, Poisson input) on the test split")
    spiking = run_model(graph, data, spiking=True, device=device)
    print("[4/7] running the same spiking network on Lava's Loihi 2 simulator (Loihi2SimCfg)")
    lava = run_model(graph, data, spiking=True, backend="lava", raster=True)
    print("      and in fixed point (Loihi 2 bit widths)")
    lava_fixed = run_model(graph, data, spiking=True, backend="lava", precision="fixed")
    print("      and its chip form (Lava library classes with Loihi 2 neuro-core models, fixed point)")
    lava_chip = run_model(graph, data, spiking=True, backend="lava", precision="fixed", form="chip")
    same = all(lava.summary["populations"][p]["spikes"] == v["spikes"] for p, v in spiking.summary["populations"].items())
    print("[5/7] the accuracy-energy-latency frontier: rate, delta coding, Poisson spiking (the point chosen on the "
          "training split)")
    front = frontier(graph, data, tmp / "frontier", progress=lambda m: print("      " + m.removeprefix("frontier: ")))
    chosen = next((p for p in front["points"] if p["name"] == front["chosen"]), None)
    summary = dict(variant=graph.meta["variant"], dataset=data.name, training=graph.meta.get("training", {}),
                   rate=rate.summary, spiking=spiking.summary, lava=lava.summary, lava_fixed=lava_fixed.summary,
                   lava_chip=lava_chip.summary, lava_spikes_identical=same, frontier=summary_line(front))
    runs = [("rate", rate), ("spiking", spiking), ("lava", lava), ("lava-fixed", lava_fixed), ("lava-chip", lava_chip)]
    if chosen is not None:
        print(f"[6/7] the event-efficient network (delta coding, threshold {chosen['threshold']:g}) on Lava in fixed point: "
              "SigmaDelta neurons")
        # as many steps as the emulator's last sample took to exit: after it, nothing is sent
        delta = run_model(graph, data, backend="lava", encoding="delta", threshold=chosen["threshold"], precision="fixed",
                          steps=int(chosen["max_steps"]))
        emulated = json.loads((Path(chosen["run_dir"]) / "run.json").read_text())
        summary["lava_delta"] = delta.summary
        summary["lava_delta_identical"] = all(emulated["populations"][p]["spikes"] == v["spikes"]
                                              for p, v in delta.summary["populations"].items())
        summary["lava_delta_vs_rate"] = dict(synaptic_ops=chosen["synaptic_ops"], rate_dense_macs=front["rate_dense_macs"])
        runs.append(("lava-delta", delta))
    else:
        print("[6/7] no delta threshold keeps the rate model's training accuracy: the event-efficient run is skipped")
    save_graph(graph, tmp / "model")
    if history:
        write_json(tmp / "history.json", history)
    for mode, res in runs:
        doc = save_run(res, tmp / mode)
        if mode == "lava-chip":
            summary["lava_chip"]["neuro_core_fraction"] = doc["cores"]["loihi2"].get("neuro_core_fraction")
    write_json(tmp / "summary.json", summary)
    print("[7/7] profiling the runs for Loihi 2 (both ends of its constants' ranges) against the GPU running the rate "
          "model, writing the report")
    rate_dir = tmp / "rate"
    energy = {"gpu-rate": write_profile_doc(rate_dir, "gpu-rate"),
              "loihi2": write_profile_doc(tmp / "lava", "loihi2", baseline=rate_dir)}
    for mode in ("spiking", "lava", "lava-fixed"):  # the spiking network run densely, the old convention
        write_profile(tmp / mode, "gpu-dense")
    for mode in ("spiking", "lava-fixed", "lava-chip"):
        write_profile(tmp / mode, "loihi2", baseline=rate_dir)
    if chosen is not None:
        energy["delta"] = write_profile_doc(tmp / "lava-delta", "loihi2", baseline=rate_dir)
    return summary, energy


def _uj(r: dict) -> str:
    return f"{r['low'] * 1e6:.3g} - {r['high'] * 1e6:.3g} uJ"


def _report_and_print(out_dir: Path, summary: dict, energy: dict) -> None:
    spiking, lava, lava_fixed = summary["spiking"], summary["lava"], summary["lava_fixed"]
    same = summary["lava_spikes_identical"]
    delta = summary.get("lava_delta")
    write_report([out_dir / "rate", out_dir / "spiking", out_dir / "lava", out_dir / "lava-fixed", out_dir / "lava-chip"]
                 + ([out_dir / "lava-delta"] if delta else []), out_dir / "report",
                 frontier=out_dir / "frontier")  # atomic; real paths
    hidden = [p for p, v in spiking["populations"].items() if v["model"] == "lif"]
    rate_h = sum(spiking["populations"][p]["spikes_per_neuron_per_step"] for p in hidden) / max(len(hidden), 1)
    print()
    print(f"  test accuracy, rate mode    : {summary['rate']['test_accuracy']:.4f}  ({summary['rate']['steps']} relaxation steps)")
    print(f"  test accuracy, spiking mode : {spiking['test_accuracy']:.4f}  ({spiking['steps']} steps, "
          f"{rate_h:.3f} spikes per hidden neuron per step)")
    print(f"  on Lava (loihi2-sim)        : {lava['test_accuracy']:.4f}  "
          f"({'identical' if same else 'DIFFERENT'} spike counts to the torch path, {lava['wall_seconds']:.1f} s)")
    print(f"  on Lava, fixed point        : {lava_fixed['test_accuracy']:.4f}  "
          f"({lava_fixed['spikes_total']} spikes in all)")
    chip = summary["lava_chip"]
    frac = chip.get("neuro_core_fraction") or {}
    print(f"  on Lava, fixed, chip form   : {chip['test_accuracy']:.4f}  ({chip['spikes_total']} spikes in all; "
          f"{frac.get('neurons', 0):.0%} of neurons, {frac.get('synapses', 0):.0%} of synapses on neuro-core classes)")
    if delta:
        ops = summary["lava_delta_vs_rate"]
        print(f"  delta coding on Lava, fixed : {delta['test_accuracy']:.4f}  (threshold {delta['delta']['threshold']:g}, "
              f"{'identical' if summary['lava_delta_identical'] else 'DIFFERENT'} messages to the emulator, "
              f"{ops['synaptic_ops']:,.0f} synaptic ops per inference = 1/{ops['rate_dense_macs'] / ops['synaptic_ops']:.0f} "
              f"of the rate model's dense MACs, exit at step {delta['delta']['mean_exit_step']:.1f} on average)")
    print(f"  {summary['frontier']}")
    print("  energy per inference (low - high end of the constants' ranges, static power included):")
    for b, g in energy["gpu-rate"]["batches"].items():
        print(f"    {'GPU, the rate model at batch ' + b:<36}: {_uj(g['energy_range_joules'])}")
    for key, what in (("loihi2", "Poisson spiking run"), ("delta", "delta-coded run")):
        if key in energy:
            doc = energy[key]
            print(f"    {'Loihi 2, ' + what:<36}: {_uj(doc['energy_range_joules'])}. {doc['conclusion']}")
    print(f"  report: {(out_dir / 'report' / 'report.html').resolve()}")
    print(f"  trained in {summary['training'].get('train_seconds', 0):.1f} s; results written to {out_dir.resolve()}")
