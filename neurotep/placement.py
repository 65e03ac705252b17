"""Neuro-cores per population on each chip the energy model prices (Loihi 2, Loihi), computed when
a run is saved, so that the profiler reads them from ``run.json``.

The count comes from compiling the graph into its Lava plan
(:func:`neurotep.backends.lava.plan.compile_graph`, batch 1) and mapping that plan onto cores
(:func:`neurotep.hardware.map_to_cores`). It sits at the runner's level, beside
:mod:`neurotep.membranes`, because it needs the Lava backend's compiler: the profiler
(:mod:`neurotep.profile`) reads recordings, never Lava or torch objects.
"""

from __future__ import annotations

from neurotep.errors import BackendError
from neurotep.graph import Graph

CHIPS = ("loihi2", "loihi")  # the chip profiles of the energy models that route spikes between cores


def _assumed(graph: Graph, error: Exception) -> dict:
    why = str(error).split(";")[0][:160]
    return {"cores": {p.name: 0 if p.model == "input" else 1 for p in graph.populations.values()},
            "note": f"no core mapping ({why}): each non-input population is assumed to sit on one core of its own"}


def _mapped(graph: Graph, plan, chip: str) -> dict:
    try:
        from neurotep.hardware import map_to_cores

        cmap = map_to_cores(plan, chip)
    except Exception as e:
        return _assumed(graph, e)
    cores = {r.population: int(r.cores) for r in cmap.populations}
    out = {"cores": {p.name: cores.get(p.name, 0 if p.model == "input" else 1) for p in graph.populations.values()},
           "note": f"cores per population from neurotep's {cmap.title} mapping (map_to_cores): "
                   + ", ".join(f"{k} {v}" for k, v in cores.items())}
    if chip == "loihi2":  # what runs on neuro-cores and what does not (the classes of hardware/loihi2/README.md)
        out.update(neuro_core_fraction=cmap.neuro_core_fraction, off_core=cmap.off_core)
    return out


def core_counts(graph: Graph) -> dict[str, dict]:
    """``{chip: {"cores": {population: n}, "note": sentence}}`` for each of :data:`CHIPS`. Where the
    graph has no core mapping (e.g. a delay-0 connection, which Lava cannot express, or no Lava
    here), each non-input population is assumed to sit on one core of its own, and the note says why."""
    try:
        from neurotep.backends.lava.plan import compile_graph

        plan = compile_graph(graph, batch=1)
    except Exception as e:  # e.g. delay-0 connections, which Lava cannot express
        return {chip: _assumed(graph, e) for chip in CHIPS}
    return {chip: _mapped(graph, plan, chip) for chip in CHIPS}


def check_strict(graph: Graph, precision: str = "float") -> None:
    """``--strict``: refuse, before any work and in one line, a graph whose Lava plan puts any
    population or synapse off Loihi 2's neuro-cores (chip-boundary I/O aside), naming the first
    such process and the reason."""
    from neurotep.backends.lava.plan import compile_graph
    from neurotep.hardware import map_to_cores

    cmap = map_to_cores(compile_graph(graph, batch=1, precision=precision), "loihi2")
    off = [o for o in cmap.off_core if not o["boundary"]]
    if off:
        o, more = off[0], f" (and {len(off) - 1} more process(es))" if len(off) > 1 else ""
        what = f"population {o['population']}" if o["population"] else "connection"
        raise BackendError(f"--strict: {what} {o['name']} ({o['class'].rsplit('.', 1)[-1]}) would not run on Loihi 2's "
                           f"neuro-cores{more}: {o['reason']}; drop --strict to run it with these parts on the host")
