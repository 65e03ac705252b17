"""HTSEP: Hyper-Toroidal Stochastic Equilibrium Propagation (seed 001).

One hidden population of hard-sigmoid rate units laid out on a 2-D periodic grid (a torus),
between the input ``x`` and a linear output ``y``::

    x --W_x_h--> h <==W_h_y==> y          (W_h_y symmetric: y feeds back through W_h_y.T)
                 ^__ N-D toroidal buffer: time x rows x cols

The buffer (:class:`~neurotep.graph.ToroidalBuffer` with ``shape=(rows, cols)``) feeds back the
hidden layer's last ``K`` outputs with exponential fading along every axis of the torus::

    fb(t) = (sum_j gain * d_t**j * h(t-1-j)) @ S,    S = C_rows(d_r) (x) C_cols(d_c)

``C(d)`` the wrap-around kernel with weight ``d**dist`` within ``radius`` (the seed's
"multi-directional" fading: along time and along both spatial axes). ``S`` is symmetric, so the
buffer adds ``-1/2 (sum_j w_j) h.S h`` to the base model's Hopfield energy and the dynamics stay a
projected gradient flow: EqProp applies unchanged. With ``learn_decay=True`` EqProp also learns the
three decay factors ``(d_t, d_r, d_c)`` (the seed's "learnable torus"); the build keeps
``gain * K * prod(2 r + 1) < 1``, so the energy stays convex whatever values they learn.

**Probabilistic gates** (``gate`` < 1): at every step each hidden unit updates with probability
``gate`` and holds its output otherwise (counter-based draws, identical on every backend); with
``damping=1`` an open unit jumps straight to ``f(u)``, so the expected damping is ``gate``. Fixed
points, hence the learned function and the EqProp gradient, do not change; relaxation takes more
steps (on digits about 30 instead of 18 at gate 0.5) with fewer unit updates per step. What that
buys is measured, not assumed: ``benchmarks/htsep.py`` and ``docs/claims.md`` (H2, H6).

**Logistic units** (``units="logistic"``): the hidden units' activation is
``sigmoid(4 (u - 1/2))``, the mean of a Boltzmann unit at temperature 1/4, in place of the clip. The
stochastic delta form (``run --encoding delta --neuron stochastic``) runs them as Loihi 2's
``NEBM`` units, which then sample the very model that was trained; the hard-sigmoid default is
only approximated there. Logistic units have no spiking mode.

**Spiking mode** (``meta["spiking"]``, read by :func:`neurotep.graph.transforms.rate_to_spiking`):
the hidden units become stochastic integrate-and-fire neurons (spike with probability
``sigmoid((v - 1) / temperature)``, subtractive reset) whose spike rate approaches the
hard-sigmoid; ``spike_gate`` < 1 is the sparsity knob there (a closed neuron neither integrates nor
spikes, and its outgoing weights are scaled by ``1 / spike_gate`` so the expected drive is kept).

**Adaptive dimensions, at build time only.** The seed's torus "self-organises" during training
(adding dimensions when a curvature metric crosses a threshold). That restructures the whole
network globally while it runs, which no neuromorphic chip can do: cores, routing and synapse
memory are laid out once, at compile time. What a chip can run is a torus chosen *before*
deployment: ``torus_shape="auto"`` picks the grid from input statistics when the network is
built (:func:`auto_torus`), the shape whose aspect ratio is closest to the input image's, and
``spatial_decay="auto"`` sets the initial spatial decays from the mean correlation of
neighbouring input pixels (then EqProp adapts them as weights). Nothing changes shape at run time.

Hyperparameters that make no valid network raise :class:`~neurotep.errors.GraphError` with one
line saying what to change.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from neurotep.errors import GraphError
from neurotep.graph import Connection, Graph, LearningRule, Population, ToroidalBuffer

NAME = "htsep"
DESCRIPTION = ("HTSEP: hidden layer on a 2-D torus with a learned time x space fading buffer, probabilistic "
               "gates, stochastic spiking neurons; trained by symmetric two-phase EqProp")

DEFAULTS = dict(
    hidden=256,
    torus_shape="auto",
    spatial_decay="auto",
    radius=(1, 1),
    buffer_depth=4,
    buffer_decay=0.8,
    buffer_gain=0.02,
    learn_decay=True,
    damping=1.0,
    gate=0.5,
    input_shape=None,
    beta=0.5,
    free_steps=200,
    nudge_steps=60,
    tol=1e-4,
    spike_temperature=0.1,
    spike_gate=1.0,
    units="hard_sigmoid",
)

# Spatial decays are clipped to this range: 0 would cut the torus into isolated units and 1 makes
# every neighbour as strong as the unit itself.
DECAY_RANGE = (0.05, 0.95)
DEFAULT_SPATIAL_DECAY = 0.5  # used by "auto" when no input statistics are available
# Stochastic spike draws use seed + 2: never the Poisson encoder's seed (1, neurotep.runner), so
# input spikes and neuron spikes stay independent.
SPIKE_SEED_OFFSET = 2
# The hidden units: the hard sigmoid, or the logistic mean of a Boltzmann unit (units="logistic"),
# trained so that the stochastic delta form (Loihi 2's NEBM units) samples the model as trained.
UNITS = ("hard_sigmoid", "logistic")


def _fail(msg: str):
    raise GraphError(f"htsep: {msg}")


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)) and math.isfinite(v)


# -- build-time torus from input statistics ------------------------------------------------------
def infer_input_shape(n_in: int, input_shape: Sequence[int] | None = None) -> tuple[int, int]:
    """The input's image shape: ``input_shape`` when given, else square when ``n_in`` is a
    perfect square, else a single row (no spatial structure to match)."""
    if input_shape is not None:
        shape = tuple(input_shape)
        if len(shape) != 2 or not all(_is_int(n) and n >= 1 for n in shape) or shape[0] * shape[1] != n_in:
            _fail(f"input_shape must be two positive ints whose product is n_in = {n_in}, got {input_shape!r}")
        return int(shape[0]), int(shape[1])
    side = int(round(math.sqrt(n_in)))
    return (side, side) if side * side == n_in else (1, n_in)


def grid_shape(hidden: int, aspect: float, radius: Sequence[int]) -> tuple[int, int]:
    """The factorisation ``rows * cols = hidden`` whose ``rows / cols`` is closest (in log ratio)
    to ``aspect``, among those long enough for ``radius`` on both axes (``2 r + 1 <= n``)."""
    best = None
    for rows in range(1, hidden + 1):
        if hidden % rows:
            continue
        cols = hidden // rows
        if 2 * radius[0] + 1 > rows or 2 * radius[1] + 1 > cols:
            continue
        score = abs(math.log(rows / cols) - math.log(aspect))
        if best is None or score < best[0] - 1e-12:
            best = (score, rows, cols)
    if best is None:
        _fail(f"hidden = {hidden} has no factorisation rows x cols with both axes >= 2 * radius + 1 "
              f"(radius {tuple(radius)}); use another hidden size or a smaller radius")
    return best[1], best[2]


def neighbour_correlation(sample: np.ndarray, image_shape: tuple[int, int]) -> tuple[float, float]:
    """Mean Pearson correlation of vertically and of horizontally adjacent input pixels over the
    rows of ``sample`` (pixel pairs where either pixel is constant are skipped); NaN where an axis
    has no such pair."""
    x = np.asarray(sample, dtype=np.float64).reshape(len(sample), *image_shape)
    out = []
    for axis in (1, 2):
        a = np.moveaxis(x, axis, 1)[:, :-1].reshape(len(x), -1)
        b = np.moveaxis(x, axis, 1)[:, 1:].reshape(len(x), -1)
        sa, sb = a.std(0), b.std(0)
        ok = (sa > 1e-12) & (sb > 1e-12)
        if not ok.any():
            out.append(float("nan"))
            continue
        cov = ((a - a.mean(0)) * (b - b.mean(0))).mean(0)
        out.append(float(np.mean(cov[ok] / (sa[ok] * sb[ok]))))
    return out[0], out[1]


def auto_torus(hidden: int, n_in: int, radius: Sequence[int] = (1, 1), sample: np.ndarray | None = None,
               input_shape: Sequence[int] | None = None) -> dict[str, Any]:
    """Pick the torus at build time from input statistics.

    * **shape**: the factorisation of ``hidden`` closest to the input image's aspect ratio;
    * **spatial decays**: with ``rho_a`` the mean correlation of pixels adjacent along image axis
      ``a`` and ``k_a = image_a / grid_a`` pixels per grid step, ``decay_a = rho_a ** k_a`` (an
      exponential correlation model: neighbouring grid units stand ``k_a`` pixels apart), clipped
      to :data:`DECAY_RANGE`.

    ``sample`` is an (n, n_in) array of inputs; when ``None`` and ``n_in == 64`` the training split
    of the digits set is used (never its test split); otherwise the decays fall back to
    :data:`DEFAULT_SPATIAL_DECAY` and ``source`` says so. Returns a JSON-ready record.
    """
    image = infer_input_shape(n_in, input_shape)
    shape = grid_shape(hidden, image[0] / image[1], radius)
    source = "sample"
    if sample is None and n_in == 64:
        from neurotep.data import load_digits_split

        sample, source = load_digits_split().x_train, "digits training split"
    if sample is not None:
        sample = np.asarray(sample, dtype=np.float64)
        if sample.ndim != 2 or sample.shape[1] != n_in or len(sample) < 2:
            _fail(f"the data sample for torus_shape='auto' must be an (n >= 2, {n_in}) array, got shape {sample.shape}")
        rho = neighbour_correlation(sample, image)
        source = f"{source} ({len(sample)} inputs)"
    else:
        rho = (float("nan"), float("nan"))
        source = "none (no data sample): default spatial decay"
    decays = []
    for r, n_img, n_grid in zip(rho, image, shape):
        if not math.isfinite(r) or r <= 0:
            decays.append(DEFAULT_SPATIAL_DECAY)
        else:
            decays.append(float(np.clip(r ** (n_img / n_grid), *DECAY_RANGE)))
    return dict(shape=list(shape), spatial_decay=decays, input_shape=list(image),
                neighbour_correlation=[None if not math.isfinite(r) else r for r in rho], source=source)


# -- the builder ---------------------------------------------------------------------------------
def build(n_in: int = 64, n_out: int = 10, seed: int = 0, hidden: int = DEFAULTS["hidden"],
          torus_shape: str | Sequence[int] = DEFAULTS["torus_shape"],
          spatial_decay: str | float | Sequence[float] = DEFAULTS["spatial_decay"],
          radius: Sequence[int] = DEFAULTS["radius"], buffer_depth: int = DEFAULTS["buffer_depth"],
          buffer_decay: float = DEFAULTS["buffer_decay"], buffer_gain: float = DEFAULTS["buffer_gain"],
          learn_decay: bool = DEFAULTS["learn_decay"], damping: float = DEFAULTS["damping"],
          gate: float = DEFAULTS["gate"], input_shape: Sequence[int] | None = DEFAULTS["input_shape"],
          beta: float = DEFAULTS["beta"], free_steps: int = DEFAULTS["free_steps"],
          nudge_steps: int = DEFAULTS["nudge_steps"], tol: float = DEFAULTS["tol"],
          spike_temperature: float = DEFAULTS["spike_temperature"], spike_gate: float = DEFAULTS["spike_gate"],
          data_sample: np.ndarray | None = None, units: str = DEFAULTS["units"]) -> Graph:
    """Build an HTSEP network with fresh weights (uniform +-1/sqrt(fan_in), as the base model).

    ``data_sample`` (an (n, n_in) array of training inputs) feeds ``torus_shape="auto"`` /
    ``spatial_decay="auto"``; it is not stored, only the statistics derived from it
    (``meta["torus"]``)."""
    if not (_is_int(hidden) and hidden >= 1):
        _fail(f"hidden must be one positive int (the neurons on the torus), got {hidden!r}")
    radius = tuple(radius) if isinstance(radius, (list, tuple)) else radius
    if not (isinstance(radius, tuple) and len(radius) == 2 and all(_is_int(r) and r >= 0 for r in radius)):
        _fail(f"radius must be two ints >= 0 (rows, cols), got {radius!r}")
    radius = tuple(int(r) for r in radius)
    if not (_is_int(buffer_depth) and buffer_depth >= 1):
        _fail(f"buffer_depth must be an int >= 1, got {buffer_depth!r}")
    if not (_is_num(buffer_decay) and 0 <= buffer_decay <= 1):
        _fail(f"buffer_decay (the time axis) must be a number in [0, 1], got {buffer_decay!r}")
    if not (_is_num(buffer_gain) and buffer_gain > 0):
        _fail(f"buffer_gain must be a number > 0, got {buffer_gain!r}")
    if not isinstance(learn_decay, (bool, np.bool_)):
        _fail(f"learn_decay must be True or False, got {learn_decay!r}")
    for name, v in (("damping", damping), ("gate", gate), ("spike_gate", spike_gate)):
        if not (_is_num(v) and 0 < v <= 1):
            _fail(f"{name} must be a number in (0, 1], got {v!r}")
    if not (_is_num(beta) and beta > 0):
        _fail(f"beta (the EqProp nudge) must be a number > 0, got {beta!r}")
    for name, v in (("free_steps", free_steps), ("nudge_steps", nudge_steps)):
        if not (_is_int(v) and v >= 1):
            _fail(f"{name} must be an int >= 1, got {v!r}")
    if not (_is_num(tol) and tol > 0):
        _fail(f"tol must be a number > 0, got {tol!r}")
    if not (_is_num(spike_temperature) and spike_temperature > 0):
        _fail(f"spike_temperature must be a number > 0, got {spike_temperature!r}")
    worst = buffer_gain * buffer_depth * (2 * radius[0] + 1) * (2 * radius[1] + 1)
    if learn_decay and not worst < 1:
        _fail(f"with learn_decay the loop gain can reach buffer_gain * buffer_depth * prod(2 radius + 1) = {worst:.4g} >= 1; "
              f"lower buffer_gain below {1 / (buffer_depth * (2 * radius[0] + 1) * (2 * radius[1] + 1)):.4g}")

    auto = None
    if isinstance(torus_shape, str) or isinstance(spatial_decay, str):
        for name, v in (("torus_shape", torus_shape), ("spatial_decay", spatial_decay)):
            if isinstance(v, str) and v != "auto":
                _fail(f"{name} must be 'auto' or explicit values, got {v!r}")
        auto = auto_torus(hidden, n_in, radius, data_sample, input_shape)
    if isinstance(torus_shape, str):
        shape = tuple(auto["shape"])
    else:
        shape = tuple(torus_shape)
        if len(shape) != 2 or not all(_is_int(n) and n >= 1 for n in shape) or shape[0] * shape[1] != hidden:
            _fail(f"torus_shape must be 'auto' or two positive ints whose product is hidden = {hidden}, got {torus_shape!r}")
        shape = (int(shape[0]), int(shape[1]))
        for n, r in zip(shape, radius):
            if 2 * r + 1 > n:
                _fail(f"radius {r} does not fit a torus axis of {n} units (need 2 * radius + 1 <= {n})")
    if isinstance(spatial_decay, str):
        sdec = tuple(auto["spatial_decay"])
    else:
        if auto is not None:  # only the shape was chosen automatically
            auto.pop("spatial_decay")
        sdec = (spatial_decay, spatial_decay) if _is_num(spatial_decay) else tuple(spatial_decay)
        if len(sdec) != 2 or not all(_is_num(d) and 0 <= d <= 1 for d in sdec):
            _fail(f"spatial_decay must be 'auto', a number or two numbers in [0, 1], got {spatial_decay!r}")
        sdec = tuple(float(d) for d in sdec)
    if not isinstance(torus_shape, str) and auto is not None:
        # Explicit shape with automatic decays: the grid spacing in pixels follows the given shape.
        image = auto["input_shape"]
        rho = auto["neighbour_correlation"]
        sdec = tuple(DEFAULT_SPATIAL_DECAY if r is None or r <= 0 else float(np.clip(r ** (ni / ng), *DECAY_RANGE))
                     for r, ni, ng in zip(rho, image, shape))
        auto.pop("shape")
        auto["spatial_decay"] = list(sdec)

    rs = np.random.default_rng(seed)
    g = Graph()
    g.add(Population("x", n_in, "input"))
    rule = LearningRule("eqprop", {"beta": beta})
    bound = 1.0 / np.sqrt(n_in)
    if units not in UNITS:
        _fail(f"units must be one of {', '.join(UNITS)}, got {units!r}")
    g.add(Population("h", hidden, units, {"damping": float(damping), "gate": float(gate), "seed": int(seed)},
                     bias=rs.uniform(-bound, bound, hidden)))
    g.add(Connection("W_x_h", "x", "h", rs.uniform(-bound, bound, (hidden, n_in)), learning=rule))
    g.add(ToroidalBuffer("torus_h", "h", int(buffer_depth), (float(buffer_decay), *sdec), float(buffer_gain),
                         shape=shape, radius=radius, learn=bool(learn_decay)))
    bound = 1.0 / np.sqrt(hidden)
    # The output is not gated: it is the readout, and the nudge acts on it.
    g.add(Population("y", n_out, "linear", {"damping": float(damping)}, bias=rs.uniform(-bound, bound, n_out)))
    g.add(Connection("W_h_y", "h", "y", rs.uniform(-bound, bound, (n_out, hidden)), symmetric=True, learning=rule))
    g.meta.update(
        variant=NAME, input="x", output="y",
        hyperparameters=dict(n_in=n_in, n_out=n_out, seed=seed, hidden=int(hidden),
                             torus_shape=torus_shape if isinstance(torus_shape, str) else list(shape),
                             spatial_decay=spatial_decay if isinstance(spatial_decay, str) else list(sdec),
                             radius=list(radius), buffer_depth=int(buffer_depth), buffer_decay=float(buffer_decay),
                             buffer_gain=float(buffer_gain), learn_decay=bool(learn_decay), damping=float(damping),
                             gate=float(gate), input_shape=None if input_shape is None else list(input_shape),
                             beta=beta, free_steps=free_steps, nudge_steps=nudge_steps, tol=tol,
                             spike_temperature=float(spike_temperature), spike_gate=float(spike_gate), units=units),
        # What the torus resolved to (the auto choice is made once, here, not at run time).
        torus=dict(shape=list(shape), radius=list(radius), spatial_decay=list(sdec), time_decay=float(buffer_decay),
                   auto=auto, adaptive="build time only (a chip cannot restructure its torus at run time)"),
        # The spiking mode rate_to_spiking builds by default for this variant.
        spiking=dict(neuron="stochastic", temperature=float(spike_temperature), gate=float(spike_gate),
                     seed=int(seed) + SPIKE_SEED_OFFSET),
    )
    return g.validate()
