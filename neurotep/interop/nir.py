"""NIR (Neuromorphic Intermediate Representation) export and import.

NIR describes neurons in continuous time; neurotep steps in discrete time. Every mapping below is
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

Not exportable (one-line :class:`NIRError` naming the population): stochastic neurons and
probabilistic gates (NIR has no random neuron), tanh units (no spiking form), a bias on a
population with no incoming connection (NIR has no constant source).

**Reset.** NIR's LIF and IF reset to ``v_reset``; neurotep's integrate-and-fire (the spiking
form of every rate model) resets by subtraction, which NIR cannot express. Such populations are
written as LIF/IF with ``metadata["reset"] = "subtract"`` and the export returns a note saying
so; the NIR-standard reading (reset to zero) spikes differently. Zero reset is exact: neurotep's
delayed zero reset (``v = (1 - s_prev) beta v + i``) gives the same spikes as an immediate one.

Everything neurotep-specific that NIR does not carry (names, which edge pairs are one symmetric
connection, buffers, masks, learning rules, probes, graph meta, dt) is kept in the graph's
``metadata["neurotep"]`` (a JSON string) and the weight nodes' ``metadata["mask"]``, so
neurotep -> NIR -> neurotep returns the same graph (weights as ``W * mask``).

**Import** (:func:`from_nir`, :func:`import_nir`) reads any NIR graph of Input, Output, LIF, IF,
LI, CubaLIF, Linear, Affine and Delay nodes (nested graphs are flattened), e.g. one written by
snnTorch's ``export_to_nir`` or Norse's ``to_nir``. A CubaLIF becomes two populations: its
synaptic current as a graded ``linear`` unit ``<name>_syn`` (damping ``dt / tau_syn``) driving
the LIF ``<name>`` within the step. NIR does not record a time step, so ``dt`` must be given
unless neurotep wrote the file; ``producer="snntorch"`` / ``"norse"`` supplies their dt (1e-4,
1e-3) and undoes Norse's tau scaling (see :func:`from_nir`); ``reset`` overrides the reset mode,
which snnTorch's export does not write. The traps:

* per-neuron vectors: parameters may be 0-d or length-1 arrays (snnTorch writes a scalar beta
  that way); they are broadcast to the population size, taken from the adjacent weights. ``tau``
  (hence beta) must be uniform; per-neuron ``r`` (input gain ``r dt / tau``) is folded into the
  incoming weight rows and bias, per-neuron thresholds too (threshold 1, rows divided by
  ``v_threshold``; the same spikes in exact arithmetic); ``v_leak`` becomes a bias.
* timing: NIR edges without a Delay act within the step (nirtorch evaluates the graph once per
  step), so they become delay-0 connections; an edge that closes a delay-less cycle gets delay 1
  (nirtorch feeds a recurrent input from the previous step).
* ``v_reset`` must be 0 (neurotep resets to zero or by subtraction); neurotep starts every
  membrane at 0, Norse at ``v_leak``, so with ``v_leak != 0`` the first steps differ.

To run an exported graph in Norse, pass it through :func:`fold_resistance` first (Norse ignores
``r``). snnTorch and Norse cannot run Delay nodes, so only delay-0 networks run there.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from neurotep.errors import NeurotepError
from neurotep.graph import Graph
from neurotep.graph.nodes import RATE_MODELS, Connection, LearningRule, Population, Probe, ToroidalBuffer
from neurotep.outputs import atomic_file

DT = 1e-4
"""Default export time step: snnTorch's ``import_from_nir`` hard-codes it (Norse's ``from_nir``
takes ``dt`` as an argument)."""

FORMAT = "neurotep-nir"
FORMAT_VERSION = 1
_BETA_UNIFORM = 1e-9  # beta = 1 - dt / tau recomputed from a tau vector: float noise, not a real spread
_NAME = re.compile(r"[^A-Za-z0-9_-]")  # no '.': torch's ParameterDict keys (TorchNetwork) refuse it


class NIRError(NeurotepError):
    """A graph cannot be exported to NIR, or a NIR file cannot be imported."""


def _nir():
    import nir

    return nir


# -- export ---------------------------------------------------------------------------------------
def to_nir(graph: Graph, dt: float = DT) -> tuple[Any, list[str]]:
    """``graph`` as a ``nir.NIRGraph``, plus notes on what the reader must know (e.g. subtractive
    reset). A rate model is converted to its spiking LIF form first."""
    nir = _nir()
    from neurotep.graph.transforms import rate_to_spiking

    _check_dt(dt)
    graph.validate()
    notes: list[str] = []
    if any(p.model in RATE_MODELS - {"linear"} for p in graph.populations.values()):
        tanh = [p.name for p in graph.populations.values() if p.model == "tanh"]
        if tanh:
            raise NIRError(f"population {tanh[0]!r}: tanh units have no spiking form, so NIR cannot express them")
        graph = rate_to_spiking(graph, neuron="lif")
        notes.append("rate model exported in its spiking form (integrate-and-fire units, as `run --spiking --neuron lif`)")
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    doc: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION, "dt": dt, "meta": graph.meta,
                           "populations": list(graph.populations),
                           "probes": [[p.name, p.population, p.what] for p in graph.probes],
                           "connections": {}, "buffers": []}
    for p in graph.populations.values():
        nodes[p.name], note = _neuron_node(nir, p, dt)
        if note:
            notes.append(note)
        if p.bias is not None and not any(True for _ in graph.incoming(p.name)):
            raise NIRError(f"population {p.name!r}: a bias without any incoming connection has no NIR form (no constant source)")
    biased: set[str] = set()
    for c in graph.connections:
        w = c.weight * c.mask if c.mask is not None else c.weight
        fb = float(getattr(c, "feedback", 1.0))  # scale of a symmetric connection's transposed direction
        doc["connections"][c.name] = {"symmetric": bool(c.symmetric), "feedback": fb,
                                      "learning": None if c.learning is None else [c.learning.kind, c.learning.params]}
        directions = [(c.pre, c.post, w, f"conn.{c.name}")]
        if c.symmetric:
            directions.append((c.post, c.pre, fb * w.T, f"conn.{c.name}.T"))
        for pre, post, wd, key in directions:
            bias = None
            if post not in biased and graph.populations[post].bias is not None:
                bias = graph.populations[post].bias
                biased.add(post)
            node = nir.Linear(weight=np.array(wd, dtype=np.float64)) if bias is None else \
                nir.Affine(weight=np.array(wd, dtype=np.float64), bias=np.array(bias, dtype=np.float64))
            if c.mask is not None:
                node.metadata["mask"] = (c.mask.T if key.endswith(".T") else c.mask).astype(np.uint8)
            _chain(nir, nodes, edges, pre, post, key, node, c.delay, graph.populations[pre].size, dt)
    for b in graph.buffers:
        doc["buffers"].append({"name": b.name, "population": b.population, "depth": b.depth, "decay": list(b.decay),
                               "gain": b.gain, "shape": list(b.shape), "radius": list(b.radius), "learn": bool(b.learn)})
        n = graph.populations[b.population].size
        kernel = b.spatial_kernel() if b.shape else np.eye(n)
        for j, wj in enumerate(b.tap_weights()):
            _chain(nir, nodes, edges, b.population, b.population, f"buffer.{b.name}.{j}",
                   nir.Linear(weight=wj * kernel), j + 1, n, dt)
        if b.learn:
            notes.append(f"buffer {b.name!r}: learned decays exported as their current values {tuple(b.decay)}")
    n_delay = sum(1 for v in nodes.values() if isinstance(v, nir.Delay))
    if n_delay:
        notes.append(f"{n_delay} Delay nodes (connection delays >= 1 step, buffer taps): snnTorch 1.0's and Norse 1.1's "
                     "importers cannot run Delay nodes; neurotep's import can")
    out = graph.meta.get("output")
    outs = [out] if out in graph.populations else [
        p.name for p in graph.state_populations()
        if not any(c.pre == p.name or (c.symmetric and c.post == p.name) for c in graph.connections)]
    for name in outs:
        key = f"output.{name}" if len(outs) > 1 else "output"
        while key in nodes:  # a population may itself be called "output"
            key += "_"
        nodes[key] = nir.Output(output_type=np.array([graph.populations[name].size]))
        edges.append((name, key))
    g = nir.NIRGraph(nodes=nodes, edges=edges, metadata={"neurotep": json.dumps(doc), "dt": float(dt)})
    return g, notes


def _check_dt(dt: Any) -> None:
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not math.isfinite(dt) or not dt > 0:
        raise NIRError(f"dt must be a number > 0 (seconds per step), got {dt!r}")


def _neuron_node(nir, p: Population, dt: float) -> tuple[Any, str | None]:
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


def _chain(nir, nodes: dict, edges: list, pre: str, post: str, key: str, weight_node: Any, delay: int,
           pre_size: int, dt: float) -> None:
    """``pre -> [Delay] -> weight -> post``: the delay sits before the weights so that an Affine's
    bias reaches ``post`` from the first step, as neurotep's bias does."""
    nodes[key] = weight_node
    src = pre
    if delay > 0:
        nodes[f"{key}.delay"] = nir.Delay(delay=np.full(pre_size, delay * dt))
        edges.append((pre, f"{key}.delay"))
        src = f"{key}.delay"
    edges += [(src, key), (key, post)]


def export_nir(graph: Graph, path: str | os.PathLike, dt: float = DT) -> list[str]:
    """Write ``graph`` as a NIR file (HDF5) atomically; returns the export notes. Nothing is
    written when the graph cannot be exported."""
    g, notes = to_nir(graph, dt)
    target = Path(path)
    if target.is_dir():
        raise NIRError(f"{target}: is a directory; give a file name for the NIR graph")
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(target) as tmp:
        _nir().write(str(tmp), g)
    return notes


def fold_resistance(g: Any) -> Any:
    """An equivalent NIR graph with ``r = 1`` on every LIF and LI node, ``r`` folded into the
    rows of the Linear/Affine nodes that feed it (a copy; ``g`` is not changed).

    For importers that ignore ``r``: Norse 1.1's ``from_nir`` builds ``LIFBoxCell`` from tau,
    v_threshold and v_leak only (``norse/torch/utils/import_nir.py``) and merely logs a warning,
    which scales every input by ``1 - beta`` instead of 1. A weight node that also feeds another
    node cannot take one neuron's ``r``: that is a one-line :class:`NIRError`."""
    import copy

    nir = _nir()
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
class _Pass:
    """A nested graph's own Input/Output once flattened: passes its input through."""


def _flatten(g: Any, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    nir = _nir()
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    entry: dict[str, list[str]] = {}
    exit_: dict[str, list[str]] = {}
    for key, node in g.nodes.items():
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = _flatten(node, f"{prefix}{key}.")
            for k, v in sub_nodes.items():
                if isinstance(v, (nir.Input, nir.Output)):
                    sub_nodes[k] = _Pass()
            nodes.update(sub_nodes)
            edges += sub_edges
            entry[key] = [f"{prefix}{key}.{k}" for k, v in node.nodes.items() if isinstance(v, nir.Input)]
            exit_[key] = [f"{prefix}{key}.{k}" for k, v in node.nodes.items() if isinstance(v, nir.Output)]
        else:
            nodes[f"{prefix}{key}"] = node
    for a, b in g.edges:
        for s in exit_.get(a, [f"{prefix}{a}"]):
            for t in entry.get(b, [f"{prefix}{b}"]):
                edges.append((s, t))
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise NIRError(f"NIR edge ({a!r}, {b!r}) refers to node {end!r}, which does not exist")
    return nodes, edges


def _vec(x: Any, n: int, what: str, key: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if a.size == 1:
        return np.full(n, a[0])
    if a.size != n:
        raise NIRError(f"NIR node {key!r}: {what} has {a.size} values for {n} neurons")
    if not np.isfinite(a).all():
        raise NIRError(f"NIR node {key!r}: {what} has non-finite values")
    return a


def _sizes(nodes: dict, edges: list, neurons: list[str]) -> dict[str, int]:
    """Population sizes: the parameter vectors' length, else the adjacent weights' shape (snnTorch
    writes a scalar beta as 0-d parameters), else the declared input type."""
    nir = _nir()
    size: dict[str, int] = {}
    for k in neurons:
        node = nodes[k]
        if isinstance(node, nir.Input):
            size[k] = int(np.prod(next(iter(node.input_type.values()))))
            continue
        params = [np.asarray(getattr(node, f)) for f in ("tau", "r", "v_threshold", "tau_mem") if hasattr(node, f)]
        n = max((a.size for a in params), default=1)
        if n <= 1:
            cands = [nodes[a].weight.shape[0] for a, b in edges if b == k and hasattr(nodes[a], "weight")]
            cands += [nodes[b].weight.shape[1] for a, b in edges if a == k and hasattr(nodes[b], "weight")]
            n = cands[0] if cands else n
        size[k] = int(n)
    return size


def _population(node: Any, key: str, name: str, n: int, dt: float, tau_scale: float = 1.0,
                reset: str | None = None) -> tuple[Population, np.ndarray, np.ndarray]:
    """The neurotep population of a NIR neuron node, with the per-neuron gain applied to its
    input current and the constant current (from ``v_leak``) that neurotep adds as a bias."""
    nir = _nir()
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
            beta, gain, leak = np.ones(n), _vec(node.r, n, "r", key) * dt, np.zeros(n)
        else:
            tau, r, v_leak = (_vec(getattr(node, f), n, f, key) for f in ("tau", "r", "v_leak"))
            tau = tau * tau_scale
            beta = 1.0 - dt / tau
            gain, leak = r * dt / tau, (dt / tau) * v_leak
        if np.ptp(beta) > _BETA_UNIFORM or not (0 <= beta[0] <= 1):
            raise NIRError(f"NIR node {key!r}: neurotep needs one beta = 1 - dt/tau in [0, 1] per population "
                           f"(got [{beta.min():.6g}, {beta.max():.6g}] with dt={dt:g})")
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


PRODUCERS = {"snntorch": 1e-4, "norse": 1e-3}
"""The time step each library's NIR export assumes (snnTorch: ``export_nir.py`` hard-codes
``dt = 1e-4``; Norse: ``to_nir(..., dt=0.001)``)."""


def _cuba(node: Any, key: str, name: str, n: int, dt: float, tau_scale: float, reset: str | None,
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


def from_nir(g: Any, dt: float | None = None, producer: str | None = None, reset: str | None = None) -> Graph:
    """A neurotep :class:`Graph` from a ``nir.NIRGraph`` (see the module docstring for the
    mapping).

    ``dt`` (seconds per step) defaults to the one neurotep recorded in the graph, else to the
    ``producer``'s. ``producer="norse"`` also undoes Norse 1.1's export scaling: its ``to_nir``
    writes ``tau = dt / tau_mem_inv`` (``norse/torch/utils/export_nir.py``), ``dt`` times the real
    time constant, so the file read as NIR (or by Norse's own ``from_nir``) integrates ``1/dt``
    times too fast; the true tau is ``tau / dt``. ``reset`` ("zero" or "subtract") overrides the
    reset of every LIF/IF population: snnTorch's ``export_to_nir`` writes ``v_reset = 0`` whatever
    the Leaky's ``reset_mechanism`` (its default is subtraction)."""
    nir = _nir()
    if not isinstance(g, nir.NIRGraph):
        raise NIRError(f"expected a NIR graph, got {type(g).__name__}")
    if producer is not None and producer not in PRODUCERS:
        raise NIRError(f"unknown NIR producer {producer!r}: use {' or '.join(PRODUCERS)} (or none for the NIR standard)")
    if reset is not None and reset not in ("zero", "subtract"):
        raise NIRError(f"unknown reset {reset!r}: use zero or subtract")
    doc = _neurotep_doc(g)
    dt = dt if dt is not None else doc.get("dt", PRODUCERS.get(producer or ""))
    if dt is None:
        raise NIRError("this NIR graph does not record its time step: pass dt or the producer "
                       "(snnTorch's export_to_nir uses 1e-4, Norse's to_nir 1e-3)")
    _check_dt(dt)
    tau_scale = 1.0 / dt if producer == "norse" else 1.0
    nodes, edges = _flatten(g)
    neuron_types = (nir.Input, nir.LIF, nir.IF, nir.LI, nir.CubaLIF)
    transit = (nir.Linear, nir.Affine, nir.Delay, _Pass)
    for k, node in nodes.items():
        if not isinstance(node, (*neuron_types, *transit, nir.Output)):
            raise NIRError(f"NIR node {k!r} of type {type(node).__name__} is not supported "
                           "(neurotep imports Input, Output, LIF, IF, LI, CubaLIF, Linear, Affine, Delay)")
    neurons = [k for k, v in nodes.items() if isinstance(v, neuron_types)]
    if not any(isinstance(nodes[k], nir.Input) for k in neurons):
        raise NIRError("NIR graph has no Input node")
    names = _unique_names(neurons, set(doc.get("populations", [])))
    size = _sizes(nodes, edges, neurons)
    succ: dict[str, list[str]] = {k: [] for k in nodes}
    for a, b in edges:
        succ[a].append(b)
    # A CubaLIF becomes two populations (synaptic current, then LIF): connections into the node
    # drive the first (dst), connections out of it leave the second (src).
    pops, gains, leaks, src, dst, inner = {}, {}, {}, {}, {}, []
    for k in neurons:
        if isinstance(nodes[k], nir.CubaLIF):
            syn, lif, conn, g_in, leak = _cuba(nodes[k], k, names[k], size[k], dt, tau_scale, reset, producer)
            pops[k] = [syn, lif]
            gains[syn.name], leaks[syn.name], gains[lif.name], leaks[lif.name] = g_in, np.zeros(size[k]), np.ones(size[k]), leak
            src[k], dst[k] = lif.name, syn.name
            inner.append(conn)
            continue
        p, gains[names[k]], leaks[names[k]] = _population(nodes[k], k, names[k], size[k], dt, tau_scale, reset)
        pops[k], src[k], dst[k] = [p], names[k], names[k]
    graph = Graph()
    order = {n: i for i, n in enumerate(doc.get("populations", []))}  # HDF5 lists groups alphabetically
    for k in sorted(neurons, key=lambda k: (order.get(names[k], len(order)), not isinstance(nodes[k], nir.Input))):
        for p in pops[k]:
            graph.add(p)
    biases: dict[str, np.ndarray] = {}
    bias_seen: set[tuple[str, str]] = set()
    conns: list[Connection] = []
    outputs: list[str] = []
    for k in neurons:
        for path, tgt in _paths(nodes, succ, k):
            if isinstance(nodes[tgt], nir.Output):
                if path:
                    raise NIRError(f"NIR path {k!r} -> {tgt!r} has weights or delays before the Output; not supported")
                outputs.append(src[k])
                continue
            if isinstance(nodes[tgt], nir.Input):
                raise NIRError(f"NIR edge into Input node {tgt!r}: inputs are clamped and cannot be driven")
            conns.append(_connection(nodes, path, k, tgt, (src[k], dst[tgt]), size, dt, biases, bias_seen, doc))
    _retime_cycles(conns)
    used: dict[str, int] = {}
    for c in conns:
        c.weight = c.weight * gains[c.post][:, None]
        base = c.name
        used[base] = used.get(base, 0) + 1
        if used[base] > 1:
            c.name = f"{base}_{used[base]}"
    for p in graph.populations.values():
        if p.model == "input":
            continue
        b = gains[p.name] * biases[p.name] if p.name in biases else None
        if np.any(leaks[p.name] != 0):
            b = leaks[p.name] if b is None else b + leaks[p.name]
        p.bias = b
    try:
        _restore(graph, conns + inner, doc)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise NIRError(f"NIR graph metadata 'neurotep' is malformed ({type(e).__name__}: {e})") from None
    graph.meta.setdefault("input", names[next(k for k in neurons if isinstance(nodes[k], nir.Input))])
    if outputs:
        graph.meta.setdefault("output", outputs[0])
    try:
        return graph.validate()
    except NeurotepError as e:
        raise NIRError(f"imported NIR graph is not a valid neurotep graph: {e}") from None


def _unique_names(keys: list[str], keep: set[str]) -> dict[str, str]:
    """neurotep names for NIR node keys: kept when neurotep wrote them, else made safe."""
    out, seen = {}, set()
    for k in keys:
        n = k if k in keep else (_NAME.sub("_", k) or "node")
        while n in seen:
            n += "_"
        seen.add(n)
        out[k] = n
    return out


def _paths(nodes: dict, succ: dict, start: str) -> list[tuple[list[str], str]]:
    """Every route from neuron ``start`` through weight/delay nodes to the next neuron or Output."""
    nir = _nir()
    found: list[tuple[list[str], str]] = []

    def walk(k: str, path: list[str]) -> None:
        for nxt in succ[k]:
            if isinstance(nodes[nxt], (nir.Linear, nir.Affine, nir.Delay, _Pass)):
                if nxt in path:
                    raise NIRError(f"NIR graph has a cycle through {nxt!r} with no neuron on it (algebraic loop)")
                walk(nxt, path + [nxt])
            else:
                found.append((path, nxt))

    walk(start, [])
    return found


def _connection(nodes, path, pre_k, post_k, ends, size, dt, biases, bias_seen, doc) -> Connection:
    nir = _nir()
    weight_keys = [k for k in path if isinstance(nodes[k], (nir.Linear, nir.Affine))]
    if len(weight_keys) > 1:
        raise NIRError(f"NIR path {pre_k!r} -> {post_k!r} has several weight nodes in series ({', '.join(weight_keys)}); not supported")
    steps, after_weight = 0, False
    for k in path:
        if isinstance(nodes[k], (nir.Linear, nir.Affine)):
            after_weight = True
        if isinstance(nodes[k], nir.Delay):
            d = np.asarray(nodes[k].delay, dtype=np.float64).reshape(-1)
            s = d / dt
            if np.ptp(s) != 0 or abs(s[0] - round(s[0])) > 1e-6 or round(s[0]) < 0:
                raise NIRError(f"NIR Delay {k!r}: delays must be one whole number of steps of dt={dt:g} (got {d.min():g}..{d.max():g} s)")
            steps += int(round(s[0]))
            if after_weight and weight_keys and isinstance(nodes[weight_keys[0]], nir.Affine) \
                    and np.any(nodes[weight_keys[0]].bias != 0):
                raise NIRError(f"NIR Delay {k!r} after Affine {weight_keys[0]!r}: a delayed bias is not supported")
    pre, post = ends
    if weight_keys:
        wk = weight_keys[0]
        w = np.array(nodes[wk].weight, dtype=np.float64)
        if w.shape != (size[post_k], size[pre_k]):
            raise NIRError(f"NIR node {wk!r}: weight shape {w.shape} does not connect {pre_k!r} "
                           f"({size[pre_k]}) to {post_k!r} ({size[post_k]})")
        if isinstance(nodes[wk], nir.Affine) and (wk, post_k) not in bias_seen:
            bias_seen.add((wk, post_k))
            b = np.asarray(nodes[wk].bias, dtype=np.float64).reshape(-1)
            if b.size == 1:
                b = np.full(size[post_k], b[0])
            biases[post] = biases.get(post, 0.0) + b
        # neurotep's own keys ("conn.<name>", "conn.<name>.T", "buffer.<name>.<tap>") are re-formed
        # by _restore; other producers' keys are made safe names.
        name = (wk[5:] if wk.startswith("conn.") else wk) if doc else _NAME.sub("_", wk)
        mask = (nodes[wk].metadata or {}).get("mask")
        mask = np.asarray(mask).astype(bool) if mask is not None and np.shape(mask) == w.shape else None
    else:
        if size[pre_k] != size[post_k]:
            raise NIRError(f"NIR edge {pre_k!r} -> {post_k!r} joins {size[pre_k]} to {size[post_k]} neurons without weights")
        w, name, mask = np.eye(size[pre_k]), f"{pre}_to_{post}", None
    return Connection(name, pre, post, w, delay=steps, mask=mask)


def _retime_cycles(conns: list[Connection]) -> None:
    """Give delay 1 to each delay-0 connection that closes a cycle of delay-0 connections, visiting
    them in file order (nirtorch feeds such a recurrent input from the previous step)."""
    succ: dict[str, list[Connection]] = {}
    for c in conns:
        if c.delay == 0:
            succ.setdefault(c.pre, []).append(c)
    state: dict[str, int] = {}

    def visit(n: str) -> None:
        state[n] = 1
        for c in succ.get(n, []):
            if state.get(c.post) == 1:
                c.delay = 1
            elif c.post not in state:
                visit(c.post)
        state[n] = 2

    for c in conns:
        if c.pre not in state:
            visit(c.pre)


def _neurotep_doc(g: Any) -> dict[str, Any]:
    raw = (g.metadata or {}).get("neurotep")
    if raw is None:
        return {}
    try:
        doc = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
    except (ValueError, UnicodeDecodeError) as e:
        raise NIRError(f"NIR graph metadata 'neurotep' is not valid JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("format_version") != FORMAT_VERSION:
        raise NIRError(f"NIR graph metadata 'neurotep' has an unknown format (expected {FORMAT} version {FORMAT_VERSION})")
    return doc


def _restore(graph: Graph, conns: list[Connection], doc: dict[str, Any]) -> None:
    """Re-form what neurotep's export lowered (symmetric pairs, buffers) and restore its extras;
    a graph from another tool keeps the plain connections."""
    order = {n: i for i, n in enumerate(doc.get("connections", {}))}
    conns = sorted(conns, key=lambda c: order.get(c.name, len(order)))
    by_name = {c.name: c for c in conns}
    buffers = {b["name"]: b for b in doc.get("buffers", [])}
    for c in conns:
        m = re.fullmatch(r"buffer\.(.+)\.(\d+)", c.name)
        if m and m.group(1) in buffers:
            continue  # re-formed below
        if c.name.endswith(".T") and c.name[:-2] in by_name and doc.get("connections", {}).get(c.name[:-2], {}).get("symmetric"):
            continue  # the feedback half of a symmetric connection
        info = doc.get("connections", {}).get(c.name)
        if info:
            back = by_name.get(f"{c.name}.T")
            if info.get("symmetric") and back is not None:
                fb = float(info.get("feedback", 1.0))
                if back.delay != c.delay or not np.allclose(back.weight, fb * c.weight.T, rtol=1e-12, atol=0):
                    raise NIRError(f"connection {c.name!r}: its two directions are no longer transposes; cannot re-form the symmetric connection")
                c.symmetric = True
                if fb != 1.0:
                    c.feedback = fb
            if info.get("learning"):
                kind, params = info["learning"]
                c.learning = LearningRule(kind, params)
        graph.add(c)
    for b in buffers.values():
        taps = sorted((int(m.group(2)), c) for c in conns if (m := re.fullmatch(r"buffer\.(.+)\.(\d+)", c.name))
                      and m.group(1) == b["name"])
        if [j for j, _ in taps] != list(range(int(b["depth"]))) or any(c.delay != j + 1 for j, c in taps):
            raise NIRError(f"buffer {b['name']!r}: the file's tap nodes do not match its recorded depth {b['depth']}")
        graph.add(ToroidalBuffer(b["name"], b["population"], int(b["depth"]), tuple(b["decay"]), b["gain"],
                                 tuple(b["shape"]), tuple(b["radius"]), bool(b["learn"])))
    if doc:
        graph.meta.update(doc.get("meta") or {})
        for name, pop, what in doc.get("probes", []):
            graph.add(Probe(name, pop, what))


def import_nir(path: str | os.PathLike, dt: float | None = None, producer: str | None = None,
               reset: str | None = None) -> Graph:
    """Read a NIR file and convert it with :func:`from_nir`; one-line :class:`NIRError` for a
    missing, unreadable or unsupported file."""
    src = Path(path)
    if not src.is_file():
        raise NIRError(f"{src}: no such NIR file")
    try:
        g = _nir().read(src)
    except Exception as e:  # h5py / NIR parse errors of every kind
        msg = " ".join(str(e).split())[:200]
        raise NIRError(f"{src}: not a readable NIR file ({type(e).__name__}: {msg})") from None
    try:
        return from_nir(g, dt, producer, reset)
    except NIRError as e:
        raise NIRError(f"{src}: {e}") from None
