"""DiffTorEqProp (seed 003): TorEqProp whose free relaxation is annealed Langevin dynamics.

The base model's rate update is already a projected gradient step on its Hopfield energy ``E``
(:mod:`neurotep.variants.base`): ``s - gamma grad_s E = (1 - gamma) s + gamma f(u)`` inside the
hard-sigmoid's box. The seed's update

    h_{t+1} = Update(h_t, x) + eta_t N(0, I) - alpha grad_h E(h_t; x)

therefore becomes, per hidden unit,

    s_{t+1} = P_[0,1]( s_t - (gamma + alpha) grad_s E(s_t; x) + eta_t xi_t ),   xi_t ~ N(0, 1)

so the seed's denoising factor ``alpha`` adds to the damping (``damping = gamma + alpha``; seed:
gamma 0.5, alpha 0.01) and ``P`` projects onto the box the energy lives on (projected Langevin).
The noise is added to the population's output, which is exactly what its toroidal buffer stores
and recirculates: the buffer feeds back ``g sum_k decay^k s(t-1-k)``, so the noise injected ``k``
steps ago still acts, faded by ``decay^k``, and nothing older than ``K`` steps is kept (the
seed's O(1) memory for the chain: ``K`` arrays whatever the number of steps). The schedule is

    eta_t = eta_0 * rho^t  for t < T_noise,  0 after

(seed: eta_0 = 0.1 decaying to about 0.01; default rho = 0.95, T_noise = 40, so eta_39 = 0.014);
after ``T_noise`` the relaxation is the base model's deterministic one, so it converges to a
minimum of ``E`` (which basin it reaches is what the noise changes) and the tolerance test works.
:data:`SEED_SCHEDULE` is the seed's own reading instead: noise through every phase (``T_noise``
covers the free and both nudged phases), 0.1 down to 0.01 over the seed's 50-60 free steps, so
phases never meet the tolerance and run their full budget. Where the energy has a single minimum
(the base model's is convex unless the weights grow large), the annealed default reaches the same
equilibrium as the base model: the noise can only matter where it is still on.
Draws come from the shared counter-based generator (:func:`neurotep.rng.normal_int`, an
Irwin-Hall sum of four 24-bit hashes keyed by seed, step and neuron) so torch, Lava float and
Lava fixed point add the same noise (fixed point: an integer multiply and shift).

**Training.** EqProp as for the base model: free phase with the noise schedule, nudged phases
forked from the free state. Relaxation steps continue counting in the nudged phases, so they run
after ``T_noise`` and are noise-free (with the default schedule): the ±beta contrast is taken between deterministic nudged
equilibria around the basin the noisy free phase found, which keeps the symmetric estimator's
bias as for the base model. Under :data:`SEED_SCHEDULE` the nudged phases are noisy too; the
counter-based draws are keyed by (step, neuron), so the +beta and -beta phases forked from one
free state receive the *same* noise (common random numbers) and it largely cancels in the
contrast. The noise scale is "learned in the nudged phase" by a local rule that is *not*
a gradient (the noise is not in the energy, so EqProp has none): the nudged phases measure how
far the target moves each hidden unit, ``d = mean |s+ - s-| / (2 beta)`` (the sensitivity of
the equilibrium to the cost, large where the prediction is uncertain), and the optimiser moves
``log eta_0`` towards ``log(noise_gain * d)`` (``noise_gain`` = 0 keeps eta_0 fixed). See
:func:`neurotep.learning.eqprop._noise_updates`.

**Generation** (:func:`generative_graph`, run by :func:`neurotep.generation.generate`): the
input population is set free. ``x`` becomes hard-sigmoid units driven by ``W_x^T h`` (the input
connection made symmetric), so the relaxation descends the same energy with ``x`` as a state
variable,

    E(x, h, y) = sum G(s) - b.s - 1/2 s.W s,   s = (x, h, y),   G(s) = s^2 / 2 on [0, 1],

starting from uniform noise, with the Langevin schedule of :data:`GEN_DEFAULTS`; the output is
free (unconditional) or clamped to a one-hot class (class-conditional, sampling
``E(x, h | y)``). The image is ``x`` at the last step. The weights were trained only
discriminatively, so nothing forces these minima to look like digits:
:func:`neurotep.generation.score_samples` measures it (a classifier trained separately on the
real digits, and diversity).

This module only builds graphs (and the noisy inputs of the robustness test); running them, for
generation or for accuracy under input noise, is :mod:`neurotep.generation`.
"""

from __future__ import annotations

import copy
from typing import Sequence

import numpy as np

from neurotep.errors import NeurotepError
from neurotep.graph import Connection, Graph, Population
from neurotep.variants import base

NAME = "difftor"
DESCRIPTION = ("DiffTorEqProp: TorEqProp with annealed Langevin relaxation (noise recirculated by the toroidal buffer), "
               "adapted noise scale, and generation with the input set free")

DEFAULTS = dict(
    base.DEFAULTS,
    alpha=0.01,
    noise=0.1,
    noise_decay=0.95,
    noise_steps=40,
    noise_gain=1.0,
    noise_seed=0,
)

# The seed's schedule (0.1 -> 0.01 over the free phase, noise on in every phase; 60 free steps,
# 30 per nudged phase, close to the seed's 50 iterations per equilibrium).
SEED_SCHEDULE = dict(noise=0.1, noise_decay=0.962, noise_steps=120, free_steps=60, nudge_steps=30)

UNCLAMPED = "_none"  # the idle input population of an unconditional generative graph

# Generation: a longer, hotter chain that ends still slightly noisy (a sample, not the minimum).
GEN_DEFAULTS = dict(steps=300, noise=0.3, noise_decay=0.994, damping=0.5)


def _fail(msg: str):
    raise NeurotepError(f"difftor: {msg}")


def build(n_in: int = 64, n_out: int = 10, seed: int = 0, hidden: Sequence[int] = DEFAULTS["hidden"],
          damping: float = DEFAULTS["damping"], alpha: float = DEFAULTS["alpha"],
          noise: float = DEFAULTS["noise"], noise_decay: float = DEFAULTS["noise_decay"],
          noise_steps: int = DEFAULTS["noise_steps"], noise_gain: float = DEFAULTS["noise_gain"],
          noise_seed: int = DEFAULTS["noise_seed"], buffer_depth: int = DEFAULTS["buffer_depth"],
          buffer_decay: float = DEFAULTS["buffer_decay"], buffer_gain: float = DEFAULTS["buffer_gain"],
          beta: float = DEFAULTS["beta"], free_steps: int = DEFAULTS["free_steps"],
          nudge_steps: int = DEFAULTS["nudge_steps"], tol: float = DEFAULTS["tol"]) -> Graph:
    """The base model with Langevin noise on every hidden population (see the module docstring)."""
    if not (isinstance(noise, (int, float)) and noise >= 0):
        _fail(f"noise must be a number >= 0, got {noise!r}")
    if not (isinstance(alpha, (int, float)) and alpha >= 0 and 0 < damping + alpha <= 1):
        _fail(f"alpha must be >= 0 with 0 < damping + alpha <= 1, got damping={damping!r}, alpha={alpha!r}")
    if not (isinstance(noise_steps, int) and not isinstance(noise_steps, bool) and noise_steps >= 0):
        _fail(f"noise_steps must be an int >= 0, got {noise_steps!r}")
    g = base.build(n_in, n_out, seed, hidden=hidden, damping=damping + alpha, buffer_depth=buffer_depth,
                   buffer_decay=buffer_decay, buffer_gain=buffer_gain, beta=beta, free_steps=free_steps,
                   nudge_steps=nudge_steps, tol=tol)
    for i, name in enumerate(f"h{j}" for j in range(len(hidden))):
        g.populations[name].params.update(noise=float(noise), noise_decay=float(noise_decay),
                                          noise_steps=int(noise_steps), noise_gain=float(noise_gain),
                                          seed=int(noise_seed) + i)
    g.meta["variant"] = NAME
    g.meta["hyperparameters"].update(damping=damping, alpha=alpha, noise=noise, noise_decay=noise_decay,
                                     noise_steps=noise_steps, noise_gain=noise_gain, noise_seed=noise_seed)
    return g.validate()


# -- robustness -----------------------------------------------------------------------------------
def noisy_inputs(x: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """``x + sigma * N(0, 1)`` per pixel (no clipping: the input units are clamped to any value)."""
    return x + sigma * np.random.default_rng(seed).standard_normal(x.shape)


# -- generation -----------------------------------------------------------------------------------
def generative_graph(graph: Graph, conditional: bool, steps: int = GEN_DEFAULTS["steps"],
                     noise: float = GEN_DEFAULTS["noise"], noise_decay: float = GEN_DEFAULTS["noise_decay"],
                     damping: float = GEN_DEFAULTS["damping"], seed: int = 0) -> Graph:
    """A copy of a trained single- or multi-layer graph with the input set free: ``x`` becomes
    hard-sigmoid units (bias 0) coupled to the first hidden layer by the input weights made
    symmetric; with ``conditional`` the output becomes an input clamped to the class code. Every
    free population gets the Langevin schedule (``noise_steps = steps``: the chain ends noisy)."""
    inp, outp = graph.meta.get("input"), graph.meta.get("output")
    if inp is None or outp is None or graph.populations[inp].model != "input":
        _fail("generation needs a graph with an input and an output population (a TorEqProp-family model)")
    g = copy.deepcopy(graph)
    g.populations[inp] = Population(inp, g.populations[inp].size, "hard_sigmoid", bias=np.zeros(g.populations[inp].size))
    out_pop = g.populations[outp]
    if conditional:
        g.populations[outp] = Population(outp, out_pop.size, "input")
    else:  # the graph format needs one input population: this one is connected to nothing
        g.add(Population(UNCLAMPED, 1, "input"))
    conns = []
    for c in g.connections:
        if c.pre == inp:
            c = Connection(c.name, c.pre, c.post, c.weight, c.delay, True, c.mask)
        elif conditional and c.post == outp:  # clamped output: drive the layer below one way, W^T
            c = Connection(c.name + "_T", outp, c.pre, c.weight.T.copy(), c.delay, False,
                           None if c.mask is None else c.mask.T.copy())
        elif conditional and c.pre == outp:
            continue
        conns.append(c)
    g.connections = conns
    for k, p in enumerate(g.state_populations()):
        if p.model == "hard_sigmoid" or p.model == "linear":
            p.params.update(damping=float(damping), noise=float(noise), noise_decay=float(noise_decay),
                            noise_steps=int(steps), noise_gain=0.0, seed=int(seed) * 101 + k)
    g.meta.update(input=outp if conditional else UNCLAMPED, output=inp,
                  generative=dict(conditional=conditional, steps=steps))
    return g.validate()
