"""EqProp on Loihi's learning engine: the network form that learns on the chip, and the step
dynamics of its parts, written once for numpy (the Lava process models) and torch (the twin).

**The form.** The base model's chip form for on-chip learning (``OnChipForm``):

* input ``x`` (pixels) rate-coded as spikes at the chip's boundary, plus one bias neuron that
  spikes at every step;
* hidden ``h`` and output ``y``: Lava ``LIF`` with zero reset and no current memory
  (``du = 4095``): a neuron fires at a rate close to ``clip(a_in / vth, 0, 1)``, the hard
  sigmoid of the rate model;
* five ``LearningDense`` connections, all learning by the same EqProp rule
  (:func:`neurotep.hardware.learning_rule.eqprop_rule`): ``x -> h``, bias ``-> h``, ``h -> y``,
  its transpose ``y -> h`` (the symmetric pair: two processes that apply the same update) and
  bias ``-> y``. Weights are 8-bit with sign, in units of ``vth`` (weight ``w`` moves the rate by
  ``w / vth`` per spike of the sender).

What changes from the base model, and is measured as its own form: spiking units instead of
rate units, a spiking output instead of the linear one, no toroidal buffer (its taps would be
fixed-weight ``DelayDense`` connections beside the learning ones; they are left out of this
first learning form), and biases as learned weights from an always-on neuron.

**The schedule.** Each training sample runs four phases of ``phase_epochs`` learning epochs of
``t_epoch`` steps: free, +beta, free, -beta. At the end of each epoch every connection applies
``dw = lr * x1 * y1 * (y2 - y3)``: ``x1`` is the sender's spike trace, ``y1`` the receiver's,
and the third factor is the phase, ``y2 = gate`` in the last epoch of the +beta phase and
``y3 = gate`` in the last epoch of the -beta phase (0 otherwise).

Why short epochs: Lava's model adds an epoch's impulses to the trace's value at the epoch's start
and decays the sum over the whole epoch with one random number for all neurons, so the rounding
error grows with the epoch. With 40-step epochs a neuron at a constant rate of 0.25 gave traces
anywhere from 10 to 61, and rates 0.25 and 0.5 could give identical traces; with 8-step epochs,
``tau = 28`` and impulse 8 the difference between those rates is 10 times the noise (scan in
docs/claims.md). The weights change after +beta by ``+lr x+ y+`` and after -beta by
``-lr x- y-``: the symmetric EqProp contrast, split in two halves. The second half runs on
weights the first already moved; if +beta always came first, its Hebbian step would raise the
activity that the -beta half then removes, a drift of order lr^2 that silenced the network in
our first runs, so every other sample runs -beta first (free, -beta, free, +beta).

**Post-synaptic factors.** On Loihi 2 the learning-enabled neuron (``LearningLIF``) computes its
trace and receives the third factor, and sends both to its synapses. Lava 0.10's ``LearningLIF``
models do not send them (its ports never send; a run that waits for them deadlocks), so a
post-trace unit per population stands in (:class:`PostTraceUnit`). It computes the neuron's
trace with exactly the arithmetic and random stream of the connection in which that neuron is
the sender, so that both halves of a symmetric pair see the same numbers.

**The nudge** is a teacher at the chip's boundary (:class:`Teacher`): it reads the output
spikes and injects ``sign * beta * (target - rate)`` in the nudged phases, ``rate`` a running
average of the output's spikes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurotep.errors import ModelFileError, RuleError
from neurotep.hardware.learning_engine import PreTrace
from neurotep.hardware.learning_rule import LoihiRule, eqprop_rule
from neurotep.neurons import _xp
from neurotep.neurons.fixed import sm_shift

PHASES = ("free", "plus", "free", "minus")  # odd samples swap plus and minus
CONNECTIONS = ("xh", "bh", "yh", "hy", "by")  # (name: sender, receiver) below
ENDS = {"xh": ("x", "h"), "bh": ("b", "h"), "yh": ("y", "h"), "hy": ("h", "y"), "by": ("b", "y")}
RATE_BITS = 8  # the input code's and the teacher's rates: 256 per unit
TARGET_RATES = (0.1, 0.9)  # the teacher's target rate for the other classes and for the label
FORMAT = "neurotep-onchip/1"


def phase_of(step: int, phase_steps: int) -> str:
    """The phase of Lava time step ``step`` (1-based); every other sample runs -beta first."""
    n = (step - 1) // phase_steps
    phase = PHASES[n % len(PHASES)]
    if n // len(PHASES) % 2:
        phase = {"plus": "minus", "minus": "plus"}.get(phase, phase)
    return phase


@dataclass
class OnChipForm:
    """Integer weights (post, pre) of the five learning connections and the form's settings.

    The defaults were chosen on the training split only (trained on its first 1,100 samples,
    scored on the other 337; docs/claims.md, row O4): voltage leak 1/16 per step, beta 1,
    learning rates ``gate * lr`` = 8 * 2^-7 into the hidden layer and 8 * 2^-3 into the output."""

    weights: dict[str, np.ndarray]
    vth: int = 128
    dv: int = 256
    t_epoch: int = 8
    phase_epochs: int = 5
    beta: float = 1.0
    lr: float = 2.0**-7
    lr_out: float = 2.0**-3
    impulse: int = 8
    tau: int = 28
    gate: int = 8
    bias_period: int = 4
    seed: int = 0
    meta: dict = field(default_factory=dict)

    @property
    def sizes(self) -> tuple[int, int, int]:
        h, n_in = self.weights["xh"].shape
        return n_in, h, self.weights["hy"].shape[0]

    @property
    def phase_steps(self) -> int:
        return self.phase_epochs * self.t_epoch

    @property
    def steps_per_sample(self) -> int:
        return len(PHASES) * self.phase_steps

    def rule(self, conn: str) -> LoihiRule:
        """Connection ``conn``'s rule; each has its own random seed. The connections into the output
        and the pair's transpose learn at ``lr_out``, those into the hidden layer at ``lr``:
        per-layer learning rates, as EqProp uses them, with the symmetric pair at one rate."""
        lr = self.lr_out if conn in ("hy", "yh", "by") else self.lr
        return eqprop_rule(lr, self.t_epoch, self.impulse, self.tau, rng_seed=self.rule_seed(conn))

    def rule_seed(self, conn: str) -> int:
        return 4 * (self.seed * len(CONNECTIONS) + CONNECTIONS.index(conn))  # streams s..s+3 never overlap

    def trace_seed(self, pop: str) -> int:
        """The seed of the connection in which ``pop`` sends: its post-trace unit copies that
        connection's pre-synaptic trace exactly."""
        return self.rule_seed({"h": "hy", "y": "yh"}[pop])

    def validate(self) -> "OnChipForm":
        for c in CONNECTIONS:
            w = np.asarray(self.weights[c])
            if w.dtype.kind not in "iu" or w.size == 0 or int(w.min()) < -256 or int(w.max()) > 255:
                raise ModelFileError(f"on-chip weights {c!r} must be non-empty 8-bit integers with sign (-256..255)")
        n_in, h, n_out = self.sizes
        shapes = {"xh": (h, n_in), "bh": (h, 1), "yh": (h, n_out), "hy": (n_out, h), "by": (n_out, 1)}
        for c, shape in shapes.items():
            if self.weights[c].shape != shape:
                raise ModelFileError(f"on-chip weights {c!r} have shape {self.weights[c].shape}, expected {shape}")
        if not 1 <= self.vth < 2**17 or not 0 <= self.dv < 4096:
            raise ModelFileError(f"LIF threshold {self.vth} or voltage decay {self.dv} out of Loihi's range")
        if not 1 <= self.bias_period <= 64:
            raise RuleError(f"bias period {self.bias_period}: use 1..64 steps")
        if not 1 <= self.phase_epochs <= 64:
            raise RuleError(f"{self.phase_epochs} learning epochs per phase: use 1..64")
        if not 0 < self.gate < 128:
            raise RuleError(f"phase gate {self.gate}: the third factor is a 7-bit trace (1..127)")
        self.rule("xh"), self.rule("hy")  # the learning rates, epoch and trace settings, in one line if wrong
        return self

    @classmethod
    def from_graph(cls, graph, init_gain: float = 1.0, **settings) -> "OnChipForm":
        """The on-chip form of a base TorEqProp graph with one hidden layer: its float weights and
        biases times ``init_gain``, quantised to units of ``vth`` (the toroidal buffer is left out).
        A freshly built graph's weights are scaled for rate units; spiking units with a leak need
        a gain of a few to be active enough to learn."""
        pops = [p.name for p in graph.state_populations()]
        if graph.meta.get("variant") != "toreqprop" or len(pops) != 2:
            raise RuleError("on-chip learning needs the base model (toreqprop) with one hidden layer; "
                            f"got {graph.meta.get('variant')!r} with populations {pops}")
        form = cls(weights={}, **settings)
        inp, out = graph.meta["input"], graph.meta["output"]
        hid = next(p for p in pops if p != out)
        conn = {(c.pre, c.post): c for c in graph.connections}
        q = lambda a: np.clip(np.rint(np.asarray(a) * init_gain * form.vth), -256, 255).astype(np.int64)  # noqa: E731
        w_hy = q(conn[(hid, out)].weight)
        form.weights = {"xh": q(conn[(inp, hid)].weight), "bh": q(graph.populations[hid].bias).reshape(-1, 1),
                        "yh": w_hy.T.copy(), "hy": w_hy, "by": q(graph.populations[out].bias).reshape(-1, 1)}
        form.meta = dict(variant="toreqprop", form="onchip", hidden=hid, init_gain=init_gain, buffer_left_out=bool(graph.buffers))
        return form.validate()

    def save(self, path: str | Path) -> None:
        """``onchip.json`` + ``weights.npz`` (no pickle), written to temporary names and renamed."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        settings = {k: v for k, v in asdict(self).items() if k != "weights"}
        tmp_w, tmp_j = path / "weights.tmp.npz", path / "onchip.json.tmp"
        np.savez(tmp_w, **{c: np.asarray(self.weights[c], dtype=np.int16) for c in CONNECTIONS})
        tmp_j.write_text(json.dumps(dict(format=FORMAT, **settings), indent=1))
        tmp_w.replace(path / "weights.npz")
        tmp_j.replace(path / "onchip.json")

    @classmethod
    def load(cls, path: str | Path) -> "OnChipForm":
        path = Path(path)
        try:
            meta = json.loads((path / "onchip.json").read_text())
            with np.load(path / "weights.npz", allow_pickle=False) as z:
                weights = {c: z[c].astype(np.int64) for c in CONNECTIONS}
        except (OSError, ValueError, KeyError) as e:
            raise ModelFileError(f"{path}: not a readable on-chip model (onchip.json + weights.npz): {e}") from None
        if meta.pop("format", None) != FORMAT:
            raise ModelFileError(f"{path}/onchip.json: format is not {FORMAT!r}")
        try:
            return cls(weights=weights, **meta).validate()
        except TypeError as e:
            raise ModelFileError(f"{path}/onchip.json: {e}") from None


def pixel_rates(x: np.ndarray) -> np.ndarray:
    """Pixels in [0, 1] as integer spike rates (256 = a spike at every step)."""
    if not np.isfinite(x).all():
        raise ValueError("input has NaN or infinite values")
    return np.rint(np.clip(x, 0.0, 1.0) * (2**RATE_BITS - 1)).astype(np.int64)


def rate_code(acc: Any, rate: Any) -> tuple[Any, Any]:
    """One step of the boundary's deterministic rate code: spike when the accumulated rate
    passes 256; returns ``(spikes 0/1, accumulator)``."""
    acc = acc + rate
    s = _xp.as_float(acc >= 2**RATE_BITS, acc)
    return s, acc - (s << RATE_BITS)


class Source:
    """The chip's input boundary: sample ``k``'s pixels during steps ``k * steps_per_sample + 1``
    onwards, rate-coded (the code restarts with each sample), and the bias neuron, which spikes
    every ``bias_period`` steps (a bias neuron at full rate would hold its trace at the 7-bit
    ceiling and learn several times faster than the hidden paths)."""

    def __init__(self, rates: Any, steps_per_sample: int, bias_period: int = 1):
        self.rates, self.per, self.bias_period = rates, steps_per_sample, bias_period
        self.acc = rates[0] * 0
        self.time_step = 0

    def step(self) -> tuple[Any, Any]:
        """This step's ``(input spikes, bias spike)``."""
        k = self.time_step // self.per
        if self.time_step % self.per == 0:
            self.acc = self.acc * 0
        self.time_step += 1
        s, self.acc = rate_code(self.acc, self.rates[k % len(self.rates)])
        return s, s[:1] * 0 + int(self.time_step % self.bias_period == 0)


class PostTraceUnit:
    """What a learning-enabled neuron sends its synapses each step: ``y1`` its trace (the
    connection-exact pre-synaptic trace of its own spikes), ``y2`` / ``y3`` the phase gate."""

    def __init__(self, form: OnChipForm, pop: str, zeros: Any):
        self.trace = PreTrace(zeros, form.t_epoch, form.impulse, form.tau, form.trace_seed(pop))
        self.gate, self.t_epoch, self.phase_steps = form.gate, form.t_epoch, form.phase_steps

    def step(self, spiked: Any) -> tuple[Any, Any, Any]:
        """Take this step's spikes; returns ``(y1, y2, y3)``. The gate is raised in the last
        learning epoch of a nudged phase only: one update per phase."""
        self.trace.step(spiked)
        t = self.trace.time_step
        last = (t - 1) % self.phase_steps >= self.phase_steps - self.t_epoch
        phase = phase_of(t, self.phase_steps) if last else "free"
        y1 = self.trace.x1
        return y1, y1 * 0 + self.gate * (phase == "plus"), y1 * 0 + self.gate * (phase == "minus")


class Teacher:
    """The nudge at the chip's boundary: in the +beta (-beta) phase it injects
    ``+-beta * vth * (target - rate)`` into the output, ``rate`` an exponential average (1/8 per
    step) of the output's spikes. It sends before it receives: step ``t``'s nudge uses the
    spikes up to ``t - 1``. Targets are rates 0.9 for the label and 0.1 for the other classes:
    a spiking output cannot go below 0, and one pushed under its threshold never fires, gets no
    trace and stops learning (with targets 0 and 1, four of ten outputs died in our first runs)."""

    AVG_SHIFT = 3

    def __init__(self, form: OnChipForm, targets: Any):
        lo, hi = (int(round(r * 2**RATE_BITS)) for r in TARGET_RATES)
        self.targets, self.rate = lo + (hi - lo) * targets, targets[0] * 0
        self.beta_q = int(round(form.beta * form.vth))
        self.phase_steps, self.per, self.time_step = form.phase_steps, form.steps_per_sample, 0

    def send(self) -> Any:
        target = self.targets[self.time_step // self.per % len(self.targets)]
        self.time_step += 1
        sign = {"plus": 1, "minus": -1}.get(phase_of(self.time_step, self.phase_steps), 0)
        return sign * sm_shift(self.beta_q * (target - self.rate), RATE_BITS)  # +-beta: exact opposites

    def receive(self, spiked: Any) -> None:
        self.rate = self.rate + (((spiked << RATE_BITS) - self.rate) >> self.AVG_SHIFT)
