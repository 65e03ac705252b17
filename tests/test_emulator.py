"""The Loihi 2 emulator (``run --backend emulator``) and the accumulation kernels it and the
torch path choose (neurotep.backends.torch.accumulate)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neurotep.backends.torch import TorchNetwork
from neurotep.backends.torch.accumulate import Synapses, event_matmul
from neurotep.backends.torch.fixed import FixedNetwork
from neurotep.cli import main
from neurotep.data import load_digits_split
from neurotep.errors import BackendError, MismatchError
from neurotep.graph import Connection, Graph, Population
from neurotep.graph.chip import chip_form
from neurotep.graph.transforms import rate_to_spiking
from neurotep.quantize import quantize
from neurotep.runner import run_model
from neurotep.variants import base


@settings(max_examples=60, deadline=None, derandomize=True)
@given(pre=st.integers(1, 40), post=st.integers(1, 12), batch=st.integers(1, 5), wmax=st.sampled_from([3, 255, 2**20, 2**40]),
       graded=st.booleans(), xmax=st.sampled_from([1, 2**10, 2**30]), p=st.floats(0, 1), seed=st.integers(0, 2**16),
       events=st.sampled_from(["auto", "always", "never"]), diag=st.booleans())
def test_every_integer_kernel_gives_the_int64_product(pre, post, batch, wmax, graded, xmax, p, seed, events, diag):
    """float32 / float64 BLAS, events and elementwise kernels all return exactly ``x @ w`` in
    int64, including where the float bound is exceeded (the int64 fallback takes over)."""
    g = torch.Generator().manual_seed(seed)
    if diag:
        post = pre
    w = torch.randint(-wmax, wmax + 1, (pre, post), generator=g)
    if diag:
        w = torch.diag(torch.diagonal(w))
    on = torch.rand(batch, pre, generator=g) < p
    x = on * (torch.randint(-xmax, xmax + 1, (batch, pre), generator=g) if graded else 1)
    syn = Synapses(w, spikes=not graded, diagonal=diag, events=events)
    assert torch.equal(syn(x), x @ w)


def test_blas_is_taken_only_where_it_is_exact():
    small = Synapses(torch.full((100, 4), 127), spikes=True)
    assert small.dense[0] == torch.float32  # column sums 12700 < 2**24
    wide = Synapses(torch.full((100, 4), 2**20), spikes=True)
    assert wide.dense[0] == torch.float64
    huge = Synapses(torch.full((100, 4), 2**50), spikes=True)
    assert huge.dense is None  # int64 only
    x = torch.ones(2, 100, dtype=torch.int64) * 2**40  # graded and too wide for float64 with these weights
    assert torch.equal(Synapses(torch.full((100, 4), 2**10), spikes=False)(x), x @ torch.full((100, 4), 2**10))


def test_events_run_only_at_low_activity():
    w = torch.arange(20.0).reshape(5, 4)
    assert event_matmul(torch.ones(3, 5), w, 0.5) is None  # all active: the dense product is cheaper
    x = torch.zeros(3, 5)
    x[1, 2] = x[2, 4] = 1
    assert torch.equal(event_matmul(x, w, 0.5), x @ w)


def _big_spiking_graph(n=600, seed=0):
    """A recurrent LIF population big enough for the event kernel under "auto"."""
    rs = np.random.default_rng(seed)
    g = Graph()
    g.add(Population("x", 16, "input"))
    g.add(Population("h", n, "lif", {"beta": 0.9, "threshold": 1.0, "reset": "subtract"}))
    g.add(Population("y", 4, "linear", {"damping": 0.5}))
    g.add(Connection("xh", "x", "h", rs.normal(0, 0.6, (n, 16))))
    mask = rs.random((n, n)) < 0.08
    g.add(Connection("hh", "h", "h", rs.normal(0, 0.15, (n, n)) * mask, mask=mask))
    g.add(Connection("hy", "h", "y", rs.normal(0, 0.1, (4, n))))
    g.meta.update(input="x", output="y")
    return g.validate()


def test_the_event_kernel_gives_the_same_spikes_in_fixed_point_and_float():
    g = _big_spiking_graph()
    gen = torch.Generator().manual_seed(1)
    frames = (torch.rand(40, 3, 16, generator=gen) < 0.2).to(torch.int64)
    runs = {}
    for mode in ("always", "never"):
        net = FixedNetwork(quantize(g), events=mode)
        runs[mode] = net.run(lambda t: {"x": frames[t]}, 40, 3, raster=True, readout="y")
    (a, ma), (b, mb) = runs["always"], runs["never"]
    assert a.raster["h"].any() and torch.equal(a.raster["h"], b.raster["h"]) and torch.equal(ma, mb)
    auto = FixedNetwork(quantize(g)).syn
    assert [k for k, s in auto.items() if s.events] == [("hh", False), ("hy", False)]
    assert [k for k, s in auto.items() if s.csr is not None] == [("hh", False)]  # 8 % of its synapses kept
    rec_auto, m_auto = FixedNetwork(quantize(g)).run(lambda t: {"x": frames[t]}, 40, 3, raster=True, readout="y")
    assert torch.equal(rec_auto.raster["h"], b.raster["h"]) and torch.equal(m_auto, mb)
    floats = {}
    for mode in ("always", "auto", "never"):  # auto: the sparse hh as CSR, the rest by activity
        net = TorchNetwork(g, dtype=torch.float64, events=mode)
        assert net._sparse_names == (set() if mode == "never" else {"hh"})
        floats[mode] = net.run(lambda t: {"x": frames[t].double()}, 40, 3, raster=True, readout="y")
    _, rn, fn = floats["never"]
    assert rn.raster["h"].any()
    for mode in ("always", "auto"):
        _, r, f = floats[mode]
        assert torch.equal(r.raster["h"], rn.raster["h"]) and torch.allclose(f, fn, atol=1e-12), mode


def test_the_emulator_runs_the_chip_form_in_fixed_point_and_matches_lava(tmp_path, capsys):
    """``run --backend emulator --check-lava N``: the chip form's Loihi 2 semantics on torch, and the
    first N samples re-run on Lava with identical spikes (recorded in run.json)."""
    from neurotep.graph import save_graph

    save_graph(base.build(seed=0, hidden=(24,)), tmp_path / "m")
    assert main(["run", str(tmp_path / "m"), "--backend", "emulator", "--samples", "5", "--steps", "25",
                 "--check-lava", "2", "--out", str(tmp_path / "r"), "--json"]) == 0
    doc = json.loads((tmp_path / "r" / "run.json").read_text())
    assert (doc["backend"], doc["executed_on"], doc["precision"], doc["mode"], doc["form"]) == \
        ("emulator", "emulator-cpu", "fixed", "spiking", "chip")
    check = doc["check_lava"]
    assert check["identical"] and check["samples"] == 2 and check["spikes_compared"] > 0 and "h0" in check["populations"]


def test_a_mismatch_with_lava_exits_1_naming_the_first_differing_spike(tmp_path, monkeypatch, capsys):
    """The emulator's raster is tampered with at one spike (Lava runs untouched in its own
    process): the check names that step, population, sample and neuron, and nothing is written."""
    from neurotep.graph import save_graph

    real = FixedNetwork.run

    def flipped(self, *a, **kw):
        rec, *rest = real(self, *a, **kw)
        if rec.raster:
            rec.raster["h0"][7, 1, 3] = ~rec.raster["h0"][7, 1, 3]
        return (rec, *rest)

    monkeypatch.setattr(FixedNetwork, "run", flipped)
    with pytest.raises(MismatchError, match=r"step 7, population 'h0', sample \d+ \(test index\), neuron 3"):
        run_model(base.build(seed=0, hidden=(24,)), load_digits_split(), backend="emulator", samples=3, steps=12,
                  check_lava=2)
    save_graph(base.build(seed=0, hidden=(24,)), tmp_path / "m")
    capsys.readouterr()
    assert main(["run", str(tmp_path / "m"), "--backend", "emulator", "--samples", "3", "--steps", "12",
                 "--check-lava", "2", "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "differ first at step 7" in err[0]
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("args, message", [
    (["--precision", "float"], "the emulator runs Loihi 2's fixed point only"),
    (["--check-lava", "2", "--backend", "torch"], "--check-lava compares an emulator run with Lava"),
    (["--check-lava", "9", "--samples", "3"], "--check-lava must be between 1 and the 3 samples"),
    (["--hardware", "loihi2"], "--hardware loihi2 needs --backend lava"),
])
def test_emulator_misuse_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    from neurotep.graph import save_graph

    save_graph(base.build(seed=0, hidden=(8,)), tmp_path / "m")
    argv = ["run", str(tmp_path / "m"), "--out", str(tmp_path / "r")] + args
    if "--backend" not in args:
        argv += ["--backend", "emulator"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given when no GPU is present")
def test_cuda_without_a_gpu_names_the_cpu_fallback_before_any_work():
    with pytest.raises(BackendError, match="no CUDA GPU is available here; use --device cpu"):
        run_model(base.build(seed=0, hidden=(8,)), load_digits_split(), backend="emulator", samples=2, device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_the_emulator_on_cuda_gives_the_cpu_spikes():
    g, data = base.build(seed=0, hidden=(24,)), load_digits_split()
    cpu, gpu = (run_model(g, data, backend="emulator", samples=8, steps=30, device=d) for d in ("cpu", "cuda"))
    for p in cpu.recording.per_neuron:
        assert torch.equal(cpu.recording.per_neuron[p].cpu(), gpu.recording.per_neuron[p].cpu()), p


def test_the_chip_form_of_every_connection_kind_takes_a_cheap_kernel():
    """Buffer taps and leaks of the chip form are one-to-one: elementwise, not N x N matmuls."""
    net = FixedNetwork(quantize(chip_form(rate_to_spiking(base.build(seed=0, hidden=(24,))))))
    kinds = {k[0]: ("diag" if s.diag is not None else "dense" if s.dense else "int64") for k, s in net.syn.items()}
    assert all(v == "diag" for k, v in kinds.items() if "_tap" in k or k.endswith("_leak")), kinds
    assert all(v == "dense" for k, v in kinds.items() if "_tap" not in k and not k.endswith("_leak")), kinds


@pytest.mark.parametrize("learn", [False, True])
def test_a_large_torus_applies_its_kernel_axis_by_axis_with_the_dense_result(learn):
    """A 16 x 16 torus (256 neurons) takes the separable kernel: the same relaxation and the same
    EqProp buffer energy as the (N, N) Kronecker matrix, to float64 rounding."""
    from neurotep.backends.torch.accumulate import SeparableKernel
    from neurotep.graph import ToroidalBuffer
    from neurotep.learning.eqprop import buffer_energy

    rs = np.random.default_rng(0)
    g = Graph()
    g.add(Population("x", 8, "input"))
    g.add(Population("h", 256, "hard_sigmoid", {"damping": 0.5}))
    g.add(Connection("xh", "x", "h", rs.normal(0, 0.5, (256, 8))))
    g.add(ToroidalBuffer("t", "h", 2, (0.6, 0.5, 0.4), 0.03, shape=(16, 16), radius=(2, 1), learn=learn))
    g.meta.update(input="x", output="h")
    net = TorchNetwork(g.validate(), dtype=torch.float64)
    taps, kernel = net.torus_weights()["h"]
    assert isinstance(kernel, SeparableKernel)
    dense = torch.as_tensor(g.buffers[0].spatial_kernel())
    assert torch.allclose(kernel.dense(), dense, atol=1e-15)
    s = torch.rand(5, 256, dtype=torch.float64)
    assert torch.allclose(s @ kernel, s @ dense, atol=1e-12)
    e = buffer_energy(net, "h", s)
    assert torch.allclose(e, -0.5 * sum(taps) * ((s @ dense) * s).sum(1), atol=1e-12)


def test_the_inference_kernels_follow_a_weight_update():
    """run() caches its event and CSR kernels per parameter version: an in-place update (what an
    optimiser step does) must be seen by the next run."""
    g = _big_spiking_graph()
    net = TorchNetwork(g, dtype=torch.float64)
    frames = (torch.rand(20, 2, 16, generator=torch.Generator().manual_seed(3)) < 0.3).double()
    _, first, _ = net.run(lambda t: {"x": frames[t]}, 20, 2)
    assert first.per_neuron["h"].sum() > 0 and net._kernel_cache[2]  # the CSR kernel of hh was built
    with torch.no_grad():
        net.weights["xh"].mul_(0.0)
        net.weights["hh"].mul_(0.0)
    _, second, _ = net.run(lambda t: {"x": frames[t]}, 20, 2)
    assert second.per_neuron["h"].sum() == 0


@pytest.mark.slow
def test_the_emulator_benchmark_runs_and_reports_identical_spikes(quick_benchmark):
    out, res = quick_benchmark("emulator", timeout=600)
    assert "Lava / emulator" in out and "goals:" in out
    assert all(r["identical_spikes"] and r["spikes"] > 0 for r in res["emulator_vs_lava"])
    assert {r["activity"] for r in res["torch_vs_snntorch"]} == {0.01, 0.10, 0.30}
    assert all(r["neurons_with_other_counts"] == 0 for r in res["torch_vs_snntorch"])
    assert res["scaling_fit"]["neurotep_us_per_step"]["us_per_million_events"] > 0
