"""The CLI contract: names and JSON keys, and bad input -> one line on stderr, exit 2, no output."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from neurotep.cli import main


def _fail(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("neurotep: error:") and match in err, err
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("m") / "model"
    assert main(["train", "toreqprop", "--out", str(out), "--epochs", "1", "--json"]) == 0
    return out


def test_variants_json(capsys):
    assert main(["variants", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["variants"]
    assert {"name": "toreqprop"}.items() <= rows[0].items() and rows[0]["description"]
    assert rows[0]["defaults"]["hidden"] == [256]  # what train --set can change


def test_train_set_changes_build_hyperparameters(tmp_path, capsys):
    """``train --set NAME=VALUE`` builds the variant with that hyperparameter (typed like its
    default) and records it in metrics.json; bad names and values are one line, exit 2, no output."""
    from neurotep.graph import load_graph

    out = tmp_path / "m"
    assert main(["train", "toreqprop", "--epochs", "1", "--set", "hidden=24,16", "--set", "buffer_decay=0.6",
                 "--out", str(out), "--json"]) == 0
    g = load_graph(out / "model")
    assert (g.populations["h0"].size, g.populations["h1"].size) == (24, 16)
    assert g.buffers and all(b.decay[0] == 0.6 for b in g.buffers)
    assert json.loads((out / "metrics.json").read_text())["build"] == {"hidden": [24, 16], "buffer_decay": 0.6}
    for bad, message in ((["--set", "hiden=3"], "no build hyperparameter 'hiden'; known: hidden"),
                         (["--set", "hidden=abc"], "takes int values"),
                         (["--set", "hidden=0"], "layer sizes are whole numbers >= 1"),
                         (["--set", "damping=5"], "damping must be in (0, 1]"),
                         (["--set", "nothing"], "write NAME=VALUE")):
        capsys.readouterr()
        assert main(["train", "toreqprop", "--epochs", "1", "--out", str(tmp_path / "bad")] + bad) == 2, bad
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (bad, err)
        assert not (tmp_path / "bad").exists()


def test_train_writes_model_and_metrics(model_dir):
    m = json.loads((model_dir / "metrics.json").read_text())
    for key in ("variant", "dataset", "seed", "epochs", "test_accuracy", "train_seconds"):
        assert key in m
    assert m["variant"] == "toreqprop" and m["dataset"] == "digits" and 0.5 < m["test_accuracy"] <= 1
    assert (model_dir / "model" / "graph.json").exists()


@pytest.mark.parametrize("spiking", [False, True])
def test_run_writes_run_json(model_dir, tmp_path, capsys, spiking):
    out = tmp_path / "run"
    argv = ["run", str(model_dir), "--backend", "torch", "--out", str(out), "--samples", "50", "--json"]
    assert main(argv + (["--spiking", "--steps", "40"] if spiking else [])) == 0
    r = json.loads((out / "run.json").read_text())
    assert len(r.pop("sample_ids")) == 50  # the data-set indices of the 50 test images
    assert json.loads(capsys.readouterr().out) == r
    for key in ("backend", "samples", "steps", "test_accuracy", "spikes_total", "wall_seconds", "populations"):
        assert key in r
    assert r["samples"] == 50 and set(r["populations"]) == {"x", "h0", "y"}
    assert all({"neurons", "spikes"} <= set(p) for p in r["populations"].values())
    if spiking:
        assert r["steps"] == 40 and r["spikes_total"] > 0 and (out / "spikes.npz").exists()
        with np.load(out / "spikes.npz", allow_pickle=False) as z:
            assert int(z["per_step/h0"].sum()) == r["populations"]["h0"]["spikes"]


def test_unknown_variant(capsys, tmp_path):
    _fail(capsys, ["train", "nope", "--out", str(tmp_path / "o")], "unknown variant 'nope'")
    assert not (tmp_path / "o").exists()


def test_unknown_dataset(capsys, tmp_path):
    _fail(capsys, ["train", "toreqprop", "--out", str(tmp_path / "o"), "--dataset", "cifar"], "cifar")
    assert not (tmp_path / "o").exists()


def test_mnist_without_path(capsys, tmp_path):
    _fail(capsys, ["train", "toreqprop", "--out", str(tmp_path / "o"), "--dataset", "mnist"], "--data-path")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_absent(capsys, tmp_path):
    _fail(capsys, ["train", "toreqprop", "--out", str(tmp_path / "o"), "--device", "cuda"], "no CUDA GPU")
    assert not (tmp_path / "o").exists()


def test_missing_model(capsys, tmp_path):
    _fail(capsys, ["run", str(tmp_path / "absent"), "--out", str(tmp_path / "r")], "does not exist")
    assert not (tmp_path / "r").exists()


def test_corrupt_model(capsys, tmp_path, model_dir):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(model_dir, bad)
    arr = bad / "model" / "arrays.npz"
    data = bytearray(arr.read_bytes())
    data[len(data) // 2] ^= 0xFF
    arr.write_bytes(bytes(data))
    _fail(capsys, ["run", str(bad), "--out", str(tmp_path / "r")], "corrupt")
    assert not (tmp_path / "r").exists()


def test_unknown_backend_and_bad_samples(capsys, tmp_path, model_dir):
    _fail(capsys, ["run", str(model_dir), "--out", str(tmp_path / "r"), "--backend", "tpu"], "unknown backend 'tpu'")
    _fail(capsys, ["run", str(model_dir), "--out", str(tmp_path / "r"), "--samples", "0"], "--samples")
    _fail(capsys, ["run", str(model_dir), "--out", str(tmp_path / "r"), "--spiking", "--encoding", "morse"], "encoding")
    assert not (tmp_path / "r").exists()


def test_argument_errors_are_one_line(capsys):
    _fail(capsys, ["train", "toreqprop"], "--out")
    _fail(capsys, ["frobnicate"], "invalid choice")


def test_entry_point_exit_code(tmp_path):
    p = subprocess.run([sys.executable, "-m", "neurotep.cli", "run", str(tmp_path / "x"), "--out", str(tmp_path / "y")],
                       capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "does not exist" in p.stderr


@pytest.mark.parametrize("precision", ["float", "fixed"])
def test_run_on_lava_has_the_torch_keys_and_spikes(model_dir, tmp_path, capsys, precision):
    outs = {}
    for backend in ("torch", "lava"):
        out = tmp_path / backend
        assert main(["run", str(model_dir), "--backend", backend, "--out", str(out), "--samples", "20",
                     "--spiking", "--steps", "30", "--precision", precision, "--json"]) == 0
        outs[backend] = json.loads((out / "run.json").read_text())
    capsys.readouterr()
    t, lv = outs["torch"], outs["lava"]
    assert set(t) == set(lv) and lv["executed_on"] == "loihi2-sim" and lv["precision"] == precision
    assert lv["populations"] == t["populations"] and lv["test_accuracy"] == t["test_accuracy"]
    # the profiler counts the same events whichever backend ran
    profiles = {}
    for backend in ("torch", "lava"):
        assert main(["profile", str(tmp_path / backend), "--hardware", "loihi2", "--json"]) == 0
        profiles[backend] = json.loads(capsys.readouterr().out)
    assert profiles["torch"]["counts"] == profiles["lava"]["counts"]
    assert profiles["torch"]["neurobench"] == profiles["lava"]["neurobench"]
    assert profiles["torch"]["energy_joules"] == profiles["lava"]["energy_joules"] > 0


def test_hardware_loihi2_falls_back_to_the_simulator_and_says_so(model_dir, tmp_path, capsys):
    assert main(["run", str(model_dir), "--backend", "lava", "--hardware", "loihi2", "--out", str(tmp_path / "r"),
                 "--samples", "4", "--spiking", "--steps", "10"]) == 0
    out = capsys.readouterr().out
    assert "Loihi 2 hardware not available" in out and "Loihi2SimCfg" in out
    doc = json.loads((tmp_path / "r" / "run.json").read_text())
    assert doc["executed_on"] == "loihi2-sim" and doc["form"] == "chip"  # --hardware loihi2 runs the chip form


def test_compile_to_lava_json(model_dir, capsys):
    assert main(["compile", str(model_dir), "--to", "lava", "--json"]) == 0  # the chip form by default
    doc = json.loads(capsys.readouterr().out)
    assert doc["form"] == "chip" and doc["loihi2_mapping"]["neuro_core_fraction"] == {"neurons": 1.0, "synapses": 1.0}
    assert main(["compile", str(model_dir), "--to", "lava", "--form", "reference", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    names = {p["name"]: p for p in doc["processes"]}
    assert names["pop_h0"]["class"].endswith("SubtractiveLIF") and names["conn_W_x_h0"]["synapses"] == 64 * 256
    assert "pop_h0.s_out -> conn_W_h0_y.s_in" in doc["links"]
    assert doc["loihi2_mapping"]["fits"] is True and doc["loihi2_mapping"]["cores"] >= 1


def test_compile_and_precision_errors(model_dir, capsys, tmp_path):
    _fail(capsys, ["compile", str(model_dir), "--to", "verilog"], "unknown compile target")
    _fail(capsys, ["run", str(model_dir), "--backend", "lava", "--precision", "double", "--out", str(tmp_path / "r")],
          "unknown precision 'double'")
    _fail(capsys, ["run", str(model_dir), "--precision", "fixed", "--out", str(tmp_path / "r")], "add --spiking")
    _fail(capsys, ["run", str(model_dir), "--hardware", "loihi2", "--out", str(tmp_path / "r")], "needs --backend lava")
    _fail(capsys, ["run", str(model_dir), "--backend", "lava", "--hardware", "truenorth", "--out", str(tmp_path / "r")],
          "unknown hardware")
    assert not (tmp_path / "r").exists()
