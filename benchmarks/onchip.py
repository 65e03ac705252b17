"""On-chip EqProp (issue 16): the base model's on-chip form trained by Loihi's learning engine.

Digits, the fixed 1437/360 split, hidden size ``HIDDEN``, the on-chip form's defaults
(:class:`neurotep.hardware.onchip.OnChipForm`, chosen on a held-out part of the training split;
see docs/claims.md), training order seed 0. Reported, all from this run:

* **the torch twin**, online over ``EPOCHS`` epochs: test accuracy (frozen integer inference),
  online training accuracy, seconds per training sample, the symmetric pair's differing weights;
* **Lava** (Loihi2SimCfg, fixed_pt, ``LIF`` + ``LearningDense``), the first ``LAVA_SAMPLES``
  samples of the same order from the same initial form: seconds per sample, and whether its five
  weight matrices equal the twin's after those samples (every learning epoch of every connection:
  ``LAVA_SAMPLES x 4 x phase_epochs`` updates each);
* the twin's speed-up per training sample over Lava;
* **off-chip EqProp** on the same architecture (float, torch, Adam lr 1e-3, batch 32, the base
  model with ``hidden=HIDDEN``, its toroidal buffer included): test accuracy after 1 and
  ``OFFCHIP_EPOCHS`` epochs;
* **energy per training sample** on Loihi 2 at both ends of the sourced constants (counts of the
  twin's epoch, which equal Lava's), against Renner et al. 2024 (backprop on Loihi 1, MNIST).
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import table, with_torch_threads

HIDDEN, EPOCHS, LAVA_SAMPLES, OFFCHIP_EPOCHS = 64, 1, 40, 10
QUICK = dict(train=60, lava=3, offchip=1)


def run(quick: bool) -> dict:
    return with_torch_threads(1, _run, quick)


def _run(quick: bool) -> dict:
    from neurotep.backends.lava.onchip import train_onchip
    from neurotep.data import load_digits_split
    from neurotep.learning.onchip import predict_twin, train_twin
    from neurotep.learning.train import train
    from neurotep.onchip_job import RENNER_2024, SETTINGS, energy_per_sample, onchip_form, training_order
    from neurotep.variants import base

    data = load_digits_split()
    form = onchip_form("toreqprop", data, 0, {"hidden": (HIDDEN,)}, {})
    order = training_order(len(data.x_train), EPOCHS, 0)
    if quick:
        order = order[:QUICK["train"]]
    x, y = data.x_train[order], data.y_train[order]

    twin = train_twin(form, x, y)
    t0 = time.perf_counter()
    twin_acc = float((predict_twin(twin.form, data.x_test) == data.y_test).mean())
    predict_seconds = time.perf_counter() - t0
    w = twin.form.weights
    energy = energy_per_sample(form, twin.spikes, twin.steps, twin.samples)

    n_lava = QUICK["lava"] if quick else LAVA_SAMPLES
    lava_form, lava = train_onchip(form, x[:n_lava], y[:n_lava], chunk=n_lava)
    twin_n = train_twin(form, x[:n_lava], y[:n_lava])
    identical = all(np.array_equal(lava_form.weights[c], twin_n.form.weights[c]) for c in w)
    lava_sps = lava["run_seconds"] / n_lava

    offchip = {}
    for epochs in sorted({1, QUICK["offchip"] if quick else OFFCHIP_EPOCHS}):
        g = base.build(n_in=data.n_features, n_out=data.n_classes, seed=0, hidden=(HIDDEN,))
        res = train(g, data, method="eqprop", epochs=epochs, seed=0, progress=False)
        offchip[epochs] = float(res.metrics["test_accuracy"])

    updates = n_lava * 4 * form.phase_epochs
    print(table(["path", "test acc", "s / training sample", "note"], [
        ["on-chip, torch twin", f"{twin_acc:.4f}", f"{twin.seconds_per_sample:.3f}",
         f"{twin.samples} samples online, online acc {twin.train_accuracy:.3f}"],
        ["on-chip, Lava fixed_pt", "= twin" if identical else "DIFFERS", f"{lava_sps:.3f}",
         f"first {n_lava} samples: weights {'identical' if identical else 'DIFFER'} after {updates} updates per connection"],
        *[[f"off-chip EqProp, {e} epoch(s)", f"{a:.4f}", "", "float, Adam, batch 32, same hidden size"]
          for e, a in offchip.items()],
    ]))
    lo, hi = energy["low"], energy["high"]
    print(f"twin speed-up over Lava per training sample: {lava_sps / twin.seconds_per_sample:.1f}x")
    print(f"Loihi 2 energy per training sample: {lo['total_J'] * 1e6:.2f} - {hi['total_J'] * 1e6:.1f} uJ "
          f"(learning engine {lo['learning_J'] * 1e6:.2f} - {hi['learning_J'] * 1e6:.2f} uJ, static "
          f"{lo['static_J'] * 1e6:.2f} - {hi['static_J'] * 1e6:.1f} uJ); time on the chip "
          f"{lo['seconds'] * 1e3:.2f} - {hi['seconds'] * 1e3:.2f} ms; Renner et al. 2024 (Loihi 1, MNIST): "
          f"{RENNER_2024['energy_per_sample_J'] * 1e6:.0f} uJ, {RENNER_2024['seconds_per_sample'] * 1e3:.1f} ms")
    print(f"symmetric pair after the epoch: {int((w['yh'] != w['hy'].T).sum())} of {w['hy'].size} weights differ")
    return dict(hidden=HIDDEN, epochs=EPOCHS, samples=twin.samples,
                form=form.meta | {"settings": {k: getattr(form, k) for k in SETTINGS}},
                twin=dict(test_accuracy=twin_acc, online_accuracy=twin.train_accuracy,
                          seconds_per_sample=twin.seconds_per_sample, predict_seconds=predict_seconds,
                          tied_pair_differing_weights=int((w["yh"] != w["hy"].T).sum())),
                lava=dict(samples=n_lava, seconds_per_sample=lava_sps, weights_identical_to_twin=identical,
                          updates_per_connection_compared=updates, online_correct=lava["correct"]),
                twin_speedup_per_sample=lava_sps / twin.seconds_per_sample,
                offchip_eqprop_test_accuracy={str(k): v for k, v in offchip.items()},
                energy_per_training_sample=energy, reference=RENNER_2024)
