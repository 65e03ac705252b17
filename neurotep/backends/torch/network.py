"""The torch reference path: a graph compiled into a batched torch module (CPU or CUDA).

:class:`TorchNetwork` holds the graph's arrays as parameters and advances all populations one
step at a time with the timing semantics of :mod:`neurotep.graph.nodes`. The same ``step`` serves

* rate relaxation (:meth:`TorchNetwork.relax`): static inputs, convergence check, optional
  EqProp nudging; run under ``no_grad`` for EqProp or with autograd for BPTT;
* spiking runs (:meth:`TorchNetwork.run`): per-step inputs (e.g. Poisson spikes) and spike
  counting per population and step.

LIF populations use snnTorch's ``Leaky`` (its convention is the one ``neurotep.neurons.lif``
writes down); the other neuron models call the shared dynamics in :mod:`neurotep.neurons`.
"""

from __future__ import annotations

import copy
from typing import Callable

import numpy as np
import snntorch as snn
import torch

from neurotep import rng
from neurotep.graph import NEURON_MODELS, RATE_MODELS, SPIKING_MODELS, Graph
from neurotep.graph.nodes import circulant_1d
from neurotep.graph.delta import averages_activation
from neurotep.graph.probes import recording_plan
from neurotep.graph.retime import readout_from
from neurotep.graph.stages import frames_of
from neurotep.neurons import DrawStream, RingBuffer, boltzmann_step, rate_step, sigma_delta_step, sigma_step, stochastic_step
from neurotep.neurons.rate import noise_scale
from neurotep.recording import EarlyExit, Recording
from neurotep.backends.torch.state import Nudge, SimState, resolve_device
from neurotep.backends.torch.accumulate import (EVENT_MIN_SOURCES, SEPARABLE_MIN_NEURONS, SPARSE_MAX_DENSITY,
                                                SeparableKernel, sparse_weights, uses_events)
from neurotep.backends.torch.wiring import input_current, is_diagonal, update_order


class Settling:
    """:meth:`TorchNetwork.relax`'s convergence test: the batch has settled once its largest
    output change has stayed below ``tol`` for ``need`` steps in a row. With ``per_sample`` the
    same test is kept sample by sample (the batch settles at the same step: when every sample
    has), and :meth:`steps` gives each sample's step, what it needs when relaxed on its own; off
    by default, since one scalar per step is what training's hot loop can afford."""

    def __init__(self, per_sample: bool = False):
        self.per_sample = per_sample
        self.calm, self.done = 0, None

    def update(self, change: dict[str, torch.Tensor], tol: float, need: int, k: int) -> bool:
        """Take step ``k``'s output changes (batch, neurons) per population; whether settled."""
        if not self.per_sample:
            self.calm = self.calm + 1 if max(float(c.detach().abs().max()) for c in change.values()) < tol else 0
            return self.calm >= need
        largest = torch.stack([c.detach().abs().amax(1) for c in change.values()]).amax(0)
        if self.done is None:
            self.calm = torch.zeros(largest.shape, dtype=torch.int64, device=largest.device)
            self.done = torch.zeros_like(self.calm)
        self.calm = torch.where(largest < tol, self.calm + 1, torch.zeros_like(self.calm))
        settled = self.calm >= need
        self.done[settled & (self.done == 0)] = k
        return bool(settled.all())

    def steps(self, ran: int) -> torch.Tensor | None:
        """Per sample, the step it settled at (``ran`` where it had not); None unless kept per
        sample and updated at least once."""
        if self.done is None:
            return None
        return torch.where(self.done > 0, self.done, torch.full_like(self.done, ran)).cpu()


class TorchNetwork(torch.nn.Module):
    """A validated graph as a torch module."""

    def __init__(self, graph: Graph, device: str | torch.device | None = "cpu", dtype: torch.dtype = torch.float32,
                 events: str = "auto"):
        super().__init__()
        graph.validate()
        self.graph = graph
        self.device_ = resolve_device(device) if not isinstance(device, torch.device) else device
        self.dtype = dtype
        kw = self._kw = dict(device=self.device_, dtype=dtype)
        self.weights = torch.nn.ParameterDict(
            {c.name: torch.nn.Parameter(torch.as_tensor(c.weight, **kw)) for c in graph.connections}
        )
        self.biases = torch.nn.ParameterDict(
            {p.name: torch.nn.Parameter(torch.as_tensor(p.bias, **kw)) for p in graph.populations.values() if p.bias is not None}
        )
        self.masks = {c.name: torch.as_tensor(c.mask, device=self.device_, dtype=dtype) for c in graph.connections if c.mask is not None}
        self._diagonal = {c.name for c in graph.connections if is_diagonal(c.mask)}
        # directions whose source sends spikes and is large enough for the event kernel (by
        # activity): spiking neurons always, inputs while run() is fed spike trains
        directions = [(c.name, back, c.post if back else c.pre) for c in graph.connections
                      if c.name not in self._diagonal for back in ((False, True) if c.symmetric else (False,))]
        eligible = {(n, back): graph.populations[src].model for n, back, src in directions
                    if uses_events(graph.populations[src].size, not graph.emits_graded(src, True), events)}
        self._spike_events = {k for k, m in eligible.items() if m in SPIKING_MODELS}
        self._input_events = {k for k, m in eligible.items() if m == "input"}
        # set by run() for inference: the event directions and their contiguous (pre, post) weights
        self._events: dict[tuple[str, bool], torch.Tensor] = {}
        self.event_max = 1.0 if events == "always" else None  # None: by batch (event_max_activity)
        # large, sparsely masked connections: CSR in inference runs (run(); training keeps dense grads)
        self._sparse_names = {c.name for c in graph.connections if c.mask is not None and c.name not in self._diagonal
                              and events != "never" and c.mask.mean() <= SPARSE_MAX_DENSITY
                              and max(c.mask.shape) >= EVENT_MIN_SOURCES}
        self._csr: dict[tuple[str, bool], torch.Tensor] = {}
        self._kernel_cache: tuple = (None, {}, {}, {})
        # Toroidal buffers: learned decays live as logits (sigmoid keeps them in (0, 1)); fixed
        # ones are turned into taps and kernels once.
        self._buffers = {b.population: b for b in graph.buffers}
        self.torus = torch.nn.ParameterDict({
            b.population: torch.nn.Parameter(torch.logit(torch.as_tensor(b.decay, **kw)))
            for b in graph.buffers if b.learn
        })
        self._torus_fixed = {
            b.population: ([float(w) for w in b.tap_weights()],
                           None if not b.shape else self._kernel(b, [torch.as_tensor(circulant_1d(int(n), int(r), float(d)), **kw)
                                                                    for n, r, d in zip(b.shape, b.radius, b.decay[1:])]))
            for b in graph.buffers if not b.learn
        }
        # Langevin noise scales that training adapts (``noise_gain`` > 0) live as logs (DiffTorEqProp).
        self.noise = torch.nn.ParameterDict({
            p.name: torch.nn.Parameter(torch.log(torch.as_tensor(float(p.param("noise")), **kw)))
            for p in graph.populations.values()
            if p.model in RATE_MODELS and float(p.param("noise")) > 0 and float(p.param("noise_gain")) > 0
        })
        self._incoming = {p: list(graph.incoming(p)) for p in graph.populations}
        self._order = update_order(graph)
        # Each population keeps as many past outputs as its longest outgoing delay or buffer needs.
        self.history_depth = graph.history_depth()
        # Global neuron offsets key the counter-based generator per population.
        offsets, n = {}, 0
        for p in graph.populations.values():
            offsets[p.name], n = n, n + p.size
        self._offsets, self._n_total = offsets, n
        # beta and threshold as tensors of the network's dtype: given floats, snnTorch keeps them as
        # float32 tensors, and a float64 run would decay by float32(beta) (0.9 -> 0.89999998).
        self._leaky = {
            p.name: snn.Leaky(beta=torch.tensor(float(p.param("beta")), dtype=dtype),
                              threshold=torch.tensor(float(p.param("threshold")), dtype=dtype),
                              reset_mechanism=p.param("reset"), reset_delay=True).to(self.device_)
            for p in graph.populations.values() if p.model == "lif"
        }

    # -- parameters ---------------------------------------------------------------------------
    def effective_weights(self) -> dict[str, torch.Tensor]:
        """Weights with sparsity masks applied, and each toroidal buffer's ``(taps, kernel)`` under
        ``"torus:<population>"`` (computed once per run, not per step)."""
        w = {k: (w * self.masks[k] if k in self.masks else w) for k, w in self.weights.items()}
        w.update({f"torus:{p}": tw for p, tw in self.torus_weights().items()})
        return w

    def buffer_decays(self, pop: str) -> torch.Tensor | tuple[float, ...]:
        """The decay factors of ``pop``'s buffer: a tensor when learned, else the graph's."""
        return torch.sigmoid(self.torus[pop]) if pop in self.torus else self._buffers[pop].decay

    def torus_weights(self) -> dict[str, tuple]:
        """``{population: (time taps, spatial kernel or None)}`` for every buffer; differentiable
        in the learned decays."""
        out = dict(self._torus_fixed)
        for pop in self.torus:
            b, d = self._buffers[pop], self.buffer_decays(pop)
            taps = b.gain * d[0] ** torch.arange(b.depth, device=self.device_, dtype=self.dtype)
            factors = []
            for a, (n, r) in enumerate(zip(b.shape, b.radius)):
                i = torch.arange(n, device=self.device_)
                dist = (i[:, None] - i[None, :]).abs()
                dist = torch.minimum(dist, n - dist)
                factors.append(torch.where(dist <= r, d[1 + a] ** dist.to(self.dtype), torch.zeros((), **self._kw)))
            out[pop] = (list(taps.unbind()), self._kernel(b, factors) if factors else None)
        return out

    @staticmethod
    def _kernel(b, factors: list[torch.Tensor]):
        """The spatial kernel from its per-axis circulants: applied axis by axis on a large torus
        (:class:`~.accumulate.SeparableKernel`), as one (N, N) matrix on a small one."""
        if int(np.prod(b.shape)) >= SEPARABLE_MIN_NEURONS and len(factors) > 1:
            return SeparableKernel(factors, b.shape)
        kernel = factors[0]
        for k in factors[1:]:
            kernel = torch.kron(kernel, k)
        return kernel

    def to_graph(self) -> Graph:
        """A copy of the graph carrying this module's current parameters."""
        g = copy.deepcopy(self.graph)
        for c in g.connections:
            c.weight = self.weights[c.name].detach().cpu().double().numpy().copy()
        for name, b in self.biases.items():
            g.populations[name].bias = b.detach().cpu().double().numpy().copy()
        for b in g.buffers:
            if b.population in self.torus:
                b.decay = tuple(float(d) for d in self.buffer_decays(b.population).detach().cpu().double())
        for name in self.noise:
            g.populations[name].params["noise"] = self.noise_level(name)
        return g

    def noise_level(self, pop: str) -> float:
        """The Langevin noise scale ``noise`` of rate population ``pop`` (learned or the graph's)."""
        if pop in self.noise:
            return float(self.noise[pop].detach().exp())
        return float(self.graph.populations[pop].param("noise"))

    # -- state --------------------------------------------------------------------------------
    def init_state(self, batch: int, static: dict[str, torch.Tensor] | None = None) -> SimState:
        """Zero state; inputs in ``static`` are treated as having been present forever."""
        out, hist, v = {}, {}, {}
        for p in self.graph.populations.values():
            x = static[p.name] if static and p.name in static else torch.zeros(batch, p.size, device=self.device_, dtype=self.dtype)
            out[p.name] = x
            hist[p.name] = RingBuffer(self.history_depth[p.name], x)
            if p.model in SPIKING_MODELS:
                v[p.name] = torch.zeros(batch, p.size, device=self.device_, dtype=self.dtype)
            elif p.model == "sigma_delta":  # (sigma, act, residue)
                v[p.name] = tuple(torch.zeros(batch, p.size, device=self.device_, dtype=self.dtype) for _ in range(3))
            elif p.model == "boltzmann":  # (state from the bias, on, NEBM's draws)
                b = self.biases[p.name] if p.name in self.biases else torch.zeros(p.size, dtype=self.dtype)
                v[p.name] = (b.detach().to(self.device_, self.dtype).expand(batch, p.size).clone(),
                             torch.zeros(batch, p.size, device=self.device_, dtype=self.dtype),
                             DrawStream(int(p.param("seed")), batch, p.size))
        return SimState(0, out, v, hist)

    def static_drive(self, inputs: dict[str, torch.Tensor], weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The constant part of each population's input when inputs do not change: bias plus
        everything arriving from input populations. Saves the largest matmul of every step."""
        drive = {}
        for p in self.graph.state_populations():
            d = self.biases[p.name] if p.name in self.biases else None
            for c, transposed in self._incoming[p.name]:
                if not transposed and self.graph.populations[c.pre].model == "input":
                    term = inputs[c.pre] @ weights[c.name].T
                    d = term if d is None else d + term
            if d is not None:
                drive[p.name] = d
        return drive

    # -- dynamics -----------------------------------------------------------------------------
    def step(
        self,
        st: SimState,
        inputs: dict[str, torch.Tensor],
        weights: dict[str, torch.Tensor],
        drive: dict[str, torch.Tensor] | None = None,
        nudge: Nudge | None = None,
        sample_ids: torch.Tensor | None = None,
        active: frozenset[str] | set[str] | None = None,
        gates: bool = True,
    ) -> SimState:
        """Advance every population by one step and return the new state (``st`` is not mutated
        in place, except for its history rings, so autograd can run through it).

        With ``active``, only those populations (and the inputs) update; the others hold their
        output and membrane, which still enter their histories (coarse-to-fine relaxation).
        ``gates=False`` opens every probabilistic gate and switches off Langevin noise: the
        deterministic map with the same fixed points, which solvers and the implicit gradient need."""
        new: dict[str, torch.Tensor] = {}
        v_new = dict(st.v)
        for name in self._order:
            pop = self.graph.populations[name]
            if pop.model == "input":
                new[name] = inputs[name]
                continue
            if active is not None and name not in active:
                new[name] = st.out[name]
                continue
            u = input_current(self, st, name, new, weights, drive, bias=pop.model not in ("sigma_delta", "boltzmann"))
            if nudge is not None and nudge.population == name:
                u = u - nudge.beta * (st.out[name] - nudge.target)
            gate = self._gate(pop, st.t, sample_ids, u.shape[0]) if gates else None
            if pop.model in RATE_MODELS:
                noise = self._noise(pop, st.t, sample_ids, u.shape[0]) if gates else None
                new[name] = rate_step(pop.model, u, st.out[name], float(pop.param("damping")), gate, noise)
            elif pop.model == "sigma":
                new[name] = sigma_step(u, st.out[name])
            elif pop.model == "sigma_delta":
                new[name], *sd = sigma_delta_step(u, *st.v[name], self.biases[name] if name in self.biases else 0.0,
                                                  float(pop.param("threshold")), pop.param("activation"))
                v_new[name] = tuple(sd)
            elif pop.model == "boltzmann":
                state, on, draws = st.v[name]
                new[name], state, on = boltzmann_step(u, state, on, draws.next(), float(pop.param("temperature")))
                v_new[name] = (state, on, draws)
            elif pop.model == "lif":
                spk, v_new[name] = self._leaky[name](u, st.v[name])
                new[name] = spk.to(self.dtype)  # snnTorch's spike function always returns float32
            elif pop.model == "stochastic":
                draws = self._uniform(pop, st.t, sample_ids, u.shape[0])
                new[name], v_new[name] = stochastic_step(
                    u, st.v[name], st.out[name], draws, float(pop.param("beta")), float(pop.param("threshold")),
                    float(pop.param("temperature")), pop.param("reset"), gate)
        for name, x in new.items():
            st.hist[name].push(x)
        return SimState(st.t + 1, new, v_new, st.hist)

    def _index(self, pop, sample_ids: torch.Tensor | None, batch: int) -> torch.Tensor:
        """Global (sample, neuron) counters of ``pop`` that key the shared generator."""
        if sample_ids is None:
            sample_ids = torch.arange(batch, device=self.device_)
        idx = sample_ids.to(self.device_, torch.int64)[:, None] * self._n_total + self._offsets[pop.name]
        return idx + torch.arange(pop.size, device=self.device_, dtype=torch.int64)[None, :]

    def _uniform(self, pop, t: int, sample_ids: torch.Tensor | None, batch: int) -> torch.Tensor:
        return rng.uniform_torch(int(pop.param("seed")), t, self._index(pop, sample_ids, batch), self.dtype)

    def _gate(self, pop, t: int, sample_ids: torch.Tensor | None, batch: int) -> torch.Tensor | None:
        """0/1 floats of the open probabilistic gates, or None when the population has none."""
        p = float(pop.param("gate")) if "gate" in NEURON_MODELS[pop.model] else 1.0
        if p >= 1.0:
            return None
        return rng.gate_open(int(pop.param("seed")), t, self._index(pop, sample_ids, batch), p).to(self.dtype)

    def _noise(self, pop, t: int, sample_ids: torch.Tensor | None, batch: int) -> torch.Tensor | None:
        """Langevin noise ``eta_t * xi`` of a rate population at step ``t``, or None when off."""
        if float(pop.param("noise")) <= 0:
            return None
        eta = noise_scale(self.noise_level(pop.name), float(pop.param("noise_decay")), int(pop.param("noise_steps")), t)
        if eta == 0.0:
            return None
        return eta * rng.normal_torch(int(pop.param("seed")), t, self._index(pop, sample_ids, batch), self.dtype)

    def relax(
        self,
        inputs: dict[str, torch.Tensor],
        steps: int,
        tol: float | None = None,
        state: SimState | None = None,
        nudge: Nudge | None = None,
        weights: dict[str, torch.Tensor] | None = None,
        active: frozenset[str] | set[str] | None = None,
        method: str | None = None,
        callback: Callable[[SimState, int], None] | None = None,
        settling: "Settling | None" = None,
    ) -> tuple[SimState, int]:
        """Relax a rate network with static inputs for at most ``steps`` steps.

        With ``tol``, stop once the largest output change stays below ``tol`` for as many
        consecutive steps as the deepest history (so the toroidal buffers hold the equilibrium
        too); a :class:`Settling` given as ``settling`` keeps the step at which each sample
        settled by that test (plain relaxation). Returns the state and the number of steps taken. Differentiable when called with
        autograd enabled (BPTT); EqProp calls it under ``torch.no_grad()``.

        ``method`` (default: the graph's ``meta["relaxation"]``, else ``"plain"``) picks the solver:
        ``"plain"`` iterates :meth:`step`; other names are looked up in
        :data:`neurotep.backends.torch.solvers.SOLVERS` and called with the same arguments.
        ``active`` restricts the update to those populations (see :meth:`step`); ``callback(state,
        k)``, when given, sees the state after every step ``k`` (convergence curves).
        """
        if self.graph.stages:  # the fixed stages first (unless resuming), then the last stage relaxes
            weights = weights if weights is not None else self.effective_weights()
            state = state if state is not None else self.play_stages(inputs, weights)
            inputs = self.frames_at(inputs, self.graph.fixed_steps())
            active = active if active is not None else frozenset(self.graph.stages[-1].active)
        method = method or self.graph.meta.get("relaxation", "plain")
        if method != "plain":
            from neurotep.backends.torch.solvers import get_solver

            return get_solver(method)(self, inputs, steps, tol, state=state, nudge=nudge, weights=weights, active=active,
                                      callback=callback)
        weights = weights if weights is not None else self.effective_weights()
        batch = next(iter(inputs.values())).shape[0]
        st = state if state is not None else self.init_state(batch, static=inputs)
        drive = self.static_drive(inputs, weights)
        need = max(self.history_depth.values())
        watched = [p.name for p in self.graph.state_populations() if active is None or p.name in active]
        settle = None if tol is None else (settling if settling is not None else Settling())
        for k in range(1, steps + 1):
            prev = st.out
            st = self.step(st, inputs, weights, drive=drive, nudge=nudge, active=active)
            if callback is not None:
                callback(st, k)
            if settle is not None and settle.update({p: st.out[p] - prev[p] for p in watched}, tol, need, k):
                return st, k
        return st, steps

    def frames_at(self, inputs: dict[str, torch.Tensor], t: int) -> dict[str, torch.Tensor]:
        """Each input's frame at run step ``t`` (its stream's, or the static input itself)."""
        return {p: frames_of(self.graph, p, x, t, 1)[0] for p, x in inputs.items()}

    def play_stages(self, inputs: dict[str, torch.Tensor], weights: dict[str, torch.Tensor] | None = None) -> SimState:
        """Run a staged graph's fixed stages (all but the last) from the zero state, each stage
        updating only its active populations, the inputs streamed (:mod:`neurotep.graph.stages`)."""
        weights = weights if weights is not None else self.effective_weights()
        st = self.init_state(next(iter(inputs.values())).shape[0])
        for stage in self.graph.stages[:-1]:
            active = frozenset(stage.active)
            for _ in range(int(stage.steps)):
                st = self.step(st, self.frames_at(inputs, st.t), weights, active=active)
        return st

    def _inference_kernels(self, spiking_inputs: bool) -> dict:
        """The weights of one inference run and its event and sparse kernels (:mod:`.accumulate`):
        contiguous (pre, post) copies for the event directions (spiking neurons, and inputs fed as
        spike trains), CSR matrices for the large, sparsely masked connections. Built once per
        version of the parameters (a training step bumps it): masking or copying a large matrix
        costs as much as many steps. Returns the weights."""
        key = (spiking_inputs, tuple((n, p._version) for n, p in self.named_parameters()))
        if self._kernel_cache[0] != key:
            weights = self.effective_weights()
            csr, events = {}, {}
            for c in self.graph.connections:
                if c.name in self._sparse_names:
                    csr[(c.name, False)] = sparse_weights(weights[c.name].detach())
                    if c.symmetric:
                        csr[(c.name, True)] = sparse_weights(weights[c.name].detach().T)
            for name, back in self._spike_events | (self._input_events if spiking_inputs else set()):
                if (name, back) not in csr:
                    events[(name, back)] = (weights[name] if back else weights[name].T).detach().contiguous()
            self._kernel_cache = (key, weights, csr, events)
        _, weights, self._csr, self._events = self._kernel_cache
        return weights

    def run(
        self,
        input_fn: Callable[[int], dict[str, torch.Tensor]],
        steps: int,
        batch: int,
        sample_ids: torch.Tensor | None = None,
        raster: bool = False,
        readout: str | None = None,
        spiking_inputs: bool = True,
        quiet: int | None = None,
    ) -> tuple[SimState, Recording, torch.Tensor | None]:
        """Run ``steps`` steps with per-step inputs ``input_fn(t)``, recording what the graph's
        probes ask for (:func:`neurotep.graph.probes.recording_plan`; without probes, the spikes of
        every population that sends spikes: spiking neurons, and inputs when ``spiking_inputs``
        says they are spike trains). Returns the final state, the :class:`Recording` and, when
        ``readout`` names a population, the mean of its output over the run (what spiking
        inference decodes; in a re-timed graph from the step its first input arrives:
        :func:`neurotep.graph.retime.readout_from`). A delta-form graph's readout is the sum of the
        output's messages (its activation), and with ``quiet`` a sample exits once nothing was sent
        for ``quiet`` steps (:class:`neurotep.recording.EarlyExit`); the run stops when all have.
        """
        st = self.init_state(batch)
        plan = recording_plan(self.graph, spiking_inputs, raster)
        spiking = [p for p, k in plan.items() if "spikes" in k]
        states = {p: torch.zeros(steps, batch, self.graph.populations[p].size, device=self.device_, dtype=self.dtype)
                  for p, k in plan.items() if "state" in k}
        # Per step only one reduction, one copy and one add per population: spikes per sample go
        # into a (T, B) table and spikes accumulate per (sample, neuron); the per-step,
        # per-sample and per-neuron totals are derived once at the end. float32 holds these
        # counts exactly up to 2**24.
        size = {p: self.graph.populations[p].size for p in spiking}
        table = {p: torch.zeros(steps, batch, device=self.device_, dtype=self.dtype) for p in spiking}
        acc_bn = {p: torch.zeros(batch, size[p], device=self.device_, dtype=self.dtype) for p in spiking}
        rasters = {p: torch.zeros(steps, batch, size[p], device=self.device_, dtype=torch.bool)
                   for p in spiking if "raster" in plan[p]}
        acc, first = None, readout_from(self.graph, readout)
        act, integrate = None, averages_activation(self.graph)
        graded = {p for p in spiking if self.graph.emits_graded(p, spiking_inputs)}  # events: nonzero messages
        exits = EarlyExit(quiet, batch, steps, self.device_) if quiet else None
        with torch.no_grad():
            weights = self._inference_kernels(spiking_inputs)
            try:
                for t in range(steps):
                    st = self.step(st, input_fn(t), weights, sample_ids=sample_ids)
                    for p in spiking:
                        s = (st.out[p] != 0).to(self.dtype) if p in graded else st.out[p]
                        torch.sum(s, 1, out=table[p][t])
                        acc_bn[p] += s
                        if p in rasters:
                            rasters[p][t] = s > 0
                    for p, v in states.items():
                        v[t] = st.out[p]
                    if readout is not None:
                        x = st.out[readout]
                        if integrate:  # the stochastic delta form: the output's activation, averaged
                            act = x = x if act is None else act + x
                        if t >= first:
                            acc = x if acc is None else acc + x
                    if exits is not None and exits.update(t, sum(table[p][t] for p in spiking)):
                        break
            finally:  # the kernels hold this run's weights: later steps (e.g. training) must not see them
                self._events, self._csr = {}, {}
        rec = Recording(
            per_step={p: table[p].sum(1, dtype=torch.float64).round().to(torch.int64) for p in spiking},
            per_neuron={p: acc_bn[p].sum(0, dtype=torch.float64) for p in spiking},
            per_sample={p: table[p].sum(0, dtype=torch.float64) for p in spiking},
            raster=rasters,
            state=states,
            exit_step=None if exits is None else exits.step,
        )
        if acc is not None and "delta_form" in self.graph.meta and not integrate:
            return st, rec, acc
        return st, rec, (acc / max(steps - first, 1) if acc is not None else None)
