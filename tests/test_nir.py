"""NIR export/import at spike parity with snnTorch and Norse (neurotep.interop.nir).

Every parity test runs the same Bernoulli spike input through two simulators and compares full
spike rasters (time x sample x neuron), not only counts.
"""

from __future__ import annotations

import nir
import numpy as np
import pytest
import torch

from neurotep.backends.torch.network import TorchNetwork
from neurotep.cli import main
from neurotep.graph import Connection, Graph, Population, ToroidalBuffer, load_graph, save_graph
from neurotep.graph.transforms import rate_to_spiking
from neurotep.interop.nir import DT, NIRError, export_nir, fold_resistance, from_nir, import_nir, to_nir
from neurotep.variants import base
from peer_nets import snntorch_recurrent

T, B = 60, 4


pytestmark = pytest.mark.usefixtures("quiet_peers")


def spikes_in(n: int, seed: int = 1, p: float = 0.3) -> np.ndarray:
    return (np.random.default_rng(seed).random((T, B, n)) < p).astype(np.float32)


def neurotep_rasters(g: Graph, x: np.ndarray) -> dict[str, np.ndarray]:
    _, rec, _ = TorchNetwork(g).run(lambda t: {g.meta["input"]: torch.as_tensor(x[t])}, T, B, raster=True)
    return {k: v.numpy() for k, v in rec.raster.items()}


def lif_graph(seed: int = 0, if_layer: bool = False) -> Graph:
    """x -> h (LIF, beta 0.9, bias) -> y (LIF, beta 0.8, threshold 0.7) [-> z (IF)], all delay 0:
    NIR edges act within the step, so this is the timing NIR readers run."""
    rs = np.random.default_rng(seed)
    g = Graph()
    g.add(Population("x", 12, "input"))
    g.add(Population("h", 20, "lif", {"beta": 0.9, "threshold": 1.0, "reset": "zero"}, bias=rs.uniform(0, 0.2, 20)))
    g.add(Population("y", 5, "lif", {"beta": 0.8, "threshold": 0.7, "reset": "zero"}))
    g.add(Connection("W1", "x", "h", rs.normal(0, 0.6, (20, 12)), delay=0))
    g.add(Connection("W2", "h", "y", rs.normal(0, 0.6, (5, 20)), delay=0))
    out = "y"
    if if_layer:
        g.add(Population("z", 3, "lif", {"beta": 1.0, "threshold": 1.5, "reset": "zero"}))
        g.add(Connection("W3", "y", "z", rs.normal(0.3, 0.6, (3, 5)), delay=0))
        out = "z"
    g.meta.update(input="x", output=out)
    return g.validate()


def hooked_run(model, mods: dict[str, torch.nn.Module], x: np.ndarray, state_arg: bool = True) -> dict[str, np.ndarray]:
    """Run an imported model step by step; rasters of the neuron modules via forward hooks."""
    rec: dict[str, list] = {k: [] for k in mods}
    hooks = [m.register_forward_hook(lambda m, i, o, k=k: rec[k].append(
        (o[0] if isinstance(o, tuple) else o).detach().numpy() > 0)) for k, m in mods.items()]
    state = None
    with torch.no_grad():
        for t in range(T):
            if state_arg:
                _, state = model(torch.as_tensor(x[t]), state)
            else:
                model(torch.as_tensor(x[t]))
    for h in hooks:
        h.remove()
    return {k: np.stack(v) for k, v in rec.items()}


def modules_named(model, cls) -> dict[str, torch.nn.Module]:
    return {n: m for n, m in model.named_modules() if isinstance(m, cls)}


# -- neurotep -> NIR -> snnTorch / Norse ------------------------------------------------------------
def test_export_writes_per_neuron_vectors_and_bias():
    g, notes = to_nir(lif_graph(if_layer=True))
    assert notes == []  # delay 0 everywhere: no Delay node, nothing for the reader to know
    h, y, z = g.nodes["h"], g.nodes["y"], g.nodes["z"]
    assert isinstance(h, nir.LIF) and isinstance(z, nir.IF)
    for node, n in ((h, 20), (y, 5)):
        for f in ("tau", "r", "v_leak", "v_threshold", "v_reset"):
            assert getattr(node, f).shape == (n,)
    # beta = 1 - dt / tau and the input gain r dt / tau = 1: neurotep's v <- beta v + i.
    np.testing.assert_allclose(1 - DT / y.tau, 0.8, rtol=1e-12)
    np.testing.assert_allclose(y.r * DT / y.tau, 1.0, rtol=1e-12)
    np.testing.assert_allclose(z.r * DT, 1.0)  # NIR's IF: dv/dt = r I
    assert isinstance(g.nodes["conn.W1"], nir.Affine) and isinstance(g.nodes["conn.W2"], nir.Linear)
    np.testing.assert_array_equal(g.nodes["conn.W1"].bias, lif_graph().populations["h"].bias)


def test_export_runs_in_snntorch_with_the_same_spikes():
    import snntorch as snn
    from snntorch.import_nir import import_from_nir

    g = lif_graph()
    x = spikes_in(12)
    ref = neurotep_rasters(g, x)
    model = import_from_nir(to_nir(g)[0])
    mods = modules_named(model, snn.Leaky)
    assert set(mods) == {"h", "y"}
    for m in mods.values():
        m.reset_mem()
    got = hooked_run(model, mods, x)
    for k in ("h", "y"):
        assert ref[k].sum() > 50
        np.testing.assert_array_equal(got[k], ref[k])


def test_export_runs_in_norse_with_the_same_spikes_once_r_is_folded():
    import norse.torch as norse
    from norse.torch.module.iaf import IAFCell
    from norse.torch.module.lif_box import LIFBoxCell

    g = lif_graph(if_layer=True)
    x = spikes_in(12)
    ref = neurotep_rasters(g, x)
    ng = to_nir(g)[0]
    model = norse.from_nir(fold_resistance(ng), dt=DT)
    got = hooked_run(model, {**modules_named(model, LIFBoxCell), **modules_named(model, IAFCell)}, x)
    for k in ("h", "y", "z"):
        assert ref[k].sum() > 20
        np.testing.assert_array_equal(got[k], ref[k])
    # The trap: Norse 1.1 ignores LIF.r, so the unfolded file integrates (1 - beta) times the input.
    raw = norse.from_nir(ng, dt=DT)
    assert not np.array_equal(hooked_run(raw, modules_named(raw, LIFBoxCell), x)["h"], ref["h"])


# -- snnTorch / Norse -> NIR -> neurotep ------------------------------------------------------------
def _snntorch_net(reset: str):
    import snntorch as snn

    torch.manual_seed(0)
    lin1, lin2 = torch.nn.Linear(10, 16), torch.nn.Linear(16, 4)
    with torch.no_grad():
        lin1.weight.mul_(3)
        lin2.weight.mul_(3)
    # Per-neuron vectors: with a scalar beta snnTorch 1.0's export_to_nir writes 0-d parameters
    # that nir 1.0.8's type inference rejects, and a vector beta with a scalar threshold trips
    # nir.LIF's same-shape assertion.
    l1 = snn.Leaky(beta=torch.full((16,), 0.85), threshold=torch.full((16,), 0.9), init_hidden=True, reset_mechanism=reset)
    l2 = snn.Leaky(beta=torch.full((4,), 0.7), threshold=torch.linspace(0.8, 1.4, 4), init_hidden=True, output=True,
                   reset_mechanism=reset)
    return torch.nn.Sequential(lin1, l1, lin2, l2), l1, l2


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_snntorch_export_imports_with_the_same_spikes(reset):
    from snntorch import utils
    from snntorch.export_nir import export_to_nir

    net, l1, l2 = _snntorch_net(reset)
    ng = export_to_nir(net, torch.zeros(1, 10), ignore_dims=[0])
    x = spikes_in(10, p=0.4)
    utils.reset(net)
    ref = hooked_run(net, {"1": l1, "3": l2}, x, state_arg=False)
    # snnTorch writes v_reset = 0 whatever the Leaky's reset_mechanism: say it on import.
    g = from_nir(ng, producer="snntorch", reset=reset)
    assert g.populations["1"].param("reset") == reset
    assert g.populations["3"].param("threshold") == 1.0  # per-neuron thresholds folded into the weights
    got = neurotep_rasters(g, x)
    for k in ("1", "3"):
        assert ref[k].sum() > 50
        np.testing.assert_array_equal(got[k], ref[k])


@pytest.mark.parametrize("cell", ["LIFBoxCell", "LIFCell"])
def test_norse_export_imports_with_the_same_spikes(cell):
    import norse.torch as norse
    from norse.torch.functional.lif import LIFParameters
    from norse.torch.module.lif import LIFCell
    from norse.torch.module.lif_box import LIFBoxCell, LIFBoxParameters

    torch.manual_seed(0)
    lin1, lin2 = torch.nn.Linear(10, 16), torch.nn.Linear(16, 4)
    with torch.no_grad():
        lin1.weight.mul_(30 if cell == "LIFBoxCell" else 10)
        lin2.weight.mul_(30 if cell == "LIFBoxCell" else 10)
        lin1.bias.mul_(10)
    # v_leak = 0: Norse starts every membrane at v_leak, neurotep at 0.
    if cell == "LIFBoxCell":  # exported as NIR LIF
        c1 = LIFBoxCell(LIFBoxParameters(tau_mem_inv=torch.full((16,), 100.0), v_th=torch.full((16,), 1.0), v_leak=torch.zeros(16)))
        c2 = LIFBoxCell(LIFBoxParameters(tau_mem_inv=torch.full((4,), 200.0), v_th=torch.linspace(0.6, 1.2, 4), v_leak=torch.zeros(4)))
    else:  # exported as NIR CubaLIF: imported as a synaptic-current population plus a LIF population
        c1 = LIFCell(LIFParameters(tau_syn_inv=torch.full((16,), 200.0), tau_mem_inv=torch.full((16,), 100.0),
                                   v_th=torch.full((16,), 1.0), v_leak=torch.zeros(16)))
        c2 = LIFCell(LIFParameters(tau_syn_inv=torch.full((4,), 250.0), tau_mem_inv=torch.full((4,), 150.0),
                                   v_th=torch.linspace(0.6, 1.2, 4), v_leak=torch.zeros(4)))
    net = norse.SequentialState(lin1, c1, lin2, c2)
    ng = norse.to_nir(net, torch.zeros(1, 10))
    x = spikes_in(10, p=0.4)
    ref = hooked_run(net, {"1": c1, "3": c2}, x)
    g = from_nir(ng, producer="norse")
    if cell == "LIFCell":
        assert g.populations["1_syn"].model == "linear" and g.connection("1_syn_to_1").delay == 0
    got = neurotep_rasters(g, x)
    for k in ("1", "3"):
        assert ref[k].sum() > 50
        np.testing.assert_array_equal(got[k], ref[k])
    # The trap: Norse's to_nir writes tau = dt * tau_mem, so the file read by the NIR standard
    # has beta = 1 - dt / tau < 0 with Norse's own dt.
    with pytest.raises(NIRError, match="beta|tau"):
        from_nir(ng, dt=1e-3)


def test_snntorch_recurrent_leaky_imports_with_a_one_step_recurrent_delay():
    from snntorch import utils
    from snntorch.export_nir import export_to_nir

    net, r1, out = snntorch_recurrent()
    ng = export_to_nir(net, torch.zeros(1, 10), ignore_dims=[0])
    x = spikes_in(10, p=0.4)
    utils.reset(net)
    ref = hooked_run(net, {"r": r1, "o": out}, x, state_arg=False)
    g = from_nir(ng, producer="snntorch", reset="subtract")
    rec = g.connection("1_w_rec")  # the delay-less LIF -> w_rec -> LIF loop: one step, as RLeaky feeds back spk_{t-1}
    assert (rec.pre, rec.post, rec.delay) == ("1_lif", "1_lif", 1) and g.populations["1_lif"].bias is not None
    got = neurotep_rasters(g, x)
    for mine, theirs in (("1_lif", "r"), ("3", "o")):
        assert ref[theirs].sum() > 10
        np.testing.assert_array_equal(got[mine], ref[theirs])


def test_snntorch_synaptic_export_imports_with_the_same_spikes():
    import snntorch as snn
    from snntorch import utils
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(1)
    # Subtractive reset: snnTorch's Synaptic with reset "zero" zeroes the whole step's membrane
    # after a spike (input included), which neither NIR's CubaLIF nor neurotep's zero reset does.
    s1 = snn.Synaptic(alpha=torch.full((16,), 0.8), beta=torch.full((16,), 0.9), threshold=torch.full((16,), 1.0),
                      init_hidden=True, reset_mechanism="subtract")
    s2 = snn.Synaptic(alpha=torch.full((4,), 0.7), beta=torch.full((4,), 0.85), threshold=torch.linspace(0.8, 1.3, 4),
                      init_hidden=True, output=True, reset_mechanism="subtract")
    net = torch.nn.Sequential(torch.nn.Linear(10, 16), s1, torch.nn.Linear(16, 4), s2)
    ng = export_to_nir(net, torch.zeros(1, 10), ignore_dims=[0])
    x = spikes_in(10, p=0.4)
    utils.reset(net)
    ref = hooked_run(net, {"1": s1, "3": s2}, x, state_arg=False)
    got = neurotep_rasters(from_nir(ng, producer="snntorch", reset="subtract"), x)
    for k in ("1", "3"):
        assert ref[k].sum() > 50
        np.testing.assert_array_equal(got[k], ref[k])


@pytest.mark.parametrize("shape", [(), (1,), (4,)])
def test_scalar_parameters_are_broadcast_to_the_population(shape):
    """0-d or length-1 parameter arrays (older snnTorch exports, hand-written graphs) take the
    population size from the adjacent weights; vectors that do not fit the weights are a one-line error."""
    w = np.random.default_rng(0).normal(0, 1, (4, 3))

    def graph(lif):
        return nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([3])), "w": nir.Affine(weight=w, bias=np.zeros(4)),
                                   "lif": lif, "output": nir.Output(output_type=np.array([4]))},
                            edges=[("input", "w"), ("w", "lif"), ("lif", "output")], type_check=False)

    full = lambda v, sh=shape: np.full(sh, v)  # noqa: E731
    g = from_nir(graph(nir.LIF(tau=full(1e-3), r=full(10.0), v_leak=full(0.0), v_threshold=full(1.0))), dt=1e-4)
    p = g.populations["lif"]
    assert p.size == 4 and p.params == {"beta": pytest.approx(0.9, rel=1e-12), "threshold": 1.0, "reset": "zero"}
    np.testing.assert_array_equal(g.connection("w").weight, w)  # r dt / tau = 1: weights untouched
    with pytest.raises(NIRError, match=r"'w': weight shape \(4, 3\) does not connect 'input' \(3\) to 'lif' \(3\)"):
        from_nir(graph(nir.LIF(tau=np.full(3, 1e-3), r=np.full(3, 10.0), v_leak=np.zeros(3), v_threshold=np.ones(3))), dt=1e-4)


# -- neurotep -> NIR file -> neurotep ----------------------------------------------------------------
def _same_graph(a: Graph, b: Graph) -> None:
    assert list(a.populations) == list(b.populations)
    for p in a.populations.values():
        q = b.populations[p.name]
        assert (q.size, q.model) == (p.size, p.model)
        for k, v in p.params.items():
            assert q.param(k) == (v if isinstance(v, str) else pytest.approx(v, rel=1e-12)), (p.name, k)
        assert (p.bias is None) == (q.bias is None)
        if p.bias is not None:
            np.testing.assert_array_equal(q.bias, p.bias)
    assert [c.name for c in a.connections] == [c.name for c in b.connections]
    for c, d in zip(a.connections, b.connections):
        assert (d.pre, d.post, d.delay, d.symmetric, d.learning) == (c.pre, c.post, c.delay, c.symmetric, c.learning)
        np.testing.assert_array_equal(d.weight, c.weight if c.mask is None else c.weight * c.mask)
        assert (c.mask is None and d.mask is None) or np.array_equal(c.mask, d.mask)
    assert a.buffers == b.buffers and a.probes == b.probes and a.meta == b.meta


def _mixed_graph() -> Graph:
    """Delays 0, 1 and 2, a mask, a symmetric pair, a 2-D toroidal buffer, subtractive and zero reset."""
    rs = np.random.default_rng(3)
    g = Graph()
    g.add(Population("x", 8, "input"))
    g.add(Population("a", 12, "lif", {"beta": 0.95, "threshold": 1.0, "reset": "subtract"}, bias=rs.uniform(0, 0.1, 12)))
    g.add(Population("b", 6, "lif", {"beta": 1.0, "threshold": 0.8, "reset": "zero"}))
    g.add(Population("y", 3, "linear", {"damping": 0.25}))
    g.add(Connection("xa", "x", "a", rs.uniform(-0.4, 0.6, (12, 8)), delay=0, mask=rs.random((12, 8)) < 0.7))
    g.add(Connection("ab", "a", "b", rs.uniform(-0.5, 0.5, (6, 12)), delay=2, symmetric=True))
    g.add(Connection("by", "b", "y", rs.uniform(-1, 1, (3, 6)), delay=1))
    g.add(ToroidalBuffer("torus_a", "a", 3, (0.7, 0.5), 0.1, shape=(12,), radius=(2,)))
    g.meta.update(input="x", output="y")
    return g.validate()


@pytest.mark.parametrize("make", [_mixed_graph, lambda: base.build(64, 10, seed=0, hidden=[16])], ids=["mixed", "base"])
def test_round_trip_gives_the_same_graph_and_spikes(tmp_path, make):
    g = make()
    spiking = rate_to_spiking(g, neuron="lif") if g.meta.get("variant") else g
    path = tmp_path / "net.nir"
    notes = export_nir(g, path)
    assert any("subtraction" in n for n in notes)
    back = import_nir(path)
    _same_graph(spiking, back)
    n_in = g.populations["x"].size
    x = spikes_in(n_in)
    ref = neurotep_rasters(spiking, x)
    for k, v in neurotep_rasters(back, x).items():
        np.testing.assert_array_equal(v, ref[k])
    # Read as plain NIR (neurotep's metadata dropped): the lowered buffer taps, both directions of
    # the symmetric connection and the Delay nodes still give the same spikes.
    plain = nir.read(path)
    plain.metadata = {}
    foreign = from_nir(plain, dt=DT)
    assert not foreign.buffers and not any(c.symmetric for c in foreign.connections)
    foreign.meta["input"] = "x"
    for k, v in neurotep_rasters(foreign, x).items():
        np.testing.assert_array_equal(v, ref[k])


# -- bad input ---------------------------------------------------------------------------------------
def test_stochastic_or_tanh_populations_are_refused_and_nothing_is_written(tmp_path, htsep_like):
    out = tmp_path / "x.nir"
    with pytest.raises(NIRError, match="population 'a': stochastic neurons") as e:
        export_nir(htsep_like(), out)
    assert "\n" not in str(e.value)
    g = base.build(8, 2, seed=0, hidden=[4])
    g.populations["h0"].model = "tanh"
    with pytest.raises(NIRError, match="population 'h0': tanh"):
        export_nir(g, out)
    assert list(tmp_path.iterdir()) == []


def test_bad_files_give_one_line_errors(tmp_path):
    junk = tmp_path / "junk.nir"
    junk.write_text("not hdf5")
    with pytest.raises(NIRError, match="not a readable NIR file") as e:
        import_nir(junk)
    assert "\n" not in str(e.value)
    with pytest.raises(NIRError, match="no such NIR file"):
        import_nir(tmp_path / "missing.nir")
    conv = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([4])), "thr": nir.Threshold(threshold=np.ones(4)),
                               "output": nir.Output(output_type=np.array([4]))},
                        edges=[("input", "thr"), ("thr", "output")])
    nir.write(tmp_path / "thr.nir", conv)
    with pytest.raises(NIRError, match="'thr' of type Threshold is not supported"):
        import_nir(tmp_path / "thr.nir", dt=DT)
    plain = to_nir(lif_graph())[0]
    plain.metadata = {}
    with pytest.raises(NIRError, match="does not record its time step"):
        from_nir(plain)
    plain.metadata = {"neurotep": "{not json"}
    with pytest.raises(NIRError, match="not valid JSON"):
        from_nir(plain, dt=DT)
    with pytest.raises(NIRError, match="unknown NIR producer 'brian'"):
        from_nir(plain, producer="brian")


def test_cli_compile_to_nir_and_import(tmp_path, capsys, htsep_like):
    model = tmp_path / "m"
    save_graph(base.build(16, 3, seed=0, hidden=[8]), model / "model")
    out = tmp_path / "m.nir"
    assert main(["compile", str(model), "--to", "nir", "--out", str(out)]) == 0
    assert "subtraction" in capsys.readouterr().out
    assert main(["import-nir", str(out), "--out", str(tmp_path / "back")]) == 0
    _same_graph(rate_to_spiking(load_graph(model / "model"), neuron="lif"), load_graph(tmp_path / "back" / "model"))
    # Bad input: one line on stderr, exit 2, no file.
    save_graph(htsep_like(), tmp_path / "h" / "model")
    assert main(["compile", str(tmp_path / "h"), "--to", "nir", "--out", str(tmp_path / "h.nir")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "stochastic" in err
    assert not (tmp_path / "h.nir").exists()
    assert main(["compile", str(model), "--to", "nir"]) == 2
    assert "--out" in capsys.readouterr().err


def test_every_variant_round_trips_spike_for_spike_or_is_refused_in_one_line():
    from neurotep import variants

    for row in variants.describe():
        g = variants.get(row["name"]).build(16, 3, 0)
        try:
            ng, _ = to_nir(g)
        except NIRError as e:
            assert "\n" not in str(e)
            continue
        s, back = rate_to_spiking(g, neuron="lif"), from_nir(ng)
        assert (back.streams, back.stages) == (s.streams, s.stages), row["name"]  # TEP-SSR's time structure
        inp = s.meta["input"]
        x = (np.random.default_rng(0).random((30, 2, s.populations[inp].size)) < 0.3).astype(np.float32)
        runs = [TorchNetwork(h).run(lambda t: {inp: torch.as_tensor(x[t])}, 30, 2, raster=True, readout=h.meta["output"])
                for h in (s, back)]
        for k, v in runs[0][1].raster.items():
            assert torch.equal(runs[1][1].raster[k], v), (row["name"], k)
        assert torch.equal(runs[0][2], runs[1][2]), row["name"]  # the graded readout (NIR LI) too
