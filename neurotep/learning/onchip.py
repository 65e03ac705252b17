"""On-chip EqProp on the torch twin: the on-chip form (:mod:`neurotep.hardware.onchip`) learning
one sample at a time, as Loihi's learning engine would, in the exact integer arithmetic of Lava's
models (``LIF`` fixed_pt and ``LearningDense`` fixed_pt through
:class:`~neurotep.hardware.learning_engine.LearningEngine`).

Each step follows Lava's order: every connection sends what it summed in the previous step, the
neurons integrate and spike, each connection sums this step's spikes with the weights of the
step's start, the post-trace units send their traces and phase gates, and the connections whose
epoch ends learn. A test checks the weights against a Lava run of the same network, bit for bit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from neurotep.hardware.learning_engine import LearningEngine
from neurotep.hardware.onchip import CONNECTIONS, ENDS, OnChipForm, PostTraceUnit, Source, Teacher, pixel_rates
from neurotep.neurons.fixed import lif_fixed_step


def _int(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.int64)


class OnChipTwin:
    """The on-chip form stepping on torch; ``learn=False`` runs it frozen (no trace updates)."""

    def __init__(self, form: OnChipForm, x: np.ndarray, labels: np.ndarray | None = None, learn: bool = True,
                 steps_per_sample: int | None = None):
        self.form, self.learn = form.validate(), learn
        n_in, n_h, n_out = form.sizes
        per = steps_per_sample or form.steps_per_sample
        self.source = Source(_int(pixel_rates(x)), per, form.bias_period)
        targets = np.eye(n_out, dtype=np.int64)[np.asarray(labels if labels is not None else np.zeros(len(x), int))]
        self.teacher = Teacher(form, _int(targets)) if learn else None
        self.engines = {c: LearningEngine(form.rule(c), form.weights[c]) for c in CONNECTIONS}
        zeros = {"h": torch.zeros(n_h, dtype=torch.int64), "y": torch.zeros(n_out, dtype=torch.int64)}
        self.units = {p: PostTraceUnit(form, p, zeros[p].clone()) for p in ("h", "y")} if learn else {}
        self.v = {p: z.clone() for p, z in zeros.items()}
        self.s = {p: z.clone() for p, z in zeros.items()}
        self.buf = {c: zeros[ENDS[c][1]].clone() for c in CONNECTIONS}
        self.spikes = dict.fromkeys(("x", "b", "h", "y"), 0)  # totals, for the energy figures

    def weights(self) -> dict[str, np.ndarray]:
        return {c: e.w.numpy().copy() for c, e in self.engines.items()}

    def step(self) -> dict[str, torch.Tensor]:
        """One time step; returns the spikes of ``x``, ``b``, ``h`` and ``y``."""
        x, b = self.source.step()
        a_in = {"h": self.buf["xh"] + self.buf["bh"] + self.buf["yh"], "y": self.buf["hy"] + self.buf["by"]}
        if self.teacher is not None:
            a_in["y"] = a_in["y"] + self.teacher.send()
        for p in ("h", "y"):
            self.s[p], self.v[p] = lif_fixed_step(a_in[p], self.v[p], self.s[p], self.form.dv, self.form.vth, 0, "zero")
        spikes = {"x": x, "b": b, "h": self.s["h"], "y": self.s["y"]}
        for k, v in spikes.items():
            self.spikes[k] += int(v.sum())
        for c, e in self.engines.items():
            self.buf[c] = e.accumulate(spikes[ENDS[c][0]])
        if self.learn:
            ys = {p: torch.stack(u.step(spikes[p])) for p, u in self.units.items()}
            for c, e in self.engines.items():
                e.observe(spikes[ENDS[c][0]], ys[ENDS[c][1]])
            self.teacher.receive(self.s["y"])
        return spikes


@dataclass
class TwinResult:
    form: OnChipForm
    train_accuracy: float  # online: each sample's free phase, before it is learned
    seconds: float
    samples: int
    updates: int
    spikes: dict
    steps: int

    @property
    def seconds_per_sample(self) -> float:
        return self.seconds / max(self.samples, 1)


def train_twin(form: OnChipForm, x: np.ndarray, labels: np.ndarray, progress=None) -> TwinResult:
    """Online on-chip EqProp on the twin over ``(x, labels)`` in that order, one sample per four
    phases; returns the learned form (a copy) and the online accuracy. ``progress(done, total,
    correct)`` is called every 20 samples and at the end."""
    twin = OnChipTwin(form, x, labels)
    phase, per = form.phase_steps, form.steps_per_sample
    correct, t0 = 0, time.perf_counter()
    for k in range(len(x)):
        counts = torch.zeros(form.sizes[2], dtype=torch.int64)
        for t in range(per):
            s = twin.step()
            if t < phase:  # the first free phase: the sample's prediction before learning it
                counts += s["y"]
        correct += int(int(counts.argmax()) == int(labels[k]))
        if progress is not None and ((k + 1) % 20 == 0 or k + 1 == len(x)):
            progress(k + 1, len(x), correct)
    seconds = time.perf_counter() - t0
    learned = OnChipForm(**{**form.__dict__, "weights": twin.weights(), "meta": dict(form.meta)})
    return TwinResult(learned, correct / max(len(x), 1), seconds, len(x), twin.engines["xh"].updates, twin.spikes,
                      len(x) * per)


def predict_twin(form: OnChipForm, x: np.ndarray, settle: int | None = None) -> np.ndarray:
    """Frozen inference: each sample runs ``settle`` steps (default two phases) with its input;
    the prediction is the output neuron that spiked most in the last phase's steps. The learned
    weights load as into a fresh Lava connection: odd values floor to even (Lava's 8-bit mixed-sign
    truncation), as a network deployed from the model directory would run."""
    settle = settle or 2 * form.phase_steps
    twin = OnChipTwin(form, x, learn=False, steps_per_sample=settle)
    preds = np.empty(len(x), dtype=np.int64)
    window = min(form.phase_steps, settle)
    for k in range(len(x)):
        counts = torch.zeros(form.sizes[2], dtype=torch.int64)
        for t in range(settle):
            s = twin.step()
            if t >= settle - window:
                counts += s["y"]
        preds[k] = int(counts.argmax())
    return preds
