"""``neurotep compare``: variants trained, run and reported side by side."""

from __future__ import annotations

import json

import pytest

from neurotep.cli import main


def test_unknown_variant_fails_before_any_work(tmp_path, capsys):
    assert main(["compare", "toreqprop", "nope", "--out", str(tmp_path / "c")]) == 2
    assert "unknown variant 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


@pytest.mark.slow
def test_two_variants_side_by_side(tmp_path):
    out = tmp_path / "c"
    assert main(["compare", "toreqprop", "mstep", "--epochs", "1", "--out", str(out)]) == 0
    rows = json.loads((out / "summary.json").read_text())["variants"]
    assert set(rows) == {"toreqprop", "mstep"}
    for r in rows.values():
        assert r["rate_accuracy"] > 0.5 and 0 < r["energy_uJ_loihi2"]["low"] < r["energy_uJ_loihi2"]["high"] \
            and 0 < r["energy_uJ_gpu_rate_batch1"]["low"] < r["energy_uJ_gpu_rate_batch1"]["high"]
    md = (out / "report" / "report.md").read_text()
    assert "toreqprop/spiking" in md and "mstep/spiking" in md
    # a second call reuses both trained models
    assert main(["compare", "toreqprop", "mstep", "--epochs", "1", "--out", str(out)]) == 0
