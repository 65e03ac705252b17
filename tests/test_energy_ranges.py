"""Ranged energy models: the loader refuses untraceable constants, the GPU rate model by hand, the
Loihi 2 / GPU verdict at both ends, and the profile CLI's --baseline and --measured."""

import json
import os

import pytest

from neurotep.cli import main
from neurotep.errors import NeurotepError
from neurotep.graph import save_graph
from neurotep.profile import constants, profile_run, write_profile
from neurotep.profile.verdict import sentence
from test_profile import _run_json, _tiny_graph, tiny_run  # noqa: F401 (a fixture)


@pytest.fixture
def rate_run(tmp_path):
    """The tiny network as a rate run of 5 relaxation steps, 2 samples."""
    d = tmp_path / "rate"
    d.mkdir()
    (d / "run.json").write_text(json.dumps(_run_json(mode="rate")))
    save_graph(_tiny_graph(), d / "graph")
    return d


GOOD = {"low": 1e-12, "high": 2e-12, "unit": "J", "source": "a paper", "status": "derived", "note": ""}


@pytest.mark.parametrize("change,match", [
    ({"source": ""}, "has no source"),
    ({"source": None}, "has no source"),
    ({"low": 3e-12}, "has low 3e-12 > high 2e-12"),
    ({"high": None}, "has no 'high'"),
    ({"high": "big"}, "has high 'big', not a non-negative number"),
    ({"status": "guess"}, "has status 'guess'"),
    ({"unit": "pJ"}, "has unit 'pJ'"),
    ({"value": 1e-12}, "gives both a value and a range"),
])
def test_untraceable_constant_fails_to_load_naming_it(change, match):
    entry = {k: v for k, v in {**GOOD, **change}.items() if v is not None or k != "high"}
    with pytest.raises(NeurotepError, match=f"f.json: entry 'op' {match}") as e:
        constants.check_model({"title": "t", "entries": {"fine": GOOD, "op": entry}}, "f.json")
    assert "\n" not in str(e.value)
    missing = {k: v for k, v in GOOD.items() if k != "low"}
    with pytest.raises(NeurotepError, match="entry 'op' has no 'low'"):
        constants.check_model({"title": "t", "entries": {"op": missing}}, "f.json")


def test_single_value_is_a_range_of_one():
    e = constants.check_entry("f", "op", {"value": 5e-12, "unit": "J", "source": "s", "status": "published"})
    assert e["low"] == e["high"] == 5e-12


def test_a_broken_shipped_model_stops_the_cli_with_exit_2(tiny_run, monkeypatch, capsys):
    bad = {"title": "t", "entries": {"synaptic_op": {**GOOD, "source": " "}}}
    monkeypatch.setattr(constants, "_read", lambda hw: constants.check_model(bad, f"neurotep/hardware/{hw}.json"))
    assert main(["profile", str(tiny_run), "--hardware", "loihi2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "entry 'synaptic_op' has no source" in err
    assert not (tiny_run / "profile.json").exists()


def test_unknown_hardware_exit_2(tiny_run, capsys):
    assert main(["profile", str(tiny_run), "--hardware", "h100"]) == 2
    assert "use one of loihi2, loihi, gpu-rate, gpu-dense, 45nm" in capsys.readouterr().err


def test_gpu_rate_by_hand(rate_run):
    """Input drive W1 (6 weights) once; per step W2 both ways (8 MACs) + 2 taps x 2 neurons = 12 MACs;
    states per step: 3 x (2 + 2) + (2 taps + 1) x 2 = 18 elements, the 3 inputs once; 10 weights."""
    doc = profile_run(rate_run, "gpu-rate")
    one, big = doc["batches"]["1"], doc["batches"]["1024"]
    assert one["macs"] == 6 + 5 * 12
    pj = 1e-12
    lo = 66 * 1.416 * pj + 46 * 2 * 1.25 * pj + 93 * 2 * 1.25 * pj + 14.97 * 5 * 3e-6
    hi = 66 * 4.6 * pj + 46 * 4 * 12.5 * pj + 10 * 4 * 325 * pj + 93 * 4 * 12.5 * pj + 140 * 5 * 2e-5
    assert one["energy_range_joules"] == pytest.approx({"low": lo, "high": hi}, rel=1e-9)
    assert doc["energy_range_joules"] == one["energy_range_joules"] and doc["energy_joules"] == hi
    assert one["dynamic_range_joules"]["high"] == pytest.approx(hi - 140 * 5 * 2e-5, rel=1e-9)
    # batch 1024: compute and state traffic per inference unchanged, weights and idle time shared
    hi_big = 66 * 4.6 * pj + (46 * 4 * 12.5 * pj + 10 * 4 * 325 * pj + 140 * 5 * 2e-5) / 1024 + 93 * 4 * 12.5 * pj
    assert big["energy_range_joules"]["high"] == pytest.approx(hi_big, rel=1e-9)
    assert any("batch 1024, 5 (run.json 'steps'" in a and "batch 1, 5.0" in a for a in doc["assumptions"])


def test_gpu_rate_at_batch_1_takes_each_samples_own_steps(rate_run):
    """A sample relaxed alone stops when it has settled, not when the slowest of a batch has:
    batch 1 takes run.json's mean_steps_per_sample, the large batch the run's steps."""
    run = json.loads((rate_run / "run.json").read_text())
    (rate_run / "run.json").write_text(json.dumps({**run, "mean_steps_per_sample": 3.5}))
    try:
        doc = profile_run(rate_run, "gpu-rate")
    finally:
        (rate_run / "run.json").write_text(json.dumps(run))
    assert doc["batches"]["1"]["macs"] == 6 + 3.5 * 12 and doc["batches"]["1024"]["macs"] == 6 + 5 * 12


def test_gpu_rate_refuses_a_spiking_run(tiny_run):
    with pytest.raises(NeurotepError, match="needs a rate-mode run"):
        profile_run(tiny_run, "gpu-rate")


@pytest.mark.parametrize("worst,best,says", [
    (12.0, 300.0, "12x less to 300x less), so the conclusion holds at both ends"),
    (0.5, 0.8, "goes against the chip at both ends"),
    (0.5, 40.0, "does not hold at both ends: Loihi 2 uses 2x more"),
])
def test_verdict_sentence(worst, best, says):
    assert says in sentence({"worst": worst, "best": best}, "1")


def test_baseline_comparison_at_both_ends(tiny_run, rate_run):
    doc = profile_run(tiny_run, "loihi2", baseline=rate_run)
    c = doc["comparison"]
    chip, gpu = doc["energy_range_joules"], c["batches"]["1"]["gpu_joules"]
    r = c["batches"]["1"]["gpu_over_chip"]
    assert r["worst"] == pytest.approx(gpu["low"] / chip["high"]) and r["best"] == pytest.approx(gpu["high"] / chip["low"])
    assert c["batches"]["1"]["holds_at_both_ends"] == (r["worst"] >= 1)
    assert doc["conclusion"] == c["sentence"] and set(c["batches"]) == {"1", "1024"}
    dyn = c["chip_dynamic_joules"]["high"]
    assert dyn == pytest.approx(chip["high"] - doc["energy_breakdown"]["by_operation"]["static"])


def test_cli_baseline_and_bad_baseline(tiny_run, rate_run, capsys):
    assert main(["profile", str(tiny_run), "--baseline", str(rate_run)]) == 0
    out = capsys.readouterr().out
    assert "conclusion: At batch 1" in out and " - " in out  # both ends printed
    (tiny_run / "profile.json").unlink()
    (tiny_run / "profile-loihi2.json").unlink()
    assert main(["profile", str(tiny_run), "--baseline", str(tiny_run)]) == 2  # a spiking run is no GPU baseline
    assert "needs a rate-mode run" in capsys.readouterr().err
    assert not (tiny_run / "profile.json").exists()
    assert main(["profile", str(tiny_run), "--hardware", "45nm", "--baseline", str(rate_run)]) == 2
    assert "use it with --hardware loihi2 or loihi, not 45nm" in capsys.readouterr().err
    assert main(["profile", str(tiny_run), "--hardware", "loihi"]) == 0
    assert "conclusion: none without a GPU baseline" in capsys.readouterr().out


def _measurement(path, **over):
    doc = {"gpu": "NVIDIA H100 80GB HBM3", "environment": {"date": "2026-12-06T10:00:00+00:00"}, "steps": 53,
           "command": "python -m benchmarks gpu_energy",
           "batches": [{"batch": 1, "energy_per_inference_joules": 2e-3, "dynamic_energy_per_inference_joules": 4e-4}]}
    path.write_text(json.dumps({**doc, **over}))
    return path


def test_measured_sits_beside_the_model(rate_run, tmp_path, capsys):
    m = _measurement(tmp_path / "gpu_energy.json")
    write_profile(rate_run, "gpu-rate", measured=m)
    doc = json.loads((rate_run / "profile-gpu-rate.json").read_text())
    assert doc["measured"]["gpu"].startswith("NVIDIA") and doc["measured"]["batches"]["1"]["energy_per_inference_joules"] == 2e-3
    assert main(["profile", str(rate_run), "--hardware", "gpu-rate", "--measured", str(m)]) == 0
    assert "measured on NVIDIA H100 80GB HBM3 (2026-12-06), batch 1: 2 mJ" in capsys.readouterr().out
    bad = _measurement(tmp_path / "bad.json", batches=[{"batch": 1}])
    assert main(["profile", str(rate_run), "--hardware", "gpu-rate", "--measured", str(bad)]) == 2
    assert main(["profile", str(rate_run), "--hardware", "gpu-dense", "--measured", str(m)]) == 2
    assert "use it with --hardware gpu-rate" in capsys.readouterr().err


def test_report_puts_loihi2_and_gpu_side_by_side(tiny_run, rate_run, tmp_path):
    from neurotep.report.writer import write_report

    pops = {"x": {"neurons": 3, "model": "input"}, "h": {"neurons": 2, "model": "lif"}, "y": {"neurons": 2, "model": "linear"}}
    for d in (tiny_run, rate_run):
        run = json.loads((d / "run.json").read_text())
        (d / "run.json").write_text(json.dumps({**run, "populations": pops}))
    write_profile(tiny_run, "loihi2")  # no --baseline: the report pairs it with the gpu-rate run itself
    write_profile(rate_run, "gpu-rate", measured=_measurement(tmp_path / "m.json"))
    md = write_report([tiny_run, rate_run], tmp_path / "rep").read_text()
    sec = md[md.index("## Energy: Loihi 2 against the GPU"):]
    loihi = json.loads((tiny_run / "profile-loihi2.json").read_text())["energy_range_joules"]
    from neurotep.report.figures import format_energy

    assert f"{format_energy(loihi['low'])} – {format_energy(loihi['high'])}" in sec
    assert "measured on NVIDIA H100 80GB HBM3 (2026-12-06) | NVML | 1 | 2 mJ | 400 µJ" in sec
    assert "**Conclusion (`run` against `rate`):** At batch 1" in sec and "The 10x goal at both ends is" in sec
    assert "Meyer et al., arXiv 2409.15022" in sec and "Blouw et al., arXiv 1812.01739" in sec
    assert "value (low – high)" in md  # the constants table shows both ends


def test_report_of_one_run_uses_its_baseline_comparison(tiny_run, rate_run, tmp_path):
    from neurotep.report.writer import write_report

    run = json.loads((tiny_run / "run.json").read_text())
    run["populations"] = {"x": {"neurons": 3}, "h": {"neurons": 2}, "y": {"neurons": 2}}
    (tiny_run / "run.json").write_text(json.dumps(run))
    write_profile(tiny_run, "loihi2", baseline=rate_run)
    md = write_report([tiny_run], tmp_path / "rep").read_text()
    rel = os.path.relpath(rate_run, tiny_run)  # the baseline is named relative to the run (folders can move)
    assert f"**Conclusion (`run` against `{rel}`):** At batch 1" in md
    assert "GPU rate model" in md and "| 1024 |" in md
