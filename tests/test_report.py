"""`neurotep report`: report.md / self-contained report.html / figures / NIR spike export from run directories."""

import argparse
import base64
import json
import re

import numpy as np
import pytest

from neurotep.data import load_digits_split
from neurotep.errors import NeurotepError
from neurotep.report import write_report
from neurotep.report.cli import add_parser
from neurotep.report.nir_export import read_spikes
from neurotep.runner import run_model, save_run
from neurotep.variants import base

ENERGY = 1.234e-6  # J per inference in the fake Loihi 2 profile
ENERGY_LOIHI1 = 3.5e-9


def fake_profile(run_dir, hardware="loihi2", title="Loihi 2", energy=ENERGY, name="profile.json"):
    """A profile.json with the schema `neurotep profile` writes (numbers made up)."""
    run = json.loads((run_dir / "run.json").read_text())
    pops = list(run["populations"])
    prof = {
        "hardware": hardware, "hardware_title": title, "run": run, "energy_joules": energy,
        "energy_breakdown": {
            "by_operation": {"synaptic_ops": 0.7 * energy, "membrane_updates": 0.2 * energy, "static": 0.1 * energy},
            "by_population": {p: energy / len(pops) for p in pops}},
        "counts": {p: {"neurons": v["neurons"], "spikes": v["spikes"] / run["samples"], "membrane_updates": v["neurons"] * run["steps"],
                       "synaptic_ops_effective": 1000.0, "synaptic_ops_dense": 5000, "op_kind": "AC"}
                   for p, v in run["populations"].items()},
        "neurobench": {"ActivationSparsity": 0.8125, "SynapticOperations": {"Effective_MACs": 0.0, "Effective_ACs": 1000.0, "Dense": 5000.0},
                       "MembraneUpdates": 1234.0, "ConnectionSparsity": 0.0, "Footprint": 4096},
        "constants": {"energy_per_synop": {"value": 23.6e-12, "unit": "J", "source": "Davies et al. 2018", "status": "published"},
                      "static_power_share": {"value": 0.1, "unit": "", "source": "neurotep guess", "status": "estimate"}},
        "assumptions": ["per-operation energies of Loihi 1 carried over"],
        "baseline": "per-operation model",
    }
    (run_dir / name).write_text(json.dumps(prof))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    d = load_digits_split()
    g = base.build(seed=0, hidden=(16,))
    a, b, r = root / "run_a", root / "run_b", root / "run_rate"
    save_run(run_model(g, d, spiking=True, samples=8, steps=30, raster=True), a)
    save_run(run_model(base.build(seed=1, hidden=(24, 12)), d, spiking=True, samples=8, steps=30), b)
    save_run(run_model(g, d, samples=8), r)
    fake_profile(a)
    fake_profile(a, "loihi", "Loihi", ENERGY_LOIHI1, "profile-loihi.json")
    return a, b, r


@pytest.fixture(scope="module")
def multi(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("rep") / "multi"
    md = write_report(list(runs), out)
    return out, md.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def single(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("rep") / "single"
    md = write_report([runs[1]], out)  # no profile, no raster
    return out, md.read_text(encoding="utf-8")


def _acc(run_dir):
    return json.loads((run_dir / "run.json").read_text())["test_accuracy"]


def test_files_exist(multi):
    out, _ = multi
    names = {p.name for p in out.iterdir()}
    assert {"report.md", "report.html", "comparison-scatter.png", "run_a-spikes.nir.h5"} <= names
    for run in ("run_a", "run_b"):
        assert {f"{run}-raster.png", f"{run}-firing-rates.png", f"{run}-spikes-over-time.png"} <= names
    assert "run_a-energy.png" in names and "run_b-energy.png" not in names and "run_b-spikes.nir.h5" not in names
    assert not any(n.startswith("run_rate-") for n in names)  # rate mode: nothing to plot
    assert not any(n.startswith(".") for n in out.parent.iterdir() if n.name != out.name)  # no temp dirs left
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_md_has_accuracy_energy_constants_and_neurobench(runs, multi):
    _, md = multi
    for run in runs:
        assert f"{_acc(run):.4f}" in md
    assert "1.234 µJ" in md and "1.2340e-06 J" in md  # Loihi 2 energy per inference
    assert "3.5 nJ" in md  # the second hardware profile, profile-loihi.json
    assert "0.8638 | 70.0 %" in md  # synaptic ops: 0.7 * 1.234 µJ in the by-operation table
    assert "Davies et al. 2018" in md and "| published |" in md and "| estimate |" in md
    assert "ActivationSparsity" in md and "0.8125" in md and "SynapticOperations.Effective_ACs" in md
    assert "![" in md and "(run_a-raster.png)" in md and "(run_a-energy.png)" in md
    assert "run_a-spikes.nir.h5" in md


def test_html_is_self_contained(multi):
    out, _ = multi
    page = (out / "report.html").read_text(encoding="utf-8")
    srcs = re.findall(r'src="([^"]*)"', page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert len(srcs) == len(list(out.glob("*.png")))
    assert "http" not in page and "<link" not in page and "<script" not in page and "url(" not in page
    raster = (out / "run_a-raster.png").read_bytes()
    assert any(base64.b64decode(s.split(",", 1)[1]) == raster for s in srcs)
    assert "1.234 µJ" in page and f"{0.8125:.4g}" in page


def test_two_run_comparison(runs, multi):
    out, md = multi
    comp = md[md.index("## Comparison"):md.index("## Run ")]
    for run in runs:
        assert f"| {run.name} |" in comp
    assert "(comparison-scatter.png)" in comp and (out / "comparison-scatter.png").stat().st_size > 10_000
    assert "Not in the scatter (rate mode or no spike counts): `run_rate`" in comp
    assert "Rate-mode run" in md


def test_no_profile_says_how_to_produce_it(runs, single):
    out, md = single
    assert f"neurotep profile {runs[1]} --hardware loihi2" in md
    assert "## Comparison" not in md and not (out / "comparison-scatter.png").exists()
    assert "--raster" in md and not list(out.glob("*.nir.h5"))  # counts only: heat map instead of a raster
    assert f"{_acc(runs[1]):.4f}" in md and "µJ" not in md


def test_nir_round_trip_equals_rasters(runs, multi):
    import nir

    out, _ = multi
    path = out / "run_a-spikes.nir.h5"
    with np.load(runs[0] / "spikes.npz") as z:
        want = {k.split("/", 1)[1]: z[k] for k in z.files if k.startswith("raster/")}
    assert set(want) == {"x", "h0"}
    got = read_spikes(path)
    assert set(got) == set(want)
    for pop, r in want.items():
        assert got[pop].dtype == bool and np.array_equal(got[pop], r)
    gd = nir.read_data(str(path))  # nir's own reader, nir's layout
    obs = gd.nodes["h0"].observables["spikes"]
    assert isinstance(obs, nir.TimeGriddedData) and obs.dt == 1.0
    assert obs.data.shape == (8, 30, 16) and np.array_equal(obs.data, want["h0"].transpose(1, 0, 2))


def _bad(tmp_path, kind):
    d = tmp_path / "bad"
    if kind == "missing":
        return d
    d.mkdir()
    if kind == "no_run_json":
        (d / "notes.txt").write_text("hi")
    elif kind == "bad_json":
        (d / "run.json").write_text("{not json")
    elif kind == "missing_keys":
        (d / "run.json").write_text(json.dumps({"backend": "torch"}))
    return d


@pytest.mark.parametrize("kind", ["missing", "no_run_json", "bad_json", "missing_keys"])
def test_bad_run_dir_raises_and_writes_nothing(runs, tmp_path, kind):
    out = tmp_path / "nested" / "out"
    with pytest.raises(NeurotepError) as e:
        write_report([runs[0], _bad(tmp_path, kind)], out)
    assert "\n" not in str(e.value) and "bad" in str(e.value)
    assert not out.exists() and not out.parent.exists()


def test_bad_profile_and_spikes_raise(runs, tmp_path):
    import shutil

    d = tmp_path / "copy"
    shutil.copytree(runs[1], d)
    (d / "profile.json").write_text("[1, 2")
    with pytest.raises(NeurotepError, match="profile.json: not valid JSON"):
        write_report([d], tmp_path / "out")
    (d / "profile.json").write_text(json.dumps({"hardware": "loihi2"}))
    with pytest.raises(NeurotepError, match="energy_joules"):
        write_report([d], tmp_path / "out")
    (d / "profile.json").unlink()
    (d / "spikes.npz").write_bytes(b"garbage")
    with pytest.raises(NeurotepError, match="spikes.npz: not a readable spikes file"):
        write_report([d], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_refuses_to_replace_a_run_or_foreign_directory(runs, tmp_path):
    with pytest.raises(NeurotepError, match="is the input .*would replace it"):
        write_report([runs[0]], runs[0])
    with pytest.raises(NeurotepError, match="holds the input .*would replace it"):
        write_report([runs[0]], runs[0].parent, overwrite=True)
    assert (runs[0] / "run.json").is_file() and (runs[0] / "spikes.npz").is_file()
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"meow")
    with pytest.raises(NeurotepError, match="not empty and was not written by neurotep"):
        write_report([runs[0]], other, overwrite=True)
    assert (other / "cat.jpg").exists()


def test_cli_parser_prints_report_path(runs, tmp_path, capsys):
    p = argparse.ArgumentParser(prog="neurotep")
    add_parser(p.add_subparsers(dest="command"))
    out = tmp_path / "cli"
    args = p.parse_args(["report", str(runs[2]), "--out", str(out)])
    args.fn(args)
    assert capsys.readouterr().out.strip() == str(out / "report.md")
    assert (out / "report.html").is_file()
    args = p.parse_args(["report", str(runs[2]), "--out", str(out), "--json"])
    with pytest.raises(NeurotepError, match="add --overwrite"):  # an earlier report is replaced only when asked
        args.fn(args)
    args = p.parse_args(["report", str(runs[2]), "--out", str(out), "--json", "--overwrite"])
    args.fn(args)
    assert "report.html" in json.loads(capsys.readouterr().out)["files"]


def test_stale_profile_is_flagged(runs, tmp_path):
    import shutil

    d = tmp_path / "stale"
    shutil.copytree(runs[0], d)
    prof = json.loads((d / "profile.json").read_text())
    prof["run"]["samples"] = 999  # profiled before the run directory was overwritten
    (d / "profile.json").write_text(json.dumps(prof))
    (d / "profile-loihi.json").unlink()
    md = write_report([d], tmp_path / "out").read_text(encoding="utf-8")
    assert "`profile.json` was computed for a different run (samples differ" in md


def test_reads_run_directories_with_the_profilers_reader(runs, tmp_path):
    """One reader of the run directory for report and profile: the same one-line error for the same
    bad run.json; the report does not need graph/."""
    import shutil

    from neurotep.profile import profile_run

    d = tmp_path / "zero"
    shutil.copytree(runs[1], d)
    run = json.loads((d / "run.json").read_text())
    (d / "run.json").write_text(json.dumps({**run, "samples": 0}))
    errors = []
    for read in (lambda: write_report([d], tmp_path / "out"), lambda: profile_run(d, "45nm")):
        with pytest.raises(NeurotepError) as e:
            read()
        errors.append(str(e.value))
    assert errors[0] == errors[1] and "'samples'" in errors[0] and not (tmp_path / "out").exists()
    (d / "run.json").write_text(json.dumps(run))
    shutil.rmtree(d / "graph")
    md = write_report([d], tmp_path / "out").read_text(encoding="utf-8")
    assert f"{_acc(d):.4f}" in md
