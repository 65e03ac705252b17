"""The quantised torch path (``--precision fixed``): integer dynamics on int64 tensors, spike for
spike the same as Lava's fixed_pt models of the same quantised graph (N-D toroidal buffers and
probabilistic gates included)."""

from __future__ import annotations

from typing import Callable

import torch

from neurotep.backends.torch.state import resolve_device
from neurotep.graph.probes import recording_plan
from neurotep.graph.retime import readout_from
from neurotep.recording import Recording
from neurotep.neurons import RingBuffer, sigma_step
from neurotep import rng
from neurotep.neurons.fixed import (lif_fixed_step, noise_fixed, rate_fixed_step, shift, stochastic_fixed_step,
                                   torus_fixed)
from neurotep.quantize import TAP_BITS, QuantizedGraph, value_bits


class FixedNetwork:
    """A :class:`~neurotep.quantize.QuantizedGraph` as integer torch dynamics. A connection of delay
    ``d`` reads its source's output of ``d`` steps ago and shifts its own accumulation, like Lava's
    ``Dense`` (d = 1) and ``DelaySparse`` (d > 1, Lava delay ``d - 1``) bit-accurate models."""

    def __init__(self, q: QuantizedGraph, device: str | torch.device = "cpu", spiking_inputs: bool = True):
        self.q, self.g = q, q.graph
        self.device_ = resolve_device(device) if not isinstance(device, torch.device) else device
        kw = dict(device=self.device_, dtype=torch.int64)
        self.w = {k: torch.as_tensor(c.w, **kw) for k, c in q.connections.items()}
        # the transposed direction's own mantissas (pre, post) where its feedback is scaled
        self.w_back = {k: torch.as_tensor(c.w_back, **kw) for k, c in q.connections.items() if c.w_back is not None}
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
            sample_ids: torch.Tensor | None = None, last: bool = False):
        """``input_fn(t)`` gives integer input frames; returns the spike counts and the readout's
        mean over the run in float units (and, with ``last``, its final value in float units)."""
        g, kw = self.g, dict(device=self.device_, dtype=torch.int64)
        ids = (torch.arange(batch, **kw) if sample_ids is None else sample_ids.to(**kw))[:, None] * self.n_total
        keyed = set(self.tables) | {k for k, p in self.q.populations.items() if p.gated or p.noise is not None}
        keys = {k: ids + self.offsets[k] + torch.arange(g.populations[k].size, **kw)[None, :] for k in keyed}
        out = {p.name: torch.zeros(batch, p.size, **kw) for p in g.populations.values()}
        v = {k: torch.zeros(batch, g.populations[k].size, **kw) for k, p in self.q.populations.items()
             if p.model in ("lif", "stochastic")}
        rings = {k: RingBuffer(d, out[k]) for k, d in self.depth.items()}  # tap(j): the output of step t-1-j
        plan = recording_plan(g, spiking_inputs, raster)  # the graph's probes, or every spike-sending population
        counted = [p for p, k in plan.items() if "spikes" in k]
        rec = Recording(per_step={p: torch.zeros(steps, **kw) for p in counted},
                        per_neuron={p: torch.zeros(g.populations[p].size, **kw) for p in counted},
                        per_sample={p: torch.zeros(batch, **kw) for p in counted},
                        raster={p: torch.zeros(steps, batch, g.populations[p].size, dtype=torch.bool, device=self.device_)
                                for p in counted if "raster" in plan[p]},
                        state={p: torch.zeros(steps, batch, g.populations[p].size, dtype=torch.float64, device=self.device_)
                               for p, k in plan.items() if "state" in k})
        acc, first = None, readout_from(g, readout)  # the step a re-timed graph's readout starts
        for t in range(steps):
            new = dict(input_fn(t))
            for name, qp in self.q.populations.items():
                a = torch.zeros_like(out[name])
                for c, transposed in self.incoming[name]:
                    src = c.post if transposed else c.pre
                    w = self.w[c.name]
                    m = (self.w_back[c.name].T if c.name in self.w_back else w) if transposed else w.T
                    x = out[src] if c.delay == 1 else rings[src].tap(c.delay - 1)
                    a = a + shift(x @ m, self.exp[(c.name, transposed)])
                if name in self.taps:
                    fb = rings[name].weighted_sum(self.taps[name]) >> TAP_BITS
                    a = a + (torus_fixed(fb, self.kernels[name]) if name in self.kernels else fb)
                gate = rng.gate_open(qp.seed, t, keys[name], qp.gate).to(torch.int64) if qp.gated else None
                if qp.model == "sigma":
                    new[name] = sigma_step(a, out[name])  # Lava's Sigma: the integer sum of a_in
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
                rec.per_step[p][t] = out[p].sum()
                rec.per_neuron[p] += out[p].sum(0)
                rec.per_sample[p] += out[p].sum(1)
                if p in rec.raster:
                    rec.raster[p][t] = out[p] > 0
            for p, s in rec.state.items():  # in float units
                s[t] = out[p].double() / 2 ** value_bits(g, p, spiking_inputs)
            if readout is not None and t >= first:
                acc = out[readout] if acc is None else acc + out[readout]
        rec.per_neuron = {k: x.double() for k, x in rec.per_neuron.items()}
        rec.per_sample = {k: x.double() for k, x in rec.per_sample.items()}
        scale = 2 ** value_bits(g, readout, spiking_inputs) if readout is not None else 1
        mean = acc.double() / (max(steps - first, 1) * scale) if acc is not None else None
        if last:
            return rec, mean, (out[readout].double() / scale if readout is not None else None)
        return rec, mean
