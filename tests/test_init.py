"""tg.nn.init: PyTorch's formulas (bounds, stds, fans, gains) and bit-for-bit seeding."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_np as tg
from tinygrad_np.nn import init

RANDOM_INITS = [
    lambda t, **k: init.uniform_(t, -0.5, 2.0, **k),
    lambda t, **k: init.normal_(t, 1.0, 0.3, **k),
    lambda t, **k: init.xavier_uniform_(t, gain=2.0, **k),
    lambda t, **k: init.xavier_normal_(t, **k),
    lambda t, **k: init.kaiming_uniform_(t, a=0.1, mode="fan_out", **k),
    lambda t, **k: init.kaiming_normal_(t, nonlinearity="relu", **k),
]


def test_fans_and_gains_follow_pytorch():
    assert init.calculate_fan_in_and_fan_out(tg.zeros(3, 5)) == (5, 3)
    assert init.calculate_fan_in_and_fan_out(tg.zeros(8, 3, 5, 5)) == (75, 200)
    with pytest.raises(ValueError, match=r"at least 2 dimensions, got shape \(4,\)"):
        init.calculate_fan_in_and_fan_out(tg.zeros(4))
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("tanh") == 5 / 3
    assert init.calculate_gain("sigmoid") == init.calculate_gain("linear") == 1
    assert init.calculate_gain("leaky_relu") == math.sqrt(2 / (1 + 0.01 ** 2))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == math.sqrt(1 / 3)
    with pytest.raises(ValueError, match="unknown nonlinearity 'swish'; known: "):
        init.calculate_gain("swish")


def test_constant_fills_return_the_same_tensor():
    t = tg.randn(3, 4)
    assert init.zeros_(t) is t and np.all(t.data == 0)
    assert init.ones_(t) is t and np.all(t.data == 1)
    assert init.constant_(t, 2.5) is t and np.all(t.data == 2.5)
    a = np.empty((2, 2))
    assert init.ones_(a) is a and np.all(a == 1)


@pytest.mark.parametrize("fill", RANDOM_INITS)
def test_random_fills_are_reproducible_bit_for_bit(fill):
    a, b, c, d = (tg.zeros(6, 5, dtype=np.float64) for _ in range(4))
    tg.manual_seed(123)
    fill(a)
    tg.manual_seed(123)
    fill(b)
    fill(c, generator=np.random.default_rng(123))
    fill(d, seed=123)
    assert a.data.tobytes() == b.data.tobytes() == c.data.tobytes() == d.data.tobytes()
    fill(c, generator=124)
    assert not np.array_equal(a.data, c.data)


def test_draws_equal_numpy_generator_calls_cast_to_the_dtype():
    t = tg.zeros(4, 3)  # float32
    init.uniform_(t, -2.0, 3.0, generator=7)
    expected = np.random.default_rng(7).uniform(-2.0, 3.0, (4, 3)).astype(np.float32)
    np.testing.assert_array_equal(t.data, expected)
    assert t.dtype == np.float32
    init.normal_(t, 0.5, 2.0, seed=7)
    np.testing.assert_array_equal(
        t.data, np.random.default_rng(7).normal(0.5, 2.0, (4, 3)).astype(np.float32))


@given(st.integers(1, 40), st.integers(1, 40), st.floats(0.1, 3.0), st.integers(0, 2**32 - 1))
def test_uniform_bounds_follow_the_formulas(fan_out, fan_in, gain, seed):
    w = tg.zeros(fan_out, fan_in, dtype=np.float64)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    init.xavier_uniform_(w, gain=gain, generator=seed)
    assert np.all(np.abs(w.data) <= bound)
    for mode, fan in (("fan_in", fan_in), ("fan_out", fan_out)):
        init.kaiming_uniform_(w, a=0.0, mode=mode, nonlinearity="relu", generator=seed)
        assert np.all(np.abs(w.data) <= math.sqrt(2.0) * math.sqrt(3.0 / fan))


@pytest.mark.parametrize("fill, expected_std", [
    (lambda t: init.xavier_normal_(t, gain=1.5), 1.5 * math.sqrt(2.0 / (400 + 300))),
    (lambda t: init.xavier_uniform_(t), math.sqrt(2.0 / (400 + 300))),
    (lambda t: init.kaiming_normal_(t, nonlinearity="relu"), math.sqrt(2.0) / math.sqrt(400)),
    (lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="tanh"),
     (5 / 3) / math.sqrt(300)),
    (lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)), 1 / math.sqrt(400) / math.sqrt(3)),
    (lambda t: init.normal_(t, 0.0, 0.02), 0.02),
    (lambda t: init.uniform_(t, -1.0, 1.0), 1 / math.sqrt(3)),
])
def test_sample_std_and_mean_match_the_formulas(fill, expected_std):
    # 120,000 samples: the sample std is within ~0.2% of the truth (1% tolerance is ~5 sigma)
    w = tg.zeros(300, 400, dtype=np.float64)
    tg.manual_seed(2024)
    fill(w)
    assert abs(w.data.std() - expected_std) <= 0.01 * expected_std
    assert abs(w.data.mean()) <= 5 * expected_std / math.sqrt(w.size)


def test_init_errors_are_clear():
    with pytest.raises(TypeError, match="floating-point tensors only"):
        init.normal_(tg.zeros(2, 2, dtype=np.int64))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_normal_(tg.zeros(2, 2), mode="fan_avg")
    with pytest.raises(ValueError, match="pass generator= or seed=, not both"):
        init.uniform_(tg.zeros(2), generator=1, seed=1)
    with pytest.raises(TypeError, match="np.random.Generator or an int seed"):
        init.uniform_(tg.zeros(2), generator="seed")
    with pytest.raises(TypeError, match="Tensor or ndarray"):
        init.zeros_([1.0, 2.0])
    empty = tg.zeros(0, 3)
    assert init.kaiming_uniform_(empty) is empty  # nothing to fill, like PyTorch
