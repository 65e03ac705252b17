"""Compiling a graph into a Lava process graph, first as plain data (a :class:`LavaPlan`).

The plan names every Lava process, its class, shape and parameters, and every port-to-port link;
``neurotep compile --to lava`` prints it and :mod:`neurotep.backends.lava.build` instantiates it.

Mapping (floating point; Lava's own processes wherever they express the model exactly):

* input population -> ``lava.proc.io.source.RingBuffer`` playing the encoded input, step by step;
* ``lif`` with zero reset -> Lava's ``LIF`` with ``du = 1`` (the current is this step's input),
  ``dv = 1 - beta``, ``vth = threshold``: Lava zeroes ``v`` within the step of a spike, which gives
  the same spike train as neurotep's delayed zero reset;
* ``sigma`` (a graded integrator, the chip form's output layer) -> Lava's ``Sigma``;
* ``sigma_delta`` (the delta form, :mod:`neurotep.graph.delta`) -> Lava's ``SigmaDelta`` with the
  ReLU or unit activation, ``cum_error`` off and no exponents (float, or Lava's fixed model with
  the integers of :func:`neurotep.quantize.quantize`); a ``Recorder`` counts its nonzero messages;
* ``lif`` with subtractive reset, ``stochastic`` and rate units -> neurotep processes (Lava has no
  subtractive-reset LIF, no sigmoid-threshold stochastic neuron and no damped rate unit);
* a connection with delay 1 -> ``Dense`` (one sample) or a block-diagonal ``Sparse`` (a batch run
  as independent copies); Lava's connection processes send the previous step's accumulation, which
  is exactly neurotep's one-step delay. Longer delays -> ``DelaySparse``. A symmetric connection
  becomes two processes (``W`` and ``W.T``). Delay 0 cannot be expressed: Loihi synapses always
  add a step;
* a toroidal buffer -> one neurotep process holding the ring (K ``DelaySparse`` taps would express
  it too, at the cost of K processes per population, each adding ~0.15 ms per step here); an
  N-D buffer's spatial kernel is applied inside that process, per sample (a ``Sparse`` after it
  would add a step: see ``procs/processes.py``);
* probabilistic gates (rate units, stochastic neurons) -> the neuron process draws them from the
  counter-based generator with the same (seed, step, neuron index) keys as torch;
* recording -> neurotep's neuron processes count their own output (per step, per neuron, per
  sample) inside the simulation; Lava's LIF gets a ``Recorder`` process; input spikes, which the
  host generates, are counted on the host. Every extra process costs ~0.14 ms per step.

A batch of B samples runs as B independent copies of every population (sample-major layout:
index ``b * N + n``), so one Lava run serves a whole batch with exactly the torch semantics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from neurotep.errors import BackendError
from neurotep.graph import RATE_MODELS, Graph
from neurotep.graph.probes import recording_plan
from neurotep.graph.delta import averages_activation
from neurotep.graph.retime import readout_from
from neurotep.neurons.fixed import KERNEL_BITS
from neurotep.quantize import TAP_BITS, quantize

PRECISIONS = ("float", "fixed")


@dataclass
class ProcSpec:
    name: str
    kind: str  # source | lif | sigma | sub_lif | stochastic | rate | dense | sparse | delay_sparse | torus | recorder
    lava_class: str
    shape: tuple[int, ...]
    params: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    population: str | None = None


@dataclass
class LinkSpec:
    src: str
    src_port: str
    dst: str
    dst_port: str


@dataclass
class LavaPlan:
    procs: list[ProcSpec]
    links: list[LinkSpec]
    batch: int
    precision: str
    populations: dict[str, str]  # population -> name of the process that holds its neurons
    recorders: dict[str, str]  # population -> name of its recorder process

    def proc(self, name: str) -> ProcSpec:
        return next(p for p in self.procs if p.name == name)

    def describe(self) -> dict:
        """A JSON-friendly summary: processes (class, shape, synapses; a toroidal buffer's depth and
        spatial kernel in words; a neuron process's probabilistic gate), links."""
        procs = []
        for p in self.procs:
            row = {"name": p.name, "class": p.lava_class, "shape": list(p.shape)}
            if "weights" in p.arrays:
                w = p.arrays["weights"]
                row["synapses"] = int(w.nnz if sp.issparse(w) else np.count_nonzero(w))
            if p.population:
                row["population"] = p.population
            if p.kind == "torus":
                row["buffer"] = _describe_buffer(p)
            if float(p.params.get("gate", 1.0)) < 1.0:
                row["gate"] = float(p.params["gate"])  # probabilistic gate: open with this probability
            procs.append(row)
        links = [f"{l.src}.{l.src_port} -> {l.dst}.{l.dst_port}" for l in self.links]
        return {"batch": self.batch, "precision": self.precision, "processes": procs, "links": links}


def _describe_buffer(p: ProcSpec) -> dict:
    """A toroidal buffer in words: its taps and, for an N-D one, the spatial kernel's grid,
    radius and nonzeros (never the (n, n) matrix itself)."""
    row = {"depth": len(p.params["taps"])}
    k = p.arrays.get("kernel")
    if k is None:
        row["spatial"] = None
        return row
    nnz = int(np.count_nonzero(k))
    row["spatial"] = {"grid": list(p.params["grid"]), "radius": list(p.params["radius"]), "neurons": int(k.shape[0]),
                      "nonzeros": nnz, "nonzeros_per_neuron": nnz // int(k.shape[0]), "wraps_around": True,
                      "fixed_point_bits": p.params["kernel_bits"] or None}
    return row


_OURS = "neurotep.backends.lava.procs.processes."
_NEURON_CLASS = {
    "lif": "lava.proc.lif.process.LIF",
    "sigma": "lava.proc.sdn.process.Sigma",
    "sigma_delta": "lava.proc.sdn.process.SigmaDelta",
    "boltzmann": "lava.lib.optimization.solvers.generic.nebm.process.NEBM",  # lava-optimization
    "sub_lif": _OURS + "SubtractiveLIF",
    "stochastic": _OURS + "StochasticNeurons",
    "rate": _OURS + "RateUnits",
}


def out_port(graph: Graph, pop: str) -> str:
    """The port that population ``pop``'s process sends on: NEBM's changes of state leave on
    ``s_wta_out`` (its ``s_sig_out`` stays unconnected), every other neuron's on ``s_out``."""
    return "s_wta_out" if graph.populations[pop].model == "boltzmann" else "s_out"


def torus_spec(graph: Graph, b, batch: int, q=None) -> ProcSpec:
    """The process of toroidal buffer ``b`` for ``batch`` copies: float taps, or (with the
    quantised graph ``q``) integer taps; an N-D buffer also carries its spatial kernel, applied per
    sample inside the process (float ``S``, or ``round(S * 2**KERNEL_BITS)`` in fixed point)."""
    n = batch * graph.populations[b.population].size
    if q is None:
        params = dict(taps=[float(w) for w in b.tap_weights()])
        kernel = b.spatial_kernel()
    else:
        params = dict(taps=[int(t) for t in q.taps[b.population]], tap_bits=TAP_BITS)
        kernel = q.kernels.get(b.population)
    arrays = {}
    if kernel is not None:
        params.update(grid=tuple(int(x) for x in b.shape), radius=tuple(int(r) for r in b.radius),
                      kernel_bits=0 if q is None else KERNEL_BITS)
        arrays["kernel"] = kernel
    return ProcSpec(f"torus_{b.population}", "torus", _OURS + "ToroidalBuffer", (n,), population=b.population,
                    params=params, arrays=arrays)


def compile_graph(graph: Graph, batch: int = 1, precision: str = "float", record: list[str] | None = None,
                  sample_ids: np.ndarray | None = None, spiking_inputs: bool = True, raster: bool = False) -> LavaPlan:
    """Compile ``graph`` for a batch of ``batch`` samples.

    ``record`` lists populations to count (default: what the graph's probes ask for, else every
    spiking population plus inputs when ``spiking_inputs``; and the output population as a readout). ``sample_ids`` (dataset
    indices) key the stochastic neurons' counter-based draws exactly as on the torch path.
    """
    graph.validate()
    if precision not in PRECISIONS:
        raise BackendError(f"precision {precision!r} is not available on the lava backend yet: use {', '.join(PRECISIONS)}")
    if batch < 1:
        raise BackendError(f"batch must be >= 1, got {batch}")
    ids = np.arange(batch, dtype=np.int64) if sample_ids is None else np.asarray(sample_ids, dtype=np.int64)
    if ids.shape != (batch,):
        raise BackendError(f"sample_ids must have shape ({batch},), got {ids.shape}")
    q = quantize(graph) if precision == "fixed" else None
    offsets, n_total = {}, 0
    for p in graph.populations.values():
        offsets[p.name], n_total = n_total, n_total + p.size

    procs: list[ProcSpec] = []
    links: list[LinkSpec] = []
    holder: dict[str, str] = {}
    for p in graph.populations.values():
        shape = (batch * p.size,)
        bias = np.tile(p.bias, batch) if p.bias is not None else np.zeros(shape)
        name = f"pop_{p.name}"
        # The global (sample, neuron) counters keying the stochastic draws and the gates, as on torch.
        index = (ids[:, None] * n_total + offsets[p.name] + np.arange(p.size)[None, :]).reshape(-1)
        gate = float(p.param("gate")) if p.model in RATE_MODELS or p.model == "stochastic" else 1.0
        gated = dict(gate=gate, seed=int(p.param("seed"))) if gate < 1.0 else {}
        if p.model in RATE_MODELS and float(p.param("noise")) > 0:  # Langevin noise (DiffTorEqProp), keyed like gates
            gated.update(seed=int(p.param("seed")), **{k: p.param(k) for k in ("noise", "noise_decay", "noise_steps")})
        if p.model == "input":
            procs.append(ProcSpec(name, "source", "lava.proc.io.source.RingBuffer", shape, population=p.name))
        elif p.model == "sigma":  # Lava's own Sigma (float and bit-accurate fixed models): out <- out + a_in
            procs.append(ProcSpec(name, "sigma", _NEURON_CLASS["sigma"], shape, population=p.name))
        elif p.model == "sigma_delta":  # act_mode: Lava's ActivationMode (UNIT 0, RELU 1), as an int in the plan
            qp = q.populations[p.name] if q is not None else None
            procs.append(ProcSpec(name, "sigma_delta", _NEURON_CLASS["sigma_delta"], shape, population=p.name,
                                  params=dict(vth=qp.vth if qp else float(p.param("threshold")),
                                              act_mode=int(p.param("activation") == "relu"), cum_error=False,
                                              spike_exp=0, state_exp=0),
                                  arrays=dict(bias=np.tile(qp.bias, batch) if qp else bias)))
        elif p.model == "boltzmann":  # NEBM: fixed point only; its state has the opposite sign (neurons.boltzmann)
            if q is None:
                raise BackendError(f"population {p.name!r}: Boltzmann units (lava-optimization's NEBM) have only a "
                                   "fixed-point model in Lava: run with --precision fixed")
            qp = q.populations[p.name]
            procs.append(ProcSpec(name, "boltzmann", _NEURON_CLASS["boltzmann"], shape, population=p.name,
                                  params=dict(temperature=qp.temperature, refract=0, seed=qp.seed, neuron_model="nebm"),
                                  arrays=dict(init_state=-np.tile(qp.bias, batch))))
        elif q is not None and p.model == "lif":
            qp = q.populations[p.name]
            if qp.reset == "zero":  # Lava's own bit-accurate LIF
                procs.append(ProcSpec(name, "lif", _NEURON_CLASS["lif"], shape, population=p.name,
                                      params=dict(du=4095, dv=qp.dv, vth=qp.vth),
                                      arrays=dict(bias_mant=np.tile(qp.bias_mant, batch),
                                                  bias_exp=np.full(shape, qp.bias_exp))))
            else:
                procs.append(ProcSpec(name, "sub_lif", _NEURON_CLASS["sub_lif"], shape, population=p.name,
                                      params=dict(dv=qp.dv, vth=qp.vth), arrays=dict(bias=np.tile(qp.bias, batch))))
        elif q is not None and p.model == "stochastic":
            qp = q.populations[p.name]
            procs.append(ProcSpec(name, "stochastic", _NEURON_CLASS["stochastic"], shape, population=p.name,
                                  params=dict(dv=qp.dv, vth=qp.vth, reset=qp.reset, seed=qp.seed, table_shift=qp.table_shift,
                                              gate=qp.gate),
                                  arrays=dict(bias=np.tile(qp.bias, batch), index=index, table=qp.table)))
        elif q is not None and p.model in RATE_MODELS:
            qp = q.populations[p.name]
            if qp.noise is not None:
                gated["noise_table"] = [int(v) for v in qp.noise]  # integer noise scale per step
            procs.append(ProcSpec(name, "rate", _NEURON_CLASS["rate"], shape, population=p.name,
                                  params=dict(model=p.model, damping=qp.damping, **gated),
                                  arrays=dict(bias=np.tile(qp.bias, batch), **(dict(index=index) if gated else {}))))
        elif p.model == "lif" and p.param("reset") == "zero":
            procs.append(ProcSpec(name, "lif", _NEURON_CLASS["lif"], shape, population=p.name,
                                  params=dict(du=1.0, dv=1.0 - float(p.param("beta")), vth=float(p.param("threshold"))),
                                  arrays=dict(bias_mant=bias)))
        elif p.model == "lif":
            procs.append(ProcSpec(name, "sub_lif", _NEURON_CLASS["sub_lif"], shape, population=p.name,
                                  params=dict(beta=float(p.param("beta")), threshold=float(p.param("threshold"))),
                                  arrays=dict(bias=bias)))
        elif p.model == "stochastic":
            procs.append(ProcSpec(name, "stochastic", _NEURON_CLASS["stochastic"], shape, population=p.name,
                                  params={k: p.param(k) for k in ("beta", "threshold", "temperature", "reset", "seed", "gate")},
                                  arrays=dict(bias=bias, index=index)))
        elif p.model in RATE_MODELS:
            procs.append(ProcSpec(name, "rate", _NEURON_CLASS["rate"], shape, population=p.name,
                                  params=dict(model=p.model, damping=float(p.param("damping")), **gated),
                                  arrays=dict(bias=bias, **(dict(index=index) if gated else {}))))
        else:  # pragma: no cover - validate() knows every model
            raise BackendError(f"population {p.name!r}: no Lava mapping for neuron model {p.model!r}")
        holder[p.name] = name

    seeds = {int(p.param("seed")) for p in graph.populations.values() if p.model == "boltzmann"}
    if len(seeds) > 1:  # one numpy generator seeds every NEBM process (build.py)
        raise BackendError(f"the Boltzmann populations draw from one seed on Lava; these use {sorted(seeds)}: give them one")
    for c in graph.connections:
        if c.delay < 1:
            raise BackendError(f"connection {c.name!r} ({c.pre} -> {c.post}) has delay 0, which Lava cannot express: "
                               "every Loihi synapse adds one step; give it delay >= 1, or re-time the graph "
                               "(neurotep.graph.retime, which run --backend lava and the chip form apply)")
        w = c.weight * c.mask if c.mask is not None else c.weight
        w_back = w.T * c.feedback if c.feedback != 1.0 else w.T
        if q is not None:
            w = q.connections[c.name].w
            w_back = w.T if q.connections[c.name].w_back is None else q.connections[c.name].w_back
        directions = [(c.pre, c.post, w, c.name)]
        if c.symmetric:
            directions.append((c.post, c.pre, w_back, c.name + "_T"))
        for src, dst, wd, name in directions:
            fixed = {} if q is None else dict(weight_exp=q.weight_exp(c.name, src, spiking_inputs, back=name != c.name),
                                              num_weight_bits=8)
            # One copy per sample: block-diagonal, kept sparse (a dense one would not fit in memory).
            big = sp.kron(sp.identity(batch, format="csr"), sp.csr_matrix(wd), format="csr") if batch > 1 \
                else np.asarray(wd, dtype=np.float64)
            bits = 24 if graph.emits_graded(src, spiking_inputs) else 0
            if c.delay == 1:
                kind, cls = ("dense", "lava.proc.dense.process.Dense") if batch == 1 else ("sparse", "lava.proc.sparse.process.Sparse")
                params = dict(num_message_bits=bits, **fixed)
            else:
                kind, cls = "delay_sparse", "lava.proc.sparse.process.DelaySparse"
                params = dict(num_message_bits=bits, delay=c.delay - 1, **fixed)
            if graph.populations[dst].model == "boltzmann":  # NEBM's state is the negated one
                big = -big
            procs.append(ProcSpec(f"conn_{name}", kind, cls, big.shape, params=params, arrays=dict(weights=big)))
            links.append(LinkSpec(holder[src], out_port(graph, src), f"conn_{name}", "s_in"))
            links.append(LinkSpec(f"conn_{name}", "a_out", holder[dst], "a_in"))

    for b in graph.buffers:
        procs.append(torus_spec(graph, b, batch, q))
        links.append(LinkSpec(holder[b.population], out_port(graph, b.population), f"torus_{b.population}", "s_in"))
        links.append(LinkSpec(f"torus_{b.population}", "a_out", holder[b.population], "a_in"))

    out = graph.meta.get("output")
    if record is None:  # the graph's probes (or every spike-sending population), plus the readout
        plan = recording_plan(graph, spiking_inputs, raster)
        record = list(plan) + ([out] if out in graph.populations and out not in plan else [])
    else:
        plan = {p: frozenset({"spikes", "raster"} if raster else {"spikes"}) for p in record}
    recorders, by_name = {}, {p.name: p for p in procs}
    for pop in record:
        if pop not in graph.populations:
            raise BackendError(f"cannot record unknown population {pop!r}")
        size = graph.populations[pop].size
        kinds = plan.get(pop, frozenset())
        params = dict(batch=batch, size=size, readout=pop == out, readout_from=readout_from(graph, out), state="state" in kinds,
                      integrate=pop == out and averages_activation(graph),
                      raster="raster" in kinds and graph.sends_events(pop, spiking_inputs),
                      events=graph.emits_graded(pop, spiking_inputs) and graph.sends_events(pop, spiking_inputs))
        spec = by_name[holder[pop]]
        if spec.kind in ("sub_lif", "stochastic", "rate"):
            spec.params["record"] = params  # neurotep's processes count their own output: no extra process
            recorders[pop] = spec.name
        elif spec.kind == "source":
            continue  # the host generated these inputs and counts them itself (runner.run_lava)
        else:  # Lava's own LIF: a Recorder listens to it
            name = f"rec_{pop}"
            procs.append(ProcSpec(name, "recorder", _OURS + "Recorder", (batch * size,), population=pop, params=params))
            links.append(LinkSpec(holder[pop], out_port(graph, pop), name, "s_in"))
            recorders[pop] = name
    return LavaPlan(procs, links, batch, precision, holder, recorders)
