"""Networks written by snnTorch's and Norse's own NIR exporters, imported and run on Lava
(Loihi2SimCfg): their delay-0 connections are re-timed one step per layer
(:func:`neurotep.graph.retime.retime`), and the torch path running the same re-timed graph gives
the same spikes, raster for raster: float64 torch against Lava float, and the integer torch path
against Lava's bit-accurate fixed-point models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurotep.backends.lava.runner import run_lava
from neurotep.backends.torch.fixed import FixedNetwork
from neurotep.backends.torch.network import TorchNetwork
from neurotep.graph.retime import retime
from neurotep.interop.nir import from_nir
from neurotep.quantize import encode_input, quantize
from peer_nets import snntorch_recurrent

T, B = 30, 2


pytestmark = pytest.mark.usefixtures("quiet_peers")


def _snntorch_ff():
    import snntorch as snn
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(0)
    lin1, lin2 = torch.nn.Linear(10, 16), torch.nn.Linear(16, 4)
    with torch.no_grad():
        lin1.weight.mul_(3)
        lin2.weight.mul_(3)
    net = torch.nn.Sequential(lin1, snn.Leaky(beta=torch.full((16,), 0.85), threshold=torch.full((16,), 0.9), init_hidden=True),
                              lin2, snn.Leaky(beta=torch.full((4,), 0.7), threshold=torch.full((4,), 1.0), init_hidden=True,
                                              output=True))
    return from_nir(export_to_nir(net, torch.zeros(1, 10), ignore_dims=[0]), producer="snntorch", reset="zero")


def _snntorch_recurrent():
    from snntorch.export_nir import export_to_nir

    net, _, _ = snntorch_recurrent()
    return from_nir(export_to_nir(net, torch.zeros(1, 10), ignore_dims=[0]), producer="snntorch", reset="subtract")


def _norse_if_li():
    import norse.torch as norse
    from norse.torch.module.iaf import IAFCell, IAFParameters
    from norse.torch.module.leaky_integrator_box import LIBoxCell, LIBoxParameters

    torch.manual_seed(1)
    lin1, lin2 = torch.nn.Linear(10, 16), torch.nn.Linear(16, 4)
    with torch.no_grad():
        lin1.weight.mul_(2)
    net = norse.SequentialState(lin1, IAFCell(IAFParameters(v_th=torch.full((16,), 1.0), v_reset=torch.zeros(16))),
                                lin2, LIBoxCell(LIBoxParameters(tau_mem_inv=torch.full((4,), 200.0), v_leak=torch.zeros(4))))
    return from_nir(norse.to_nir(net, torch.zeros(1, 10)), producer="norse")


NETS = {"snntorch-ff-lif": _snntorch_ff, "snntorch-recurrent": _snntorch_recurrent, "norse-if-li": _norse_if_li}


@pytest.mark.parametrize("precision", ["float", "fixed"])
@pytest.mark.parametrize("make", NETS.values(), ids=NETS.keys())
def test_peer_exports_run_on_lava_with_the_torch_paths_spikes(make, precision):
    imported = make()
    g = retime(imported)
    assert g is not imported and all(c.delay >= 1 for c in g.connections)
    out = g.meta["output"]
    assert g.meta["retimed"]["shift"][out] >= 1
    ids, inp = np.arange(B), g.meta["input"]
    x = (np.random.default_rng(3).random((T, B, 10)) < 0.4).astype(np.float64)
    if precision == "float":
        xs = torch.as_tensor(x)
        _, rec, mean = TorchNetwork(g, dtype=torch.float64).run(lambda t: {inp: xs[t]},
                                                                T, B, raster=True, readout=out)
    else:
        frames = encode_input(x, True)
        rec, mean = FixedNetwork(quantize(g)).run(lambda t: {inp: torch.as_tensor(frames[t])}, T, B,
                                                  raster=True, readout=out)
        x = frames.astype(np.float64)
    rec_l, readout, _ = run_lava(g, {inp: x}, T, ids, precision=precision, raster=True)
    hidden = [p for p in rec.raster if g.populations[p].model == "lif"]
    assert sum(int(rec.raster[p].sum()) for p in hidden) > 50
    for p in hidden:
        assert rec.raster[p].any(), p
        assert torch.equal(rec.raster[p], rec_l.raster[p].reshape(rec.raster[p].shape)), f"{p}: spike trains differ"
    if precision == "fixed":
        assert torch.equal(mean, readout["mean"])
    else:
        assert torch.allclose(mean.double(), readout["mean"].double(), atol=1e-9)


def test_cli_runs_an_imported_snntorch_network_on_lava_like_the_torch_path_runs_its_chip_form(tmp_path, capsys):
    """``import-nir`` then ``run --backend lava`` (which re-times the delay-0 connections) and
    ``run --backend torch --form chip`` (the same re-timed graph): the same spikes per population
    and per neuron, the same accuracy."""
    import json

    import nir
    import snntorch as snn
    from snntorch.export_nir import export_to_nir

    from neurotep.cli import main

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 24), snn.Leaky(beta=torch.full((24,), 0.9), threshold=torch.full((24,), 0.5),
                                                                init_hidden=True),
                              torch.nn.Linear(24, 10), snn.Leaky(beta=torch.full((10,), 0.8), threshold=torch.full((10,), 0.5),
                                                                 init_hidden=True, output=True))
    nir.write(tmp_path / "snn.nir", export_to_nir(net, torch.zeros(1, 64), ignore_dims=[0]))
    # zero reset (snnTorch's importer's own reading): then the chip form changes nothing but the timing
    assert main(["import-nir", str(tmp_path / "snn.nir"), "--out", str(tmp_path / "m"), "--producer", "snntorch"]) == 0
    for form in ("chip", "reference"):  # compile --to lava re-times it too, and says so
        assert main(["compile", str(tmp_path / "m"), "--form", form]) == 0
        assert "delay-0 connections '2', '0'" in capsys.readouterr().out
    runs = {}
    for name, extra in (("lava", ["--backend", "lava"]), ("torch", ["--backend", "torch", "--form", "chip"])):
        assert main(["run", str(tmp_path / "m"), "--spiking", "--samples", "6", "--steps", "25", "--out", str(tmp_path / name),
                     *extra]) == 0
        runs[name] = json.loads((tmp_path / name / "run.json").read_text())
    lava, tor = runs["lava"], runs["torch"]
    assert lava["populations"]["1"]["spikes"] > 100
    assert {k: v["spikes"] for k, v in lava["populations"].items()} == {k: v["spikes"] for k, v in tor["populations"].items()}
    assert lava["test_accuracy"] == tor["test_accuracy"]
    counts = [np.load(tmp_path / name / "spikes.npz") for name in ("lava", "torch")]
    assert sorted(counts[0].files) == sorted(counts[1].files)
    for k in counts[0].files:  # per step, per neuron, per sample, every population
        np.testing.assert_array_equal(counts[0][k], counts[1][k], err_msg=k)


def test_retiming_shifts_each_layer_by_its_depth():
    """Without biases a layered delay-0 network re-timed runs exactly ``shift[p]`` steps late; a
    bias (acting from step 0) is listed as what breaks the exact shift."""
    from neurotep.graph import Connection, Graph, Population

    rs = np.random.default_rng(0)
    g = Graph()
    g.add(Population("x", 8, "input"))
    g.add(Population("h", 12, "lif", {"beta": 0.9, "threshold": 1.0, "reset": "zero"}))
    g.add(Population("z", 5, "lif", {"beta": 1.0, "threshold": 1.0, "reset": "subtract"}))
    g.add(Connection("xh", "x", "h", rs.uniform(0, 1, (12, 8)), delay=0))
    g.add(Connection("hh", "h", "h", rs.uniform(-0.3, 0.3, (12, 12)), delay=1))
    g.add(Connection("hz", "h", "z", rs.uniform(-0.2, 0.8, (5, 12)), delay=0))
    g.meta.update(input="x", output="z")
    r = retime(g.validate())
    assert r.meta["retimed"]["shift"] == {"x": 0, "h": 1, "z": 2} and r.meta["retimed"]["inexact"] == []
    x = torch.as_tensor((np.random.default_rng(1).random((T + 2, B, 8)) < 0.4).astype(np.float64))
    x[T:] = 0
    runs = [TorchNetwork(h, dtype=torch.float64).run(lambda t: {"x": x[t]}, steps, B, raster=True, readout="z")
            for h, steps in ((g, T), (r, T + 2))]
    for p, d in (("h", 1), ("z", 2)):
        assert runs[0][1].raster[p].sum() > 20
        assert torch.equal(runs[1][1].raster[p][d:T + d], runs[0][1].raster[p]), p
    # the readout is taken from the shifted step: the mean over steps 2..T+1 is the original's over 0..T-1
    assert torch.equal(runs[1][2], runs[0][2])
    g.populations["z"].bias = np.full(5, 0.1)
    assert retime(g).meta["retimed"]["inexact"] == ["population z: its bias acts from step 0, 2 step(s) before its input"]
