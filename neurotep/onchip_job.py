"""``neurotep train VARIANT --on-chip``: EqProp on Loihi's learning engine, one sample at a time.

With ``--backend lava`` the whole training runs inside one Lava simulation
(:mod:`neurotep.backends.lava.onchip`); with ``--backend torch`` on the torch twin
(:mod:`neurotep.learning.onchip`), which learns the same weights bit for bit. Either way the
learned on-chip form is evaluated on the test split by the twin's frozen inference (the same
integer dynamics), and the run's spike counts give the energy per training sample on Loihi 2 at
both ends of the sourced constants (``neurotep/hardware/energy_loihi2.json``).

A run with ``--backend lava`` checkpoints after every chunk of samples into ``OUT.checkpoint``;
an interrupted run resumes from there with ``--resume`` (the network's state between samples,
its traces and random streams start afresh: a resumed run is not bit-identical to an
uninterrupted one). The checkpoint is removed once the model directory is written.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np

from neurotep.data import load_dataset
from neurotep.errors import ModelFileError, NeurotepError, RuleError
from neurotep.hardware.onchip import CONNECTIONS, OnChipForm
from neurotep.profile.constants import load_energy_model

# Why a variant has no on-chip form that Loihi's learning engine can train (docs/claims.md rows).
NOT_CHIP_LEARNABLE = {
    "htsep": "its weights learn by the same contrastive rule, but its stochastic neurons have no Loihi 2 neuro-core "
             "model and its learned torus decays are no synaptic weights (the on-chip form covers the base model only)",
    "mstep": "its weights learn by the same contrastive rule, but its multi-scale buffers and cross-scale coupling "
             "have no on-chip form yet (the on-chip form covers the base model only)",
    "tpeqprop": "its predictive rule multiplies two post-side signals (the error gated by its neighbours), which one "
                "LearningDense's y traces cannot form, and its prediction weight drives the layer below through its "
                "transpose",
    "difftor": "its Langevin noise has no Loihi 2 mechanism and its noise scales learn by a rule that is no product of "
               "traces",
    "tepssr": "its S4D state-space layer has a floating-point Lava model only and learns by BPTT through time",
}
SETTINGS = ("vth", "dv", "t_epoch", "phase_epochs", "beta", "lr", "impulse", "tau", "gate", "bias_period", "lr_out")
RENNER_2024 = dict(energy_per_sample_J=0.59e-3, seconds_per_sample=1.5e-3, accuracy=0.963, chip="Loihi 1",
                   dataset="MNIST", network="400-400-10", source="Renner et al., Nature Communications 2024")


def onchip_settings(pairs: list[str] | None) -> tuple[dict, list[str]]:
    """Split ``--set NAME=VALUE`` pairs into the on-chip form's settings (typed as its defaults)
    and the rest (the variant's build hyperparameters)."""
    defaults = {k: OnChipForm.__dataclass_fields__[k].default for k in SETTINGS} | {"init_gain": 3.0}
    chip, rest = {}, []
    for pair in pairs or ():
        name, _, text = pair.partition("=")
        name = name.strip()
        if name not in defaults:
            rest.append(pair)
            continue
        kind = type(defaults[name])
        try:
            chip[name] = kind(float(text)) if kind is int and float(text).is_integer() else kind(text)
        except ValueError:
            raise NeurotepError(f"--set {name}={text}: the on-chip form's {name} takes {kind.__name__} values "
                                f"(default {defaults[name]!r})") from None
    return chip, rest


def training_order(n: int, epochs: int, seed: int) -> np.ndarray:
    """The samples in training order: one seeded permutation per epoch."""
    return np.concatenate([np.random.default_rng(seed + e).permutation(n) for e in range(epochs)])


def checkpoint_path(out: str | Path) -> Path:
    return Path(f"{Path(out).resolve()}.checkpoint")


def onchip_form(variant: str, data, seed: int, build: dict, settings: dict) -> OnChipForm:
    """The variant's on-chip form, freshly initialised; a one-line error for a variant without one."""
    from neurotep import variants

    if variant in NOT_CHIP_LEARNABLE:
        raise RuleError(f"--on-chip: {variant} has no rule that Loihi's learning engine can run: "
                        f"{NOT_CHIP_LEARNABLE[variant]}; train it without --on-chip")
    graph = variants.get(variant).build(n_in=data.n_features, n_out=data.n_classes, seed=seed, **build)
    gain = settings.pop("init_gain", 3.0)
    return OnChipForm.from_graph(graph, init_gain=gain, seed=seed, **settings)


def train_onchip_job(variant: str, dataset: str = "digits", data_path: str | None = None, epochs: int = 1,
                     seed: int = 0, backend: str = "lava", build: dict | None = None, settings: dict | None = None,
                     train_samples: int | None = None, out: str | Path | None = None, resume: bool = False,
                     chunk: int = 20, progress: bool = True) -> tuple[OnChipForm, dict]:
    """Train the on-chip form; returns ``(learned form, metrics)``."""
    from neurotep.learning.onchip import predict_twin, train_twin

    if backend not in ("lava", "torch"):
        raise NeurotepError(f"unknown backend {backend!r} for --on-chip: use lava (the Lava simulator) or torch (its twin)")
    if resume and backend != "lava":
        raise NeurotepError("--resume continues an interrupted --backend lava run (the twin keeps no checkpoint)")
    data = load_dataset(dataset, data_path)
    if data.x_train.ndim != 2:
        raise NeurotepError(f"--on-chip trains on static vectors; {dataset} is not one")
    ckpt = checkpoint_path(out) if out is not None and backend == "lava" else None
    form, start = _start(variant, data, seed, dict(build or {}), dict(settings or {}), ckpt, resume, epochs)
    order = training_order(len(data.x_train), epochs, seed)
    if train_samples is not None:
        order = order[:train_samples]
    todo = order[start:]
    x, labels = data.x_train[todo], data.y_train[todo]
    bar = _bar(len(order), start, progress, f"on-chip EqProp ({'Lava simulator' if backend == 'lava' else 'torch twin'})")
    if not len(todo):  # a resumed run whose checkpoint had done every sample: evaluate it
        learned, seconds, correct, spikes, steps = form, 0.0, 0, dict.fromkeys("xbhy", 0), 0
    elif backend == "lava":
        from neurotep.backends.lava.onchip import train_onchip

        form.meta.update(epochs=epochs, train_samples=len(order))
        learned, res = train_onchip(form, x, labels, checkpoint=ckpt, start=start, chunk=chunk,
                                    progress=lambda done, total, correct: bar(start + done, correct))
        seconds, correct, spikes, steps = res["run_seconds"], res["correct"], res["spikes"], res["steps"]
    else:
        twin = train_twin(form, x, labels, progress=lambda done, total, correct: bar(start + done, correct))
        learned, seconds, correct, spikes, steps = twin.form, twin.seconds, round(twin.train_accuracy * len(todo)), \
            twin.spikes, twin.steps
    bar(None, None)
    preds = predict_twin(learned, data.x_test)
    w = learned.weights
    metrics = dict(
        method="eqprop-onchip", variant=variant, dataset=data.name, backend=backend, seed=seed, epochs=epochs,
        test_accuracy=float((preds == data.y_test).mean()), evaluated_on="torch twin (frozen, integer)",
        train_online_accuracy=correct / max(len(todo), 1), samples=len(todo), resumed_at=start,
        steps_per_sample=form.steps_per_sample, seconds_per_sample=seconds / max(len(todo), 1),
        train_seconds=seconds, spikes=spikes,
        tied_pair_differing_weights=int((w["yh"] != w["hy"].T).sum()),
        energy_per_training_sample=energy_per_sample(form, spikes, steps, len(todo)) if len(todo) else None,
        reference=RENNER_2024, form={k: getattr(form, k) for k in SETTINGS} | {"sizes": list(form.sizes)},
        rules={c: form.rule(c).dw_str for c in ("xh", "hy")}, split={"train": len(data.x_train), "test": len(data.x_test)})
    learned.meta.update(samples_done=len(order), test_accuracy=metrics["test_accuracy"])
    return learned, metrics


def _start(variant, data, seed, build, settings, ckpt: Path | None, resume: bool, epochs: int):
    """A fresh form, or with ``resume`` the checkpoint's form and the samples it has done."""
    if ckpt is not None and ckpt.exists() and not resume:
        raise NeurotepError(f"{ckpt} holds the checkpoint of an interrupted on-chip run: add --resume to continue it, "
                            "or remove that folder")
    if not resume:
        return onchip_form(variant, data, seed, build, settings), 0
    if ckpt is None or not (ckpt / "onchip.json").exists():
        raise NeurotepError(f"--resume: no on-chip checkpoint at {ckpt} (it is written by --backend lava --on-chip)")
    form = OnChipForm.load(ckpt)
    if form.meta.get("epochs") != epochs or form.seed != seed:
        raise ModelFileError(f"--resume: {ckpt} was written by a run with --epochs {form.meta.get('epochs')} "
                             f"--seed {form.seed}; resume with the same settings")
    return form, int(form.meta.get("samples_done", 0))


def finish_checkpoint(out: str | Path) -> None:
    """Remove the run's checkpoint once its model directory is in place."""
    ckpt = checkpoint_path(out)
    if (ckpt / "onchip.json").exists():
        shutil.rmtree(ckpt)


def energy_per_sample(form: OnChipForm, spikes: dict, steps: int, samples: int) -> dict:
    """Loihi 2 energy per training sample at both ends of the sourced constants.

    Counts: every spike costs one synaptic op per synapse it reaches (bias spikes reach ``h`` and
    ``y``); every neuron updates every step; the learning engine updates every synapse of the
    five connections at every epoch's end (also the epochs whose gate is 0: the engine runs on
    time, not on need); static power over ``steps x time per step``, the low end on the two
    neuro-cores of ``h`` and ``y``, the high end on a whole chip (the constants' compute floor on
    the time per step does not bind here: the hidden core's ~1,300 synaptic ops per step take
    0.5 us at the peak rate, under the 1 us low end). The host's post-trace units,
    teacher and source are not priced (on the chip the first is the neuron's own learning
    compartment; the other two sit at its boundary)."""
    m = load_energy_model("loihi2")["entries"]
    n_in, n_h, n_out = form.sizes
    syn_ops = spikes["x"] * n_h + spikes["b"] * (n_h + n_out) + spikes["h"] * n_out + spikes["y"] * n_h
    active = spikes["h"] + spikes["y"]
    inactive = (n_h + n_out) * steps - active
    synapses = sum(int(np.prod(form.weights[c].shape)) for c in CONNECTIONS)
    updates = synapses * (steps // form.t_epoch)
    cores = 2
    out = dict(counts=dict(synaptic_ops=syn_ops / samples, neuron_updates_active=active / samples,
                           neuron_updates_inactive=inactive / samples, learning_updates=updates / samples,
                           spikes=sum(spikes.values()) / samples, steps=steps / samples, cores=cores))
    for end in ("low", "high"):
        c = {k: v[end] for k, v in m.items()}
        static_w = cores * c["static_power_per_core"] if end == "low" else math.ceil(cores / 128) * c["static_power_per_chip"]
        parts = dict(synaptic_ops=syn_ops * c["synaptic_op"], neuron_updates=active * c["neuron_update_active"]
                     + inactive * c["neuron_update_inactive"], spike_messages=sum(spikes.values()) * c["spike_within_tile"],
                     learning=updates * c["synaptic_update"], static=static_w * steps * c["time_per_step"])
        out[end] = dict(total_J=sum(parts.values()) / samples, **{f"{k}_J": v / samples for k, v in parts.items()},
                        seconds=steps * c["time_per_step"] / samples)
    return out


def _bar(total: int, start: int, show: bool, desc: str):
    """A tqdm bar over samples (updated as chunks finish); ``bar(None, None)`` closes it."""
    if not show:
        return lambda done, correct: None
    from tqdm import tqdm

    t = tqdm(total=total, initial=start, desc=desc, unit="sample")

    def update(done, correct):
        if done is None:
            t.close()
            return
        t.update(done - t.n)
        t.set_postfix(online_acc=f"{correct / max(done - start, 1):.3f}")

    return update
