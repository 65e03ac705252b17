"""Quantising a graph to Loihi 2's fixed-point formats (as Lava 0.10's bit-accurate models use them).

* weights: an 8-bit mantissa per synapse and one ``weight_exp`` per connection direction, clipped
  and truncated exactly as Lava's Dense does (mixed-sign weights lose their lowest bit); the
  float current ``w * s`` becomes ``(w_int * s_int) shifted by weight_exp`` in 1/64 units;
* LIF: ``dv = round(4096 (1 - beta))``, ``vth = round(64 threshold)``, bias as a 13-bit signed
  mantissa with a 3-bit exponent (membrane units, 4096 per float unit);
* rate units: graded outputs with 8 fractional bits, damping in 1/4096;
* toroidal buffer taps: integers with 8 extra fractional bits, the sum shifted back (floor);
  an N-D buffer's spatial kernel ``S`` as ``round(S * 2**KERNEL_BITS)`` (entries 0..256), applied
  to the shifted tap sum and shifted back (floor), see :func:`neurotep.neurons.fixed.torus_fixed`;
* sigma-delta neurons: sum, activation, bias, threshold and messages with ``SD_BITS`` (12)
  fractional bits, so a connection into one shifts by ``SD_BITS - 6`` more than into a LIF; the
  bias must fit Lava's 16-bit SigmaDelta bias (+-8 float units);
* Boltzmann units (NEBM): the state with ``BOLTZMANN_BITS`` (7) fractional bits, so a connection
  into one shifts by one bit more than into a LIF; the temperature as NEBM's 8-bit integer ``T``
  with ``T / 4`` in state units (``T = round(4 * temperature * 2**7)``, 1..255); they send +1 / -1;
* probabilistic gates (stochastic neurons, rate units): the probability itself; the gate is an
  integer compare of the counter hash (:func:`neurotep.rng.gate_open`), exact on every backend.

See :mod:`neurotep.neurons.fixed` for the integer dynamics both backends run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurotep.errors import BackendError
from neurotep.graph import Graph
from neurotep.neurons.fixed import ACT_SHIFT, DECAY_BITS, GRADED_BITS, KERNEL_BITS, SD_BITS, V_BITS, noise_scale_int
from neurotep.neurons.rate import noise_scale

TAP_BITS = 8
BIAS_MANT_MAX = 2**12 - 1  # 13-bit signed mantissa
BIAS_EXP_MAX = 7  # 3-bit exponent
MESSAGE_MAX = 2**23 - 1  # a_in travels as a 24-bit signed message
BOLTZMANN_BITS = 7  # NEBM's state: the most that leaves a temperature of 1/4 in its 8 bits (T = 128)
NEBM_STATE_MAX = 2**23 - 1  # NEBM's state: 24 bits, signed
MAX_DELAY = 64  # graph delay: DelaySparse's 6-bit delay (0..63) plus the step every synapse adds


def value_bits(graph: Graph, pop: str, spiking_inputs: bool) -> int:
    """Fractional bits of what ``pop`` sends in fixed point: 0 for spikes, ``GRADED_BITS`` for
    rate units and graded inputs, ``ACT_SHIFT`` for a sigma integrator (Lava's ``Sigma`` sums its
    ``a_in`` messages, which carry 1/64 units)."""
    if not graph.emits_graded(pop, spiking_inputs):
        return 0
    return {"sigma": ACT_SHIFT, "sigma_delta": SD_BITS, "boltzmann": 0}.get(graph.populations[pop].model, GRADED_BITS)


def receive_bits(graph: Graph, pop: str) -> int:
    """Extra fractional bits of ``pop``'s ``a_in`` over the 1/64 units every other neuron takes:
    a sigma-delta neuron sums its input with ``SD_BITS``, a Boltzmann unit with ``BOLTZMANN_BITS``."""
    return {"sigma_delta": SD_BITS - ACT_SHIFT, "boltzmann": BOLTZMANN_BITS - ACT_SHIFT}.get(graph.populations[pop].model, 0)


def lava_weights(w_int: np.ndarray) -> np.ndarray:
    """Lava's clip_weights + truncate_weights (8 bits) for the sign mode the matrix has."""
    w = w_int.astype(np.int64)
    if w.min(initial=0) >= 0:  # excitatory
        return np.clip(w, 0, 255)
    if w.max(initial=0) <= 0:  # inhibitory
        return -np.clip(-w, 0, 255)
    return (np.clip(w, -256, 255) >> 1) << 1  # mixed: one bit goes to the sign


def weight_mantissa(w: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer mantissas and exponent ``e`` with ``w_int * 2**e ~= 64 w`` (for spike inputs)."""
    top = float(np.abs(w).max(initial=0.0))
    e = int(np.ceil(np.log2(top * 2**ACT_SHIFT / 254.0))) if top > 0 else 0
    return lava_weights(np.rint(w * 2.0 ** (ACT_SHIFT - e))), e


def _exact_from_boltzmann(w: np.ndarray, receive: int) -> tuple[np.ndarray, int]:
    """Mantissas and exponent for synapses that carry a Boltzmann unit's +1 / -1 messages, coarse
    enough that Lava's shift loses nothing (``weight_exp = exp + receive >= 0``; -1 for a mixed-sign
    matrix, whose mantissas are even): a floored bit per message would add up, as those units
    send at almost every step."""
    w_int, e = weight_mantissa(np.asarray(w, dtype=np.float64))
    floor_exp = -receive - (1 if w_int.min(initial=0) < 0 < w_int.max(initial=0) else 0)
    if e >= floor_exp:
        return w_int, e
    return lava_weights(np.rint(np.asarray(w, dtype=np.float64) * 2.0 ** (ACT_SHIFT - floor_exp))), floor_exp


def bias_mant_exp(b: np.ndarray) -> tuple[np.ndarray, int]:
    """13-bit signed mantissa and shared 3-bit exponent of a bias in membrane units."""
    scaled = b * 2.0**V_BITS
    top = float(np.abs(scaled).max(initial=0.0))
    exp = 0
    while top / 2**exp > BIAS_MANT_MAX and exp < BIAS_EXP_MAX:
        exp += 1
    mant = np.clip(np.rint(scaled / 2**exp), -BIAS_MANT_MAX - 1, BIAS_MANT_MAX).astype(np.int64)
    return mant, exp


@dataclass
class QConnection:
    w: np.ndarray  # int64 mantissas, (post, pre)
    exp: int  # weight_exp for spike inputs; graded inputs use exp - value_bits (GRADED_BITS, or ACT_SHIFT from sigma)
    # A symmetric connection whose feedback direction is scaled (Connection.feedback != 1) carries
    # that direction's own mantissas ``feedback * W.T`` (pre, post) and exponent; else None: W.T.
    w_back: np.ndarray | None = None
    exp_back: int = 0


@dataclass
class QPopulation:
    model: str
    bias_mant: np.ndarray
    bias_exp: int
    dv: int = 0
    vth: int = 0
    reset: str = "zero"
    damping: int = 0
    table: np.ndarray | None = None  # stochastic: spike thresholds for the 24-bit hash
    table_shift: int = 0
    seed: int = 0
    gate: float = 1.0  # probabilistic gate (stochastic, rate); 1 = always open
    noise: np.ndarray | None = None  # rate units' Langevin noise: integer scale per step (noise_scale_int)
    activation: str = "relu"  # sigma-delta neurons: relu or unit
    temperature: int = 0  # Boltzmann units: NEBM's 8-bit temperature (T / 4 in state units)

    @property
    def gated(self) -> bool:
        return self.gate < 1.0

    @property
    def bias(self) -> np.ndarray:
        return self.bias_mant << self.bias_exp


@dataclass
class QuantizedGraph:
    graph: Graph
    connections: dict[str, QConnection] = field(default_factory=dict)
    populations: dict[str, QPopulation] = field(default_factory=dict)
    taps: dict[str, np.ndarray] = field(default_factory=dict)  # per buffered population, times 2**TAP_BITS
    kernels: dict[str, np.ndarray] = field(default_factory=dict)  # N-D buffers: spatial kernel times 2**KERNEL_BITS

    def weight_exp(self, conn: str, pre: str, spiking_inputs: bool, back: bool = False) -> int:
        """``weight_exp`` of a connection's direction (``back``: the transposed one) whose source is ``pre``."""
        c = self.connections[conn]
        exp = c.exp_back if back and c.w_back is not None else c.exp
        post = self.graph.connection(conn).pre if back else self.graph.connection(conn).post
        return exp - value_bits(self.graph, pre, spiking_inputs) + receive_bits(self.graph, post)

    def tap_ints(self, pop: str) -> np.ndarray:
        """Buffer taps for the population's own outputs (spikes or graded), in 1/64 units << TAP_BITS."""
        return self.taps[pop]


def quantize(graph: Graph) -> QuantizedGraph:
    """Loihi 2 fixed-point parameters of ``graph`` (connection delays 1 to 64, Lava's ``DelaySparse``
    range; LIF, stochastic, hard_sigmoid, linear and sigma populations; 1-D and N-D toroidal
    buffers; probabilistic gates)."""
    graph.validate()
    q = QuantizedGraph(graph)
    for c in graph.connections:
        if not 1 <= c.delay <= MAX_DELAY:
            raise BackendError(f"connection {c.name!r}: fixed point runs delays 1 to {MAX_DELAY} (Loihi 2's 6-bit synaptic "
                               f"delay, plus the step every synapse adds), got {c.delay}")
        w = c.weight * c.mask if c.mask is not None else c.weight
        q.connections[c.name] = QConnection(*weight_mantissa(np.asarray(w, dtype=np.float64)))
        if graph.populations[c.pre].model == "boltzmann":  # exact +-1 messages (see _exact_from_boltzmann)
            q.connections[c.name] = QConnection(*_exact_from_boltzmann(w, receive_bits(graph, c.post)))
        if c.feedback != 1.0:  # the scaled transposed direction gets its own mantissas and exponent
            q.connections[c.name].w_back, q.connections[c.name].exp_back = \
                weight_mantissa(np.asarray(w, dtype=np.float64).T * c.feedback)
    for p in graph.state_populations():
        mant, exp = bias_mant_exp(p.bias if p.bias is not None else np.zeros(p.size))
        if p.model == "lif":
            dv = int(np.clip(np.rint(2**DECAY_BITS * (1 - float(p.param("beta")))), 0, 2**DECAY_BITS - 1))
            vth = int(np.rint(float(p.param("threshold")) * 2**ACT_SHIFT))
            q.populations[p.name] = QPopulation("lif", mant, exp, dv=dv, vth=vth, reset=p.param("reset"))
        elif p.model == "stochastic":
            dv = int(np.clip(np.rint(2**DECAY_BITS * (1 - float(p.param("beta")))), 0, 2**DECAY_BITS - 1))
            vth = int(np.rint(float(p.param("threshold")) * 2**ACT_SHIFT))
            table, shift = sigmoid_table(float(p.param("temperature")))
            q.populations[p.name] = QPopulation("stochastic", mant, exp, dv=dv, vth=vth, reset=p.param("reset"),
                                                table=table, table_shift=shift, seed=int(p.param("seed")),
                                                gate=float(p.param("gate")))
        elif p.model == "sigma":
            q.populations[p.name] = QPopulation("sigma", mant, exp)
        elif p.model == "sigma_delta":
            q.populations[p.name] = _sigma_delta(p)
        elif p.model == "boltzmann":
            q.populations[p.name] = _boltzmann(p)
        elif p.model in ("hard_sigmoid", "linear"):
            damping = int(np.rint(float(p.param("damping")) * 2**DECAY_BITS))
            q.populations[p.name] = QPopulation(p.model, mant, exp, damping=damping, seed=int(p.param("seed")),
                                                gate=float(p.param("gate")), noise=_noise_table(p))
        else:
            raise BackendError(f"population {p.name!r}: {p.model} neurons have no fixed-point form yet: use --precision float")
    for b in graph.buffers:
        pre_bits = value_bits(graph, b.population, True)
        q.taps[b.population] = np.rint(b.tap_weights() * 2.0 ** (ACT_SHIFT + TAP_BITS - pre_bits)).astype(np.int64)
        if b.shape:
            q.kernels[b.population] = kernel_int(b, q.taps[b.population], graph.populations[b.population].model)
    return q


SD_BIAS_MAX = 2**15 - 1  # Lava's SigmaDelta bias: 16 bits, signed


def _sigma_delta(p) -> QPopulation:
    """A sigma-delta population's integers: bias and threshold with ``SD_BITS`` fractional bits."""
    bias = np.rint((p.bias if p.bias is not None else np.zeros(p.size)) * 2.0**SD_BITS).astype(np.int64)
    if np.abs(bias).max(initial=0) > SD_BIAS_MAX:
        raise BackendError(f"population {p.name!r}: a bias of {np.abs(p.bias).max():.3g} does not fit the 16-bit "
                           f"SigmaDelta bias (|bias| <= {SD_BIAS_MAX / 2**SD_BITS:.3g} with {SD_BITS} fractional bits)")
    vth = max(1, int(np.rint(float(p.param("threshold")) * 2**SD_BITS)))
    return QPopulation("sigma_delta", bias, 0, vth=vth, activation=p.param("activation"))


def _boltzmann(p) -> QPopulation:
    """A Boltzmann population's integers: the bias (NEBM's initial state, negated by the plan) with
    ``BOLTZMANN_BITS`` fractional bits and NEBM's 8-bit temperature."""
    bias = np.rint((p.bias if p.bias is not None else np.zeros(p.size)) * 2.0**BOLTZMANN_BITS).astype(np.int64)
    if np.abs(bias).max(initial=0) > NEBM_STATE_MAX:
        raise BackendError(f"population {p.name!r}: a bias of {np.abs(p.bias).max():.3g} does not fit NEBM's 24-bit state")
    t = int(np.rint(4 * float(p.param("temperature")) * 2**BOLTZMANN_BITS))
    if not 1 <= t <= 255:
        lo, hi = 1 / (4 * 2**BOLTZMANN_BITS), 255 / (4 * 2**BOLTZMANN_BITS)
        raise BackendError(f"population {p.name!r}: temperature {float(p.param('temperature')):g} does not fit NEBM's "
                           f"8-bit temperature (fixed point takes {lo:.4g} to {hi:.4g})")
    return QPopulation("boltzmann", bias, 0, temperature=t, seed=int(p.param("seed")))


def _noise_table(p) -> np.ndarray | None:
    """A rate population's Langevin schedule as integer scales per step (None without noise)."""
    if float(p.param("noise")) <= 0:
        return None
    return np.array([noise_scale_int(noise_scale(float(p.param("noise")), float(p.param("noise_decay")),
                                                 int(p.param("noise_steps")), t))
                     for t in range(int(p.param("noise_steps")))], dtype=np.int64)


def kernel_int(b, taps: np.ndarray, model: str) -> np.ndarray:
    """The integer spatial kernel ``round(S * 2**KERNEL_BITS)`` of N-D buffer ``b``, checked:
    every coupling the float kernel has must survive rounding, and the largest feedback the buffer
    can send must fit Loihi's 24-bit ``a_in`` message."""
    s = b.spatial_kernel()
    k = np.rint(s * 2.0**KERNEL_BITS).astype(np.int64)
    lost = (s > 0) & (k == 0)
    if lost.any():
        small = float(s[lost].max())
        raise BackendError(
            f"buffer {b.name!r}: spatial kernel entries down to {small:.3g} (decay {tuple(b.decay[1:])} over radius "
            f"{tuple(b.radius)}) round to 0 with {KERNEL_BITS} fractional bits, so fixed point would cut couplings the "
            "float model has: raise the spatial decays or lower the radius")
    # Largest |feedback|: each tap sees at most the population's largest output (a spike is 1, a
    # hard-sigmoid output 2**GRADED_BITS); a linear unit is unbounded and cannot be checked here.
    top = {"lif": 1, "stochastic": 1, "hard_sigmoid": 2**GRADED_BITS}.get(model)
    if top is not None:
        fb = (int(np.abs(taps).sum()) * top) >> TAP_BITS
        worst = (fb * int(k.sum(1).max())) >> KERNEL_BITS
        if worst > MESSAGE_MAX:
            raise BackendError(f"buffer {b.name!r}: its feedback can reach {worst} (1/64 units), beyond the 24-bit "
                               f"a_in message (+-{MESSAGE_MAX}); lower the gain")
    return k


def sigmoid_table(temperature: float, max_entries: int = 4097) -> tuple[np.ndarray, int]:
    """Integer spike thresholds ``floor(2**24 sigmoid(d / temperature))`` over membrane offsets
    ``d`` from the threshold, in steps of ``2**shift`` membrane units, covering +-16 temperatures
    (beyond that the probability is 0 or 1 to within 2**-23)."""
    span = 16.0 * temperature * 2**V_BITS  # membrane units
    shift = 0
    while 2 * np.ceil(span / 2**shift) + 1 > max_entries:
        shift += 1
    half = int(np.ceil(span / 2**shift))
    d = np.arange(-half, half + 1) * 2.0**shift / 2**V_BITS
    return np.floor(2**24 / (1 + np.exp(-d / temperature))).astype(np.int64), shift


def encode_input(x: np.ndarray, spiking: bool) -> np.ndarray:
    """Input frames as the integers the source sends: spikes as 0/1, currents with 8 fractional bits."""
    return x.astype(np.int64) if spiking else np.rint(np.asarray(x, dtype=np.float64) * 2**GRADED_BITS).astype(np.int64)
