"""The :class:`Graph` container: populations, connections, buffers and probes of one network."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from neurotep.graph.nodes import EVENT_MODELS, GRADED_MODELS, Connection, InputStream, Population, Probe, Stage, ToroidalBuffer


@dataclass
class Graph:
    """A spiking process graph plus its parameters.

    ``meta`` carries free-form JSON-serialisable facts about the network (the variant that built
    it, its hyperparameters, training metrics). The keys neurotep reads back (``input``,
    ``output``, ``relaxation``, ``hyperparameters``, ``spiking``, a variant's ``levels``,
    ``sequence``, ``errors``...) are checked by :func:`~neurotep.graph.validate.check_meta`.
    """

    populations: dict[str, Population] = field(default_factory=dict)
    connections: list[Connection] = field(default_factory=list)
    buffers: list[ToroidalBuffer] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    streams: list[InputStream] = field(default_factory=list)  # inputs that change over time
    stages: list[Stage] = field(default_factory=list)  # which populations update when; empty: all, always

    # -- building -------------------------------------------------------------------------------
    def add(self, node: Population | Connection | ToroidalBuffer | Probe | InputStream | Stage) -> Any:
        """Add a node and return it (so builders can keep a handle)."""
        if isinstance(node, Population):
            self.populations[node.name] = node
        elif isinstance(node, Connection):
            self.connections.append(node)
        elif isinstance(node, ToroidalBuffer):
            self.buffers.append(node)
        elif isinstance(node, Probe):
            self.probes.append(node)
        elif isinstance(node, InputStream):
            self.streams.append(node)
        elif isinstance(node, Stage):
            self.stages.append(node)
        else:
            raise TypeError(f"cannot add {type(node).__name__} to a Graph")
        return node

    # -- queries --------------------------------------------------------------------------------
    def connection(self, name: str) -> Connection:
        for c in self.connections:
            if c.name == name:
                return c
        raise KeyError(name)

    def buffer_of(self, population: str) -> ToroidalBuffer | None:
        for b in self.buffers:
            if b.population == population:
                return b
        return None

    def inputs(self) -> list[Population]:
        return [p for p in self.populations.values() if p.model == "input"]

    def stream_of(self, population: str) -> InputStream | None:
        return next((s for s in self.streams if s.population == population), None)

    def input_width(self, population: str) -> int:
        """Values per sample that feed input ``population``: its size, times its stream's length."""
        s = self.stream_of(population)
        return self.populations[population].size * (s.length if s else 1)

    def fixed_steps(self) -> int:
        """Steps of the stages before the last (they run before the run's own steps)."""
        return sum(int(s.steps) for s in self.stages[:-1])

    def state_populations(self) -> list[Population]:
        """Populations with dynamics (everything but inputs), in insertion order."""
        return [p for p in self.populations.values() if p.model != "input"]

    def incoming(self, population: str) -> Iterator[tuple[Connection, bool]]:
        """Connections that drive ``population``, with ``True`` where it is the transposed
        (feedback) direction of a symmetric connection."""
        for c in self.connections:
            if c.post == population:
                yield c, False
            if c.symmetric and c.pre == population:
                yield c, True

    def history_depth(self) -> dict[str, int]:
        """How many past outputs each population must keep: its longest outgoing delay (both
        directions of a symmetric connection) or its buffer's depth, at least 1."""
        depth = {p: 1 for p in self.populations}
        for c in self.connections:
            depth[c.pre] = max(depth[c.pre], c.delay)
            if c.symmetric:
                depth[c.post] = max(depth[c.post], c.delay)
        for b in self.buffers:
            depth[b.population] = max(depth[b.population], b.depth)
        return depth

    def emits_graded(self, population: str, spiking_inputs: bool) -> bool:
        """Whether ``population`` sends graded values (rate units, or inputs fed as currents)
        rather than spikes: it decides graded messages on Lava and MAC vs AC counting."""
        p = self.populations[population]
        return p.model in GRADED_MODELS or (p.model == "input" and (not spiking_inputs or bool(p.param("graded"))))

    def sends_events(self, population: str, spiking_inputs: bool) -> bool:
        """Whether what ``population`` sends is a stream of events that a run records and counts
        one by one: spikes, sigma-delta messages, and the inputs of a delta-coded run (sent as
        changes, :mod:`neurotep.graph.delta`), rather than a value from every neuron every step."""
        p = self.populations[population]
        if p.model in EVENT_MODELS or (p.model == "input" and "delta_form" in self.meta):
            return True
        return not self.emits_graded(population, spiking_inputs)

    def validate(self) -> "Graph":
        """Check the graph; raise :class:`~neurotep.errors.GraphError` naming the node and the
        problem. Returns ``self`` so calls chain."""
        from neurotep.graph.validate import validate_graph

        validate_graph(self)
        return self
