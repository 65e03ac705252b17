"""Probes decide what a spiking run records, the same on every backend (neurotep.graph.probes)."""

from __future__ import annotations

import json

import pytest
import torch

from neurotep.data import load_digits_split
from neurotep.errors import BackendError, GraphError
from neurotep.graph import Probe, load_graph, save_graph
from neurotep.graph.probes import recording_plan
from neurotep.graph.transforms import rate_to_spiking
from neurotep.runner import run_model
from neurotep.variants import base


@pytest.fixture(scope="module")
def digits():
    return load_digits_split()


def small(digits):
    return base.build(n_in=digits.n_features, n_out=digits.n_classes, hidden=(24,), seed=0)


def test_without_probes_every_spike_sending_population_is_counted(digits):
    s = rate_to_spiking(small(digits))
    assert recording_plan(s, spiking_inputs=True) == {"x": {"spikes"}, "h0": {"spikes"}}
    assert recording_plan(s, spiking_inputs=False, raster=True) == {"h0": {"spikes", "raster"}}
    rec = run_model(small(digits), digits, samples=4, steps=20, spiking=True).recording
    assert set(rec.per_step) == {"x", "h0"} and not rec.raster and not rec.state


def probed(digits):
    g = small(digits)
    g.add(Probe("hidden_raster", "h0", "raster"))
    g.add(Probe("output_values", "y", "state"))
    return g


@pytest.mark.parametrize("precision", ["float", "fixed"])
def test_declared_probes_are_what_both_backends_record(digits, precision):
    runs = [run_model(probed(digits), digits, samples=5, steps=30, spiking=True, precision=precision, backend=b)
            for b in ("torch", "lava")]
    for r in runs:
        rec = r.recording
        assert set(rec.per_step) == set(rec.raster) == {"h0"} and set(rec.state) == {"y"}
        assert rec.raster["h0"].shape == (30, 5, 24) and rec.state["y"].shape == (30, 5, 10)
    a, b = (r.recording for r in runs)
    assert torch.equal(a.raster["h0"], b.raster["h0"])
    torch.testing.assert_close(a.state["y"].double(), b.state["y"].double(), rtol=0, atol=1e-12)


def test_a_probe_the_run_cannot_honour_fails_before_it_in_one_line(digits):
    g = small(digits)
    g.add(Probe("y_spikes", "y", "spikes"))
    with pytest.raises(GraphError, match=r"^probe 'y_spikes' asks for the spikes of 'y', which sends graded values"):
        run_model(g, digits, samples=2, steps=5, spiking=True)
    g = small(digits)
    g.add(Probe("x_state", "x", "state"))
    with pytest.raises(GraphError, match="the state of input 'x' is the input itself"):
        run_model(g, digits, samples=2, steps=5, spiking=True, backend="lava")
    with pytest.raises(BackendError, match="rate-mode run records nothing: add --spiking"):
        run_model(probed(digits), digits, samples=2)


def test_format_1_probes_were_declarations_and_are_dropped_on_load(digits, tmp_path):
    g = probed(digits)
    save_graph(g, tmp_path / "m")
    assert load_graph(tmp_path / "m").probes == g.probes
    doc = json.loads((tmp_path / "m" / "graph.json").read_text())
    doc.update(format_version=1)
    del doc["streams"], doc["stages"]
    (tmp_path / "m" / "graph.json").write_text(json.dumps(doc))
    assert load_graph(tmp_path / "m").probes == []
