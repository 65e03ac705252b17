"""Mapping a compiled :class:`~neurotep.backends.lava.plan.LavaPlan` onto the cores of a chip.

This is a resource estimate, not lava-loihi's compiler: it says how many neuro-cores a plan
needs, which limits it breaks and which of its processes cannot run on neuro-cores at all.

Model (each figure comes from the chip profile, see :mod:`neurotep.hardware.profiles`):

* Every neuron population is placed on neuro-cores together with the synapses INTO it (the
  fan-in connections live on the cores of their postsynaptic population). It needs
  ``max(ceil(neurons / neurons_per_core), ceil(memory / memory_per_core),
  ceil(synapses_in / synapses_per_core))`` cores, where ``memory = synapses_in * bytes_per_synapse
  (+ neurons * neuron_state_bytes where the profile shares core memory between the two)``.
  The largest of those ratios is the population's limiting resource. A population that needs more
  than one core is a violation: neurotep compiles each population into ONE Lava process.
* Fan-in per core = distinct presynaptic neurons that reach the neurons of one core (summed over
  the incoming connections); fan-out per core = (neuron, destination core) pairs of one core.
  Both assume each population is cut into equal contiguous blocks, one per core.
* A process sits on neuro-cores only when its class is in ``loihi2_classes.json`` (package data,
  the table of ``hardware/loihi2/README.md``): Lava library classes for which a public source
  shows a Loihi 2 neuro-core model. Everything else stays on the host or the embedded x86 cores
  (``host_processes``), each with a one-line reason (``off_core``): neurotep's own processes
  (Python models only), and the chip boundary (input sources, recorders that only receive),
  which ``neuro_core_fraction`` leaves out. Neuron populations held by a host process are still
  given the cores they would need once they have a neuro-core model, and a warning says so.
  Input sources take no neuro-core.
* Connection checks: synaptic delay against the delay field, weight dynamic range against an
  8-bit mantissa with one shared exponent per connection (the 5th percentile of the nonzero
  |w| against the largest), graded-spike width against the payload.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from neurotep.hardware.profiles import load_classes, load_profile, profile_value

NEURO_CORE = "neuro-core"
HOST = "host/embedded CPU"
CONNECTION_KINDS = ("dense", "sparse", "delay_sparse")
WEIGHT_PERCENTILE = 5.0


def placement_of(lava_class: str) -> str:
    """Where a process class runs on Loihi 2: on neuro-cores only when the sourced list says so."""
    return NEURO_CORE if lava_class in load_classes()["neuro_core"] else HOST


def off_core_reason(lava_class: str) -> tuple[str, bool]:
    """Why a class is not on the neuro-cores, in one line, and whether it is chip-boundary I/O
    (which ``neuro_core_fraction`` leaves out)."""
    table = load_classes()
    if lava_class in table["boundary"]:
        return table["boundary"][lava_class], True
    if lava_class in table["host"]:
        return table["host"][lava_class], False
    return ("no public source shows a Loihi 2 neuro-core model for this class (hardware/loihi2/README.md lists "
            "the classes that count)"), False


@dataclass
class PopulationRow:
    population: str
    process: str
    lava_class: str
    placement: str
    neurons: int
    synapses_in: int
    fan_in: int  # largest count of distinct presynaptic neurons reaching one of its cores
    fan_out: int  # largest count of (neuron, destination core) pairs leaving one of its cores
    memory_bytes: int
    cores: int
    limiting: str


@dataclass
class CoreMap:
    profile: str
    title: str
    cores: int
    chips: int
    populations: list[PopulationRow]
    host_processes: list[str]
    host_classes: dict[str, str]
    # every process off the neuro-cores: {"name", "class", "population", "boundary", "reason"}
    off_core: list[dict] = field(default_factory=list)
    # shares on neuro-core processes, chip-boundary I/O left out: {"neurons": x, "synapses": y}
    neuro_core_fraction: dict[str, float] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        """True when the plan breaks no limit of one chip."""
        return not self.violations

    def row(self, population: str) -> PopulationRow:
        return next(r for r in self.populations if r.population == population)

    def describe(self) -> dict:
        """A JSON-friendly summary."""
        return {
            "profile": self.profile,
            "fits": self.fits,
            "cores": self.cores,
            "chips": self.chips,
            "populations": [asdict(r) for r in self.populations],
            "neuro_core_fraction": dict(self.neuro_core_fraction),
            "off_core": [dict(o) for o in self.off_core],
            "host_processes": [{"name": n, "class": self.host_classes[n], "runs_on": HOST} for n in self.host_processes],
            "violations": list(self.violations),
            "warnings": list(self.warnings),
            "assumptions": list(self.assumptions),
            "unchecked": list(self.unchecked),
        }

    def lines(self) -> list[str]:
        """A human-readable report, one line each."""
        verdict = "fits" if self.fits else f"does NOT fit ({len(self.violations)} violation(s))"
        out = [f"{self.title}: {self.cores} neuro-core(s) on {self.chips} chip(s); {verdict}"]
        if self.neuro_core_fraction:
            f = self.neuro_core_fraction
            out.append(f"  on neuro-core processes (chip I/O left out): {f['neurons']:.1%} of neurons, "
                       f"{f['synapses']:.1%} of synapses")
        for r in self.populations:
            if r.cores == 0:
                out.append(f"  {r.population} ({r.process}): {r.neurons:,} inputs, {r.placement} (no neuro-core)")
                continue
            out.append(f"  {r.population} ({r.process}, {_short(r.lava_class)}): {r.neurons:,} neurons, "
                       f"{r.synapses_in:,} synapses in, fan-in {r.fan_in:,}, fan-out {r.fan_out:,}, "
                       f"{r.memory_bytes / 1024:.1f} KB -> {r.cores} core(s), limited by {r.limiting}"
                       + ("" if r.placement == NEURO_CORE else f" [Python model: {HOST} today]"))
        for o in self.off_core:
            out.append(f"  off the neuro-cores: {o['name']} ({_short(o['class'])}): {o['reason']}")
        out += [f"violation: {v}" for v in self.violations]
        out += [f"warning: {w}" for w in self.warnings]
        out += [f"assumption: {a}" for a in self.assumptions]
        out += [f"not checked: {u}" for u in self.unchecked]
        return out


def _short(cls: str) -> str:
    return cls.rsplit(".", 1)[-1]


def _csr(w: Any) -> sp.csr_matrix:
    m = sp.csr_matrix(w) if not sp.issparse(w) else w.tocsr(copy=True)
    m = sp.csr_matrix(m, copy=True)
    m.eliminate_zeros()
    m.sort_indices()
    return m


def _blocks(n: int, k: int) -> list[tuple[int, int]]:
    size = max(1, math.ceil(n / max(k, 1)))
    return [(i, min(i + size, n)) for i in range(0, n, size)] or [(0, 0)]


def _cols_in_rows(w: sp.csr_matrix, r0: int, r1: int) -> np.ndarray:
    return np.unique(w.indices[w.indptr[r0]:w.indptr[r1]])


def _entry(profile: dict, key: str) -> dict:
    return profile.get("entries", {}).get(key, {})


def map_to_cores(plan: Any, profile: dict | str = "loihi2") -> CoreMap:
    """Estimate the neuro-cores ``plan`` needs on the chip ``profile`` (a profile dict or its name)."""
    if isinstance(profile, str):
        profile = load_profile(profile)
    title = profile.get("title", profile.get("name", "the chip"))
    v = lambda key, default=None: profile_value(profile, key, default)  # noqa: E731
    npc = v("neurons_per_core")
    mpc = v("memory_per_core")
    spc = v("synapses_per_core")
    bps = v("bytes_per_synapse", 1)
    nsb = v("neuron_state_bytes", 0)
    cpc = v("neuro_cores_per_chip")
    status = lambda key: _entry(profile, key).get("status", "?")  # noqa: E731

    procs = {p.name: p for p in plan.procs}
    violations: list[str] = []
    warnings: list[str] = []
    unchecked: list[str] = []
    assumptions = [
        f"{bps} bytes per synapse ({status('bytes_per_synapse')}): 8-bit weight plus index overhead",
        "the synapses into a population live on that population's cores; each population is cut into "
        "equal contiguous blocks, one per core",
    ]
    if nsb:
        assumptions.append(f"{nsb} bytes of state per neuron ({status('neuron_state_bytes')}), sharing the "
                           "core's memory with the synapses")

    # Connections: where they come from and go to, their weights as CSR (post x pre).
    conns: dict[str, dict[str, Any]] = {}
    for p in plan.procs:
        if p.kind in CONNECTION_KINDS or "weights" in p.arrays:
            src = next((l.src for l in plan.links if l.dst == p.name and l.dst_port == "s_in"), None)
            dst = next((l.dst for l in plan.links if l.src == p.name and l.src_port == "a_out"), None)
            conns[p.name] = dict(proc=p, src=src, dst=dst, w=_csr(p.arrays["weights"]))

    # Populations: cores from the binding constraint.
    rows: dict[str, PopulationRow] = {}
    blocks: dict[str, list[tuple[int, int]]] = {}
    for pop, holder in plan.populations.items():
        p = procs[holder]
        n = int(np.prod(p.shape))
        where = placement_of(p.lava_class)
        if p.kind == "source":
            rows[holder] = PopulationRow(pop, holder, p.lava_class, where, n, 0, 0, 0, 0, 0,
                                         "none: an input source runs on the host/embedded CPU")
            blocks[holder] = [(0, n)]
            continue
        incoming = [c for c in conns.values() if c["dst"] == holder]
        syn = int(sum(c["w"].nnz for c in incoming))
        mem = syn * bps + n * nsb
        ratios = {"neurons per core": n / npc if npc else 0.0}
        if mpc:
            ratios["synaptic + neuron memory per core" if nsb else "synaptic memory per core"] = mem / mpc
        if spc:
            ratios["synapses per core"] = syn / spc
        limiting = max(ratios, key=ratios.get)
        k = max(1, max(math.ceil(r) for r in ratios.values()))
        blocks[holder] = _blocks(n, k)
        fan_in = max((sum(_cols_in_rows(c["w"], r0, r1).size for c in incoming) for r0, r1 in blocks[holder]), default=0)
        rows[holder] = PopulationRow(pop, holder, p.lava_class, where, n, syn, int(fan_in), 0, int(mem), k, limiting)
        if k > 1:
            where_split = f"split it across {k} cores (neurotep compiles each population into one Lava process)"
            if limiting == "neurons per core":
                violations.append(f"population {pop} ({holder}) needs {n:,} neurons on one core, more than the "
                                  f"{npc:,} neurons per neuro-core of {title} ({status('neurons_per_core')}): {where_split}")
            elif limiting == "synapses per core":
                violations.append(f"population {pop} ({holder}) receives {syn:,} synapses, more than the {spc:,} "
                                  f"synapses per neuro-core of {title} ({status('synapses_per_core')}): {where_split}")
            else:
                parts = f"{syn:,} synapses in x {bps} B" + (f" + {n:,} neurons x {nsb} B" if nsb else "")
                violations.append(f"population {pop} ({holder}) needs {mem / 1024:,.1f} KB of {limiting[:-len(' per core')]} "
                                  f"({parts}, estimated), more than the {mpc / 1024:,.0f} KB per neuro-core of {title}: "
                                  f"{where_split}")
        if where == HOST:
            warnings.append(f"population {pop} ({holder}) uses {_short(p.lava_class)}, which has only a Python "
                            f"ProcessModel: on {title} it runs on the {HOST} unless it gets a neuro-core (microcode) "
                            f"model; its {k} core(s) are counted as if it ran on neuro-cores")

    # Fan-out: (neuron, destination core) pairs per source core.
    for holder, row in rows.items():
        if row.cores == 0:
            continue
        counts = np.zeros(row.neurons, dtype=np.int64)
        for c in conns.values():
            if c["src"] != holder or c["dst"] not in rows:
                continue
            for r0, r1 in blocks[c["dst"]]:
                counts[_cols_in_rows(c["w"], r0, r1)] += 1
        row.fan_out = int(max((counts[a:b].sum() for a, b in blocks[holder]), default=0))

    for kind in ("in", "out"):
        hard, ref = v(f"fan_{kind}_axons_per_core"), v(f"fan_{kind}_axons_per_core_loihi1")
        what = "input axons (fan-in)" if kind == "in" else "output axon routes (fan-out)"
        for row in rows.values():
            val = row.fan_in if kind == "in" else row.fan_out
            noun = (f"receives from {val:,} presynaptic neurons" if kind == "in"
                    else f"sends {val:,} (neuron, destination core) routes")
            if hard and val > hard:
                violations.append(f"population {row.population} ({row.process}) {noun} on one of its cores, more than "
                                  f"the {hard:,} {what} per core of {title}: prune or split its connections")
            elif not hard and ref and val > ref:
                warnings.append(f"population {row.population} ({row.process}) {noun} on one core, more than the "
                                f"{ref:,} {what} per core of Loihi (gen 1); no {title} limit is published: check it "
                                "with lava-loihi's compiler")
        if not hard and not ref:
            unchecked.append(f"fan-{kind}: the {profile.get('name')} profile has no fan-{kind} limit")

    # Connections: delays, weight range, graded-spike width.
    max_delay, delay_bits = v("max_synaptic_delay"), v("synaptic_delay_bits")
    mant = v("weight_mantissa_bits")
    payload = v("graded_spike_payload_bits")
    for name, c in conns.items():
        p = c["proc"]
        d = p.params.get("delay")
        if d is not None and max_delay is not None:
            dmax = int(np.max(d))
            if dmax > max_delay:
                violations.append(f"connection {name} uses delay {dmax} > {max_delay}, the {delay_bits}-bit synaptic "
                                  f"delay of {title} (graph delay {dmax + 1}: the synapse itself adds one step): "
                                  "shorten it or relay it through intermediate neurons")
        bits = p.params.get("num_message_bits") or 0
        if payload is not None and bits > payload:
            violations.append(f"connection {name} reads {bits}-bit graded spikes, more than the {payload}-bit graded "
                              f"spike payload of {title}")
        if mant is not None:
            msg = _weight_range(name, c["w"], mant, title)
            if msg:
                violations.append(msg)
    if max_delay is None:
        unchecked.append(f"synaptic delays: the {profile.get('name')} profile has no delay limit")
    if mant is None:
        unchecked.append(f"weight range: the {profile.get('name')} profile has no weight mantissa")

    # Host processes and the chip as a whole.
    host = [p.name for p in plan.procs if placement_of(p.lava_class) == HOST]
    for p in plan.procs:
        if p.kind == "torus":
            warnings.append(f"{p.name} ({_short(p.lava_class)}) feeds population {p.population} every step from the "
                            f"{HOST}: on {title} each step would cross between the chip and that CPU"
                            + _kernel_note(p))
    pops = [r for r in rows.values() if r.cores > 0]
    cores = sum(r.cores for r in pops)
    neurons, synapses = sum(r.neurons for r in pops), sum(r.synapses_in for r in pops)
    need = {"neuro-cores": (cores, cpc), "neurons": (neurons, v("max_neurons_per_chip")),
            "synapses": (synapses, v("max_synapses_per_chip"))}
    per_chip = {k: math.ceil(have / cap) for k, (have, cap) in need.items() if cap}
    chips = max(per_chip.values(), default=0) if cores else 0
    if chips > 1:
        worst = max(per_chip, key=per_chip.get)
        have, cap = need[worst]
        violations.append(f"the plan needs {have:,} {worst}, more than the {cap:,} of one {title} chip: it needs "
                          f"{chips} chips (a multi-chip system) or a smaller network")
    off_core, fraction = _placement(plan, conns)
    return CoreMap(profile.get("name", "?"), title, cores, chips, list(rows.values()), host,
                   {n: procs[n].lava_class for n in host}, off_core, fraction, violations, warnings, assumptions,
                   unchecked)


def _placement(plan: Any, conns: dict[str, dict[str, Any]]) -> tuple[list[dict], dict[str, float]]:
    """Every process off the neuro-cores with its reason, and the shares of neurons and synapses
    on neuro-core processes. Boundary I/O is left out of both shares. A connection's synapses sit
    on the cores of its target population, so they count as on neuro-cores only when both the
    connection's class and its target's class are neuro-core classes; a host buffer's taps (and
    an N-D buffer's kernel) count as synapses off the cores."""
    off, boundary = [], set()
    for p in plan.procs:
        if placement_of(p.lava_class) == NEURO_CORE:
            continue
        reason, at_edge = off_core_reason(p.lava_class)
        if at_edge:
            boundary.add(p.name)
        off.append({"name": p.name, "class": p.lava_class, "population": p.population, "boundary": at_edge,
                    "reason": reason})
    on_n = all_n = 0
    for pop, holder in plan.populations.items():
        if holder in boundary:
            continue
        n = int(np.prod(plan.proc(holder).shape))
        all_n += n
        on_n += n if placement_of(plan.proc(holder).lava_class) == NEURO_CORE else 0
    on_s = all_s = 0
    for name, c in conns.items():
        syn = int(c["w"].nnz)
        all_s += syn
        dst = plan.proc(c["dst"]) if c["dst"] else None
        if placement_of(c["proc"].lava_class) == NEURO_CORE and dst is not None and placement_of(dst.lava_class) == NEURO_CORE:
            on_s += syn
    for p in plan.procs:
        if p.kind == "torus":  # a host buffer: one synapse per neuron and tap, or the kernel's per tap
            k = p.arrays.get("kernel")
            per_tap = int(np.prod(p.shape)) if k is None else int(np.count_nonzero(k)) * (int(np.prod(p.shape)) // k.shape[0])
            all_s += per_tap * len(p.params["taps"])
    share = lambda a, b: float(a / b) if b else 1.0  # noqa: E731
    return off, {"neurons": share(on_n, all_n), "synapses": share(on_s, all_s)}


def _kernel_note(p) -> str:
    """An N-D buffer's spatial kernel as recurrent synapses, which the synapse count leaves out."""
    k = p.arrays.get("kernel")
    if k is None:
        return ""
    n = int(np.count_nonzero(k))  # the kernel is per sample: (neurons, neurons)
    return (f"; ported to neuro-cores its spatial kernel would be {n:,} recurrent synapses per tap "
            f"({n * len(p.params['taps']):,} for {len(p.params['taps'])} taps), not counted above")


def _weight_range(name: str, w: sp.csr_matrix, mantissa_bits: int, title: str) -> str | None:
    """A violation when the nonzero weights span more than the mantissa with one shared exponent."""
    data = w.data
    if data.size == 0:
        return None
    a = np.abs(data)
    amax = float(a.max())
    if amax == 0:
        return None
    mixed = bool(data.min() < 0 < data.max())
    m = mantissa_bits - int(mixed)
    low = float(np.percentile(a, WEIGHT_PERCENTILE))
    span = math.log2(amax / low) if low > 0 else math.inf
    if span <= m:
        return None
    lost = math.ceil(span - m)
    zero = float(np.mean(a < amax / 2 ** m)) * 100
    sign = f" (mixed signs leave {m} bits of magnitude)" if mixed else ""
    return (f"weights of {name} span 2^{span:.1f} (|w| from {low:.3g} at the {WEIGHT_PERCENTILE:.0f}th percentile to "
            f"{amax:.3g}), but the {mantissa_bits}-bit weight mantissa of {title} with one shared exponent per "
            f"connection holds 2^{m}{sign}: it loses {lost} bit(s) and {zero:.0f}% of the nonzero weights round to "
            "zero; rescale, prune the smallest weights or split the connection by magnitude")
