"""The benchmarks keep running: a quick smoke run of the cheap ones (the real figures come from
`python -m benchmarks` and live in benchmarks/results/ and docs/claims.md)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_benchmarks_run_and_report(tmp_path):
    out = tmp_path / "all.json"
    p = subprocess.run([sys.executable, "-m", "benchmarks", "step_time", "gradient", "--quick", "--json-out", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "reproduce:" in p.stdout
    step = json.loads((ROOT / "benchmarks/results/step_time.quick.json").read_text())
    for row in step["results"]:  # same spikes as snnTorch's own loop, same delay semantics
        assert row["per_neuron_counts_equal"] and row["spikes_neurotep_run"] == row["spikes_snntorch"] > 0
    delay_rows = [r for r in step["results"] if "delay1_input_equals_snntorch_shifted_input" in r]
    assert delay_rows and all(r["delay1_input_equals_snntorch_shifted_input"] for r in delay_rows)
    grad = json.loads((ROOT / "benchmarks/results/gradient.quick.json").read_text())
    assert grad["min_cos_small_beta"] >= 0.999
    assert out.exists()


@pytest.mark.slow
def test_quick_mnist1d_and_sweep_benchmarks(quick_benchmark):
    out, res = quick_benchmark("mnist1d")
    assert "published" in out and res["split"] == {"train": 4000, "test": 1000}
    # the published split: a logistic regression lands on the published 32 %
    assert abs(res["results"]["logistic regression"]["mean"] - res["published"]["logistic regression"]) < 0.04
    assert res["setting"] in [r["setting"] for r in res["selection"]] and set(res["results"]) >= {
        "toreqprop EqProp", "toreqprop BPTT", "sklearn MLP (100,)", "MLP, the published recipe",
        "tepssr EqProp (sequence, 40 x 1)"}
    out, res = quick_benchmark("sweep")
    assert res["trials"] == 1 and res["back_to_back_seconds"] > 0 and res["sweep_seconds"] > 0
    assert res["summary"][0]["variant"] == "toreqprop" and 0 < res["summary"][0]["test_accuracy_mean"] <= 1


@pytest.mark.slow
def test_quick_frontier_benchmark(quick_benchmark):
    out, res = quick_benchmark("frontier")
    assert set(res["models"]) == {"toreqprop", "htsep"}
    for doc in res["models"].values():
        names = [p["name"] for p in doc["points"]]
        assert names == ["rate", "delta-0.05", "delta-0.2", "poisson-20"]
        assert all(p["synaptic_ops"] > 0 and p["loihi2_joules"] > 0 for p in doc["points"])
    assert (ROOT / res["plot"]).exists()
