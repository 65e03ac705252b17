"""``neurotep frontier``: accuracy against synaptic operations, energy and latency, with the
demo's point chosen on the training split only."""

from __future__ import annotations

import json

import pytest

from neurotep.cli import main
from neurotep.data import load_digits_split
from neurotep.frontier import choose
from neurotep.graph import save_graph
from neurotep.learning.train import train
from neurotep.variants import base


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("frontier") / "m"
    save_graph(train(base.build(seed=0, hidden=(32,)), load_digits_split(), epochs=4, seed=0).graph, d)
    return d


def test_frontier_measures_every_point_and_names_the_chosen_one(model_dir, tmp_path, capsys):
    out = tmp_path / "fr"
    assert main(["frontier", str(model_dir), "--out", str(out), "--thresholds", "0.05,0.2", "--steps", "20",
                 "--samples", "40", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in doc["points"]] == ["rate", "delta-0.05", "delta-0.2", "poisson-20"]
    rate, *rest = doc["points"]
    assert rate["synaptic_ops"] == pytest.approx(rate["dense_macs"])  # the rate model sends every value every step
    for p in rest:
        assert 0 < p["synaptic_ops"] < rate["dense_macs"] and p["loihi2_joules"] > 0
        assert (out / "runs" / p["name"] / "run.json").exists()
    assert [p["latency_steps"] for p in rest][-1] == 20
    assert doc["chosen"] == choose(doc["points"])
    for f in ("frontier.json", "frontier.md", "frontier.png"):
        assert (out / f).stat().st_size > 0
    assert main(["report", str(out / "runs" / "delta-0.05"), "--out", str(tmp_path / "rep"), "--frontier", str(out)]) == 0
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "Accuracy, energy and latency" in md and (tmp_path / "rep" / "frontier.png").exists()


def test_the_choice_uses_the_training_split_only():
    pts = [dict(name="rate", encoding="rate", train_accuracy=0.99, test_accuracy=0.90),
           dict(name="delta-0.1", encoding="delta", threshold=0.1, train_accuracy=0.986, test_accuracy=0.80),
           dict(name="delta-0.5", encoding="delta", threshold=0.5, train_accuracy=0.984, test_accuracy=0.95)]
    assert choose(pts) == "delta-0.1"  # 0.5 loses 0.6 training points; its better test accuracy is not looked at
    pts[1]["train_accuracy"] = 0.9
    assert choose(pts) is None


@pytest.mark.parametrize("args, words", [(["--thresholds", "0,0.1"], "threshold must be a finite number > 0"),
                                         (["--thresholds", "a"], "comma-separated numbers"),
                                         (["--thresholds", ","], "comma-separated numbers"),
                                         (["--steps", "0"], "step counts must be >= 1")])
def test_frontier_bad_input_writes_nothing(model_dir, tmp_path, capsys, args, words):
    out = tmp_path / "bad"
    assert main(["frontier", str(model_dir), "--out", str(out)] + args) == 2
    assert words in capsys.readouterr().err and not out.exists()
