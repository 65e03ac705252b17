"""Neuron parameters between neurotep's steps and NIR's continuous time, and the conventions of
the libraries that write NIR. Kept apart from the graph structure (:mod:`.export`,
:mod:`.importer`) because this is where ``dt`` and ``tau`` meet, in both directions and for every
producer.

Export (:func:`neuron_node`) writes the neuron rows of the table in :mod:`neurotep.interop.nir`.
Import (:func:`neuron_population`, :func:`cuba_populations`) handles the traps:

* per-neuron vectors: parameters may be 0-d or length-1 arrays (snnTorch writes a scalar beta
  that way); they are broadcast to the population size, taken from the adjacent weights. ``tau``
  (hence beta) must be uniform; per-neuron ``r`` (input gain ``r dt / tau``) is folded into the
  incoming weight rows and bias, per-neuron thresholds too (threshold 1, rows divided by
  ``v_threshold``; the same spikes in exact arithmetic); ``v_leak`` becomes a bias.
* ``v_reset`` must be 0 (neurotep resets to zero or by subtraction); neurotep starts every
  membrane at 0, Norse at ``v_leak``, so with ``v_leak != 0`` the first steps differ.
* a CubaLIF becomes two populations: its synaptic current as a graded ``linear`` unit
  ``<name>_syn`` (damping ``dt / tau_syn``) driving the LIF ``<name>`` within the step.
* producers (:data:`PRODUCERS`): NIR records no time step, so snnTorch's (1e-4) or Norse's (1e-3)
  is supplied; Norse's export scales tau by ``dt`` (undone on import) and Norse's import ignores
  ``r``, so an export meant for Norse goes through :func:`fold_resistance` first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurotep.graph.nodes import Connection, Population
from neurotep.interop.nir.common import NIRError, nir_lib

_BETA_UNIFORM = 1e-9  # beta = 1 - dt / tau recomputed from a tau vector: float noise, not a real spread

PRODUCERS = {"snntorch": 1e-4, "norse": 1e-3}
"""The time step each library's NIR export assumes (snnTorch: ``export_nir.py`` hard-codes
``dt = 1e-4``; Norse: ``to_nir(..., dt=0.001)``)."""


# -- export ---------------------------------------------------------------------------------------
def neuron_node(nir, p: Population, dt: float) -> tuple[Any, str | None]:
    n = p.size
    full = lambda v: np.full(n, float(v))  # noqa: E731 - per-neuron vectors, as NIR importers expect
    if p.model == "input":
        return nir.Input(input_type=np.array([n])), None
    if p.model == "lif":
        beta, th = float(p.param("beta")), float(p.param("threshold"))
        if beta == 1.0:
            node = nir.IF(r=full(1.0 / dt), v_threshold=full(th), v_reset=full(0.0))
        else:
            tau = dt / (1.0 - beta)
            node = nir.LIF(tau=full(tau), r=full(tau / dt), v_leak=full(0.0), v_threshold=full(th), v_reset=full(0.0))
        if p.param("reset") == "subtract":
            node.metadata["reset"] = "subtract"
            return node, (f"population {p.name!r} resets by subtraction, which NIR's {type(node).__name__} cannot "
                          "express: written with metadata reset='subtract' (reset-to-zero readers spike differently)")
        return node, None
    if p.model == "linear":
        if float(p.params.get("noise", 0.0)) > 0:
            raise NIRError(f"population {p.name!r}: Langevin noise (noise={p.params['noise']}) has no NIR equivalent; not exportable")
        if float(p.param("gate")) < 1:
            raise NIRError(f"population {p.name!r}: probabilistic gates (gate={p.param('gate')}) have no NIR equivalent; not exportable")
        a = float(p.param("damping"))
        return nir.LI(tau=full(dt / a), r=full(1.0), v_leak=full(0.0)), None
    if p.model == "stochastic":
        raise NIRError(f"population {p.name!r}: stochastic neurons (spike with probability sigmoid((v - threshold) / T)) "
                       "have no NIR equivalent; not exportable (export the lif spiking form instead)")
    raise NIRError(f"population {p.name!r}: model {p.model!r} has no NIR equivalent; not exportable")


def fold_resistance(g: Any) -> Any:
    """An equivalent NIR graph with ``r = 1`` on every LIF and LI node, ``r`` folded into the
    rows of the Linear/Affine nodes that feed it (a copy; ``g`` is not changed).

    For importers that ignore ``r``: Norse 1.1's ``from_nir`` builds ``LIFBoxCell`` from tau,
    v_threshold and v_leak only (``norse/torch/utils/import_nir.py``) and merely logs a warning,
    which scales every input by ``1 - beta`` instead of 1. A weight node that also feeds another
    node cannot take one neuron's ``r``: that is a one-line :class:`NIRError`."""
    import copy

    nir = nir_lib()
    g = copy.deepcopy(g)
    for k, node in g.nodes.items():
        if not isinstance(node, (nir.LIF, nir.LI)) or np.all(np.asarray(node.r) == 1):
            continue
        r = np.asarray(node.r, dtype=np.float64)
        for a, b in g.edges:
            if b != k:
                continue
            w = g.nodes[a]
            if not isinstance(w, (nir.Linear, nir.Affine)) or sum(1 for e in g.edges if e[0] == a) != 1:
                raise NIRError(f"cannot fold r of NIR node {k!r}: its input {a!r} is not a weight node feeding it alone")
            w.weight = w.weight * r.reshape(-1, 1)
            if isinstance(w, nir.Affine):
                w.bias = w.bias * r.reshape(-1)
        node.r = np.ones_like(r)
    return g


# -- import ---------------------------------------------------------------------------------------
def _vec(x: Any, n: int, what: str, key: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if not np.isfinite(a).all():
        raise NIRError(f"NIR node {key!r}: {what} has non-finite values")
    if a.size == 1:
        return np.full(n, a[0])
    if a.size != n:
        raise NIRError(f"NIR node {key!r}: {what} has {a.size} values for {n} neurons")
    return a


def neuron_population(node: Any, key: str, name: str, n: int, dt: float, tau_scale: float = 1.0,
                      reset: str | None = None) -> tuple[Population, np.ndarray, np.ndarray]:
    """The neurotep population of a NIR neuron node, with the per-neuron gain applied to its
    input current and the constant current (from ``v_leak``) that neurotep adds as a bias."""
    nir = nir_lib()
    md = getattr(node, "metadata", {}) or {}
    reset = reset or ("subtract" if str(md.get("reset", "")) == "subtract" else "zero")
    if isinstance(node, nir.Input):
        return Population(name, n, "input"), np.ones(n), np.zeros(n)
    if isinstance(node, nir.LI):
        tau, r, leak = (_vec(getattr(node, f), n, f, key) for f in ("tau", "r", "v_leak"))
        a = dt / (tau * tau_scale)
        if np.ptp(a) > _BETA_UNIFORM or not (0 < a[0] <= 1):
            raise NIRError(f"NIR node {key!r}: LI needs one tau >= dt for all neurons (got dt/tau in [{a.min():.6g}, {a.max():.6g}])")
        return Population(name, n, "linear", {"damping": float(a[0])}), r, leak
    if isinstance(node, (nir.LIF, nir.IF)):
        th = _vec(node.v_threshold, n, "v_threshold", key)
        v_reset = _vec(node.v_reset, n, "v_reset", key) if node.v_reset is not None else np.zeros(n)
        if reset == "zero" and np.any(v_reset != 0):
            raise NIRError(f"NIR node {key!r}: v_reset != 0 is not supported (neurotep resets to zero or by subtraction)")
        if isinstance(node, nir.IF):
            # Norse's IAFCell adds its input unscaled (v <- v + x) and writes r = 1: the same 1/dt as its taus
            beta, gain, leak = np.ones(n), _vec(node.r, n, "r", key) * dt * tau_scale, np.zeros(n)
        else:
            tau, r, v_leak = (_vec(getattr(node, f), n, f, key) for f in ("tau", "r", "v_leak"))
            tau = tau * tau_scale
            beta = 1.0 - dt / tau
            gain, leak = r * dt / tau, (dt / tau) * v_leak
        if np.ptp(beta) > _BETA_UNIFORM or not (0 <= beta[0] <= 1):
            hint = ("; dt is longer than tau: Norse's to_nir writes its taus scaled by dt, so for its files use "
                    "--producer norse (producer='norse'); snnTorch's files take --producer snntorch (dt 1e-4)") \
                if beta.min() < 0 and tau_scale == 1.0 else ""
            raise NIRError(f"NIR node {key!r}: neurotep needs one beta = 1 - dt/tau in [0, 1] per population "
                           f"(got [{beta.min():.6g}, {beta.max():.6g}] with dt={dt:g}){hint}")
        gain = np.where(np.abs(gain - 1.0) < 1e-9, 1.0, gain)  # tau/r round trips leave float noise only
        if np.ptp(th) == 0:
            threshold = float(th[0])
        else:  # per-neuron thresholds: scale each neuron's input by 1/threshold, threshold 1
            threshold, gain, leak = 1.0, gain / th, leak / th
        if not threshold > 0:
            raise NIRError(f"NIR node {key!r}: v_threshold must be > 0, got {threshold}")
        beta0 = 1.0 if abs(beta[0] - 1.0) < 1e-15 else float(beta[0])
        return Population(name, n, "lif", {"beta": beta0, "threshold": threshold, "reset": reset}), gain, leak
    raise NIRError(f"NIR node {key!r}: unsupported neuron type {type(node).__name__}")


def cuba_populations(node: Any, key: str, name: str, n: int, dt: float, tau_scale: float, reset: str | None,
                     producer: str | None) -> tuple[Population, Population, Connection, np.ndarray, np.ndarray]:
    """A CubaLIF as a graded synaptic-current population ``<name>_syn`` (a linear unit with
    damping ``a = dt / tau_syn``: ``I <- (1 - a) I + a u``) driving a LIF population ``<name>``
    within the step (weight ``r dt / tau_mem`` per neuron). NIR's ``tau_syn dI/dt = -I + w_in x``
    gives ``u = w_in x``; Norse's LIFCell adds its input to I as a jump (``I <- I + x``) yet
    exports ``w_in = 1``, so ``producer="norse"`` reads ``u = x / a``. Returns the two
    populations, their connection, the gain on ``<name>_syn``'s input and ``<name>``'s bias."""
    md = getattr(node, "metadata", {}) or {}
    reset = reset or ("subtract" if str(md.get("reset", "")) == "subtract" else "zero")
    tau_syn, tau_mem, r, w_in, v_leak, th = (_vec(getattr(node, f), n, f, key)
                                             for f in ("tau_syn", "tau_mem", "r", "w_in", "v_leak", "v_threshold"))
    if node.v_reset is not None and reset == "zero" and np.any(_vec(node.v_reset, n, "v_reset", key) != 0):
        raise NIRError(f"NIR node {key!r}: v_reset != 0 is not supported (neurotep resets to zero or by subtraction)")
    tau_syn, tau_mem = tau_syn * tau_scale, tau_mem * tau_scale
    a, beta = dt / tau_syn, 1.0 - dt / tau_mem
    if np.ptp(a) > _BETA_UNIFORM or not (0 < a[0] <= 1) or np.ptp(beta) > _BETA_UNIFORM or not (0 <= beta[0] <= 1):
        raise NIRError(f"NIR node {key!r}: CubaLIF needs one tau_syn and one tau_mem >= dt={dt:g} for all neurons")
    fold = np.ones(n) if np.ptp(th) == 0 else th
    threshold = float(th[0]) if np.ptp(th) == 0 else 1.0
    syn = Population(f"{name}_syn", n, "linear", {"damping": float(a[0])})
    lif = Population(name, n, "lif", {"beta": float(beta[0]), "threshold": threshold, "reset": reset})
    w = np.diag(r * (dt / tau_mem) / fold)
    conn = Connection(f"{name}_syn_to_{name}", syn.name, lif.name, w, delay=0)
    g_in = w_in / a if producer == "norse" else w_in
    return syn, lif, conn, g_in, (dt / tau_mem) * v_leak / fold
