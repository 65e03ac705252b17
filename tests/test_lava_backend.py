"""Lava (Loihi2SimCfg, floating point) against the torch path, and no Lava process outlives a run,
whatever happens to it.

What float parity means, exactly (measured in these tests): the torch path in float64 gives the
same spike rasters, per-step, per-neuron and per-sample counts as Lava's float models, and a
readout equal to 1e-9. The membranes themselves agree only to the last bits (Lava's ``Sparse``
and ``Dense`` sum graded inputs in their own order, torch's matmul with fused multiply-adds), so
a spike could differ where a membrane lies within ~1e-13 of the threshold; none did. In float32
(``TorchNetwork``'s default dtype) a spike moves wherever a membrane lies within float32 rounding
of the threshold: a handful per million, bounded by FLOAT32_RASTER_TOLERANCE on a trained model."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from neurotep.backends.lava.plan import compile_graph
from neurotep.backends.lava.runner import run_lava
from neurotep.backends.torch import TorchNetwork
from neurotep.data import poisson_spikes_torch, rate_encode
from neurotep.errors import BackendError
from neurotep.graph import Connection, Graph, Population, ToroidalBuffer
from neurotep.graph.transforms import rate_to_spiking
from neurotep.neurons import lif_step
from neurotep.runner import ENCODER_SEED
from neurotep.variants import base

WORKER = "neurotep.backends.lava.worker"


def lava_processes() -> list[int]:
    """Processes of Lava simulations: the worker and its forked runtime processes share its cmdline."""
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    if WORKER.encode() in f.read():
                        pids.append(int(d))
            except OSError:
                pass
    return pids


@pytest.fixture(autouse=True)
def no_leftovers():
    yield
    for _ in range(20):  # killed processes may take a moment to be reaped
        if not lava_processes():
            break
        time.sleep(0.1)
    assert lava_processes() == [], "a Lava process outlived its run"


def _torch_raster(g, inputs, steps, ids, spiking_inputs=True):
    net = TorchNetwork(g, dtype=torch.float64)
    xs = {k: torch.as_tensor(v) for k, v in inputs.items()}
    _, rec, mean = net.run(lambda t: {k: v[t] for k, v in xs.items()}, steps, len(ids), sample_ids=torch.as_tensor(ids),
                           raster=True, readout=g.meta.get("output"), spiking_inputs=spiking_inputs)
    return rec, mean


def _compare(g, inputs, steps, ids, spiking_inputs=True, lava_out=None):
    """Torch float64 against Lava float: full rasters and every count (per step, neuron and sample:
    what ``neurotep run`` writes) equal for every population, the readout to 1e-9. Returns the
    number of spikes compared (``lava_out``, a list, receives Lava's recording and readout)."""
    rec_t, mean_t = _torch_raster(g, inputs, steps, ids, spiking_inputs)
    rec_l, readout, info = run_lava(g, inputs, steps, ids, spiking_inputs=spiking_inputs, raster=True)
    spiking = [p for p in rec_t.raster if g.populations[p].model != "input"]
    assert spiking, "nothing to compare"
    total = 0
    for p in rec_t.raster:
        lava = rec_l.raster[p].reshape(steps, len(ids), -1)
        assert torch.equal(rec_t.raster[p], lava), f"population {p}: spike trains differ"
        total += int(lava.sum())
    for kind in ("per_step", "per_neuron", "per_sample"):
        t, lv = getattr(rec_t, kind), getattr(rec_l, kind)
        assert set(t) == set(lv), kind
        for p in t:
            assert torch.equal(t[p].double(), lv[p].double()), f"population {p}: {kind} counts differ"
    if mean_t is not None:
        assert torch.allclose(mean_t, readout["mean"], atol=1e-9)
    if lava_out is not None:
        lava_out.extend([rec_l, readout])
    return total


@pytest.mark.parametrize("neuron", ["lif", "stochastic"])
def test_base_model_spikes_identically(neuron):
    g = rate_to_spiking(base.build(seed=0, hidden=(24,)), neuron=neuron, temperature=0.2)
    ids = np.array([3, 17, 250])
    x = np.random.default_rng(0).uniform(0, 1, (3, 64))
    total = _compare(g, {"x": rate_encode(x, 40, 1, ids).astype(np.float64)}, 40, ids)
    assert total > 100


@pytest.fixture(scope="module")
def trained_base():
    """The demo network at full size (64 inputs, 256 hidden units with their toroidal buffer, 10
    outputs fed back) trained by EqProp for 2 epochs on digits (about 94 % test accuracy), with
    the digits split: real weights and real activity, not a tiny graph that happens to agree."""
    from neurotep.data import load_dataset
    from neurotep.learning.train import train

    data = load_dataset("digits")
    return train(base.build(seed=0), data, epochs=2, progress=False).graph, data


# float32 against float64 (= Lava): the share of raster entries that may differ, and the
# predictions stay the same. Measured on the 40-epoch demo model, all 360 test images x 200 steps:
# LIF 12 entries (6 spikes one step apart, in 3 images) of 1,703,263 hidden spikes; stochastic
# neurons 78 entries in 4 images (after one flip an image's draws meet different membranes).
FLOAT32_RASTER_TOLERANCE = 1e-4


def _poisson(data, n, steps):
    ids = np.asarray(data.test_index[:n], dtype=np.int64)
    return ids, {"x": rate_encode(data.x_test[:n], steps, ENCODER_SEED, ids).astype(np.float64)}


@pytest.mark.slow
@pytest.mark.parametrize("neuron", ["lif", "stochastic"])
def test_trained_model_spikes_identically_in_float64(trained_base, neuron):
    """One Lava batch (64 test images, 200 steps, the CLI's Poisson encoding) of the trained
    network: torch float64 equals Lava float in every raster and count; torch float32 stays
    within FLOAT32_RASTER_TOLERANCE of it with the same predictions."""
    graph, data = trained_base
    g = rate_to_spiking(graph, neuron=neuron)
    steps = 200
    ids, inputs = _poisson(data, 64, steps)
    lava = []
    total = _compare(g, inputs, steps, ids, lava_out=lava)
    assert total > 100_000
    rec_l, readout = lava
    net = TorchNetwork(g)  # float32
    assert net.dtype == torch.float32
    xs = torch.as_tensor(inputs["x"], dtype=torch.float32)
    _, rec32, mean32 = net.run(lambda t: {"x": xs[t]}, steps, len(ids), sample_ids=torch.as_tensor(ids), raster=True,
                               readout="y")
    lava_h = rec_l.raster["h0"].reshape(rec32.raster["h0"].shape)
    assert int((rec32.raster["h0"] != lava_h).sum()) <= FLOAT32_RASTER_TOLERANCE * int(lava_h.sum())
    assert torch.equal(mean32.argmax(1), readout["mean"].argmax(1))


@pytest.mark.slow
@pytest.mark.parametrize("neuron", ["lif", "stochastic"])
def test_float32_stays_within_its_tolerance_on_the_whole_test_set(trained_base, neuron):
    """All 360 test images x 200 steps on torch: float32 against float64 (which the test above
    ties to Lava spike for spike). Inputs are identical; hidden rasters differ in at most
    FLOAT32_RASTER_TOLERANCE of the spikes; predictions are the same."""
    graph, data = trained_base
    g = rate_to_spiking(graph, neuron=neuron)
    ids = torch.as_tensor(np.asarray(data.test_index, dtype=np.int64))
    runs = {}
    for dtype in (torch.float32, torch.float64):
        xt = torch.as_tensor(data.x_test, dtype=dtype)
        _, rec, mean = TorchNetwork(g, dtype=dtype).run(
            lambda t: {"x": poisson_spikes_torch(xt, t, ENCODER_SEED, ids)}, 200, len(ids), sample_ids=ids,
            raster=True, readout="y")
        runs[dtype] = rec, mean
    (r32, m32), (r64, m64) = runs[torch.float32], runs[torch.float64]
    assert torch.equal(r32.raster["x"], r64.raster["x"])
    spikes = int(r64.raster["h0"].sum())
    assert spikes > 1_000_000
    assert int((r32.raster["h0"] != r64.raster["h0"]).sum()) <= FLOAT32_RASTER_TOLERANCE * spikes
    assert torch.equal(m32.argmax(1), m64.argmax(1))


def test_float64_lif_membrane_rounds_like_the_lava_model():
    """The torch LIF (snnTorch's Leaky) in float64 decays by beta itself, not by float32(beta):
    its membrane equals, bit for bit, neurotep's SubtractiveLIF float model on the same current
    (snnTorch keeps a plain-float beta as float32: 0.89999998, which moved it by 2.6e-7 in 60 steps)."""
    g = Graph()
    g.add(Population("x", 3, "input"))
    g.add(Population("a", 4, "lif", {"beta": 0.9, "threshold": 1.0, "reset": "subtract"}, bias=np.array([0.1, 0.0, 0.3, 0.05])))
    g.add(Connection("xa", "x", "a", np.array([[0.5, 0.25, 0.125]] * 4)))
    g.meta.update(input="x", output="a")
    net = TorchNetwork(g.validate(), dtype=torch.float64)
    x = torch.as_tensor(np.random.default_rng(0).uniform(0.2, 0.9, (2, 3)))
    st, w = net.init_state(2, static={"x": x}), net.effective_weights()
    v, s = np.zeros((2, 4)), np.zeros((2, 4))
    i = (x @ w["xa"].T + net.biases["a"]).detach().numpy()  # the current, as the network forms it
    with torch.no_grad():
        for _ in range(60):
            st = net.step(st, {"x": x}, w)
            s, v = lif_step(i, v, s, 0.9, 1.0, "subtract")
            assert np.array_equal(st.v["a"].numpy(), v) and np.array_equal(st.out["a"].numpy(), s)
    assert s.sum() > 0


def _random_graph(seed: int, model: str, reset: str, depth: int, delay: int) -> Graph:
    rs = np.random.default_rng(seed)
    n_in, n_a, n_b = rs.integers(3, 9), rs.integers(4, 12), rs.integers(2, 7)
    params = {"lif": {"beta": float(rs.uniform(0.5, 1.0)), "threshold": 1.0, "reset": reset},
              "stochastic": {"beta": float(rs.uniform(0.0, 0.9)), "threshold": 0.8, "temperature": 0.3,
                             "reset": reset, "seed": int(seed)}}[model]
    g = Graph()
    g.add(Population("x", int(n_in), "input"))
    g.add(Population("a", int(n_a), model, dict(params), bias=rs.uniform(-0.1, 0.3, n_a)))
    g.add(Population("b", int(n_b), "linear", {"damping": 0.5}, bias=rs.uniform(-0.2, 0.2, n_b)))
    g.add(Connection("xa", "x", "a", rs.uniform(-0.5, 1.5, (n_a, n_in)), delay=delay))
    g.add(Connection("aa", "a", "a", rs.uniform(-0.4, 0.4, (n_a, n_a)), delay=1))
    g.add(Connection("ab", "a", "b", rs.uniform(-1, 1, (n_b, n_a)), symmetric=True, delay=1 + (delay > 1)))
    if depth:
        g.add(ToroidalBuffer("torus_a", "a", depth, (0.7,), 0.15))
    g.meta.update(input="x", output="b")
    return g.validate()


CASES = [(0, "lif", "zero", 0, 1), (1, "lif", "subtract", 3, 1), (2, "stochastic", "zero", 2, 2),
         (3, "stochastic", "subtract", 5, 1), (4, "lif", "zero", 4, 3), (5, "lif", "subtract", 1, 2)]


@pytest.mark.slow
@pytest.mark.parametrize("seed,model,reset,depth,delay", CASES)
def test_random_graphs_spike_identically(seed, model, reset, depth, delay):
    g = _random_graph(seed, model, reset, depth, delay)
    ids = np.array([0, 5])
    x = np.random.default_rng(seed).uniform(0, 1, (2, g.populations["x"].size))
    total = _compare(g, {"x": rate_encode(x, 50, 1, ids).astype(np.float64)}, 50, ids)
    assert total > 20


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_htsep_grid_and_gates_spike_identically(reset, htsep_like):
    """N-D buffers and probabilistic gates on Lava (float): full rasters identical to torch float64
    for a batch of 3 over 40 steps, the readout (which the gated rate units drive) to 1e-9."""
    g = htsep_like(reset=reset)
    ids, steps = np.array([1, 4, 9]), 40
    x = np.random.default_rng(0).uniform(0, 1, (3, 6))
    inputs = {"x": rate_encode(x, steps, 1, ids).astype(np.float64)}
    assert _compare(g, inputs, steps, ids) > 300
    # The features matter: without the gates or the spatial kernel torch spikes differently.
    base_raster = _torch_raster(g, inputs, steps, ids)[0].raster["a"]
    for change in ("gate", "kernel"):
        h = htsep_like(reset=reset)
        if change == "gate":
            h.populations["a"].params["gate"] = 1.0
        else:
            b = h.buffers[0]
            b.shape, b.radius, b.decay = (), (), b.decay[:1]
        assert not torch.equal(_torch_raster(h.validate(), inputs, steps, ids)[0].raster["a"], base_raster), change


def test_plan_describes_the_spatial_kernel_in_words(htsep_like):
    g = htsep_like()
    for precision in ("float", "fixed"):
        doc = compile_graph(g, batch=2, precision=precision).describe()
        text = json.dumps(doc)  # JSON-friendly, and no (n, n) matrix in it
        assert len(text) < 6000
        row = next(p for p in doc["processes"] if p["name"] == "torus_a")
        assert row["shape"] == [40] and "synapses" not in row
        spatial = row["buffer"]["spatial"]
        assert spatial["grid"] == [4, 5] and spatial["radius"] == [1, 2]
        assert spatial["nonzeros_per_neuron"] == 3 * 5 and spatial["nonzeros"] == 20 * 15
        assert spatial["fixed_point_bits"] == (8 if precision == "fixed" else None)
        gates = {p["population"]: p.get("gate") for p in doc["processes"] if p["name"].startswith("pop_")}
        assert gates == {"x": None, "a": 0.6, "r": 0.5, "y": 0.7}
    one_d = compile_graph(_random_graph(1, "lif", "subtract", 3, 1)).describe()
    assert next(p for p in one_d["processes"] if p["name"] == "torus_a")["buffer"] == {"depth": 3, "spatial": None}


def test_rate_units_match_within_float_tolerance():
    g = base.build(seed=1, hidden=(16,), n_in=8, n_out=4)
    x = np.random.default_rng(1).uniform(0, 1, (2, 8))
    steps = 60
    net = TorchNetwork(g, dtype=torch.float64)
    xt = torch.as_tensor(x)
    st = net.init_state(2)
    w = net.effective_weights()
    with torch.no_grad():
        for _ in range(steps):
            st = net.step(st, {"x": xt}, w)
    _, readout, _ = run_lava(g, {"x": np.broadcast_to(x, (steps, 2, 8)).copy()}, steps, np.arange(2), spiking_inputs=False)
    assert torch.allclose(st.out["y"], readout["last"], atol=1e-10)


def test_delay_zero_cannot_compile():
    g = Graph()
    g.add(Population("x", 2, "input"))
    g.add(Population("a", 2, "lif", {}))
    g.add(Connection("xa", "x", "a", np.eye(2), delay=0))
    g.meta.update(input="x", output="a")
    with pytest.raises(BackendError, match="delay 0, which Lava cannot express"):
        compile_graph(g)


def test_bad_inputs_are_rejected_before_running():
    g = rate_to_spiking(base.build(seed=0, hidden=(8,), n_in=4, n_out=2))
    with pytest.raises(BackendError, match=r"shape \(frames, 1, 4\)"):
        run_lava(g, {"x": np.zeros((10, 1, 5))}, 10, np.array([0]))
    with pytest.raises(BackendError, match="finite"):
        run_lava(g, {"x": np.full((10, 1, 4), np.nan)}, 10, np.array([0]))


def test_failure_in_the_worker_is_one_clear_line():
    # tanh units have no fixed-point form, and only the worker compiles the plan: its error comes
    # back as one line and nothing of the simulation survives.
    g = base.build(seed=0, hidden=(8,), n_in=4, n_out=2)
    g.populations["h0"].model = "tanh"
    with pytest.raises(BackendError, match="the Lava simulation failed") as e:
        run_lava(g, {"x": np.zeros((1, 1, 4))}, 10, np.array([0]), spiking_inputs=False, precision="fixed")
    assert "\n" not in str(e.value)


def test_timeout_stops_the_simulation():
    g = rate_to_spiking(base.build(seed=0, hidden=(8,), n_in=4, n_out=2))
    steps = 200_000
    with pytest.raises(BackendError, match="did not finish within"):
        run_lava(g, {"x": np.zeros((1, 1, 4))}, steps, np.array([0]), timeout=4)


@pytest.mark.slow
def test_ctrl_c_leaves_no_lava_process(tmp_path):
    script = textwrap.dedent("""
        import numpy as np
        from neurotep.backends.lava.runner import run_lava
        from neurotep.graph.transforms import rate_to_spiking
        from neurotep.variants import base
        g = rate_to_spiking(base.build(seed=0, hidden=(8,), n_in=4, n_out=2))
        print("start", flush=True)
        run_lava(g, {"x": np.zeros((1, 1, 4))}, 500000, np.array([0]))
    """)
    # SIG_DFL: a suite started in the background of a non-interactive shell ignores SIGINT, and so
    # would the child, which Ctrl-C then could not stop; a user's terminal delivers it
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert p.stdout.readline().strip() == "start"
    deadline = time.time() + 60
    while not lava_processes() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(2.0)  # let Lava start its runtime processes
    assert lava_processes(), "the simulation never started"
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode != 0 and "KeyboardInterrupt" in err
