"""neurotep: Toroidal Equilibrium Propagation models compiled to spiking process graphs.

The package is organised as the data flows: ``variants`` build a :class:`~neurotep.graph.Graph`,
``learning`` trains it (EqProp on the torch path), ``backends`` compile and run it, and
``data`` supplies the embedded digits set and spike encoders.
"""

__version__ = "0.1.0"
