"""neurotep profile: counts by hand, NeuroBench 2.3 parity, energy by hand, profile.json, bad input."""

import argparse
import json
import math

import numpy as np
import pytest
import torch

from neurotep.backends.torch import TorchNetwork
from neurotep.errors import NeurotepError
from neurotep.graph import Connection, Graph, Population, ToroidalBuffer, save_graph
from neurotep.profile import HARDWARE, count_run, load_energy_model, profile_run, write_profile
from neurotep.profile.cli import add_parser
from neurotep.runner import RunOutput, save_run

PROFILE_KEYS = {"hardware", "hardware_title", "run", "energy_joules", "energy_breakdown", "counts", "neurobench",
                "constants", "assumptions", "baseline", "energy_range_joules", "energy_breakdown_low"}
SPIKING_HW = [h for h in HARDWARE if h != "gpu-rate"]  # gpu-rate prices the rate model: rate runs only
RUN_KEYS = {"backend", "executed_on", "mode", "encoding", "precision", "samples", "steps", "mean_steps_per_sample",
            "test_accuracy"}
COUNT_KEYS = {"neurons", "spikes", "membrane_updates", "synaptic_ops_effective", "synaptic_ops_dense", "op_kind"}


def _run_json(mode="spiking", samples=2, steps=5, **kw):
    return dict(backend="torch", executed_on="torch-cpu", precision="float", device="cpu", mode=mode,
                encoding="poisson" if mode == "spiking" else "current", variant=None, dataset="toy", samples=samples,
                steps=steps, test_accuracy=0.5, spikes_total=0, wall_seconds=0.0, populations={}, **kw)


def _tiny_graph():
    """x (3 Poisson inputs) -> h (2 lif, toroidal buffer K=2) <-> y (2 linear, symmetric)."""
    g = Graph()
    g.add(Population("x", 3, "input"))
    g.add(Population("h", 2, "lif", {"beta": 1.0, "threshold": 1.0, "reset": "subtract"}))
    g.add(Population("y", 2, "linear", {"damping": 0.5}))
    g.add(Connection("W1", "x", "h", np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]])))
    g.add(Connection("W2", "h", "y", np.array([[0.5, 0.0], [0.2, 0.1]]), symmetric=True))
    g.add(ToroidalBuffer("torus_h", "h", depth=2, decay=(0.5,), gain=0.1))
    g.meta.update(input="x", output="y")
    return g.validate()


@pytest.fixture
def tiny_run(tmp_path):
    """A run directory written by hand: 2 samples x 5 steps, spikes per neuron x [3, 0, 2], h [1, 4]."""
    d = tmp_path / "run"
    d.mkdir()
    (d / "run.json").write_text(json.dumps(_run_json()))
    save_graph(_tiny_graph(), d / "graph")
    np.savez_compressed(d / "spikes.npz", **{
        "per_neuron/x": np.array([3.0, 0.0, 2.0]), "per_neuron/h": np.array([1.0, 4.0]),
        "per_step/x": np.array([1, 1, 1, 1, 1]), "per_step/h": np.array([0, 1, 2, 1, 1]),
        "per_sample/x": np.array([2.0, 3.0]), "per_sample/h": np.array([2.0, 3.0])})
    return d


# -- counts by hand ---------------------------------------------------------------------------------
def test_counts_by_hand(tiny_run):
    c = count_run(tiny_run)
    x, h, y = (c.populations[p] for p in ("x", "h", "y"))
    assert (c.samples, c.steps, c.mode) == (2, 5, "spiking")
    assert (x.spikes, h.spikes, y.spikes) == (2.5, 2.5, 0.0)
    # x -> h: spikes [3, 0, 2] x nonzeros per column [1, 0, 2] = 7 ACs over the run.
    # y -> h (W2.T): graded, 5 steps x 2 samples per neuron x nonzeros per row of W2 [1, 2] = 30 MACs.
    # h -> y: spikes [1, 4] x nonzeros per column of W2 [2, 1] = 6 ACs.
    assert (h.synaptic_ops_ac, h.synaptic_ops_mac, h.op_kind) == (3.5, 15.0, "mixed")
    assert (y.synaptic_ops_ac, y.synaptic_ops_mac, y.op_kind) == (3.0, 0.0, "AC")
    assert x.op_kind is None and x.synaptic_ops_effective == 0
    # Dense: steps x weights, zeros included: x->h 5*6, y->h 5*4; h->y 5*4.
    assert (h.synaptic_ops_dense, y.synaptic_ops_dense) == (50.0, 20.0)
    assert (x.membrane_updates, h.membrane_updates, y.membrane_updates) == (0.0, 10.0, 10.0)
    # Buffer K=2 on h: 2 taps read + 1 write per neuron per step; 2 tap ops per spike.
    assert (h.buffer_reads, h.buffer_writes, h.buffer_ops, h.buffer_ops_dense) == (20.0, 10.0, 5.0, 20.0)
    assert all(p.learning_updates == 0 for p in c.populations.values())
    assert any("graded populations (y)" in a for a in c.assumptions)


def test_neurobench_metrics_by_hand(tiny_run):
    nb = profile_run(tiny_run, "45nm")["neurobench"]
    assert nb["ActivationSparsity"] == 15 / 20  # h: 5 spikes of 2 neurons x 5 steps x 2 samples
    assert nb["SynapticOperations"] == {"Effective_ACs": 6.5, "Effective_MACs": 15.0, "Dense": 70.0}
    assert nb["MembraneUpdates"] == 10.0 and nb["MembraneUpdates_exact"] is False  # no raster: upper bound
    assert nb["ConnectionSparsity"] == round(5 / 14, 4)  # W1 3 zeros of 6, W2 and W2.T 1 of 4 each
    assert nb["Footprint"] == 4 * (6 + 4) + 20  # float32 weights (W2 once) + one snn.Leaky's buffers


def test_rate_run_counts_everything_as_macs(tmp_path):
    d = tmp_path / "rate"
    d.mkdir()
    (d / "run.json").write_text(json.dumps(_run_json(mode="rate", samples=3, steps=4)))
    g = _tiny_graph()
    g.populations["h"].model, g.populations["h"].params = "hard_sigmoid", {"damping": 0.5}
    save_graph(g, d / "graph")
    c = count_run(d)
    h, y = c.populations["h"], c.populations["y"]
    assert h.synaptic_ops_ac == 0 and h.synaptic_ops_mac == 4 * (3 + 3)  # nnz of W1 + nnz of W2's rows
    assert y.synaptic_ops_mac == 4 * 3 and h.op_kind == "MAC" and h.spikes == 0
    nb = profile_run(d, "gpu-dense")["neurobench"]
    assert nb["ActivationSparsity"] == 0.0 and nb["MembraneUpdates"] == 0.0
    assert any(a.startswith("rate-mode run") for a in c.assumptions)


# -- energy by hand -----------------------------------------------------------------------------------
def test_energy_by_hand(tiny_run):
    pj = 1e-12
    gpu = profile_run(tiny_run, "gpu-dense")
    assert gpu["energy_joules"] == pytest.approx((70 + 20) * 4.6 * pj, rel=1e-12)  # dense synapses + buffer taps
    assert gpu["energy_breakdown"]["by_operation"]["dense_synaptic_macs"] == pytest.approx(70 * 4.6 * pj, rel=1e-12)
    nm = profile_run(tiny_run, "45nm")
    assert nm["energy_joules"] == pytest.approx((6.5 * 0.9 + 15 * 4.6 + 5 * 0.9) * pj, rel=1e-12)
    syn = (6.5 + 15 + 5) * 23.6  # ACs, graded MACs and buffer taps, one synaptic op each
    neuron = 2.5 * 81 + (10 - 2.5) * 52 + 10 * 81  # h active/inactive, y graded: active every step
    # messages: x 5 (all leave the host), h->y 5, y->h 20 leave their core; h's buffer taps 5 stay local
    routing = (5 + 5 + 20 + 5) / 2 * 1.7 + (5 + 5 + 20) / 2 * 3.5
    dynamic = (syn + neuron + routing) * pj
    lo = profile_run(tiny_run, "loihi")
    assert lo["energy_joules"] == pytest.approx(dynamic, rel=1e-12)
    assert lo["energy_range_joules"] == {"low": lo["energy_joules"], "high": lo["energy_joules"]}  # single-valued
    by_pop = lo["energy_breakdown"]["by_population"]
    assert sum(by_pop.values()) == pytest.approx(lo["energy_joules"], rel=1e-12)
    assert by_pop["x"] == pytest.approx(2.5 * (1.7 + 3.5) * pj, rel=1e-12)
    # Loihi 2: Loihi 1's figures at the high end, x 6.842/23.6 at the low end, plus static power over
    # 5 steps: low 2 occupied cores x 0.815 mW x 1 us, high one whole chip x 2,600/1,152 W x 10 us.
    l2 = profile_run(tiny_run, "loihi2")
    static_lo, static_hi = 2 * 3.34 / 32 / 128 * 5 * 1e-6, 2600 / 1152 * 5 * 1e-5
    assert l2["energy_range_joules"]["high"] == pytest.approx(dynamic + static_hi, rel=1e-6)
    assert l2["energy_range_joules"]["low"] == pytest.approx(dynamic * (2600 / 3.8e14) / 23.6e-12 + static_lo, rel=1e-4)
    assert l2["energy_joules"] == l2["energy_range_joules"]["high"]
    assert l2["energy_breakdown"]["by_operation"]["static"] == pytest.approx(static_hi, rel=1e-6)
    assert l2["energy_breakdown_low"]["by_population"]["(static)"] == pytest.approx(static_lo, rel=1e-4)
    for end in ("energy_breakdown", "energy_breakdown_low"):
        for part in ("by_operation", "by_population"):
            key = "high" if end == "energy_breakdown" else "low"
            assert sum(l2[end][part].values()) == pytest.approx(l2["energy_range_joules"][key], rel=1e-12)
    assert any("1 whole chip(s) powered" in a for a in l2["assumptions"])
    est = load_energy_model("loihi2")["entries"]
    assert all(e["low"] < e["high"] for k, e in est.items() if "value" not in e)


@pytest.mark.parametrize("hw", HARDWARE)
def test_energy_models_cite_every_constant(hw):
    m = load_energy_model(hw)
    assert m["title"] and m["description"]
    for name, e in m["entries"].items():
        assert set(e) - {"value"} == {"low", "high", "unit", "source", "status", "note"}, name
        assert e["status"] in ("published", "estimate", "derived") and e["source"], name
        assert 0 <= e["low"] <= e["high"], name
        if e["unit"] == "J":
            assert 0 < e["high"] < 1e-6, name


def test_profile_json_schema_and_atomic_write(tiny_run):
    for hw in SPIKING_HW:
        path = write_profile(tiny_run, hw)
        doc = json.loads(path.read_text())
        assert path == tiny_run / "profile.json" and set(doc) == PROFILE_KEYS
        assert doc["hardware"] == hw and set(doc["run"]) == RUN_KEYS and doc["run"]["samples"] == 2
        assert set(doc["energy_breakdown"]) == {"by_operation", "by_population"}
        assert math.isclose(sum(doc["energy_breakdown"]["by_operation"].values()), doc["energy_joules"], rel_tol=1e-12)
        assert set(doc["counts"]) == {"x", "h", "y"} and all(COUNT_KEYS <= set(v) for v in doc["counts"].values())
        assert set(doc["neurobench"]) >= {"ActivationSparsity", "SynapticOperations", "MembraneUpdates",
                                          "ConnectionSparsity", "Footprint"}
        assert all(set(v) - {"value"} == {"low", "high", "unit", "source", "status"} for v in doc["constants"].values())
        assert doc["assumptions"] and isinstance(doc["baseline"], str) and doc["baseline"]
    assert [p.name for p in tiny_run.iterdir() if p.name.startswith(".")] == []  # no temporary left


# -- bad input ------------------------------------------------------------------------------------------
def _cli(argv):
    p = argparse.ArgumentParser(prog="neurotep")
    add_parser(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(argv)
    return args.fn(args)


def test_cli_prints_summary_and_json(tiny_run, capsys):
    _cli(["profile", str(tiny_run)])
    out = capsys.readouterr().out
    assert "energy per inference" in out and "NeuroBench" in out and "profile.json" in out
    _cli(["profile", str(tiny_run), "--hardware", "gpu-dense", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["hardware"] == "gpu-dense" and set(doc) == PROFILE_KEYS


@pytest.mark.parametrize("case,match", [
    ("hardware", "unknown hardware 'tpu'"),
    ("missing", "does not exist"),
    ("no_run_json", "no run.json"),
    ("no_graph", "no graph/"),
    ("no_spikes", "without spikes.npz"),
    ("bad_json", "not valid JSON"),
    ("bad_npz", "corrupt"),
])
def test_bad_input_is_one_line(tiny_run, tmp_path, case, match):
    argv = ["profile", str(tiny_run)]
    if case == "hardware":
        argv += ["--hardware", "tpu"]
    elif case == "missing":
        argv = ["profile", str(tmp_path / "nope")]
    elif case == "no_run_json":
        (tiny_run / "run.json").unlink()
    elif case == "no_graph":
        import shutil

        shutil.rmtree(tiny_run / "graph")
    elif case == "no_spikes":
        (tiny_run / "spikes.npz").unlink()
    elif case == "bad_json":
        (tiny_run / "run.json").write_text("{not json")
    elif case == "bad_npz":
        (tiny_run / "spikes.npz").write_bytes(b"PK\x03\x04 cut off")
    with pytest.raises(NeurotepError, match=match) as e:
        _cli(argv)
    assert "\n" not in str(e.value)
    assert not (tiny_run / "profile.json").exists() or case == "hardware"


def test_main_cli_exit_2_when_wired(tmp_path, capsys):
    from neurotep.cli import main

    code = main(["profile", str(tmp_path / "nope")])
    err = capsys.readouterr().err
    if "invalid choice" in err:
        pytest.skip("the profile subcommand is not wired into neurotep.cli yet")
    assert code == 2 and err.startswith("neurotep: error:") and "does not exist" in err and err.count("\n") == 1


# -- NeuroBench parity ----------------------------------------------------------------------------------
T, B, N_IN, N_H, N_OUT = 30, 6, 8, 16, 4
BETA = 0.9


def _parity_weights():
    rs = np.random.default_rng(3)
    w1 = rs.normal(0.0, 0.7, (N_H, N_IN)) * (rs.random((N_H, N_IN)) > 0.25)
    w2 = rs.normal(0.2, 0.6, (N_OUT, N_H)) * (rs.random((N_OUT, N_H)) > 0.3)
    # Round-trip through float32 so both networks hold identical weights.
    return w1.astype(np.float32).astype(np.float64), w2.astype(np.float32).astype(np.float64)


def _parity_graph(w1, w2):
    """Feedforward: x (8 Poisson) -> h (16 lif, subtract reset) -> o (4 lif, zero reset), delay 0 as in
    an nn.Sequential, no recurrence, no buffer."""
    g = Graph()
    g.add(Population("x", N_IN, "input"))
    g.add(Population("h", N_H, "lif", {"beta": BETA, "threshold": 1.0, "reset": "subtract"}))
    g.add(Population("o", N_OUT, "lif", {"beta": BETA, "threshold": 1.0, "reset": "zero"}))
    g.add(Connection("W1", "x", "h", w1, delay=0))
    g.add(Connection("W2", "h", "o", w2, delay=0))
    g.meta.update(input="x", output="o")
    return g.validate()


@pytest.mark.parametrize("encoding", ["poisson", "current"])
def test_neurobench_parity(tmp_path, encoding):
    """The same feedforward SNN as a neurotep graph (torch path, saved as a run directory) and as an
    snnTorch nn.Sequential analysed by NeuroBench 2.3's own Benchmark and metric classes."""
    pytest.importorskip("neurobench", reason="neurobench is not installed: pip install --no-deps neurobench==2.3.0")
    import snntorch as snn
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import ConnectionSparsity, Footprint
    from neurobench.metrics.workload import ActivationSparsity, MembraneUpdates, SynapticOperations
    from neurobench.models import SNNTorchModel
    from torch import nn

    w1, w2 = _parity_weights()
    gen = torch.Generator().manual_seed(7)
    if encoding == "poisson":  # the same input spikes, (T, B, N)
        frames = (torch.rand(T, B, N_IN, generator=gen) < 0.35).float()
    else:  # graded currents, all nonzero, the same at every step
        frames = (0.1 + 0.5 * torch.rand(B, N_IN, generator=gen)).expand(T, B, N_IN).contiguous()
    spiking_inputs = encoding == "poisson"

    # neurotep: the torch path, recorded like `neurotep run --spiking --raster`, saved as a run dir.
    g = _parity_graph(w1, w2)
    _, rec, _ = TorchNetwork(g).run(lambda t: {"x": frames[t]}, T, B, raster=True, spiking_inputs=spiking_inputs)
    run_dir = tmp_path / "run"
    summary = _run_json(samples=B, steps=T)
    summary["encoding"] = encoding
    save_run(RunOutput(summary, rec, g), run_dir)

    # NeuroBench: the same network as snnTorch layers, the same weights, its own Benchmark and metrics.
    net = nn.Sequential(
        nn.Linear(N_IN, N_H, bias=False),
        snn.Leaky(beta=BETA, threshold=1.0, reset_mechanism="subtract", init_hidden=True),
        nn.Linear(N_H, N_OUT, bias=False),
        snn.Leaky(beta=BETA, threshold=1.0, reset_mechanism="zero", init_hidden=True, output=True),
    )
    with torch.no_grad():
        net[0].weight.copy_(torch.as_tensor(w1, dtype=torch.float32))
        net[2].weight.copy_(torch.as_tensor(w2, dtype=torch.float32))
    seen = {1: [], 3: []}
    for i in seen:
        net[i].register_forward_hook(
            lambda m, a, out, i=i: seen[i].append((out[0] if isinstance(out, tuple) else out).detach()))
    data = torch.utils.data.TensorDataset(frames.transpose(0, 1).contiguous(), torch.zeros(B, dtype=torch.long))
    loader = torch.utils.data.DataLoader(data, batch_size=B // 2, shuffle=False)  # two batches: accumulation
    bench = Benchmark(SNNTorchModel(net), loader, [], [],
                      [[Footprint, ConnectionSparsity], [ActivationSparsity, SynapticOperations, MembraneUpdates]])
    ref = bench.run(quiet=True)

    # First: both networks spiked identically (neuron by neuron, step by step).
    for i, pop in ((1, "h"), (3, "o")):
        raster = torch.cat([torch.stack(seen[i][k * T:(k + 1) * T]) for k in range(2)], dim=1)  # (T, B, N)
        assert torch.equal(raster > 0, rec.raster[pop]), pop
    assert int(rec.per_neuron["h"].sum()) > 0 and int(rec.per_neuron["o"].sum()) > 0

    ours = profile_run(run_dir, "45nm")["neurobench"]
    # Effective_ACs (spike-driven), Effective_MACs (graded inputs: all nonzero here, as neurotep assumes), Dense.
    assert ours["SynapticOperations"] == ref["SynapticOperations"]
    assert ours["SynapticOperations"]["Effective_ACs"] > 0
    assert (ours["SynapticOperations"]["Effective_MACs"] > 0) == (encoding == "current")
    assert ours["ActivationSparsity"] == pytest.approx(ref["ActivationSparsity"], abs=1e-9)
    assert ours["ConnectionSparsity"] == ref["ConnectionSparsity"] > 0
    # Footprint: weights in float32 + snn.Leaky's scalar buffers (beta, threshold, graded_spikes_factor
    # float32, reset_mechanism_val int64), measured by NeuroBench before the first forward pass, when
    # each Leaky's `mem` buffer is still empty (afterwards it would add batch x neurons x 4 bytes).
    assert ours["Footprint"] == ref["Footprint"] == 4 * (N_H * N_IN + N_OUT * N_H) + 2 * 20
    # MembraneUpdates needs the membranes: neurotep replays the run from its input spike raster. Graded
    # inputs are not stored in a run directory, so there it reports the bound steps x neurons, flagged.
    bound = T * (N_H + N_OUT)
    if encoding == "poisson":
        assert ours["MembraneUpdates_exact"] and ours["MembraneUpdates"] == ref["MembraneUpdates"] < bound
    else:
        assert not ours["MembraneUpdates_exact"] and ours["MembraneUpdates"] == bound >= ref["MembraneUpdates"]

    # The gpu-dense energy of this network is exactly NeuroBench's Dense count x 4.6 pJ.
    gpu = profile_run(run_dir, "gpu-dense")
    assert gpu["energy_joules"] == pytest.approx(ref["SynapticOperations"]["Dense"] * 4.6e-12, rel=1e-12)
    # Delay-0 connections have no Lava form: the Loihi model falls back to one core per population.
    assert any("one core of its own" in a for a in profile_run(run_dir, "loihi2")["assumptions"])
    if encoding == "poisson":  # saved without the raster, MembraneUpdates falls back to its bound and says why
        rec.raster.clear()
        save_run(RunOutput(summary, rec, g), run_dir)
        again = profile_run(run_dir, "45nm")["neurobench"]
        assert again["MembraneUpdates"] == bound and not again["MembraneUpdates_exact"]
        assert any("no input spike raster" in n for n in again["notes"])
        assert again["SynapticOperations"] == ref["SynapticOperations"]


def test_profiles_a_run_written_by_run_model(tmp_path):
    """End to end: run_model (spiking, Poisson, raster) -> save_run -> profile."""
    from neurotep.data import load_dataset
    from neurotep.runner import run_model
    from neurotep.variants import base

    graph = base.build(hidden=(12,), buffer_depth=2)
    res = run_model(graph, load_dataset("digits"), samples=4, steps=12, spiking=True, raster=True)
    save_run(res, tmp_path / "run")
    doc = profile_run(tmp_path / "run", "loihi2")
    s = res.summary
    for pop, row in s["populations"].items():
        assert doc["counts"][pop]["spikes"] == row["spikes"] / s["samples"], pop
    assert doc["counts"]["h0"]["op_kind"] == "mixed" and doc["counts"]["y"]["op_kind"] == "AC"
    assert doc["neurobench"]["MembraneUpdates_exact"] and doc["energy_joules"] > 0
    assert any("map_to_cores" in a for a in doc["assumptions"])
    run = json.loads((tmp_path / "run" / "run.json").read_text())  # what the runner computed for the profiler
    assert run["membrane_updates"]["total"] == doc["neurobench"]["MembraneUpdates"] * s["samples"]
    assert set(run["cores"]) == {"loihi2", "loihi"} and run["cores"]["loihi2"]["cores"]["x"] == 0
    assert run["cores"]["loihi2"]["note"] in doc["assumptions"]


def test_run_directory_without_the_runners_fields(tmp_path):
    """A run directory written before run.json carried membrane_updates and cores still profiles:
    MembraneUpdates falls back to NeuroBench's upper bound and the Loihi models to one core per
    non-input population, each saying why; everything else is unchanged."""
    from neurotep.data import load_dataset
    from neurotep.runner import run_model
    from neurotep.variants import base

    res = run_model(base.build(hidden=(12,)), load_dataset("digits"), samples=3, steps=10, spiking=True, raster=True)
    new, old = tmp_path / "new", tmp_path / "old"
    save_run(res, new)
    save_run(res, old)
    run = json.loads((old / "run.json").read_text())
    del run["membrane_updates"], run["cores"]
    (old / "run.json").write_text(json.dumps(run))
    for hw in SPIKING_HW:
        a, b = profile_run(new, hw), profile_run(old, hw)
        assert a["counts"] == b["counts"] and a["run"] == b["run"], hw
        na, nb = a["neurobench"], b["neurobench"]
        assert na["MembraneUpdates_exact"] and not nb["MembraneUpdates_exact"]
        assert nb["MembraneUpdates"] == 10 * 12 >= na["MembraneUpdates"]  # steps x spiking neurons, per sample
        assert any("run.json holds no membrane_updates" in n and "upper bound" in n for n in nb["notes"])
        assert {k: v for k, v in na.items() if not k.startswith("MembraneUpdates") and k != "notes"} == \
               {k: v for k, v in nb.items() if not k.startswith("MembraneUpdates") and k != "notes"}
        if hw in ("loihi", "loihi2"):  # this graph maps to one core per population: the same energy
            assert any("run.json holds no cores" in n and "one core of its own" in n for n in b["assumptions"])
            assert b["energy_joules"] == a["energy_joules"]
        else:
            assert a == {**b, "neurobench": a["neurobench"]}


@pytest.mark.parametrize("field,value", [
    ("membrane_updates", {"total": -1, "how": "x"}),
    ("membrane_updates", {"total": 10 ** 9, "how": "x"}),
    ("membrane_updates", {"how": "x"}),
    ("membrane_updates", 5),
    ("cores", {"loihi2": {"cores": {"x": 0}, "note": "x"}}),
    ("cores", {"loihi2": {"cores": {"x": 0, "h": 1, "y": True}, "note": "x"}}),
    ("cores", [1]),
])
def test_bad_runner_fields_are_one_line(tiny_run, field, value):
    run = json.loads((tiny_run / "run.json").read_text())
    run[field] = value
    (tiny_run / "run.json").write_text(json.dumps(run))
    with pytest.raises(NeurotepError, match=f"run.json: {field}") as e:
        profile_run(tiny_run, "loihi2")
    assert "\n" not in str(e.value)


def test_profiler_imports_no_backend():
    """The profiler reads recordings, never Lava or torch objects: no module of neurotep.profile
    imports a backend or the runner (which replays runs and maps them onto cores when saving),
    not even inside a function."""
    import ast
    from pathlib import Path

    import neurotep.profile

    banned = ("neurotep.backends", "neurotep.runner", "neurotep.membranes", "neurotep.placement", "torch", "lava")
    for f in sorted(Path(neurotep.profile.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            bad = [n for n in names if n in banned or n.startswith(tuple(b + "." for b in banned))]
            assert not bad, f"{f.name}:{node.lineno} imports {bad}"
