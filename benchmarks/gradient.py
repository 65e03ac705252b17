"""How close is the EqProp update to the true gradient, on a trained network with the toroidal
buffer on?

The base model is trained 10 epochs by EqProp (seed 0), then loaded as a float64
``TorchNetwork``. On a fixed batch (the first 64 training images) ``compare_gradients`` gives,
for every weight matrix and bias, the cosine of the EqProp update with the gradient obtained by
implicit differentiation at the free equilibrium, and with BPTT over 400 steps:

* beta in (0.5, 0.1, 0.01) with long relaxation (compare_gradients defaults: 5000 free and nudged
  steps at most, tol 1e-9);
* the training settings: beta, free_steps, nudge_steps and tol from the model's meta
  (``EqPropConfig.from_meta``), what ``train`` actually uses.
"""

from __future__ import annotations

import time

from benchmarks.common import table, train_base

BETAS = (0.5, 0.1, 0.01)
TRAIN_EPOCHS, QUICK_TRAIN_EPOCHS = 10, 2
BATCH = 64
BPTT_STEPS = 400
TARGET = 0.999


def run(quick: bool = False) -> dict:
    import torch

    from neurotep.backends.torch import TorchNetwork
    from neurotep.data import load_digits_split, one_hot
    from neurotep.learning.eqprop import EqPropConfig
    from neurotep.learning.gradcheck import compare_gradients

    epochs = QUICK_TRAIN_EPOCHS if quick else TRAIN_EPOCHS
    data = load_digits_split()
    graph, metrics, cached = train_base(epochs, 0, "eqprop", data=data)
    print(f"  trained base model: {epochs} epochs, seed 0, test accuracy {100 * metrics['test_accuracy']:.2f} %"
          f"{' (from cache)' if cached else ''}; buffers: "
          + ", ".join(f"{b.name} K={b.depth} loop gain {b.loop_gain():.3f}" for b in graph.buffers), flush=True)
    if not graph.buffers:
        raise RuntimeError("the base model has no toroidal buffer: this benchmark measures the buffer-on case")
    net = TorchNetwork(graph, dtype=torch.float64)
    x = torch.as_tensor(data.x_train[:BATCH], dtype=torch.float64)
    target = torch.as_tensor(one_hot(data.y_train[:BATCH], data.n_classes), dtype=torch.float64)
    train_cfg = EqPropConfig.from_meta(graph.meta)

    settings = [dict(label=f"beta={b}, long relaxation", beta=b, kwargs={}) for b in BETAS]
    settings.append(dict(label=(f"training settings: beta={train_cfg.beta}, free {train_cfg.free_steps}, "
                                f"nudge {train_cfg.nudge_steps}, tol {train_cfg.tol:g}"),
                         beta=train_cfg.beta,
                         kwargs=dict(free_steps=train_cfg.free_steps, nudge_steps=train_cfg.nudge_steps, tol=train_cfg.tol)))
    results, rows = [], []
    for s in settings:
        t0 = time.perf_counter()
        res = compare_gradients(net, x, target, s["beta"], bptt_steps=BPTT_STEPS, **s["kwargs"])
        secs = time.perf_counter() - t0
        cos = [p["cos_eqprop_implicit"] for p in res["params"].values()]
        results.append(dict(setting=s["label"], beta=s["beta"], **{k: v for k, v in s["kwargs"].items()},
                            free_steps_taken=res["free_steps"], nudge_steps_taken=res["nudge_steps"],
                            min_cos_eqprop_implicit=min(cos), params=res["params"], seconds=secs))
        for name, p in res["params"].items():
            rows.append([s["label"], name, f"{p['cos_eqprop_implicit']:.6f}", f"{p['rel_norm']:.4f}",
                         f"{p['cos_bptt_implicit']:.6f}", f"{p['cos_eqprop_bptt']:.6f}"])
        print(f"  {s['label']}: min cosine {min(cos):.6f} (free steps {res['free_steps']}, nudged {res['nudge_steps']}, "
              f"{secs:.1f} s)", flush=True)
    print()
    print(table(["setting", "parameter", "cos(EqProp, implicit)", "|EqProp|/|implicit|",
                 f"cos(BPTT{BPTT_STEPS}, implicit)", f"cos(EqProp, BPTT{BPTT_STEPS})"], rows))
    small = [r for r in results if r["beta"] == min(BETAS) and "long" in r["setting"]][0]
    print(f"\nsmallest beta ({min(BETAS)}): min cosine over all parameters {small['min_cos_eqprop_implicit']:.6f}; "
          f"target >= {TARGET}: {'met' if small['min_cos_eqprop_implicit'] >= TARGET else 'NOT met'}")
    return dict(settings=dict(train_epochs=epochs, train_seed=0, model_test_accuracy=metrics["test_accuracy"],
                              batch=f"first {BATCH} training images", dtype="float64", bptt_steps=BPTT_STEPS,
                              long_relaxation="compare_gradients defaults: free_steps=5000, nudge_steps=5000, tol=1e-9",
                              training_config=dict(beta=train_cfg.beta, free_steps=train_cfg.free_steps,
                                                   nudge_steps=train_cfg.nudge_steps, tol=train_cfg.tol),
                              buffers=[dict(name=b.name, depth=b.depth, decay=list(b.decay), gain=b.gain,
                                            loop_gain=b.loop_gain()) for b in graph.buffers]),
                target=TARGET, min_cos_small_beta=small["min_cos_eqprop_implicit"],
                min_cos_training_settings=results[-1]["min_cos_eqprop_implicit"], results=results)
