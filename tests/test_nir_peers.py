"""``compile --to nir --for snntorch|norse``: files that the peers' own importers load and run
(``snntorch.import_nir.import_from_nir``, ``norse.torch.from_nir``), with no neurotep code on
their side. The peer form (:func:`neurotep.interop.nir.peers.peer_form`) gives the same spikes in
the peer as on neurotep's torch path, raster for raster; against the model as trained it changes
timing, reset and buffer taps, so there the test split's accuracy is compared (within 1 point)."""

from __future__ import annotations

import contextlib
import io

import nir
import numpy as np
import pytest
import torch

from neurotep.backends.torch.network import TorchNetwork
from neurotep.cli import main
from neurotep.graph import save_graph
from neurotep.interop.nir.peers import peer_form
from neurotep.variants import base

T, B = 60, 4


pytestmark = pytest.mark.usefixtures("quiet_peers")


def load_in_peer(path, peer: str) -> torch.nn.Module:
    """The peer's own importer, as its docs call it (snnTorch's prints as it goes)."""
    if peer == "snntorch":
        from snntorch.import_nir import import_from_nir

        with contextlib.redirect_stdout(io.StringIO()):
            return import_from_nir(nir.read(path))
    import norse.torch as norse

    return norse.from_nir(str(path), dt=1e-4)


def peer_run(model: torch.nn.Module, x: np.ndarray, neuron_cls) -> tuple[np.ndarray, np.ndarray]:
    """Step the peer's model; returns its output at every step and the spikes of its neurons."""
    mods = [m for m in model.modules() if isinstance(m, neuron_cls)]
    assert len(mods) == 1
    spikes: list[np.ndarray] = []
    hook = mods[0].register_forward_hook(lambda m, i, o: spikes.append((o[0] if isinstance(o, tuple) else o).numpy() > 0))
    state, outs = None, []
    with torch.no_grad():
        for t in range(len(x)):
            out, state = model(torch.as_tensor(x[t], dtype=torch.float32), state)
            outs.append(out.numpy())
    hook.remove()
    return np.stack(outs), np.stack(spikes)


def neuron_class(peer: str):
    if peer == "snntorch":
        import snntorch as snn

        return snn.Leaky
    from norse.torch.module.iaf import IAFCell

    return IAFCell


@pytest.mark.parametrize("peer", ["snntorch", "norse"])
def test_export_runs_in_the_peer_with_the_peer_forms_spikes(tmp_path, peer):
    """The base model's structure (input -> integrate-and-fire layer with a toroidal buffer <->
    graded output, fed back): the same hidden raster and outputs in the peer as neurotep's torch
    path gives for the peer form."""
    g = base.build(64, 10, seed=0, hidden=[32])
    g.connections[0].weight *= 4  # an untrained net: make it spike
    save_graph(g, tmp_path / "m" / "model")
    out = tmp_path / f"{peer}.nir"
    assert main(["compile", str(tmp_path / "m"), "--to", "nir", "--for", peer, "--out", str(out)]) == 0
    x = (np.random.default_rng(1).random((T, B, 64)) < 0.3).astype(np.float32)
    form, _ = peer_form(g, peer)
    _, rec, _ = TorchNetwork(form).run(lambda t: {"x": torch.as_tensor(x[t])}, T, B, raster=True)
    outs, spikes = peer_run(load_in_peer(out, peer), x, neuron_class(peer))
    ref = rec.raster["h0"].numpy()
    assert ref.sum() > 500
    np.testing.assert_array_equal(spikes, ref)
    # the graded readout, step by step: the same recurrence, float32 sums in another order
    _, _, mean = TorchNetwork(form).run(lambda t: {"x": torch.as_tensor(x[t])}, T, B, readout="y")
    np.testing.assert_allclose(outs.mean(0), mean.numpy(), rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def trained_small_base():
    """The base model (toroidal buffer, symmetric feedback, graded output) with 64 hidden units,
    trained by EqProp for 3 epochs on digits (about 87 % spiking test accuracy; ~8 s)."""
    from neurotep.data import load_dataset
    from neurotep.learning.train import train

    data = load_dataset("digits")
    return train(base.build(seed=0, hidden=[64]), data, epochs=3, progress=False).graph, data


@pytest.mark.parametrize("peer", ["snntorch", "norse"])
def test_trained_base_model_keeps_its_accuracy_in_the_peer(tmp_path, trained_small_base, peer):
    from neurotep.data import rate_encode
    from neurotep.runner import ENCODER_SEED, run_model

    g, data = trained_small_base
    ours = run_model(g, data, spiking=True).summary  # the model as trained: delays, subtractive reset, K taps
    save_graph(g, tmp_path / "m" / "model")
    out = tmp_path / "base.nir"
    assert main(["compile", str(tmp_path / "m"), "--to", "nir", "--for", peer, "--out", str(out)]) == 0
    ids = np.asarray(data.test_index, dtype=np.int64)
    x = rate_encode(data.x_test, ours["steps"], ENCODER_SEED, ids)  # the same input spikes as neurotep's run
    outs, _ = peer_run(load_in_peer(out, peer), x, neuron_class(peer))
    acc = float((outs.mean(0).argmax(1) == data.y_test).mean())
    assert ours["test_accuracy"] > 0.8
    assert abs(acc - ours["test_accuracy"]) <= 0.01, (peer, acc, ours["test_accuracy"])


def test_what_has_no_peer_form_is_refused_in_one_line(tmp_path, capsys, htsep_like):
    from neurotep import variants

    save_graph(htsep_like(), tmp_path / "h" / "model")
    save_graph(variants.get("tepssr").build(16, 3, 0), tmp_path / "s" / "model")
    save_graph(base.build(16, 3, seed=0, hidden=[8]), tmp_path / "b" / "model")
    cases = [(["h", "--for", "snntorch"], "population 'a': stochastic"),
             (["s", "--for", "norse"], "stage"),
             (["b", "--for", "snntorch", "--dt", "1e-3"], "hard-codes dt = 0.0001"),
             (["b", "--for", "brian"], "unknown peer 'brian'")]
    for (model, *rest), words in cases:
        out = tmp_path / f"{model}.nir"
        assert main(["compile", str(tmp_path / model), "--to", "nir", "--out", str(out), *rest]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err, err
        assert not out.exists()


@pytest.mark.parametrize("peer", ["snntorch", "norse"])
def test_every_variant_runs_in_the_peer_spike_for_spike_or_is_refused_in_one_line(tmp_path, peer):
    """Each registered variant's peer form, loaded by the peer's own importer, gives the hidden
    rasters and readout of neurotep's torch path on that form, or the export is refused in one line
    (HTSEP's stochastic neurons, TEP-SSR's stages; Norse: graphs its depth-first executor cannot
    order, i.e. more than one hidden layer)."""
    from neurotep import variants
    from neurotep.interop.nir import NIRError, export_peer_nir

    ran = []
    for row in variants.describe():
        g = variants.get(row["name"]).build(64, 10, 0)
        g.connections[0].weight *= 4
        path = tmp_path / f"{row['name']}.nir"
        try:
            export_peer_nir(g, path, peer)
        except NIRError as e:
            assert "\n" not in str(e) and not path.exists()
            continue
        form, _ = peer_form(g, peer)
        x = (np.random.default_rng(1).random((30, 2, 64)) < 0.3).astype(np.float32)
        inp, out = form.meta["input"], form.meta["output"]
        _, rec, mean = TorchNetwork(form).run(lambda t: {inp: torch.as_tensor(x[t])}, 30, 2, raster=True, readout=out)
        model = load_in_peer(path, peer)
        cls = neuron_class(peer)
        names = {m: n.split("_", 1)[1] for n, m in model.named_modules() if isinstance(m, cls)}
        spikes: dict[str, list] = {p: [] for p in names.values()}
        for m, p in names.items():
            m.register_forward_hook(lambda m, i, o, p=p: spikes[p].append((o[0] if isinstance(o, tuple) else o).numpy() > 0))
        state, outs = None, []
        with torch.no_grad():
            for t in range(30):
                o, state = model(torch.as_tensor(x[t]), state)
                outs.append(o.numpy())
        assert names, row["name"]
        for p, s in spikes.items():
            np.testing.assert_array_equal(np.stack(s), rec.raster[p].numpy(), err_msg=f"{row['name']} {p}")
        np.testing.assert_allclose(np.mean(outs, 0), mean.numpy(), rtol=1e-5, atol=1e-6)
        ran.append(row["name"])
    assert "toreqprop" in ran and ("mstep" in ran) == (peer == "snntorch")
