"""The quantised torch path (``--precision fixed``): integer dynamics on int64 tensors, spike for
spike the same as Lava's fixed_pt models of the same quantised graph (N-D toroidal buffers and
probabilistic gates included)."""

from __future__ import annotations

from typing import Callable

import torch

from neurotep.backends.torch.accumulate import Synapses
from neurotep.backends.torch.state import resolve_device
from neurotep.backends.torch.wiring import is_diagonal
from neurotep.graph.probes import recording_plan
from neurotep.graph.delta import averages_activation
from neurotep.graph.retime import readout_from
from neurotep.recording import EarlyExit, Recording
from neurotep.neurons import DrawStream, RingBuffer, boltzmann_step, sigma_delta_step, sigma_step
from neurotep import rng
from neurotep.neurons.fixed import (lif_fixed_step, noise_fixed, rate_fixed_step, shift, stochastic_fixed_step,
                                   torus_fixed)
from neurotep.quantize import TAP_BITS, QuantizedGraph, value_bits


class FixedNetwork:
    """A :class:`~neurotep.quantize.QuantizedGraph` as integer torch dynamics. A connection of delay
    ``d`` reads its source's output of ``d`` steps ago and shifts its own accumulation, like Lava's
    ``Dense`` (d = 1) and ``DelaySparse`` (d > 1, Lava delay ``d - 1``) bit-accurate models."""

    def __init__(self, q: QuantizedGraph, device: str | torch.device = "cpu", spiking_inputs: bool = True,
                 events: str = "auto"):
        self.q, self.g = q, q.graph
        self.device_ = resolve_device(device) if not isinstance(device, torch.device) else device
        kw = dict(device=self.device_, dtype=torch.int64)
        self.w = {k: torch.as_tensor(c.w, **kw) for k, c in q.connections.items()}
        # the transposed direction's own mantissas (pre, post) where its feedback is scaled
        self.w_back = {k: torch.as_tensor(c.w_back, **kw) for k, c in q.connections.items() if c.w_back is not None}
        # each direction's accumulation (the kernel chosen once: elementwise, events, exact BLAS)
        self.syn = {}
        for c in self.g.connections:
            diag, density = is_diagonal(c.mask), 1.0 if c.mask is None else float(c.mask.mean())
            self.syn[(c.name, False)] = Synapses(self.w[c.name].T, not self.g.emits_graded(c.pre, spiking_inputs),
                                                 diag, events, density)
            if c.symmetric:
                m = self.w_back[c.name].T if c.name in self.w_back else self.w[c.name]
                self.syn[(c.name, True)] = Synapses(m, not self.g.emits_graded(c.post, spiking_inputs), diag, events,
                                                    density)
        self.exp = {}
        for c in self.g.connections:
            self.exp[(c.name, False)] = q.weight_exp(c.name, c.pre, spiking_inputs)
            if c.symmetric:
                self.exp[(c.name, True)] = q.weight_exp(c.name, c.post, spiking_inputs, back=True)
        self.bias = {k: torch.as_tensor(p.bias, **kw) for k, p in q.populations.items()}
        self.taps = {k: [int(t) for t in v] for k, v in q.taps.items()}
        self.kernels = {k: torch.as_tensor(v, **kw) for k, v in q.kernels.items()}  # N-D buffers only
        self.incoming = {p.name: list(self.g.incoming(p.name)) for p in self.g.state_populations()}
        # how many past outputs each population keeps: its buffer's taps and its delayed connections
        self.depth = {k: len(t) for k, t in self.taps.items()}
        for c in self.g.connections:
            for src in (c.pre, c.post) if c.symmetric else (c.pre,):
                if c.delay > 1:
                    self.depth[src] = max(self.depth.get(src, 0), c.delay)
        self.tables = {k: torch.as_tensor(p.table, **kw) for k, p in q.populations.items() if p.table is not None}
        offsets, n = {}, 0
        for p in self.g.populations.values():  # the same neuron keys as the float paths
            offsets[p.name], n = n, n + p.size
        self.offsets, self.n_total = offsets, n

    def run(self, input_fn: Callable[[int], dict[str, torch.Tensor]], steps: int, batch: int, raster: bool = False,
            readout: str | None = None, spiking_inputs: bool = True,
            sample_ids: torch.Tensor | None = None, last: bool = False, quiet: int | None = None):
        """``input_fn(t)`` gives integer input frames; returns the spike counts and the readout's
        mean over the run in float units (and, with ``last``, its final value in float units). A
        delta-form graph reads out the sum of the output's messages and exits samples early with
        ``quiet``, as :meth:`neurotep.backends.torch.network.TorchNetwork.run` does."""
        g, kw = self.g, dict(device=self.device_, dtype=torch.int64)
        ids = (torch.arange(batch, **kw) if sample_ids is None else sample_ids.to(**kw))[:, None] * self.n_total
        keyed = set(self.tables) | {k for k, p in self.q.populations.items() if p.gated or p.noise is not None}
        keys = {k: ids + self.offsets[k] + torch.arange(g.populations[k].size, **kw)[None, :] for k in keyed}
        out = {p.name: torch.zeros(batch, p.size, **kw) for p in g.populations.values()}
        v = {k: torch.zeros(batch, g.populations[k].size, **kw) for k, p in self.q.populations.items()
             if p.model in ("lif", "stochastic")}
        v.update({k: tuple(torch.zeros(batch, g.populations[k].size, **kw) for _ in range(3))
                  for k, p in self.q.populations.items() if p.model == "sigma_delta"})  # (sigma, act, residue)
        v.update({k: (self.bias[k].expand(batch, -1).clone(), torch.zeros(batch, g.populations[k].size, **kw),
                      DrawStream(p.seed, batch, g.populations[k].size))
                  for k, p in self.q.populations.items() if p.model == "boltzmann"})  # (state, on, NEBM's draws)
        rings = {k: RingBuffer(d, out[k]) for k, d in self.depth.items()}  # tap(j): the output of step t-1-j
        plan = recording_plan(g, spiking_inputs, raster)  # the graph's probes, or every spike-sending population
        counted = [p for p, k in plan.items() if "spikes" in k]
        # per step one reduction and one add per counted population (as the float path): spikes
        # per sample into a (T, B) table, spikes per (sample, neuron); totals derived at the end
        table = {p: torch.zeros(steps, batch, **kw) for p in counted}
        acc_bn = {p: torch.zeros(batch, g.populations[p].size, **kw) for p in counted}
        rasters = {p: torch.zeros(steps, batch, g.populations[p].size, dtype=torch.bool, device=self.device_)
                   for p in counted if "raster" in plan[p]}
        states = {p: torch.zeros(steps, batch, g.populations[p].size, dtype=torch.float64, device=self.device_)
                  for p, k in plan.items() if "state" in k}
        acc, first = None, readout_from(g, readout)  # the step a re-timed graph's readout starts
        act, integrate = None, averages_activation(g)
        graded = {p for p in counted if g.emits_graded(p, spiking_inputs)}  # events: nonzero messages
        exits = EarlyExit(quiet, batch, steps, self.device_) if quiet else None
        for t in range(steps):
            new = dict(input_fn(t))
            for name, qp in self.q.populations.items():
                a = None  # the first term starts the sum (every kernel returns a fresh tensor)
                for c, transposed in self.incoming[name]:
                    src = c.post if transposed else c.pre
                    x = out[src] if c.delay == 1 else rings[src].tap(c.delay - 1)
                    e = self.exp[(c.name, transposed)]
                    term = self.syn[(c.name, transposed)](x)
                    if e and qp.model == "boltzmann":  # Lava shifts the negated sum into NEBM: floor that
                        term = -shift(-term, e)
                    elif e:
                        term = shift(term, e)
                    a = term if a is None else a.add_(term)
                if name in self.taps:
                    fb = rings[name].weighted_sum(self.taps[name]) >> TAP_BITS
                    fb = torus_fixed(fb, self.kernels[name]) if name in self.kernels else fb
                    a = fb if a is None else a + fb
                if a is None:
                    a = torch.zeros_like(out[name])
                gate = rng.gate_open(qp.seed, t, keys[name], qp.gate).to(torch.int64) if qp.gated else None
                if qp.model == "sigma":
                    new[name] = sigma_step(a, out[name])  # Lava's Sigma: the integer sum of a_in
                elif qp.model == "sigma_delta":
                    new[name], *sd = sigma_delta_step(a, *v[name], self.bias[name], qp.vth, qp.activation)
                    v[name] = tuple(sd)
                elif qp.model == "boltzmann":
                    state, on, draws = v[name]
                    new[name], state, on = boltzmann_step(a, state, on, draws.next(), qp.temperature / 4.0)
                    v[name] = (state, on, draws)
                elif qp.model == "lif":
                    new[name], v[name] = lif_fixed_step(a, v[name], out[name], qp.dv, qp.vth, self.bias[name], qp.reset)
                elif qp.model == "stochastic":
                    new[name], v[name] = stochastic_fixed_step(
                        a, v[name], out[name], rng.hash24(qp.seed, t, keys[name]), qp.dv, qp.vth, self.bias[name],
                        qp.reset, self.tables[name], qp.table_shift, gate)
                else:
                    noise = None
                    if qp.noise is not None and t < len(qp.noise) and qp.noise[t]:  # Langevin noise (DiffTorEqProp)
                        noise = noise_fixed(rng.normal_int(qp.seed, t, keys[name]), int(qp.noise[t]))
                    new[name] = rate_fixed_step(qp.model, a, out[name], self.bias[name], qp.damping, gate, noise)
            for name, ring in rings.items():
                ring.push(new[name])
            out = new
            for p in counted:
                e = (out[p] != 0).to(torch.int64) if p in graded else out[p]
                torch.sum(e, 1, out=table[p][t])
                acc_bn[p] += e
                if p in rasters:
                    rasters[p][t] = e > 0
            for p, s in states.items():  # in float units
                s[t] = out[p].double() / 2 ** value_bits(g, p, spiking_inputs)
            if readout is not None:
                x = out[readout]
                if integrate:  # the stochastic delta form: the output's activation, averaged
                    act = x = x if act is None else act + x
                if t >= first:
                    acc = x if acc is None else acc + x
            if exits is not None and exits.update(t, sum(table[p][t] for p in counted)):
                break
        rec = Recording(per_step={p: table[p].sum(1) for p in counted},
                        per_neuron={p: acc_bn[p].sum(0).double() for p in counted},
                        per_sample={p: table[p].sum(0).double() for p in counted}, raster=rasters, state=states,
                        exit_step=None if exits is None else exits.step)
        scale = 2 ** value_bits(g, readout, spiking_inputs) if readout is not None else 1
        span = 1 if "delta_form" in g.meta and not integrate else max(steps - first, 1)  # delta: the messages' sum
        mean = acc.double() / (span * scale) if acc is not None else None
        if last:
            return rec, mean, (out[readout].double() / scale if readout is not None else None)
        return rec, mean
