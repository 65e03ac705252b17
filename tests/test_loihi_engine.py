"""Loihi's learning engine: neurotep's rule grammar reads rules as Lava does, refuses what the
engine cannot express, and its torch twin learns bit for bit what Lava's LearningDense fixed_pt
model learns."""

import numpy as np
import pytest
import torch

from neurotep.errors import RuleError
from neurotep.hardware.learning_engine import LearningEngine, RandomStream
from neurotep.hardware.learning_rule import LoihiRule, eqprop_rule, lr_literal, parse_rule

RULES = [
    "2^-2 * u0 * x1 * y1 * y2 - 2^-2 * u0 * x1 * y1 * y3",  # the EqProp rule
    "3 * 2^-1 * x0 * y1 * y2 - u0 * w",
    "2^-3 * u0 * x1 * y1 - 5 * 2^2 * x0 * sgn(w) * y3",
    "-7 * 2^3 * u0 * x1 * y2 * y3 + x0 * x1 * y1",
    "2^-6 * u0 * w * x1 * y1",
    "12 * u1 * x1 * y1",  # decimation every 2 epochs; mantissa 12 normalised to 3 * 2^2
]


@pytest.mark.parametrize("text", RULES)
def test_rules_parse_as_lava_parses_them(text):
    from lava.magma.core.learning.learning_rule import Loihi3FLearningRule

    ours = parse_rule(text)
    lava = Loihi3FLearningRule(dw=text, t_epoch=4).dw.products
    assert [(p.dependency[0] if p.dependency[0] == "u" else p.dependency, tuple(f.removeprefix("sgn(").rstrip(")") for f in p.factors), p.mantissa, p.exp) for p in ours] == \
        [(q.dependency, tuple(f.state_var for f in q.factors), q.s_mantissa, q.s_exp - 7) for q in lava]
    assert [any(f.startswith("sgn(") for f in p.factors) for p in ours] == [any(f.is_sgn for f in q.factors) for q in lava]


@pytest.mark.parametrize("text, says", [
    ("u0 * x1 / y1", "divides"),
    ("u0 * x1 * y1 * y2 * y3", "multiplies 4 factors"),
    ("x1 * y1", "no dependency"),
    ("u0 * z1", "'z1' is not a term"),
    ("9 * u0 * x1", "outside the engine's range"),
    ("2^-9 * u0 * x1", "outside the engine's range"),
    ("u0 * x1 + u0 * y1 + u0 * x1 * y1 + u0 + u0 * y2 + u0 * y3 + u0 * x2 + u0 * w + u0 * t", "at most 8"),
])
def test_rules_the_engine_cannot_express_get_one_line(text, says):
    with pytest.raises(RuleError, match=says.replace("(", r"\(")):
        parse_rule(text)


def test_a_learning_rate_that_underflows_the_weights_is_refused():
    with pytest.raises(RuleError, match="underflows the weight precision"):
        eqprop_rule(2.0**-8, t_epoch=8, x1_impulse=1, x1_tau=20)
    with pytest.raises(RuleError, match="positive"):
        eqprop_rule(0.0, t_epoch=8, x1_impulse=1, x1_tau=20)
    with pytest.raises(RuleError, match="6 bits"):
        eqprop_rule(0.25, t_epoch=64, x1_impulse=1, x1_tau=20)
    assert lr_literal(0.3) == (5, -4) and lr_literal(4.0) == (1, 2)


def test_one_draw_of_n_is_n_draws_of_one():
    """The twin draws a block per step where Lava draws one number at a time: same stream."""
    a, b = RandomStream(5), np.random.default_rng(5)
    b.random(1)
    for n in (2, 1, 7):
        expected = [b.random(1)[0] for _ in range(n)][-1]
        assert a.advance(n) == expected


@pytest.mark.parametrize("text", RULES[:4])
def test_twin_weights_equal_lava_fixed_pt_after_every_update(text):
    """24 epochs (learning updates) of one LearningDense: random pre spikes, post traces and
    phase gates as a post-synaptic neuron would send them; the weights after each update are
    identical, and they did change."""
    rs = np.random.default_rng(1)
    n_pre, n_post, t_epoch, epochs = 6, 4, 8, 24
    steps = t_epoch * epochs
    pre = (rs.random((n_pre, steps)) < 0.4).astype(int)
    ys = rs.integers(0, 128, (3, n_post, steps))
    ys[1] *= np.arange(steps) // t_epoch % 4 == 1  # y2: the +beta phase's gate
    ys[2] *= np.arange(steps) // t_epoch % 4 == 3  # y3: the -beta phase's gate
    w0 = rs.integers(-100, 100, (n_post, n_pre))
    rule = LoihiRule(parse_rule(text), t_epoch, x1_impulse=5, x1_tau=20, rng_seed=7).validate()
    from neurotep.backends.lava.onchip import learning_dense_weights

    lava = learning_dense_weights(rule, w0, pre, ys, epochs)  # in an isolated worker, as every Lava run
    eng, twin = LearningEngine(rule, w0), []
    for t in range(steps):
        s = torch.as_tensor(pre[:, t])
        eng.accumulate(s)
        if eng.observe(s, torch.as_tensor(ys[:, :, t])):
            twin.append(eng.w.numpy().copy())
    assert len(twin) == epochs == eng.updates
    for e in range(epochs):
        np.testing.assert_array_equal(twin[e], lava[e], err_msg=f"update {e + 1}")
    assert np.abs(lava[-1] - w0).sum() > 100


def test_twin_forward_is_lavas_dense_output():
    """The connection's output uses the step's starting weights, shifted by weight_exp."""
    rule = eqprop_rule(0.25, t_epoch=4, x1_impulse=3, x1_tau=10)
    w = np.array([[10, -20, 30], [4, 5, -6]])
    eng = LearningEngine(rule, w, weight_exp=-1)
    np.testing.assert_array_equal(eng.accumulate(torch.tensor([1, 0, 1])).numpy(), [20, -1])
    with pytest.raises(ValueError, match="8-bit"):
        LearningEngine(rule, w * 100)


def test_the_post_trace_shortcut_is_exact_up_to_its_threshold():
    """The engine skips rebuilding the post traces' epoch when no value can change; check that
    claim against the full rebuild for every 7-bit value, at random numbers up to the threshold."""
    from neurotep.hardware.learning_engine import Y_TAU, decay_factor, trace_history

    f = decay_factor(Y_TAU)
    y = torch.arange(128, dtype=torch.int64)
    threshold = 1 - 2 * 127 * (1 - f)
    for r in np.linspace(0, threshold, 50, endpoint=False):
        assert torch.equal(trace_history(y, None, 63, f, float(r), 0)[-1], y)
    assert not torch.equal(trace_history(y, None, 63, f, 0.99999, 0)[-1], y)  # above it, values do change


def test_trace_decay_rounds_the_same_on_numpy_and_torch():
    """Lava's model decays in numpy float64; torch would multiply an integer tensor in float32
    and round differently about once in a million (this broke a full epoch's bit identity)."""
    from neurotep.hardware.learning_engine import decay_factor, stochastic_decay

    v, f = np.arange(128), decay_factor(28)
    vt = torch.as_tensor(v)
    for r in np.random.default_rng(0).random(20000):  # float32 products differed twice in these draws
        np.testing.assert_array_equal(stochastic_decay(v, f, r), stochastic_decay(vt, f, float(r)).numpy())
