"""neurotep's intermediate representation: the spiking process graph."""

from neurotep.graph.graph import Graph
from neurotep.graph.io import load_graph, save_graph
from neurotep.graph.nodes import (
    EVENT_MODELS,
    GRADED_MODELS,
    NEURON_MODELS,
    RATE_MODELS,
    SPIKING_MODELS,
    Connection,
    InputStream,
    LearningRule,
    Population,
    Probe,
    Stage,
    ToroidalBuffer,
)

__all__ = [
    "Graph",
    "Population",
    "Connection",
    "ToroidalBuffer",
    "LearningRule",
    "Probe",
    "InputStream",
    "Stage",
    "NEURON_MODELS",
    "RATE_MODELS",
    "EVENT_MODELS",
    "GRADED_MODELS",
    "SPIKING_MODELS",
    "save_graph",
    "load_graph",
]
