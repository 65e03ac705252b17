"""Accuracy of the spiking mode of a trained network against its rate mode.

The base model trained 40 epochs by EqProp with seed 0 (the same model `accuracy` trains for seed
0; it is reused from the cache when present) runs on the full digits test split (360 images):

* rate mode: ``run_model(graph, data, spiking=False)`` (relaxation, as in training);
* spiking mode: ``run_model(graph, data, spiking=True, steps=T)`` for each T: Poisson input spikes,
  hard-sigmoid units become integrate-and-fire neurons (beta 1, threshold 1, subtractive reset),
  the linear output is read as its mean over the run.

Reported per T: test accuracy, spikes per hidden neuron per step and per input neuron per step
(from the run summary's populations) and the wall time of the run.
"""

from __future__ import annotations

from benchmarks.common import table, train_base

STEPS = (50, 100, 200, 400)
QUICK_STEPS = (50, 100)
EPOCHS, QUICK_EPOCHS = 40, 5


def run(quick: bool = False) -> dict:
    from neurotep.data import load_digits_split
    from neurotep.runner import run_model

    epochs, steps_list = (QUICK_EPOCHS, QUICK_STEPS) if quick else (EPOCHS, STEPS)
    data = load_digits_split()
    graph, metrics, cached = train_base(epochs, 0, "eqprop", data=data)
    print(f"  model: base TorEqProp, EqProp {epochs} epochs, seed 0, final-epoch test accuracy "
          f"{100 * metrics['test_accuracy']:.2f} %{' (from cache)' if cached else ''}", flush=True)
    inp, out = graph.meta["input"], graph.meta["output"]
    hidden = [p.name for p in graph.state_populations() if p.name != out]
    rate = run_model(graph, data, spiking=False).summary
    rows = [["rate (relaxation)", rate["steps"], f"{100 * rate['test_accuracy']:.2f}", "-", "-", f"{rate['wall_seconds']:.2f}"]]
    spk = []
    for T in steps_list:
        s = run_model(graph, data, spiking=True, steps=T).summary
        per_hidden = {h: s["populations"][h]["spikes_per_neuron_per_step"] for h in hidden}
        rec = dict(steps=T, test_accuracy=s["test_accuracy"], accuracy_minus_rate=s["test_accuracy"] - rate["test_accuracy"],
                   spikes_per_hidden_neuron_per_step=per_hidden,
                   spikes_per_input_neuron_per_step=s["populations"][inp]["spikes_per_neuron_per_step"],
                   spikes_total=s["spikes_total"], wall_seconds=s["wall_seconds"])
        spk.append(rec)
        rows.append(["spiking, Poisson input", T, f"{100 * s['test_accuracy']:.2f}",
                     ", ".join(f"{v:.4f}" for v in per_hidden.values()),
                     f"{rec['spikes_per_input_neuron_per_step']:.4f}", f"{s['wall_seconds']:.2f}"])
        print(f"  T={T}: spiking accuracy {100 * s['test_accuracy']:.2f} %", flush=True)
    print()
    print(table(["mode", "steps", "test acc %", f"spikes/neuron/step ({', '.join(hidden)})", "input spikes/neuron/step",
                 "wall s"], rows))
    best_T = spk[-1]
    print(f"\nrate accuracy {100 * rate['test_accuracy']:.2f} %; spiking at T={best_T['steps']}: "
          f"{100 * best_T['test_accuracy']:.2f} % ({100 * best_T['accuracy_minus_rate']:+.2f} points)")
    return dict(settings=dict(model=f"base TorEqProp, EqProp {epochs} epochs, seed 0",
                              model_final_epoch_test_accuracy=metrics["test_accuracy"], samples=len(data.x_test),
                              encoding="poisson", neuron="lif (beta 1, threshold 1, subtract)", steps=list(steps_list)),
                rate=dict(test_accuracy=rate["test_accuracy"], relax_steps=rate["steps"], wall_seconds=rate["wall_seconds"]),
                spiking=spk)
