"""What a spiking run records: the graph's :class:`~neurotep.graph.nodes.Probe` s, or, for a graph
without probes, the default (spike counts of every population that sends spikes). One rule for
every backend, checked before the run.

A probe asks for ``"spikes"`` (counts per step, per neuron, per sample), ``"raster"`` (the counts
and every spike) or ``"state"`` (the population's output at every step, per sample and neuron).
The profiler needs the spike counts of every population that sends spikes; a run that probes
fewer cannot be profiled, and the profiler says so.
"""

from __future__ import annotations

from neurotep.errors import GraphError
from neurotep.graph.graph import Graph


def recording_plan(graph: Graph, spiking_inputs: bool, raster: bool = False) -> dict[str, frozenset[str]]:
    """``{population: kinds}`` a spiking run of ``graph`` records; ``raster`` (``--raster``) adds
    rasters to every population whose spikes are counted. Raises :class:`GraphError` (one line)
    for a probe the run cannot honour."""
    plan: dict[str, set[str]] = {}
    if not graph.probes:
        plan = {p: {"spikes"} for p in graph.populations if graph.sends_events(p, spiking_inputs)}
    for pr in graph.probes:
        pop = graph.populations.get(pr.population)
        if pop is None:
            raise GraphError(f"probe {pr.name!r}: population {pr.population!r} does not exist")
        if pr.what == "state":
            if pop.model == "input":
                raise GraphError(f"probe {pr.name!r}: the state of input {pop.name!r} is the input itself; "
                                 "probe its 'spikes' or drop the probe")
            plan.setdefault(pop.name, set()).add("state")
        elif not graph.sends_events(pop.name, spiking_inputs):
            raise GraphError(f"probe {pr.name!r} asks for the {pr.what} of {pop.name!r}, which sends graded values "
                             "in this run: probe its 'state' instead")
        else:
            plan.setdefault(pop.name, set()).update({"spikes", "raster"} if pr.what == "raster" else {"spikes"})
    if raster:
        for kinds in plan.values():
            if "spikes" in kinds:
                kinds.add("raster")
    return {p: frozenset(k) for p, k in plan.items()}
