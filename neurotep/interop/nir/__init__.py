"""NIR (Neuromorphic Intermediate Representation) export and import.

NIR describes neurons in continuous time; neurotep steps in discrete time. Every mapping is
forward Euler with one time step ``dt`` per neurotep step, the discretisation snnTorch's and
Norse's NIR importers use (``dv = dt / tau * ((v_leak - v) + r I)``)::

    neurotep                                   NIR (per-neuron vectors of the population size)
    input population                           Input
    lif, beta < 1:  v <- beta v + i            LIF  tau = dt / (1 - beta), r = tau / dt = 1 / (1 - beta),
                                                    v_leak = 0, v_threshold, v_reset = 0
    lif, beta = 1:  v <- v + i                 IF   r = 1 / dt (NIR's IF is dv/dt = r I), v_threshold
    linear (graded leaky integrator,           LI   tau = dt / damping, r = 1, v_leak = 0
      out <- (1 - a) out + a u)
    connection W (post, pre), mask             Linear(W * mask); Affine when it carries the bias
    population bias                            bias of the Affine of its first incoming connection
    connection delay d >= 1                    Delay(d * dt) placed *before* the Linear (so a bias
                                               is present from step 0, as in neurotep)
    connection delay 0                         a direct edge (NIR/nirtorch run an edge within the step)
    symmetric connection                       two edges: Linear W (pre -> post), Linear feedback * W.T (post -> pre)
    toroidal buffer (depth K, taps w_j =       K self-loops  pop -> Delay((j + 1) dt) -> Linear(w_j S) -> pop,
      gain decay^j, spatial kernel S)          S the identity for a 1-D buffer
    rate model (hard_sigmoid units)            its spiking form, as ``run --spiking --neuron lif`` runs it

The parts are modules of their own, so that one direction, or one library's convention, changes
in one place:

* :mod:`~neurotep.interop.nir.params`: neuron parameters both ways (beta and tau, ``r``,
  ``v_leak``, thresholds, CubaLIF) and the producers' conventions (snnTorch's and Norse's dt,
  Norse's tau scaling, :func:`fold_resistance` for Norse, which ignores ``r``);
* :mod:`~neurotep.interop.nir.export`: the graph's structure out (connections, delays, symmetric
  pairs, buffers, outputs; what NIR cannot express; neurotep's extras in metadata);
* :mod:`~neurotep.interop.nir.importer`: a NIR graph's structure in (nested graphs, routes
  through weight and delay nodes, timing, re-forming neurotep's own extras);
* :mod:`~neurotep.interop.nir.common`: what both directions share (``DT``, the metadata format,
  :class:`NIRError`, the lazy ``nir`` import).

snnTorch and Norse cannot run Delay nodes: :mod:`~neurotep.interop.nir.peers` writes the form
their own importers run (``compile --to nir --for snntorch|norse``).
"""

from neurotep.interop.nir.common import DT, FORMAT, FORMAT_VERSION, NIRError
from neurotep.interop.nir.export import export_nir, to_nir
from neurotep.interop.nir.importer import from_nir, import_nir
from neurotep.interop.nir.params import PRODUCERS, fold_resistance
from neurotep.interop.nir.peers import PEERS, export_peer_nir, peer_form, to_peer_nir

__all__ = ["DT", "FORMAT", "FORMAT_VERSION", "NIRError", "PEERS", "PRODUCERS", "export_nir", "export_peer_nir",
           "fold_resistance", "from_nir", "import_nir", "peer_form", "to_nir", "to_peer_nir"]
