"""The README's main job end to end (one epoch, so it stays quick)."""

import json

import pytest

from neurotep.demo import demo


@pytest.mark.slow
def test_demo_trains_runs_on_both_backends_and_reuses_its_model(tmp_path, capsys):
    out = tmp_path / "demo"
    summary = demo(out=str(out), epochs=1)
    assert summary["lava_spikes_identical"] is True
    assert summary["lava"]["executed_on"] == "loihi2-sim" and summary["spiking"]["executed_on"] == "torch-cpu"
    assert summary["rate"]["test_accuracy"] > 0.8 and summary["lava"]["test_accuracy"] == summary["spiking"]["test_accuracy"]
    assert summary["lava_fixed"]["precision"] == "fixed" and summary["lava_fixed"]["test_accuracy"] > 0.8
    chip = summary["lava_chip"]
    assert chip["form"] == "chip" and chip["precision"] == "fixed" and chip["test_accuracy"] > 0.8
    assert chip["neuro_core_fraction"] == {"neurons": 1.0, "synapses": 1.0}  # wholly on neuro-core classes
    for sub in ("model/graph.json", "summary.json", "history.json", "rate/run.json", "spiking/spikes.npz", "lava/run.json",
                "lava/profile-loihi2.json", "lava/profile-gpu-dense.json", "lava-fixed/graph/graph.json",
                "lava-chip/run.json", "lava-chip/profile-loihi2.json",
                "report/report.md", "report/report.html", "report/comparison-scatter.png", "report/lava-raster.png"):
        assert (out / sub).exists(), sub
    assert json.loads((out / "summary.json").read_text())["lava_spikes_identical"] is True
    # the event-efficient network: the frontier's chosen delta threshold, on Lava's SigmaDelta
    delta = summary["lava_delta"]
    assert delta["encoding"] == "delta" and delta["precision"] == "fixed" and summary["lava_delta_identical"] is True
    assert summary["lava_delta_vs_rate"]["synaptic_ops"] < summary["lava_delta_vs_rate"]["rate_dense_macs"]
    for sub in ("frontier/frontier.json", "frontier/frontier.png", "lava-delta/profile-loihi2.json", "report/frontier.png"):
        assert (out / sub).exists(), sub
    profile = json.loads((out / "lava" / "profile-loihi2.json").read_text())
    assert profile["hardware"] == "loihi2" and profile["energy_joules"] > 0 and profile["constants"]
    html = (out / "report" / "report.html").read_text()
    assert "data:image/png;base64" in html and "lava-fixed" in html and ".tmp-" not in html
    capsys.readouterr()
    demo(out=str(out), epochs=1)
    assert "reusing the cached model" in capsys.readouterr().out
