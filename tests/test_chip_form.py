"""The chip form (neurotep.graph.chip) and the Loihi 2 mapper's account of what runs on neuro-cores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from neurotep.backends.lava.plan import compile_graph
from neurotep.backends.lava.runner import run_lava
from neurotep.backends.torch import TorchNetwork
from neurotep.backends.torch.fixed import FixedNetwork
from neurotep.cli import main
from neurotep.data import load_digits_split, rate_encode
from neurotep.errors import GraphError
from neurotep.graph import ToroidalBuffer
from neurotep.graph.chip import chip_form
from neurotep.graph.transforms import rate_to_spiking
from neurotep.hardware import NEURO_CORE, map_to_cores, placement_of
from neurotep.hardware.profiles import load_classes
from neurotep.quantize import encode_input, quantize
from neurotep.runner import run_model
from neurotep.variants import base

ROOT = Path(__file__).resolve().parents[1]


def small_base(hidden=24):
    return base.build(seed=0, hidden=(hidden,))


def test_buffers_become_delayed_self_connections_and_the_reset_zero():
    g = rate_to_spiking(small_base())
    c = chip_form(g)
    assert g.buffers and g.populations["h0"].param("reset") == "subtract"  # the input graph is untouched
    assert not c.buffers and c.populations["h0"].param("reset") == "zero"
    b = g.buffers[0]
    taps = [x for x in c.connections if x.name.startswith(f"{b.name}_tap")]
    assert [t.delay for t in taps] == list(range(1, b.depth + 1))
    for t, w in zip(taps, b.tap_weights()):
        assert t.pre == t.post == "h0" and np.array_equal(t.weight, w * np.eye(24)) and t.mask.sum() == 24
    assert len(c.meta["chip_form"]["changes"]) == 3


def test_the_damped_output_becomes_a_sigma_integrator_with_a_leak_and_a_bias_neuron():
    g = rate_to_spiking(small_base())
    c = chip_form(g)
    y, a = c.populations["y"], g.populations["y"].param("damping")
    assert y.model == "sigma" and y.bias is None and c.populations["y_bias"].model == "lif"
    conns = {x.name: x for x in c.connections}
    w = next(x for x in g.connections if x.name == "W_h0_y").weight
    np.testing.assert_array_equal(conns["W_h0_y"].weight, a * w)  # into y: scaled by the damping
    np.testing.assert_array_equal(conns["W_h0_y_back"].weight, w.T)  # back into h0: as it was
    assert not conns["W_h0_y"].symmetric
    np.testing.assert_array_equal(conns["y_leak"].weight, -a * np.eye(10))
    np.testing.assert_array_equal(conns["y_bias_to_y"].weight[:, 0], a * g.populations["y"].bias)


def test_rate_relaxation_of_the_chip_form_reaches_the_same_equilibrium():
    """Buffer taps, the Sigma output with its leak and its late-starting bias: the same fixed
    point (float64, to rounding), reached a little later."""
    g = small_base()
    x = torch.as_tensor(load_digits_split().x_test[:16])
    with torch.no_grad():
        a = TorchNetwork(g, dtype=torch.float64).relax({"x": x}, 300)[0].out["y"]
        b = TorchNetwork(chip_form(g), dtype=torch.float64).relax({"x": x}, 300)[0].out["y"]
    torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


def test_an_nd_buffer_becomes_kernel_taps(htsep_like):
    g = htsep_like(3)
    c = chip_form(g)
    b = g.buffers[0]
    tap0 = next(x for x in c.connections if x.name == f"{b.name}_tap0")
    np.testing.assert_allclose(tap0.weight, b.tap_weights()[0] * b.spatial_kernel())
    assert tap0.mask.sum() == np.count_nonzero(b.spatial_kernel())


def test_a_buffer_deeper_than_a_synaptic_delay_is_refused():
    g = small_base()
    g.buffers = [ToroidalBuffer("deep", "h0", 65, (0.9,), 0.001)]
    with pytest.raises(GraphError, match="depth 65 needs delays up to 65, beyond the 64 steps"):
        chip_form(g.validate())


@pytest.mark.parametrize("graph", ["base", "htsep_like"])
def test_chip_forms_spike_identically_on_lava_and_torch_in_fixed_point(graph, htsep_like):
    """Lava's bit-accurate Dense/Sparse/DelaySparse and LIF models against the integer torch path."""
    g = chip_form(rate_to_spiking(small_base(32)) if graph == "base" else htsep_like(5, "subtract"))
    ids = np.array([0, 7, 9])
    width = g.populations["x"].size
    x = np.random.default_rng(1).uniform(0, 1, (3, width))
    frames = encode_input(rate_encode(x, 40, 1, ids), True)
    rec, mean = FixedNetwork(quantize(g)).run(lambda t: {"x": torch.as_tensor(frames[t])}, 40, 3, raster=True,
                                               readout="y", sample_ids=torch.as_tensor(ids))
    rec_l, readout, _ = run_lava(g, {"x": frames.astype(np.float64)}, 40, ids, precision="fixed", raster=True)
    pop = "h0" if graph == "base" else "a"
    assert rec.raster[pop].any()
    assert torch.equal(rec.raster[pop], rec_l.raster[pop].reshape(rec.raster[pop].shape))
    assert torch.equal(mean, readout["mean"])


def test_the_chip_form_runs_the_same_on_both_backends_through_the_runner():
    data = load_digits_split()
    runs = {b: run_model(small_base(), data, backend=b, samples=6, steps=30, spiking=True, form="chip")
            for b in ("torch", "lava")}
    t, l = runs["torch"], runs["lava"]
    assert t.summary["form"] == "chip" and t.summary["populations"]["h0"]["spikes"] > 0
    assert torch.equal(t.recording.per_step["h0"].double(), l.recording.per_step["h0"].double())


def test_the_mapper_says_what_is_on_neuro_cores_and_why_the_rest_is_not(htsep_like):
    ref = map_to_cores(compile_graph(rate_to_spiking(small_base())), "loihi2")
    assert ref.neuro_core_fraction == {"neurons": 0.0, "synapses": 0.0}  # neurotep's own processes: on the host
    off = {o["name"]: o for o in ref.off_core}
    assert off["pop_x"]["boundary"] and not off["pop_y"]["boundary"]
    assert "damped graded rate unit" in off["pop_y"]["reason"]
    chip = map_to_cores(compile_graph(chip_form(rate_to_spiking(small_base()))), "loihi2")
    assert chip.neuro_core_fraction == {"neurons": 1.0, "synapses": 1.0}
    assert all(o["boundary"] for o in chip.off_core)  # the input source and the recorders only
    doc = chip.describe()
    assert doc["neuro_core_fraction"] == chip.neuro_core_fraction and len(doc["off_core"]) == len(chip.off_core)
    assert any("100.0% of neurons" in line for line in chip.lines())
    gated = map_to_cores(compile_graph(chip_form(htsep_like(2))), "loihi2")  # stochastic, gated: not placed
    assert {o["class"].rsplit(".", 1)[-1] for o in gated.off_core if not o["boundary"]} == {"StochasticNeurons", "RateUnits"}


def test_every_neuro_core_class_has_a_source_and_is_in_the_hardware_readme():
    classes = load_classes()
    readme = (ROOT / "hardware" / "loihi2" / "README.md").read_text()
    for cls, entry in classes["neuro_core"].items():
        assert entry["sources"] and all(s["url"].startswith("https://") for s in entry["sources"]), cls
        assert entry["confidence"] in ("strong", "medium")
        assert f"`{cls.rsplit('.', 1)[-1]}`" in readme, cls
        assert placement_of(cls) == NEURO_CORE
    assert placement_of("lava.proc.rf.process.RF") != NEURO_CORE  # Intel: CPU only (no source for a neuro-core model)
    assert not set(classes["neuro_core"]) & (set(classes["host"]) | set(classes["boundary"]))


def test_strict_refuses_a_run_off_the_neuro_cores_and_writes_nothing(tmp_path, capsys):
    m = tmp_path / "m"
    from neurotep.graph import save_graph

    save_graph(small_base(), m / "model")
    out = tmp_path / "run"
    argv = ["run", str(m), "--backend", "lava", "--spiking", "--samples", "4", "--steps", "10", "--out", str(out)]
    assert main(argv + ["--strict"]) == 2  # the reference form: neurotep processes
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--strict: population h0 pop_h0 (SubtractiveLIF) would not run on Loihi 2's neuro-cores" in err[0]
    assert not out.exists()
    assert main(argv + ["--form", "chip", "--strict", "--precision", "fixed"]) == 0  # wholly on neuro-core classes
    assert json.loads((out / "run.json").read_text())["cores"]["loihi2"]["neuro_core_fraction"]["neurons"] == 1.0
    out = tmp_path / "run2"
    argv[-1] = str(out)
    assert main(argv[:2] + ["--spiking", "--strict", "--out", str(out)]) == 2  # --strict is about Lava runs
    assert "add --backend lava" in capsys.readouterr().err
    assert main(["compile", str(m), "--form", "chip", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["form"] == "chip" and doc["loihi2_mapping"]["neuro_core_fraction"]["neurons"] > 0.5
    assert main(["compile", str(m), "--form", "bogus"]) == 2


def test_unknown_form_is_a_one_line_error():
    with pytest.raises(GraphError, match="unknown form 'x'"):
        run_model(small_base(), load_digits_split(), samples=2, form="x")


def test_run_json_and_the_report_show_the_placement(tmp_path, capsys):
    from neurotep.runner import save_run

    res = run_model(small_base(), load_digits_split(), samples=4, steps=20, spiking=True, form="chip")
    save_run(res, tmp_path / "run")
    doc = json.loads((tmp_path / "run" / "run.json").read_text())
    frac = doc["cores"]["loihi2"]["neuro_core_fraction"]
    assert doc["form"] == "chip" and frac["neurons"] == 1.0
    assert main(["report", str(tmp_path / "run"), "--out", str(tmp_path / "rep")]) == 0
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "On Loihi 2" in md and "100.0% of the neurons" in md and "chip boundary" in md


@pytest.mark.parametrize("variant", ["toreqprop", "mstep", "tpeqprop", "difftor", "tepssr"])
def test_every_variants_chip_form_is_on_neuro_cores_and_bit_exact_on_lava(variant):
    """The default build of each variant (HTSEP aside: its stochastic neurons have no sourced
    class) compiles wholly to neuro-core classes in its chip form, and Lava's fixed_pt models and
    the integer torch path give the same spikes and readout through the runner (stages included)."""
    from neurotep import variants
    from neurotep.data import load_dataset
    from neurotep.data.sequences import load_sequence_dataset
    from neurotep.graph.stages import stage_parts

    g = variants.REGISTRY[variant].build()
    for part in stage_parts(chip_form(rate_to_spiking(g))):
        assert map_to_cores(compile_graph(part.graph), "loihi2").neuro_core_fraction == {"neurons": 1.0, "synapses": 1.0}
    data = load_sequence_dataset("digits-rows") if variant == "tepssr" else load_dataset("digits")
    runs = [run_model(g, data, backend=b, samples=3, steps=24, spiking=True, precision="fixed", form="chip")
            for b in ("torch", "lava")]
    a, b = (r.recording for r in runs)
    assert set(a.per_step) == set(b.per_step) and any(float(x.sum()) > 0 for x in a.per_step.values())
    for pop in a.per_step:
        assert torch.equal(a.per_step[pop].double(), b.per_step[pop].double()), pop
        assert torch.equal(a.per_neuron[pop].double(), b.per_neuron[pop].double()), pop
    assert runs[0].summary["test_accuracy"] == runs[1].summary["test_accuracy"]
