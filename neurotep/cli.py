"""The ``neurotep`` command line.

Every user mistake ends as one line on stderr and exit code 2, with no partial output directory.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from neurotep.errors import NeurotepError


class Terminated(BaseException):
    """SIGTERM or SIGHUP reached the CLI: raised in the main thread so that every ``finally`` runs
    (Lava workers are killed, temporary outputs removed, output locks released) before it exits."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum, frame):
    raise Terminated(signum)


def _install_signal_handlers() -> None:
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread (e.g. main() called in a thread)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_terminated)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + message
        raise NeurotepError(f"{message} (see: {self.prog} --help)")


def _whole(lo: int, hi: int | None = None):
    """An argparse ``type``: a whole number in [lo, hi]."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if v < lo or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"must be at least {lo}" + (f" and at most {hi}" if hi is not None else "")
                                             + f", got {v}")
        return v
    return parse


def _finite(text: str, zero: bool) -> float:
    """A finite number above zero (or zero too, with ``zero``), else an argparse error."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not (math.isfinite(v) and (v >= 0 if zero else v > 0)):
        raise argparse.ArgumentTypeError(f"must be a finite number {'>= 0' if zero else 'above 0'}, got {text}")
    return v


def _positive(text: str) -> float:
    """An argparse ``type``: a finite number above zero."""
    return _finite(text, zero=False)


def _non_negative(text: str) -> float:
    """An argparse ``type``: a finite number, zero or above."""
    return _finite(text, zero=True)


def _device(text: str) -> str:
    """An argparse ``type``: the torch devices neurotep runs on (whether CUDA is present is checked
    when the device is used)."""
    import re

    if not re.fullmatch(r"cpu|cuda(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}: use cpu, cuda or cuda:N")
    return text


def _torch_only_device(args) -> None:
    if args.backend == "lava" and args.device != "cpu":
        raise NeurotepError(f"--device {args.device} applies to the torch backend; Lava runs on its CPU simulator: "
                            "drop --device or use --backend torch")


def _print(obj: dict, as_json: bool, lines: list[str]) -> None:
    print(json.dumps(obj, indent=2, default=str) if as_json else "\n".join(lines))


def cmd_variants(args) -> None:
    from neurotep import variants

    rows = variants.describe()
    _print({"variants": rows}, args.json,
           [line for r in rows for line in (f"{r['name']:<14} {r['description']}",
                                            " " * 15 + "build (train --set NAME=VALUE): "
                                            + ", ".join(f"{k}={v}" for k, v in r["defaults"].items()))])


def cmd_train(args) -> None:
    from neurotep import variants
    from neurotep.backends.torch import resolve_device
    from neurotep.graph import save_graph
    from neurotep.outputs import output_dir, write_json

    if args.on_chip:
        return cmd_train_onchip(args)
    if args.resume or args.train_samples is not None:
        raise NeurotepError("--resume and --train-samples apply to --on-chip training")
    args.epochs = 40 if args.epochs is None else args.epochs
    build = variants.parse_overrides(variants.get(args.variant), args.set)  # bad input fails before --out is claimed
    _torch_only_device(args)
    resolve_device(args.device)
    with output_dir(args.out, command="train", inputs=[args.data_path], overwrite=args.overwrite) as tmp:
        metrics = _train(args, build)
        save_graph(metrics.pop("graph"), tmp / "model")
        write_json(tmp / "metrics.json", metrics)
    _print(metrics, args.json, [f"{args.variant} on {metrics['dataset']}: test accuracy {metrics['test_accuracy']:.4f} "
                                f"after {args.epochs} epochs ({metrics['train_seconds']:.1f} s); model in {args.out}"])


def cmd_train_onchip(args) -> None:
    """``train VARIANT --on-chip``: EqProp on Loihi's learning engine (:mod:`neurotep.onchip_job`)."""
    from neurotep import variants
    from neurotep.onchip_job import finish_checkpoint, onchip_settings, train_onchip_job
    from neurotep.outputs import output_dir, write_json

    if args.method != "eqprop":
        raise NeurotepError("--on-chip trains by EqProp on the learning engine: drop --method")
    if args.device != "cpu":
        raise NeurotepError("--on-chip runs one sample at a time on the CPU (Lava, or its torch twin): drop --device")
    module = variants.get(args.variant)
    chip, rest = onchip_settings(args.set)
    build = variants.parse_overrides(module, rest)  # bad input fails before --out is claimed
    epochs = 1 if args.epochs is None else args.epochs
    with output_dir(args.out, command="train", inputs=[args.data_path], overwrite=args.overwrite) as tmp:
        learned, metrics = train_onchip_job(args.variant, args.dataset, args.data_path, epochs=epochs, seed=args.seed,
                                            backend=args.backend, build=build, settings=chip,
                                            train_samples=args.train_samples, out=args.out, resume=args.resume,
                                            progress=not args.json)
        learned.save(tmp / "onchip")
        write_json(tmp / "metrics.json", metrics)
    finish_checkpoint(args.out)
    e = metrics["energy_per_training_sample"]
    lines = [f"{args.variant} trained on-chip ({'Lava simulator' if args.backend == 'lava' else 'torch twin'}, fixed "
             f"point): test accuracy {metrics['test_accuracy']:.4f} after {metrics['samples']} samples "
             f"({metrics['seconds_per_sample'] * 1e3:.1f} ms per sample); model in {args.out}"]
    if e is not None:
        lines.append(f"Loihi 2 energy per training sample: {e['low']['total_J'] * 1e6:.2f}-{e['high']['total_J'] * 1e6:.2f} "
                     "uJ (Renner et al. 2024, backprop on Loihi 1, MNIST: 590 uJ)")
    _print(metrics, args.json, lines)


def _train(args, build: dict) -> dict:
    """Train as ``args`` say; the metrics, with the trained graph under ``"graph"``."""
    from neurotep.train_job import train_variant

    return train_variant(args.variant, args.dataset, args.data_path, epochs=args.epochs, seed=args.seed,
                         method=args.method, backend=args.backend, lr=args.lr, lr_lava=args.lr_lava, device=args.device,
                         progress=not args.json, build=build, weight_decay=args.weight_decay)


def load_model(model_dir: str):
    """A model directory written by ``neurotep train`` (or a bare saved graph)."""
    from neurotep.errors import ModelFileError
    from neurotep.graph import load_graph

    p = Path(model_dir)
    if not p.exists():
        raise ModelFileError(f"model {model_dir!r} does not exist: train one with `neurotep train VARIANT --out DIR`")
    if (p / "onchip" / "onchip.json").exists() and not (p / "model").exists():
        raise ModelFileError(f"{model_dir!r} is an on-chip model (train --on-chip): run, compile and export do not take "
                             f"on-chip forms yet; its test accuracy and energy are in {p / 'metrics.json'}")
    return load_graph(_graph_path(p))


def _graph_path(model_dir) -> Path:
    """Where the saved graph of a model directory is (``DIR/model``, or ``DIR`` itself)."""
    p = Path(model_dir)
    return p / "model" if (p / "model").exists() else p


def cmd_run(args) -> None:
    from neurotep.data import load_dataset
    from neurotep.outputs import output_dir
    from neurotep.runner import run_model, save_run

    _torch_only_device(args)
    with output_dir(args.out, command="run", inputs=[args.model_dir, _graph_path(args.model_dir), args.data_path],
                    overwrite=args.overwrite) as tmp:
        graph = load_model(args.model_dir)
        data = load_dataset(args.dataset, args.data_path)
        res = run_model(graph, data, backend=args.backend, samples=args.samples, steps=args.steps, spiking=args.spiking,
                        encoding=args.encoding, device=args.device, raster=args.raster, neuron=args.neuron,
                        precision=args.precision, hardware=args.hardware, form=args.form, strict=args.strict,
                        check_lava=args.check_lava, threshold=args.delta_threshold, quiet=args.quiet_steps,
                        temperature=args.temperature)
        doc = save_run(res, tmp)
    s = {k: v for k, v in doc.items() if k != "sample_ids"}  # run.json less the (long) list of sample ids
    mode = "delta-coded" if "delta" in s else s["mode"]
    lines = [f"{mode} run on {s['executed_on']}: accuracy {s['test_accuracy']:.4f} on {s['samples']} "
             f"samples, {s['steps']} steps, {s['spikes_total']} spikes, {s['wall_seconds']:.2f} s; results in {args.out}"]
    if "delta" in s:
        d = s["delta"]
        if d.get("stochastic"):
            lines.append(f"stochastic delta coding: {s['spikes_total']} events are Boltzmann units' on/off changes, "
                         f"sigma-delta messages (threshold {d['threshold']:g}) and input changes; Boltzmann units never go "
                         "quiet, so every sample ran every step and the readout is the output's mean activation")
        else:
            lines.append(f"delta coding (threshold {d['threshold']:g}): {s['spikes_total']} events are sigma-delta messages "
                         f"and input changes; samples exit after {d['quiet_steps']} quiet steps, at step "
                         f"{d['mean_exit_step']:.1f} on average (at most {d['max_exit_step']})")
    if "check_lava" in s:
        c = s["check_lava"]
        lines.append(f"--check-lava: the first {c['samples']} samples give identical spikes on Lava ({c['spikes_compared']} "
                     f"spikes in {', '.join(c['populations'])}; emulator {c['emulator_wall_seconds']:.2f} s, "
                     f"Lava {c['lava_wall_seconds']:.2f} s)")
    _print(s, args.json, lines)


def cmd_compile(args) -> None:
    from neurotep.graph.transforms import rate_to_spiking

    if args.to == "nir":
        return _compile_nir(args)
    if args.peer is not None:
        raise NeurotepError("--for names the library a NIR file is written for: add --to nir")
    if args.to != "lava":
        raise NeurotepError(f"unknown compile target {args.to!r}: use lava or nir")
    if args.mode not in ("spiking", "rate", "delta"):
        raise NeurotepError(f"unknown mode {args.mode!r}: use spiking, rate or delta")
    if args.delta_threshold is not None and args.mode != "delta":
        raise NeurotepError("--delta-threshold applies to --mode delta")
    from neurotep.backends.lava.plan import compile_graph
    from neurotep.graph.chip import in_form
    from neurotep.graph.retime import retime
    from neurotep.hardware import load_profile, map_to_cores

    graph = load_model(args.model_dir)
    if args.mode == "delta":
        from neurotep.graph.delta import DEFAULT_THRESHOLD, delta_form

        if args.neuron not in (None, "stochastic"):
            raise NeurotepError(f"--mode delta uses sigma-delta neurons, or with --neuron stochastic Boltzmann units "
                                f"(NEBM), not --neuron {args.neuron}")
        g = in_form(delta_form(graph, DEFAULT_THRESHOLD if args.delta_threshold is None else args.delta_threshold,
                               stochastic=args.neuron == "stochastic"), args.form)
    else:
        g = in_form(rate_to_spiking(graph, neuron=args.neuron) if args.mode == "spiking" else graph, args.form)
    g = retime(g)  # delay-0 connections (an imported network): one step per layer, as run --backend lava does
    plan = compile_graph(g, batch=1, precision=args.precision)
    cores = map_to_cores(plan, load_profile("loihi2"))
    doc = {"model": args.model_dir, "mode": args.mode, "form": args.form, **plan.describe(),
           "loihi2_mapping": cores.describe()}
    if args.form == "chip":
        doc["chip_form_changes"] = g.meta["chip_form"]["changes"]
    if "retimed" in g.meta:
        doc["retimed"] = g.meta["retimed"]
    lines = [f"{args.mode} network of {args.model_dir}, {args.form} form, as Lava processes ({args.precision}):"]
    if "delta_form" in g.meta:
        doc["delta_form_changes"] = g.meta["delta_form"]["changes"]
    lines += [f"  delta form: {c}" for c in doc.get("delta_form_changes", [])]
    lines += [f"  chip form: {c}" for c in doc.get("chip_form_changes", [])]
    if args.form != "chip" and "retimed" in doc:
        lines += [f"  re-timed: delay-0 connections {', '.join(map(repr, doc['retimed']['connections']))} get delay 1 "
                  f"(population shifts {doc['retimed']['shift']})"]
    lines += [f"  {p['name']:<22} {p['class']:<52} shape {tuple(p['shape'])}"
              + (f", {p['synapses']} synapses" if "synapses" in p else "")
              + (f", gate p={p['gate']}" if "gate" in p else "") + _buffer_words(p.get("buffer"))
              for p in doc["processes"]]
    lines += ["connections:"] + [f"  {link}" for link in doc["links"]]
    lines += ["Loihi 2 mapping:"] + [f"  {line}" for line in cores.lines()]
    _print(doc, args.json, lines)


def _compile_nir(args) -> None:
    from neurotep.graph.transforms import rate_to_spiking
    from neurotep.interop.nir import DT, export_nir, export_peer_nir
    from neurotep.outputs import check_output_file

    if args.out is None:
        raise NeurotepError("compile --to nir needs --out FILE (the NIR graph to write)")
    check_output_file(args.out, inputs=[args.model_dir], overwrite=args.overwrite)
    if args.mode != "spiking":
        raise NeurotepError(f"--mode {args.mode}: NIR has no rate units; NIR export writes the spiking form (--mode spiking)")
    graph = load_model(args.model_dir)
    if args.neuron not in (None, "lif"):
        graph = rate_to_spiking(graph, neuron=args.neuron)  # the exporter then names what NIR cannot express
    dt = args.dt if args.dt is not None else DT
    if args.peer is None:
        notes = export_nir(graph, args.out, dt=dt)
    else:
        notes = export_peer_nir(graph, args.out, args.peer, dt=dt)
    _print({"model": args.model_dir, "to": "nir", "for": args.peer, "out": args.out, "dt": dt, "notes": notes}, args.json,
           [f"note: {n}" for n in notes] + [f"wrote the NIR graph of {args.model_dir} to {args.out} (dt = {dt:g} s per step)"])


def cmd_import_nir(args) -> None:
    from neurotep.graph import save_graph
    from neurotep.interop.nir import import_nir
    from neurotep.outputs import output_dir

    with output_dir(args.out, command="import-nir", inputs=[args.file], overwrite=args.overwrite) as tmp:
        g = import_nir(args.file, dt=args.dt, producer=args.producer, reset=args.reset)
        save_graph(g, tmp / "model")
    pops = {p.name: f"{p.model} x{p.size}" for p in g.populations.values()}
    notes = []
    if args.producer == "snntorch" and args.reset is None and any(p.model == "lif" for p in g.populations.values()):
        notes.append("snnTorch's export does not write the reset mode (it writes v_reset = 0 whatever the Leaky's "
                     "reset_mechanism, whose default is subtraction): imported with zero reset; for a subtract-reset "
                     "network import again with --reset subtract")
    line = (f"imported {args.file}: " + ", ".join(f"{k} ({v})" for k, v in pops.items())
            + f", {len(g.connections)} connections; saved to {args.out}/model")
    _print({"file": args.file, "out": args.out, "populations": pops, "connections": len(g.connections), "notes": notes},
           args.json, [f"note: {n}" for n in notes] + [line])


def _buffer_words(buf: dict | None) -> str:
    if not buf:
        return ""
    sp = buf["spatial"]
    if sp is None:
        return f", {buf['depth']} taps"
    return (f", {buf['depth']} taps spread over a periodic {'x'.join(map(str, sp['grid']))} grid "
            f"(radius {tuple(sp['radius'])}, {sp['nonzeros_per_neuron']} neighbours per neuron)")


def cmd_demo(args) -> None:
    from neurotep.demo import demo

    demo(out=args.out, epochs=args.epochs, device=args.device, retrain=args.retrain, overwrite=args.overwrite)


def _number_list(text: str, kind=float, what: str = "numbers") -> list:
    try:
        vals = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        vals = []
    if not vals:
        raise argparse.ArgumentTypeError(f"expected comma-separated {what}, got {text!r}")
    return vals


def _float_list(text: str) -> list[float]:
    return _number_list(text)


def _int_list(text: str) -> list[int]:
    vals = _number_list(text, int, "whole numbers")
    if any(v < 1 for v in vals):
        raise argparse.ArgumentTypeError(f"step counts must be >= 1, got {text!r}")
    return vals


def cmd_frontier(args) -> None:
    from neurotep.data import load_dataset
    from neurotep.frontier import POISSON_STEPS, THRESHOLDS, frontier, summary_line
    from neurotep.graph.delta import check_threshold
    from neurotep.outputs import output_dir

    thresholds = [check_threshold(t) for t in (args.thresholds or THRESHOLDS)]  # before --out is claimed
    with output_dir(args.out, command="frontier", inputs=[args.model_dir, _graph_path(args.model_dir), args.data_path],
                    overwrite=args.overwrite) as tmp:
        graph = load_model(args.model_dir)
        data = load_dataset(args.dataset, args.data_path)
        doc = frontier(graph, data, Path(tmp), thresholds, args.steps or POISSON_STEPS, samples=args.samples,
                       progress=(lambda m: None) if args.json else (lambda m: print(m, file=sys.stderr)))
    _print(doc, args.json, [summary_line(doc), f"table: {Path(args.out) / 'frontier.md'}, plot: "
                            f"{Path(args.out) / 'frontier.png'}, one run directory per point in {Path(args.out) / 'runs'}"])


def cmd_compare(args) -> None:
    from neurotep.compare import compare

    compare(args.variants or None, out=args.out, epochs=args.epochs, seed=args.seed, device=args.device, retrain=args.retrain,
            overwrite=args.overwrite)


def cmd_sweep(args) -> None:
    from neurotep.sweep import run_sweep

    out = args.out or str(Path("runs") / f"sweep-{Path(args.spec).stem}")
    res = run_sweep(args.spec, out, address=args.address, num_cpus=args.num_cpus, overwrite=args.overwrite,
                    progress=not args.json)
    failed = "".join(f"\n  failed: {name}: {err}" for name, err in res["failed"].items())
    _print(res, args.json, [(Path(out) / "summary.md").read_text(encoding="utf-8").rstrip(),
                            f"{res['trials']} trials ({res['skipped']} finished before, {res['ran']} run now, "
                            f"{len(res['failed'])} failed) in {res['wall_seconds']:.1f} s; results in {out}" + failed
                            + (f"; frontier plot {res['frontier']}" if res["frontier"] else "")])


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="neurotep", description="TorEqProp models as spiking process graphs (Lava / snnTorch).")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("variants", help="list the model variants")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_variants)

    s = sub.add_parser("train", help="train a variant and save the network")
    s.add_argument("variant")
    s.add_argument("--out", required=True, help="model directory to write (new, empty, or see --overwrite)")
    s.add_argument("--overwrite", action="store_true", help="replace DIR when it holds an earlier neurotep output (never anything else)")
    s.add_argument("--dataset", default="digits",
                   help="digits (embedded), mnist1d (MNIST-1D, generated), mnist, nmnist, shd, dvsgesture (local "
                        "files: --data-path), or for tepssr a sequence set: mnist1d-seq, nmnist-seq, shd-seq, "
                        "dvsgesture-seq, digits-rows, digits-pixels, cue-recall[-T]")
    s.add_argument("--data-path", default=None, help="directory with the data set's files (MNIST IDX, N-MNIST, SHD, DVS Gesture)")
    s.add_argument("--epochs", type=_whole(1), default=None, help="passes over the training split (40; --on-chip: 1)")
    s.add_argument("--seed", type=_whole(0, 2**32 - 1), default=0)
    s.add_argument("--method", default="eqprop", help="eqprop (default) or bptt (the baseline)")
    s.add_argument("--backend", default="torch", help="torch (default) or lava: EqProp inside the Lava simulator")
    s.add_argument("--on-chip", action="store_true",
                   help="EqProp on Loihi's learning engine (LearningDense, fixed point), one sample at a time: "
                        "--backend lava inside one Lava simulation, --backend torch on its bit-identical twin")
    s.add_argument("--train-samples", type=_whole(1), default=None, metavar="N",
                   help="--on-chip: train on the first N samples of the training order only")
    s.add_argument("--resume", action="store_true",
                   help="--on-chip --backend lava: continue an interrupted run from OUT.checkpoint")
    s.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="a build hyperparameter of the variant over its default, repeatable: e.g. --set hidden=512 "
                        "(`neurotep variants --json` lists them with their defaults); with --on-chip also the "
                        "on-chip form's settings (gate, lr, lr_out, beta, vth, dv, t_epoch, phase_epochs, impulse, tau, "
                        "bias_period, init_gain)")
    s.add_argument("--lr", type=_positive, default=1e-3, help="Adam learning rate (torch backend)")
    s.add_argument("--lr-lava", type=_positive, default=0.05, help="SGD learning rate of EqProp on Lava")
    s.add_argument("--weight-decay", type=_non_negative, default=0.0, help="Adam's L2 weight decay (torch backend, default 0)")
    s.add_argument("--device", type=_device, default="cpu", help="cpu, cuda or cuda:N (torch backend)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_train)

    s = sub.add_parser("run", help="run a trained network on the test split")
    s.add_argument("model_dir")
    s.add_argument("--backend", default="torch",
                   help="torch (snnTorch reference path), lava (Loihi 2 simulator) or emulator (Loihi 2's fixed-point "
                        "semantics on torch, spike for spike Lava's and much faster; spiking, fixed point, chip form)")
    s.add_argument("--precision", default=None,
                   help="float (default) or fixed (Loihi 2 bit widths; bit-exact between torch, emulator and lava)")
    s.add_argument("--check-lava", type=_whole(1), default=0, metavar="N",
                   help="--backend emulator: re-run the first N samples on Lava and exit 1 at the first spike that differs")
    s.add_argument("--hardware", default=None, help="loihi2: run on a Loihi 2 board when lava-loihi and a board are present")
    s.add_argument("--out", required=True, help="run directory to write (run.json, spikes.npz): new, empty, or see --overwrite")
    s.add_argument("--overwrite", action="store_true", help="replace DIR when it holds an earlier neurotep output (never anything else)")
    s.add_argument("--dataset", default="digits", help="the data set the model was trained on (see train --help)")
    s.add_argument("--data-path", default=None)
    s.add_argument("--samples", type=_whole(1), default=None, help="number of test samples (default: all)")
    s.add_argument("--steps", type=_whole(1), default=None, help="simulation steps (spiking default 200; rate: until converged)")
    s.add_argument("--spiking", action="store_true", help="run the spiking mode of the network")
    s.add_argument("--encoding", default="poisson",
                   help="poisson or current (input encoding of spiking runs), or delta: the event-efficient network, "
                        "sigma-delta neurons that send changes, the input sent once, early exit (docs/architecture.md)")
    s.add_argument("--delta-threshold", type=float, default=None,
                   help="--encoding delta: the smallest change a neuron sends, in activation units (default 0.01)")
    s.add_argument("--quiet-steps", type=_whole(1), default=None,
                   help="--encoding delta: a sample exits after this many steps with nothing sent (default and minimum: "
                        "the longest delay, so the exit changes no output)")
    s.add_argument("--neuron", default=None,
                   help="spiking neuron for hidden units: lif (integrate-and-fire) or stochastic (default: the variant's); "
                        "with --encoding delta, stochastic gives Boltzmann units (NEBM, Loihi 2's stochastic neuron)")
    s.add_argument("--temperature", type=_positive, default=None,
                   help="stochastic units' temperature: of --neuron stochastic spiking neurons (default: the variant's, "
                        "else 0.1), or with --encoding delta of the Boltzmann units (default 0.25)")
    s.add_argument("--raster", action="store_true", help="also record full spike rasters")
    s.add_argument("--form", default=None,
                   help="reference (the model as trained; the default) or chip (rewritten for Loihi 2's neuro-cores, see "
                        "docs/architecture.md; the default with --hardware loihi2 and --backend emulator)")
    s.add_argument("--strict", action="store_true",
                   help="--backend lava: refuse (exit 2, nothing written) a run not wholly on Loihi 2's neuro-cores")
    s.add_argument("--device", type=_device, default="cpu", help="cpu, cuda or cuda:N (torch and emulator backends)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_run)

    s = sub.add_parser("compile", help="print the Lava process graph of a network and its Loihi 2 core mapping")
    s.add_argument("model_dir")
    s.add_argument("--to", default="lava", help="lava, or nir (write a NIR graph to --out)")
    s.add_argument("--mode", default="spiking",
                   help="spiking (default), rate, or delta (sigma-delta neurons that send changes, see run --encoding delta)")
    s.add_argument("--delta-threshold", type=float, default=None, help="--mode delta: the smallest change sent (default 0.01)")
    s.add_argument("--neuron", default=None, help="spiking neuron for hidden units: lif or stochastic (default: the variant's); "
                                                  "with --mode delta, stochastic gives Boltzmann units (NEBM)")
    s.add_argument("--precision", default="float", help="float or fixed (Loihi 2 bit widths; bit-exact between torch and lava)")
    s.add_argument("--form", default="chip",
                   help="chip (default: rewritten for Loihi 2's neuro-cores: buffers as delayed self-connections, "
                        "zero-reset LIF, Sigma outputs; see docs/architecture.md) or reference (the model as trained)")
    s.add_argument("--out", default=None, help="--to nir: the NIR file to write")
    s.add_argument("--overwrite", action="store_true", help="--to nir: replace an existing file at --out")
    s.add_argument("--dt", type=_positive, default=None, help="--to nir: seconds per step (default 1e-4, snnTorch's importer's)")
    s.add_argument("--for", dest="peer", default=None,
                   help="--to nir: snntorch or norse: the form that library's own importer runs (docs/interop.md)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_compile)

    s = sub.add_parser("import-nir", help="convert a NIR graph (e.g. from snnTorch or Norse) into a neurotep model directory")
    s.add_argument("file")
    s.add_argument("--out", required=True, help="model directory to write (MODEL_DIR/model)")
    s.add_argument("--overwrite", action="store_true", help="replace DIR when it holds an earlier neurotep output (never anything else)")
    s.add_argument("--dt", type=_positive, default=None, help="seconds per step (default: the file's, else the producer's)")
    s.add_argument("--producer", default=None, help="snntorch or norse: their export conventions (dt; Norse's tau scaling)")
    s.add_argument("--reset", default=None, help="zero or subtract: override the reset of every LIF/IF population")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_import_nir)

    from neurotep.profile.cli import add_parser as add_profile
    from neurotep.report.cli import add_parser as add_report

    add_profile(sub)
    add_report(sub)

    s = sub.add_parser("demo", help="the main job: train the base model on digits and run it, rate and spiking")
    s.add_argument("--out", default="runs/demo", help="output directory (an earlier demo output there is reused and replaced)")
    s.add_argument("--overwrite", action="store_true", help="replace DIR also when it holds another neurotep output")
    s.add_argument("--epochs", type=_whole(1), default=40)
    s.add_argument("--device", type=_device, default="cpu")
    s.add_argument("--retrain", action="store_true", help="train even if a cached model exists")
    s.set_defaults(fn=cmd_demo)

    s = sub.add_parser("frontier", help="accuracy against synaptic operations, energy and latency: rate, delta "
                                        "coding at several thresholds, Poisson spiking at several step counts")
    s.add_argument("model_dir")
    s.add_argument("--out", required=True, help="folder to write (frontier.json, .md, .png, runs/): new, empty, or see --overwrite")
    s.add_argument("--overwrite", action="store_true", help="replace DIR when it holds an earlier neurotep output")
    s.add_argument("--thresholds", type=_float_list, default=None,
                   help="delta thresholds, comma-separated (default 0.005,0.01,0.02,0.05,0.1,0.2)")
    s.add_argument("--steps", type=_int_list, default=None, help="Poisson step counts, comma-separated (default 50,100,200)")
    s.add_argument("--samples", type=_whole(1), default=None, help="test (and training) samples per point (default: all)")
    s.add_argument("--dataset", default="digits")
    s.add_argument("--data-path", default=None)
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_frontier)

    s = sub.add_parser("compare", help="train variants on digits and report them side by side (rate, spiking, energy)")
    s.add_argument("variants", nargs="*", help="variant names (default: every variant, see `neurotep variants`)")
    s.add_argument("--out", default="runs/compare", help="output directory (an earlier compare output there is reused and replaced)")
    s.add_argument("--overwrite", action="store_true", help="replace DIR also when it holds another neurotep output")
    s.add_argument("--epochs", type=_whole(1), default=15)
    s.add_argument("--seed", type=_whole(0, 2**32 - 1), default=0)
    s.add_argument("--device", type=_device, default="cpu")
    s.add_argument("--retrain", action="store_true", help="train even if cached models exist")
    s.set_defaults(fn=cmd_compare)

    s = sub.add_parser("sweep", help="train variants x seeds x settings of a TOML/YAML spec on Ray, with a summary table")
    s.add_argument("spec", help="the sweep spec (.toml, or .yaml): see examples/sweep_mnist1d.toml")
    s.add_argument("--out", default=None, help="sweep directory (default runs/sweep-SPECNAME); a re-run resumes it")
    s.add_argument("--overwrite", action="store_true", help="replace DIR when it holds another neurotep command's output")
    s.add_argument("--address", default=None, help="a Ray cluster (HOST:PORT, ray://HOST:PORT or auto); default: "
                                                   "a local cluster on this machine's cores")
    s.add_argument("--num-cpus", type=_whole(1), default=None, help="local cluster: trials at a time (default: every core)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_sweep)
    return p


def main(argv: list[str] | None = None) -> int:
    import signal

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        _install_signal_handlers()
        args = build_parser().parse_args(argv)
        args.fn(args)
    except NeurotepError as e:
        print(f"neurotep: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("neurotep: interrupted", file=sys.stderr)
        return 130
    except Terminated as t:
        print(f"neurotep: stopped by {signal.Signals(t.signum).name}; nothing was written", file=sys.stderr)
        return 128 + t.signum
    except BrokenPipeError:  # e.g. `neurotep run ... --json | head`
        sys.stderr.close()
        return 0
    finally:  # main() is also called in-process (tests, notebooks): give the caller its handlers back
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
