"""Reading what the peers write, through the CLI: Norse's files with batched sample shapes,
snnTorch's missing reset mode, the file mode, spiking-only models in rate runs, the dt trap, and
bad files (one line naming the node, exit 2, no model directory)."""

from __future__ import annotations

import os

import nir
import numpy as np
import pytest
import torch

from neurotep.backends.torch.network import TorchNetwork
from neurotep.cli import main
from neurotep.graph import save_graph
from neurotep.interop.nir import import_nir
from neurotep.variants import base

T, B = 40, 3


pytestmark = pytest.mark.usefixtures("quiet_peers")


def _norse_net(cell: str):
    import norse.torch as norse
    from norse.torch.module.iaf import IAFCell, IAFParameters
    from norse.torch.module.lif_box import LIFBoxCell, LIFBoxParameters

    torch.manual_seed(0)
    lin = torch.nn.Linear(64, 16)
    with torch.no_grad():
        lin.weight.mul_(30 if cell == "lif" else 2)
    c = LIFBoxCell(LIFBoxParameters(tau_mem_inv=torch.full((16,), 100.0), v_th=torch.full((16,), 1.0), v_leak=torch.zeros(16))) \
        if cell == "lif" else IAFCell(IAFParameters(v_th=torch.full((16,), 1.0), v_reset=torch.zeros(16)))
    return norse.SequentialState(lin, c), c


@pytest.mark.parametrize("cell", ["lif", "if"])
def test_norse_files_with_batched_sample_data_import_with_norses_spikes(tmp_path, cell):
    """``to_nir(net, torch.zeros(1, 64))``, as Norse's docs call it, records Input/Output types of
    shape [1, 64]; nir's own type check refuses that file, neurotep reads it (and Norse's IAFCell,
    which adds its input unscaled, with the same spikes)."""
    import norse.torch as norse

    net, c = _norse_net(cell)
    path = tmp_path / "norse.nir"
    nir.write(path, norse.to_nir(net, torch.zeros(1, 64)))
    with pytest.raises(ValueError, match="type mismatch"):
        nir.read(path)
    x = (np.random.default_rng(0).random((T, B, 64)) < 0.3).astype(np.float32)
    spikes = []
    c.register_forward_hook(lambda m, i, o: spikes.append(o[0].detach().numpy() > 0))
    state = None
    with torch.no_grad():
        for t in range(T):
            _, state = net(torch.as_tensor(x[t]), state)
    g = import_nir(path, producer="norse")
    _, rec, _ = TorchNetwork(g).run(lambda t: {g.meta["input"]: torch.as_tensor(x[t])}, T, B, raster=True)
    ref = np.stack(spikes)
    assert ref.sum() > 50
    np.testing.assert_array_equal(rec.raster["1"].numpy(), ref)


def test_dt_error_points_to_the_producer(tmp_path, capsys):
    """--dt 1e-3 alone reads Norse's dt-scaled tau as the NIR standard (beta < 0)."""
    import norse.torch as norse

    net, _ = _norse_net("lif")
    path = tmp_path / "norse.nir"
    nir.write(path, norse.to_nir(net, torch.zeros(1, 64)))
    assert main(["import-nir", str(path), "--out", str(tmp_path / "m"), "--dt", "1e-3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "NIR node '1'" in err and "--producer norse" in err
    assert not (tmp_path / "m").exists()


def _snntorch_file(tmp_path):
    import snntorch as snn
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 16), snn.Leaky(beta=torch.full((16,), 0.9), threshold=torch.full((16,), 1.0),
                                                                init_hidden=True),
                              torch.nn.Linear(16, 10), snn.Leaky(beta=torch.full((10,), 0.8), threshold=torch.full((10,), 1.0),
                                                                 init_hidden=True, output=True))
    path = tmp_path / "snn.nir"
    nir.write(path, export_to_nir(net, torch.zeros(1, 64), ignore_dims=[0]))
    return path


def test_snntorch_import_says_the_reset_is_not_in_the_file_and_rate_runs_say_why_nothing_spikes(tmp_path, capsys):
    path = _snntorch_file(tmp_path)
    assert main(["import-nir", str(path), "--out", str(tmp_path / "m"), "--producer", "snntorch"]) == 0
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "reset" in notes[0] and "--reset subtract" in notes[0]
    assert main(["import-nir", str(path), "--out", str(tmp_path / "s"), "--producer", "snntorch", "--reset", "subtract"]) == 0
    assert "note:" not in capsys.readouterr().out
    # a rate run of this spiking-only model used to report 0 spikes and accuracy 0
    assert main(["run", str(tmp_path / "m"), "--out", str(tmp_path / "r"), "--samples", "4"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "populations 1, 3 are spiking" in err and "--spiking" in err
    assert not (tmp_path / "r").exists()


def test_nir_files_are_written_with_the_users_umask(tmp_path):
    save_graph(base.build(16, 3, seed=0, hidden=[8]), tmp_path / "m" / "model")
    old = os.umask(0o027)
    try:
        for peer in ([], ["--for", "norse"]):
            out = tmp_path / f"m{len(peer)}.nir"
            assert main(["compile", str(tmp_path / "m"), "--to", "nir", "--out", str(out), *peer]) == 0
            assert os.stat(out).st_mode & 0o777 == 0o640
    finally:
        os.umask(old)


def _graph(nodes, edges):
    return nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([3])), **nodes, "output": nir.Output(output_type=np.array([4]))},
                        edges=[("input", "w"), *edges], type_check=False)


def _lif(n=4, **kw):
    p = dict(tau=np.full(n, 1e-3), r=np.full(n, 10.0), v_leak=np.zeros(n), v_threshold=np.ones(n))
    p.update(kw)
    return nir.LIF(**p)


W = np.random.default_rng(0).normal(0, 1, (4, 3))
BAD = {
    "unknown node": (_graph({"w": nir.Linear(weight=W), "thr": nir.Threshold(threshold=np.ones(4))},
                            [("w", "thr"), ("thr", "output")]), "'thr' of type Threshold is not supported"),
    "cycle without delay": (_graph({"w": nir.Linear(weight=W), "a": nir.Linear(weight=np.eye(4)), "b": nir.Linear(weight=np.eye(4)),
                                    "lif": _lif()},
                                   [("w", "a"), ("a", "b"), ("b", "a"), ("b", "lif"), ("lif", "output")]),
                            "cycle through 'a' with no neuron on it"),
    "mismatched shapes": (_graph({"w": nir.Linear(weight=W), "lif": _lif(5)}, [("w", "lif"), ("lif", "output")]),
                          "'w': weight shape (4, 3) does not connect 'input' (3) to 'lif' (5)"),
    "NaN parameter": (_graph({"w": nir.Linear(weight=W), "lif": _lif(v_threshold=np.array([1.0, np.nan, 1.0, 1.0]))},
                             [("w", "lif"), ("lif", "output")]), "'lif': v_threshold has non-finite values"),
    "NaN weight": (_graph({"w": nir.Linear(weight=np.where(W > 1, np.nan, W)), "lif": _lif()}, [("w", "lif"), ("lif", "output")]),
                   "'w': weight or bias has non-finite values"),
}


@pytest.mark.parametrize("case", BAD, ids=BAD)
def test_bad_files_give_one_line_naming_the_node_and_no_model_directory(tmp_path, capsys, case):
    g, words = BAD[case]
    path = tmp_path / "bad.nir"
    nir.write(path, g)
    assert main(["import-nir", str(path), "--out", str(tmp_path / "m"), "--dt", "1e-4"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err
    assert not (tmp_path / "m").exists()
