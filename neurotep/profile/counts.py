"""Operation counts of a run directory, per inference (one test sample) and per population.

The run directory is read by :mod:`neurotep.profile.rundir` (its layout is described there);
NeuroBench's exact MembraneUpdates total is read from ``run.json``, where the runner records it
(:mod:`neurotep.membranes` replays the run when it is saved).

Definitions (every count below is divided by ``samples``: per inference):

* **events**: what a population sends each step. A spiking population (``lif``, ``stochastic``,
  and an input population when the run encoded its input as Poisson spikes) sends one event per
  spike, taken neuron by neuron from ``per_neuron/<pop>``, so the counts are exact. A graded
  population (rate units such as the linear output ``y``, an input in ``current`` encoding, and
  every population of a rate-mode run, which records no activity) is ASSUMED to send a nonzero
  graded value from every neuron at every step: its counts are upper bounds.
* **synaptic operations** of a connection direction (a symmetric connection acts both ways: ``W``
  from pre to post and ``W.T`` back): effective = sum over presynaptic neurons of (events of that
  neuron) x (nonzero weights in its column, the mask applied); an operation driven by a spike is
  an accumulate (AC), one driven by a graded value a multiply-accumulate (MAC). Dense = steps x
  (number of weights, zeros included), NeuroBench's "Dense". Operations are attributed to the
  receiving population, whose cores hold the synapses. Every emitted event is counted with its
  whole fan-out, also the events of the last ``delay`` steps of a delayed connection, which the
  run ends before delivering.
* **membrane (neuron) updates**: every neuron of every non-input population is updated every step
  (steps x neurons), as on Loihi and on a GPU, except where a probabilistic gate (the ``gate``
  parameter < 1 of rate units and stochastic neurons) is closed: a closed unit skips its update.
  Gates are draws of :func:`neurotep.rng.gate_open`, a pure function of (seed, step, sample id,
  neuron), so when ``run.json`` holds the run's ``sample_ids`` the open gates are counted exactly;
  otherwise the count is its expectation ``gate x steps x neurons`` (the exact count differs by
  about ``sqrt(gate (1 - gate) steps neurons)``, 0.02 % for one 256-neuron inference of 200 steps
  at gate 0.5, less over many). NeuroBench's own MembraneUpdates counts only membranes that
  changed; see :mod:`neurotep.profile.neurobench`.
* **toroidal buffer**: per step each neuron of a buffered population reads its ``K`` taps and
  writes one entry; the taps' weighted feedback is counted like ``K`` self-synapses per neuron
  (how Loihi would express it: ``K`` delayed synapses), ``K`` operations per event. An N-D
  buffer (HTSEP) spreads each tap over the spatial kernel's nonzero entries: ``K x nnz`` per
  event, ``nnz`` the kernel's nonzeros per row (``prod(2 r + 1)``), and its dense count is
  ``K x nnz`` per neuron and step: the buffer seen as ``K`` sets of ``nnz`` delayed synapses
  per neuron, every one counted, as for connections. (A GPU summing the taps before one circular
  convolution needs ``K + nnz``; the torch path's dense ``N x N`` kernel product ``K + N``.)
* **learning updates**: 0, a run is inference only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurotep.graph import SPIKING_MODELS, Graph
from neurotep.profile.rundir import SPIKES_NPZ, ProfileError, load_run, read_membrane_updates, read_sample_ids

SPIKE, GRADED = "spike", "graded"


@dataclass
class PopulationCounts:
    """Counts of one population, per inference. Synaptic operations are those it RECEIVES."""

    name: str
    model: str
    neurons: int
    kind: str  # "spike" or "graded": what its events are
    spikes: float = 0.0
    events: float = 0.0
    membrane_updates: float = 0.0
    synaptic_ops_ac: float = 0.0
    synaptic_ops_mac: float = 0.0
    synaptic_ops_dense: float = 0.0
    buffer_reads: float = 0.0
    buffer_writes: float = 0.0
    buffer_ops: float = 0.0  # effective tap accumulations (AC for a spiking population, else MAC)
    buffer_ops_dense: float = 0.0
    learning_updates: float = 0.0
    receives_from: list[str] = field(default_factory=list)  # kinds of the incoming events

    @property
    def synaptic_ops_effective(self) -> float:
        return self.synaptic_ops_ac + self.synaptic_ops_mac

    @property
    def op_kind(self) -> str | None:
        """"AC", "MAC" or "mixed" for the operations it receives; None when nothing projects to it."""
        kinds = set(self.receives_from)
        if not kinds:
            return None
        if kinds == {SPIKE}:
            return "AC"
        if kinds == {GRADED}:
            return "MAC"
        return "mixed"

    @property
    def buffer_op_kind(self) -> str:
        return "AC" if self.kind == SPIKE else "MAC"


@dataclass
class Direction:
    """One direction of a connection: ``weight`` is (dst.size, src.size), the mask applied."""

    connection: str
    src: str
    dst: str
    weight: np.ndarray
    delay: int
    kind: str  # "AC" or "MAC"
    effective_total: int  # over the whole run (all samples)
    dense_total: int


@dataclass
class RunCounts:
    """What :func:`count_run` finds in a run directory."""

    run_dir: Path
    run: dict
    graph: Graph
    mode: str
    samples: int
    steps: int
    populations: dict[str, PopulationCounts]  # per inference
    directions: list[Direction]
    events_per_neuron: dict[str, np.ndarray]  # totals over the run, per neuron (graded: steps x samples)
    totals: dict[str, Any]  # integer totals over the run, as NeuroBench accumulates them
    assumptions: list[str]
    # the steps per sample that the counted work covers: a delta-coded run's mean exit step (its
    # samples stop early), else every step of the run
    steps_run: float = 0.0

    def __post_init__(self):
        if not self.steps_run:
            self.steps_run = float(self.steps)

    @property
    def spiking_populations(self) -> list[str]:
        """Populations of spiking neurons (lif, stochastic): NeuroBench's activation layers."""
        return [p for p in self.populations if self.graph.populations[p].model in SPIKING_MODELS]

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """Per-population counts, per inference, JSON-ready."""
        out = {}
        for name, c in self.populations.items():
            out[name] = {
                "neurons": c.neurons, "spikes": c.spikes, "membrane_updates": c.membrane_updates,
                "synaptic_ops_effective": c.synaptic_ops_effective, "synaptic_ops_dense": c.synaptic_ops_dense,
                "op_kind": c.op_kind,
                "synaptic_ops_ac": c.synaptic_ops_ac, "synaptic_ops_mac": c.synaptic_ops_mac,
                "buffer_reads": c.buffer_reads, "buffer_writes": c.buffer_writes,
                "learning_updates": c.learning_updates,
            }
        return out


# -- counting ------------------------------------------------------------------------------------
def _directions(graph: Graph) -> list[tuple[str, str, str, np.ndarray, int]]:
    out = []
    for c in graph.connections:
        w = np.asarray(c.weight, dtype=np.float64)
        if c.mask is not None:
            w = w * np.asarray(c.mask, dtype=bool)
        out.append((c.name, c.pre, c.post, w, int(c.delay)))
        if c.symmetric:
            out.append((c.name + ".T", c.post, c.pre, w.T, int(c.delay)))
    return out


def _int_counts(a: np.ndarray, where: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    r = np.rint(a)
    if not np.all(np.isfinite(a)) or np.any(r < 0) or np.any(np.abs(a - r) > 1e-6):
        raise ProfileError(f"{where}: spike counts must be non-negative integers")
    return r.astype(np.int64)


def count_run(run_dir: str | Path) -> RunCounts:
    """Count spikes, neuron updates, synaptic operations, buffer accesses and learning updates of
    the run in ``run_dir``, per inference and per population (see the module docstring)."""
    path, run, graph, spikes = load_run(run_dir)
    mode, samples, steps = run["mode"], run["samples"], run["steps"]
    spiking_run = mode == "spiking"
    poisson = spiking_run and run.get("encoding", "poisson") == "poisson"
    assumptions: list[str] = []
    full = steps * samples  # events of a graded neuron over the run

    # What each population sends, per neuron, summed over the run.
    kinds: dict[str, str] = {}
    events: dict[str, np.ndarray] = {}
    spike_totals: dict[str, int] = {}
    graded_names: list[str] = []
    for p in graph.populations.values():
        recorded = spiking_run and graph.sends_events(p.name, spiking_inputs=poisson)
        if not recorded:
            kinds[p.name] = GRADED
            events[p.name] = np.full(p.size, full, dtype=np.int64)
            spike_totals[p.name] = 0
            graded_names.append(p.name)
            continue
        # spikes, or graded events (sigma-delta messages, a delta-coded input's changes): counted one by one
        # a Boltzmann unit's +1 / -1 is graded on the wire but costs its receivers an accumulate, like a spike
        kinds[p.name] = GRADED if graph.emits_graded(p.name, spiking_inputs=poisson) and p.model != "boltzmann" else SPIKE
        key = f"per_neuron/{p.name}"
        if key in spikes:
            ev = _int_counts(spikes[key], f"{SPIKES_NPZ}[{key}]")
            if ev.shape != (p.size,):
                raise ProfileError(f"{path / SPIKES_NPZ}: {key} has shape {ev.shape}, expected ({p.size},)")
        elif f"per_step/{p.name}" in spikes:
            total = int(_int_counts(spikes[f"per_step/{p.name}"], f"{SPIKES_NPZ}[per_step/{p.name}]").sum())
            ev = np.full(p.size, total / p.size)  # spread evenly: fan-out becomes the mean fan-out
            assumptions.append(f"{p.name}: {SPIKES_NPZ} has no per-neuron counts, so its spikes are spread evenly "
                               "over its neurons (its synaptic operations use the mean fan-out and are not exact)")
        else:
            raise ProfileError(f"{path / SPIKES_NPZ}: no spike counts for spiking population {p.name!r}")
        events[p.name] = ev
        spike_totals[p.name] = int(round(float(np.sum(ev))))

    pops = {p.name: PopulationCounts(p.name, p.model, p.size, kinds[p.name]) for p in graph.populations.values()}
    sample_ids = read_sample_ids(run, samples, path)
    # a delta-coded run stops each sample at its exit step: its neurons update until then
    delta = spiking_run and run.get("encoding") == "delta"
    steps_run = float(run.get("mean_steps_per_sample", steps)) if delta else float(steps)
    gated: list[str] = []
    for name, c in pops.items():
        c.spikes = spike_totals[name] / samples
        c.events = float(np.sum(events[name])) / samples
        if graph.populations[name].model != "input":
            c.membrane_updates = steps_run * c.neurons
            p_open = gate_probability(graph.populations[name])
            if p_open < 1:
                gated.append(f"{name} (gate {p_open:g})")
                c.membrane_updates = (open_gates(graph, name, steps, sample_ids) / samples if sample_ids is not None
                                      else p_open * steps * c.neurons)

    dirs: list[Direction] = []
    ac_total = mac_total = dense_total = 0
    for conn, src, dst, w, delay in _directions(graph):
        nnz_col = np.count_nonzero(w, axis=0)
        ev = events[src]
        eff = int(ev @ nnz_col) if ev.dtype.kind == "i" else int(round(float(ev @ nnz_col)))
        dense = full * int(w.size)
        kind = "AC" if kinds[src] == SPIKE else "MAC"
        dirs.append(Direction(conn, src, dst, w, delay, kind, eff, dense))
        c = pops[dst]
        c.receives_from.append(kinds[src])
        if kind == "AC":
            c.synaptic_ops_ac += eff / samples
            ac_total += eff
        else:
            c.synaptic_ops_mac += eff / samples
            mac_total += eff
        c.synaptic_ops_dense += dense / samples
        dense_total += dense

    for b in graph.buffers:
        c = pops[b.population]
        fan = buffer_fan_out(b)
        c.buffer_reads += b.depth * c.neurons * steps
        c.buffer_writes += c.neurons * steps
        c.buffer_ops += b.depth * fan * c.events
        c.buffer_ops_dense += b.depth * fan * c.neurons * steps

    # NeuroBench's raw totals (ints, over the whole run): activations of spiking neurons.
    spiking_pops = [p for p in pops if graph.populations[p].model in SPIKING_MODELS]
    activations = sum(full * pops[p].neurons for p in spiking_pops)
    nonzero = sum(spike_totals[p] for p in spiking_pops)
    mem_total, mem_how = None, "no spiking populations"
    if spiking_pops:
        mem_total, mem_how = read_membrane_updates(run, path, activations)
    totals = {"effective_acs": ac_total, "effective_macs": mac_total, "dense": dense_total,
              "activations": activations, "nonzero_activations": nonzero,
              "membrane_updates": mem_total, "membrane_updates_how": mem_how,
              "membrane_updates_upper_bound": activations}

    # Assumptions, stated once each.
    if not spiking_run:
        assumptions.append("rate-mode run: no activity is recorded, so every population (inputs included) is assumed "
                           "to send a nonzero graded value from every neuron at every step: all synaptic operations "
                           "are MACs and upper bounds; the input's drive is counted every step, as Loihi would send "
                           "it, although the torch path computes that constant drive once")
    elif graded_names:
        assumptions.append(f"graded populations ({', '.join(graded_names)}) are assumed to send a nonzero value from "
                           "every neuron at every step: their synaptic operations are MACs and upper bounds")
    if spiking_run:
        assumptions.append("synaptic operations of spikes are exact: per neuron, spikes x nonzero outgoing weights "
                           "(an AC each)")
    if delta:
        assumptions.append(f"delta coding: sigma-delta messages and input changes are counted one by one (a MAC per "
                           f"nonzero outgoing weight each); samples exit at a mean step {steps_run:.1f} of {steps} "
                           "(nothing sent for the quiet steps), and neurons update every step until then")
    if any(d.delay >= 1 for d in dirs):
        assumptions.append("every emitted event is counted with its whole fan-out, also the events of the last "
                           "`delay` steps that the run ends before delivering")
    if graph.buffers:
        assumptions.append("toroidal buffers: per neuron and step K tap reads and one write; the taps' feedback is "
                           "counted as K synaptic operations per event (K delayed self-synapses, as Loihi would "
                           "express it), times the spatial kernel's nonzeros per row for an N-D buffer")
    assumptions.append("neuron updates: every neuron of every non-input population is updated every step it runs "
                       "(steps x neurons), except where a probabilistic gate is closed; inference runs make no "
                       "learning updates")
    if gated:
        how = ("counted exactly from the run's sample ids" if sample_ids is not None else
               "their expectation gate x steps x neurons (run.json holds no sample_ids to replay the draws)")
        assumptions.append(f"gated populations ({', '.join(gated)}): a closed unit skips its update, so membrane "
                           f"updates are the open gates, {how}")
    return RunCounts(path, run, graph, mode, samples, steps, pops, dirs, events, totals, assumptions, steps_run)


def gate_probability(p: Any) -> float:
    """The population's gate-open probability (1 for models without gates)."""
    from neurotep.graph import NEURON_MODELS

    return float(p.param("gate")) if "gate" in NEURON_MODELS.get(p.model, {}) else 1.0


def buffer_fan_out(b: Any) -> int:
    """Targets of one tap of one neuron: 1 for a 1-D buffer, the spatial kernel's nonzeros per
    row for an N-D one (the kernel is circulant: every row has the same count)."""
    if not b.shape:
        return 1
    return int(np.prod([1 + 2 * int(r) if float(d) != 0 else 1 for r, d in zip(b.radius, b.decay[1:])]))


def open_gates(graph: Graph, population: str, steps: int, sample_ids: np.ndarray) -> int:
    """How many unit-steps of ``population`` had their gate open in a run of ``steps`` steps over
    ``sample_ids``: the same counter-based draws as the backends (index = sample id x total neurons
    + the population's offset + neuron, as :class:`neurotep.backends.torch.TorchNetwork` keys them)."""
    from neurotep import rng

    offset, n_total = 0, 0
    for p in graph.populations.values():
        if p.name == population:
            offset = n_total
        n_total += p.size
    p = graph.populations[population]
    seed, prob = int(p.param("seed")), gate_probability(p)
    idx = (np.asarray(sample_ids, dtype=np.int64)[:, None] * n_total + offset
           + np.arange(p.size, dtype=np.int64)[None, :])
    return int(sum(int(np.count_nonzero(rng.gate_open(seed, t, idx, prob))) for t in range(steps)))
