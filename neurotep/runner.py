"""Inference runs: a trained graph on a data set's test split, on the torch path or on Lava, in
rate or spiking mode, with spike counts. Both backends produce the same ``run.json`` keys."""

from __future__ import annotations

import numbers
import time
from dataclasses import dataclass

import numpy as np
import torch

from neurotep.backends.torch import TorchNetwork, resolve_device
from neurotep.backends.torch.network import Settling
from neurotep.backends.torch.fixed import FixedNetwork
from neurotep.data import Dataset, check_batch, poisson_spikes_torch, rate_encode
from neurotep.data.encoders import ENCODINGS, delta_frame
from neurotep.errors import BackendError, DataError, GraphError, MismatchError, NeurotepError
from neurotep.graph import Graph
from neurotep.graph.chip import FORMS, in_form
from neurotep.graph.delta import DEFAULT_THRESHOLD, averages_activation, check_threshold, delta_form
from neurotep.graph.nodes import SPIKING_MODELS
from neurotep.graph.probes import recording_plan
from neurotep.graph.retime import readout_from, retime
from neurotep.graph.stages import frames_of, stage_parts
from neurotep.graph.validate import MAX_STEPS
from neurotep.graph.transforms import rate_to_spiking, spiking_settings
from neurotep.learning.eqprop import EqPropConfig
from neurotep.quantize import encode_input, quantize
from neurotep.recording import Recording, exit_steps, merge, save_recording

# torch: the float (or --precision fixed) reference path; lava: Lava's simulator (or a board);
# emulator: Loihi 2's fixed-point semantics of the chip form on torch, spike for spike Lava's.
BACKENDS = ("torch", "lava", "emulator")
PRECISIONS = ("float", "fixed")
DEFAULT_SPIKING_STEPS = 200
LAVA_BATCH = 64  # samples per Lava simulation (each batch runs as independent copies)
# Seed of the Poisson input encoder; distinct from stochastic neurons' seeds (see encoders).
ENCODER_SEED = 1
# Memory one run may take (state, delay and buffer histories, spatial kernels, input frames,
# rasters): a full digits or MNIST test split of the variants needs under 1 GiB, so this only stops runs that
# would swap or be killed.
MAX_RUN_BYTES = 4 << 30


@dataclass
class RunOutput:
    summary: dict  # what run.json holds
    recording: Recording | None
    graph: Graph  # the network that ran (the spiking form in spiking mode)
    sample_ids: np.ndarray | None = None  # data-set indices of the samples: they key every random draw


def _check(backend: str, encoding: str, samples: int | None, data: Dataset) -> int:
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}: use torch, lava or emulator")
    if encoding not in ENCODINGS:
        raise DataError(f"unknown encoding {encoding!r}: use one of {', '.join(ENCODINGS)}")
    n = len(data.x_test) if samples is None else samples
    if not 1 <= n <= len(data.x_test):
        raise DataError(f"--samples must be between 1 and {len(data.x_test)} (the test split), got {n}")
    return n


def _executed_on(backend: str, device: str, hardware: str | None) -> str:
    if backend in ("torch", "emulator"):
        if hardware is not None:
            raise BackendError(f"--hardware {hardware} needs --backend lava")
        return f"{backend}-{resolve_device(device).type}"  # no GPU: one line naming --device cpu, before any work
    if hardware == "loihi2":
        from neurotep.hardware import detect_loihi2

        found = detect_loihi2()
        if not found["available"]:
            print(f"neurotep: Loihi 2 hardware not available ({found['reason']}); running on the Loihi 2 simulator (Loihi2SimCfg)")
        else:  # pragma: no cover - needs Intel's lava-loihi and a board (untested here)
            return "loihi2-hw"
    elif hardware not in (None, "loihi2-sim"):
        raise BackendError(f"unknown hardware {hardware!r}: use loihi2")
    return "loihi2-sim"


def run_model(graph: Graph, data: Dataset, backend: str = "torch", samples: int | None = None,
              steps: int | None = None, spiking: bool = False, encoding: str = "poisson",
              device: str = "cpu", raster: bool = False, neuron: str | None = None, precision: str | None = None,
              hardware: str | None = None, form: str | None = None, strict: bool = False,
              check_lava: int = 0, threshold: float | None = None, quiet: int | None = None,
              temperature: float | None = None) -> RunOutput:
    """Run ``graph`` on the first ``samples`` test images and summarise accuracy and spikes.

    Rate mode relaxes the rate network (on torch until converged, on Lava for the model's
    ``free_steps``) and decodes the final output; spiking mode runs ``steps`` steps of the spiking
    form (:func:`~neurotep.graph.transforms.rate_to_spiking`) and decodes the output's mean;
    ``neuron=None`` takes the variant's spiking neuron (``meta["spiking"]``, else ``lif``).
    ``form="chip"`` runs the chip form (:func:`~neurotep.graph.chip.chip_form`), the default with
    ``hardware="loihi2"`` (else ``"reference"``, the model as trained); ``strict`` refuses, before
    any work, a run whose Lava plan is not wholly on Loihi 2's neuro-cores.

    ``backend="emulator"`` runs Loihi 2's fixed-point semantics on torch (CPU or CUDA, all samples
    in one batch): the spiking mode, fixed point and the chip form by default; ``check_lava=N``
    then re-runs the first N samples on Lava and raises :class:`~neurotep.errors.MismatchError`
    at the first spike that differs.

    ``temperature`` sets the stochastic units' temperature (spiking stochastic neurons, or the
    Boltzmann units of a stochastic delta run); it needs stochastic units.

    ``encoding="delta"`` runs the delta form (:func:`~neurotep.graph.delta.delta_form`, sigma-delta
    neurons with ``threshold``, the input sent as its changes) as an event run: its messages are
    recorded like spikes, and a sample exits once it has sent nothing for ``quiet`` steps (default
    and minimum: the longest delay, so the exit changes no output), its exit step recorded.
    """
    delta = encoding == "delta"
    if delta:
        threshold = check_threshold(DEFAULT_THRESHOLD if threshold is None else threshold)
        if neuron not in (None, "stochastic"):
            raise BackendError(f"--neuron {neuron} picks a spiking neuron; a delta-coded run uses sigma-delta neurons, or "
                               "with --neuron stochastic Boltzmann units (NEBM): drop it or use stochastic")
        if neuron == "stochastic" and quiet is not None:
            raise BackendError("--quiet-steps: Boltzmann units never go quiet, so a stochastic delta run takes every step")
        spiking = True  # an event run: every message is recorded and counted
    elif threshold is not None or quiet is not None:
        raise BackendError("--delta-threshold and --quiet-steps apply to --encoding delta")
    if backend == "emulator":
        if precision not in (None, "fixed"):
            raise BackendError(f"the emulator runs Loihi 2's fixed point only, not --precision {precision}: "
                               "drop --precision, or use --backend torch for float")
        precision, spiking = "fixed", True
    precision = precision or "float"
    if temperature is not None and not (neuron == "stochastic" if delta
                                        else spiking and spiking_settings(graph, neuron)["neuron"] == "stochastic"):
        raise BackendError("--temperature sets stochastic units' temperature: add --neuron stochastic "
                           "(with --spiking or --encoding delta)")
    if form is None:
        form = "chip" if hardware == "loihi2" or backend == "emulator" else "reference"
    if check_lava and backend != "emulator":
        raise BackendError("--check-lava compares an emulator run with Lava: add --backend emulator")
    n = _check(backend, encoding, samples, data)
    if check_lava and not 1 <= check_lava <= n:
        raise DataError(f"--check-lava must be between 1 and the {n} samples of the run, got {check_lava}")
    if precision not in PRECISIONS:
        raise BackendError(f"unknown precision {precision!r}: use float or fixed")
    if form not in FORMS:  # checked before any work (in_form below would raise the same)
        in_form(graph, form)
    if strict and backend != "lava":
        raise BackendError("--strict checks the Loihi 2 placement of a Lava run: add --backend lava")
    spiking_only = [p.name for p in graph.populations.values() if p.model in SPIKING_MODELS]
    if spiking_only and not spiking:  # e.g. an imported snnTorch/Norse network: its rate mode relaxes nothing
        raise BackendError(f"populations {', '.join(spiking_only)} are spiking neurons with no rate form, so a rate run "
                           "would relax nothing and count no spikes: add --spiking")
    check_resources(graph, backend, n, steps, spiking, spiking and encoding == "poisson", precision, raster)
    executed_on = _executed_on(backend, device, hardware)
    x, y = data.x_test[:n], data.y_test[:n]
    inp = graph.meta["input"]
    check_batch(x, graph.input_width(inp))
    ids = np.asarray(data.test_index[:n], dtype=np.int64)
    g = in_form(delta_form(graph, threshold, stochastic=neuron == "stochastic",
                           **({} if temperature is None else {"temperature": temperature})) if delta
                else rate_to_spiking(graph, neuron=neuron, temperature=temperature) if spiking else graph, form)
    stochastic = averages_activation(g)
    if delta and not stochastic:
        quiet = _quiet_steps(g, quiet)
    if backend in ("lava", "emulator"):
        # Lava cannot express delay 0: one step per layer (the torch path runs it with --form chip);
        # the emulator runs what Lava runs
        g = retime(g)
    spiking_inputs = spiking and encoding == "poisson"
    parts = stage_parts(g)
    if g.probes and not spiking:
        raise BackendError("the graph's probes record spiking runs; a rate-mode run records nothing: add --spiking")
    for part in parts if spiking else ():  # a probe the run cannot honour fails here, before any work
        recording_plan(part.graph, spiking_inputs and part.stage.encoded, raster)
    if precision == "fixed":
        if not spiking:
            raise BackendError("fixed point runs the spiking mode: add --spiking")
        for part in parts:
            quantize(part.graph)  # fails early, in this process, for what fixed point cannot express yet
    if strict:
        from neurotep.placement import check_strict

        for part in parts:
            check_strict(part.graph, precision)
    cfg = EqPropConfig.from_meta(g.meta)
    steps_taken = steps or (DEFAULT_SPIKING_STEPS if spiking else cfg.free_steps)
    if spiking:  # a re-timed graph's output starts late: its readout mean covers steps_taken steps from then
        steps_taken += readout_from(g, g.meta.get("output"))
    play = dict(backend=backend, precision=precision, spiking=spiking, poisson=spiking_inputs, device=device,
                raster=raster, on_chip=executed_on == "loihi2-hw", quiet=quiet if delta else None, delta=delta,
                tol=cfg.tol if (steps is None and not spiking) else None)
    t0 = time.perf_counter()
    # Lava: one simulation per batch of LAVA_BATCH copies; Boltzmann units' draws depend on the batch
    # layout (neurons.boltzmann), so every backend runs them in Lava's batches
    chunk = LAVA_BATCH if backend == "lava" or stochastic else len(x)
    outs = [_play_stages(g, parts, x[i:i + chunk], ids[i:i + chunk], steps_taken, play) for i in range(0, len(x), chunk)]
    pred = np.concatenate([o[0] for o in outs]).argmax(1)
    rec = merge([o[1] for o in outs]) if spiking else None
    per_sample = None if any(o[1] is None or o[1].exit_step is None for o in outs) else \
        torch.cat([o[1].exit_step for o in outs]).double()  # the steps each sample needs on its own
    steps_taken = outs[0][2]
    wall = time.perf_counter() - t0
    pops = {}
    for p in g.populations.values():
        spikes = int(rec.per_neuron[p.name].sum().item()) if rec is not None and p.name in rec.per_neuron else 0
        pops[p.name] = {"neurons": p.size, "model": p.model, "spikes": spikes,
                        "spikes_per_neuron_per_step": spikes / (p.size * n * steps_taken)}
    summary = dict(
        backend=backend, executed_on=executed_on, precision=precision, device="cpu" if backend == "lava" else device,
        dtype=_dtype_name(backend, precision, device),
        mode="spiking" if spiking else "rate", encoding=encoding if spiking else "current", form=form,
        variant=graph.meta.get("variant"), dataset=data.name, samples=n, steps=int(steps_taken),
        test_accuracy=float((pred == y).mean()), spikes_total=int(sum(p["spikes"] for p in pops.values())),
        wall_seconds=wall, populations=pops,
        **({"delta": _delta_summary(g, rec, threshold, quiet)} if delta else {}),
        **({"mean_steps_per_sample": float(per_sample.mean())} if per_sample is not None else {}),
        **({"stages": [{"name": pt.stage.name, "steps": int(pt.stage.steps or steps_taken), "recorded": pt is parts[-1]}
                       for pt in parts]} if g.stages else {}),
    )
    if check_lava:
        summary["check_lava"] = compare_with_lava(graph, data, check_lava, steps, encoding, neuron, form, threshold, quiet,
                                                  temperature)
    return RunOutput(summary, rec, g, ids)


def _quiet_steps(g: Graph, quiet: int | None) -> int:
    """The quiet steps after which a delta-coded sample exits: at least the graph's longest delay
    (then nothing is in flight and the exit changes no output); that longest delay by default."""
    longest = max((c.delay for c in g.connections), default=1)
    if quiet is None:
        return longest
    if isinstance(quiet, bool) or not isinstance(quiet, numbers.Integral) or not longest <= quiet <= MAX_STEPS:
        raise NeurotepError(f"--quiet-steps must be an int between {longest} (the longest delay, so that nothing is "
                            f"in flight at the exit) and {MAX_STEPS}, got {quiet!r}")
    return int(quiet)


def _delta_summary(g: Graph, rec: Recording, threshold: float, quiet: int) -> dict:
    """What run.json says about a delta-coded run: its coding and the steps its samples took."""
    row = {"threshold": threshold, "quiet_steps": quiet, "output": g.meta.get("output"),
           "changes": g.meta["delta_form"]["changes"], "stochastic": averages_activation(g)}
    if rec.exit_step is not None:  # Boltzmann units never go quiet: no exits
        ex = rec.exit_step.cpu().numpy()
        row.update(mean_exit_step=float(ex.mean()), max_exit_step=int(ex.max()))
    return row


def compare_with_lava(graph: Graph, data: Dataset, samples: int, steps: int | None, encoding: str,
                      neuron: str | None, form: str, threshold: float | None = None, quiet: int | None = None,
                      temperature: float | None = None) -> dict:
    """Re-run the first ``samples`` test images on the emulator and on Lava (Loihi2SimCfg,
    ``fixed_pt``) with rasters, and compare every recorded population spike for spike. Returns
    what was compared; raises :class:`~neurotep.errors.MismatchError` naming the first step,
    population, sample and neuron that differ."""
    kw = dict(samples=samples, steps=steps, spiking=True, encoding=encoding, neuron=neuron, precision="fixed",
              raster=True, form=form, temperature=temperature, **(dict(threshold=threshold, quiet=quiet) if encoding == "delta" else {}))
    emu = run_model(graph, data, backend="emulator", **kw)
    lava = run_model(graph, data, backend="lava", **kw)
    first = None
    for p, r in emu.recording.raster.items():
        a, b = r.cpu().numpy(), lava.recording.raster[p].cpu().numpy()
        diff = np.argwhere(a != b)
        if len(diff) and (first is None or diff[0][0] < first[1][0]):
            first = (p, diff[0], int(a[tuple(diff[0])]), int(b[tuple(diff[0])]))
    if first is not None:
        p, (t, s, i), ea, la = first
        raise MismatchError(f"--check-lava: the emulator and Lava differ first at step {t}, population {p!r}, "
                            f"sample {int(emu.sample_ids[s])} (test index), neuron {i}: emulator {'spike' if ea else 'no spike'}, "
                            f"Lava {'spike' if la else 'no spike'}")
    return dict(samples=samples, identical=True, populations=sorted(emu.recording.raster),
                spikes_compared=int(emu.summary["spikes_total"]), lava_wall_seconds=lava.summary["wall_seconds"],
                emulator_wall_seconds=emu.summary["wall_seconds"])


def _dtype_name(backend: str, precision: str, device: str) -> str:
    if precision == "fixed":
        return "integer"
    return "float64" if backend == "lava" else str(torch_dtype(device)).removeprefix("torch.")


def _size_words(n: float) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"


def run_steps(graph: Graph, steps: int | None, spiking: bool) -> int:
    """The steps a run takes at most: ``steps``, else 200 spiking steps or the model's
    ``free_steps``; a sequence model (TEP-SSR) also feeds its sequence first."""
    n = steps or (DEFAULT_SPIKING_STEPS if spiking else EqPropConfig.from_meta(graph.meta).free_steps)
    return n + graph.fixed_steps()


def estimate_run_bytes(graph: Graph, backend: str, samples: int, steps: int, spiking: bool,
                       spiking_inputs: bool, precision: str = "float", raster: bool = False) -> dict[str, int]:
    """Peak memory of a run by part, in bytes (8 per value, the widest dtype a backend uses).

    The torch path simulates all ``samples`` at once; Lava runs batches of :data:`LAVA_BATCH`.
    Every population keeps its last ``max(delays out of it, its buffer's depth)`` outputs per
    sample; an N-D buffer holds a ``neurons x neurons`` kernel; Lava and fixed-point runs encode
    the Poisson input frames up front; rasters keep one byte per neuron, step and sample."""
    batch = min(samples, LAVA_BATCH) if backend == "lava" else samples
    depth = graph.history_depth()
    sizes = {p.name: p.size for p in graph.populations.values()}
    n_in = sizes.get(graph.meta.get("input"), 0)
    parts = {
        "delay and buffer history (depth x neurons x batch x 8 bytes)": sum(depth[p] * n for p, n in sizes.items()) * batch * 8,
        # outputs, membranes, drives and the next state: a few copies of every neuron per sample
        "neuron state": 4 * sum(sizes.values()) * batch * 8,
        "spatial buffer kernels": sum(sizes[b.population] ** 2 for b in graph.buffers if b.shape) * 8,
        "weights": sum(c.weight.size for c in graph.connections) * 8 * (2 if backend == "lava" else 1),
        "input frames": steps * batch * n_in * 8 if spiking_inputs and (backend == "lava" or precision == "fixed") else 0,
        "spike rasters": steps * samples * sum(sizes.values()) if raster and spiking else 0,
    }
    return parts


def check_resources(graph: Graph, backend: str, samples: int, steps: int | None, spiking: bool,
                    spiking_inputs: bool, precision: str = "float", raster: bool = False) -> None:
    """Everything a run needs that the graph alone cannot say, checked before any work: the meta
    keys a run reads, the step count against :data:`~neurotep.graph.validate.MAX_STEPS`, and the
    peak memory (:func:`estimate_run_bytes`) against :data:`MAX_RUN_BYTES`. One-line errors that
    give the estimate and the limit."""
    graph.validate()  # meta's types and targets, and every static bound (depths, delays, sizes)
    for key, what in (("input", "the input population"), ("output", "the population read out")):
        if key not in graph.meta:
            raise GraphError(f"graph meta: no {key!r} key ({what}); this graph is not a runnable model: "
                             "train one with `neurotep train VARIANT --out DIR`")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, numbers.Integral)
                              or not 1 <= steps <= MAX_STEPS):
        raise NeurotepError(f"--steps must be an int between 1 and {MAX_STEPS}, got {steps!r}")
    total_steps = run_steps(graph, steps, spiking)
    if total_steps > MAX_STEPS:
        raise NeurotepError(f"the run would take {total_steps} steps, over the limit of {MAX_STEPS}: give fewer --steps")
    parts = estimate_run_bytes(graph, backend, samples, total_steps, spiking, spiking_inputs, precision, raster)
    total = sum(parts.values())
    if total > MAX_RUN_BYTES:
        big = max(parts, key=parts.get)
        batch = min(samples, LAVA_BATCH) if backend == "lava" else samples
        raise NeurotepError(
            f"this run would need about {_size_words(total)} of memory ({big}: {_size_words(parts[big])}; "
            f"batch {batch}, {total_steps} steps), over the {_size_words(MAX_RUN_BYTES)} limit per run: "
            "run fewer --samples or --steps, or a model with shallower buffers and delays")


def torch_dtype(device: str) -> torch.dtype:
    """float64 on the CPU, where the torch path is the reference and then meets Lava's float64
    models spike for spike (about 2x the float32 cost); float32 on a GPU, for speed."""
    return torch.float32 if str(device).startswith("cuda") else torch.float64


# -- playing a graph: its stages one after another, each a plain graph on the chosen backend ------
def _play_stages(g: Graph, parts: list, x: np.ndarray, ids: np.ndarray, steps: int, play: dict):
    """Run every stage of ``g`` (one part for an unstaged graph) on ``x``: each earlier stage's
    handed-over population enters the later ones as a held, graded input (the same path as any
    static input: :mod:`neurotep.graph.stages`). Returns (readout, Recording of the last stage,
    steps the last stage took)."""
    held: dict[str, np.ndarray] = {}
    for part in parts[:-1]:
        if part.handover is not None:
            held[part.handover] = _play_part(g, part, x, ids, int(part.stage.steps), held, play, final=False)[0]
    return _play_part(g, parts[-1], x, ids, steps, held, play, final=True)


def _part_frames(g: Graph, part, x: np.ndarray, steps: int, held: dict) -> dict[str, np.ndarray]:
    """(frames, B, N) float64 per input of the part: the data input's frames from its stream (or
    the static input), a held population's final output (zero before its stage has run)."""
    frames = {}
    for p in part.graph.inputs():
        if p.name in part.held:
            v = held.get(p.name)
            frames[p.name] = (np.zeros((len(x), p.size)) if v is None else np.asarray(v, dtype=np.float64))[None]
        else:
            frames[p.name] = np.asarray(frames_of(g, p.name, x, part.offset, steps), dtype=np.float64)
    return frames


def _play_part(g: Graph, part, x, ids, steps, held, play, final):
    pg, frames = part.graph, _part_frames(g, part, x, steps, held)
    encoded = play["poisson"] and part.stage.encoded and play["spiking"]
    if encoded and any(len(f) > 1 for p, f in frames.items() if not pg.emits_graded(p, True)):
        raise BackendError(f"stage {part.stage.name!r}: Poisson-encoding an input that changes during the stage "
                           "is not supported yet; use --encoding current")
    run = _part_lava if play["backend"] == "lava" else _part_torch_fixed if play["precision"] == "fixed" else _part_torch
    return run(pg, frames, ids, steps, encoded, play, final)


def _encode(pg: Graph, frames: dict, ids, steps: int, encoded: bool, fixed: bool) -> dict[str, np.ndarray]:
    """Frames as the sources play them: Poisson spikes for encoded inputs, integers in fixed point."""
    out = {}
    for p, f in frames.items():
        spikes = encoded and not pg.emits_graded(p, True)
        f = rate_encode(f[0], steps, ENCODER_SEED, ids) if spikes else f
        out[p] = encode_input(f, spikes) if fixed else f.astype(np.float64)
    return out


def _part_torch(pg, frames, ids, steps, encoded, play, final):
    net = TorchNetwork(pg, device=play["device"], dtype=torch_dtype(play["device"]))
    ft = {p: torch.as_tensor(f, device=net.device_, dtype=net.dtype) for p, f in frames.items()}
    out = pg.meta["output"]
    if final and not play["spiking"]:  # rate mode: relax the last stage with its inputs held
        each = Settling(per_sample=True)  # the steps each sample needs on its own (plain relaxation only)
        with torch.no_grad():
            st, steps = net.relax({p: f[0] for p, f in ft.items()}, steps, play["tol"], settling=each)
        per_sample = None if pg.stages else each.steps(steps)
        return st.out[out].cpu().numpy(), None if per_sample is None else Recording(exit_step=per_sample), steps
    tid = torch.as_tensor(ids, device=net.device_)
    spikes = {p for p in ft if encoded and not pg.emits_graded(p, True)}

    def input_fn(t):
        if play["delta"]:  # delta coding: the inputs' changes
            return {p: delta_frame(f, t) for p, f in ft.items()}
        return {p: poisson_spikes_torch(f[t % len(f)], t, ENCODER_SEED, tid) if p in spikes else f[t % len(f)]
                for p, f in ft.items()}

    st, rec, mean = net.run(input_fn, steps, len(ids), sample_ids=tid, raster=play["raster"] and final,
                            readout=out, spiking_inputs=encoded, quiet=play["quiet"])
    if net.device_.type == "cuda":
        torch.cuda.synchronize()
    return (mean if final else st.out[out]).cpu().numpy(), rec, steps


def _part_torch_fixed(pg, frames, ids, steps, encoded, play, final):
    net = FixedNetwork(quantize(pg), device=play["device"], spiking_inputs=encoded)
    ft = {p: torch.as_tensor(f, device=net.device_) for p, f in _encode(pg, frames, ids, steps, encoded, True).items()}
    frame = (lambda f, t: delta_frame(f, t)) if play["delta"] else (lambda f, t: f[t % len(f)])
    rec, mean, last = net.run(lambda t: {p: frame(f, t) for p, f in ft.items()}, steps, len(ids),
                              raster=play["raster"] and final, readout=pg.meta["output"], spiking_inputs=encoded,
                              sample_ids=torch.as_tensor(ids, device=net.device_), last=True, quiet=play["quiet"])
    return (mean if final else last).cpu().numpy(), rec, steps


def _part_lava(pg, frames, ids, steps, encoded, play, final):
    from neurotep.backends.lava.runner import run_lava

    data = _encode(pg, frames, ids, steps, encoded, play["precision"] == "fixed")
    if play["delta"]:  # delta coding: the inputs' changes, step by step; the exits found from the rasters
        data = {p: np.stack([delta_frame(f, t) for t in range(steps)]) for p, f in data.items()}
    rec, readout, _ = run_lava(pg, data, steps, ids, spiking_inputs=encoded, precision=play["precision"],
                               raster=(play["raster"] or bool(play["quiet"])) and final, on_chip=play["on_chip"])
    if play["quiet"]:
        rec.exit_step = exit_steps(rec.raster, play["quiet"], steps)
        if not play["raster"]:
            rec.raster = {}
    return readout["mean" if final and play["spiking"] else "last"].numpy(), rec, steps


def hidden_spike_rate(summary: dict) -> float:
    """Spikes per hidden neuron per step (every population but the input and the graded linear
    output) of a spiking run's summary (``run.json``); of a delta-coded run, messages per hidden
    neuron per step that its samples ran (the output, a sigma-delta neuron there, left out too)."""
    out = (summary.get("delta") or {}).get("output")
    hidden = [p for name, p in summary["populations"].items() if p["model"] not in ("input", "linear") and name != out]
    steps = summary.get("mean_steps_per_sample", summary["steps"]) if out else summary["steps"]
    return sum(p["spikes"] for p in hidden) / max(sum(p["neurons"] for p in hidden) * summary["samples"] * steps, 1)


def save_run(res: RunOutput, run_dir) -> dict:
    """A self-contained run directory: ``run.json``, ``graph/`` (the network that ran) and, for
    spiking runs, ``spikes.npz``: what ``neurotep profile`` and ``neurotep report`` read. Returns
    what ``run.json`` holds."""
    from pathlib import Path

    from neurotep.graph import save_graph
    from neurotep.membranes import membrane_updates
    from neurotep.outputs import write_json
    from neurotep.placement import core_counts

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    # The sample ids let the profiler replay the counter-based draws (e.g. count open gates exactly).
    ids = {} if res.sample_ids is None else {"sample_ids": [int(i) for i in res.sample_ids]}
    # What the profiler needs a backend for, computed here so that it reads recordings only:
    # NeuroBench's exact MembraneUpdates (a replay on the torch path) and neuro-cores per population.
    derived = {"membrane_updates": membrane_updates(res.graph, res.summary, res.recording),
               "cores": core_counts(res.graph)}
    doc = {**res.summary, **ids, **derived}
    write_json(run_dir / "run.json", doc)
    save_graph(res.graph, run_dir / "graph")
    if res.recording is not None:
        save_recording(res.recording, run_dir / "spikes.npz")
    return doc
