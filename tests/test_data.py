"""tg.data.DataLoader: batch sizes, order, shuffling by seed, drop_last, errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_np as tg
from tinygrad_np.data import DataLoader


def test_batches_in_order_with_a_short_last_batch() -> None:
    X = np.arange(14.0).reshape(7, 2)
    y = np.arange(7)
    loader = DataLoader(X, y, batch_size=3)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [yb.tolist() for _, yb in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    np.testing.assert_array_equal(batches[2][0].data, [[12.0, 13.0]])
    xb, yb = batches[0]
    assert isinstance(xb, tg.Tensor) and isinstance(yb, tg.Tensor)
    assert xb.dtype == np.float64 and yb.dtype == y.dtype  # dtypes are kept
    assert not xb.requires_grad


def test_drop_last() -> None:
    loader = DataLoader(np.arange(7), batch_size=3, drop_last=True)
    assert len(loader) == 2
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5]]
    assert len(DataLoader(np.arange(6), batch_size=3, drop_last=True)) == 2
    assert len(DataLoader(np.arange(2), batch_size=3, drop_last=True)) == 0
    assert list(DataLoader(np.arange(2), batch_size=3, drop_last=True)) == []


def test_one_array_yields_the_batch_itself_and_arrays_on_request() -> None:
    batches = list(DataLoader(np.arange(4), batch_size=2, tensors=False))
    assert all(type(b) is np.ndarray for b in batches)
    assert [b.tolist() for b in batches] == [[0, 1], [2, 3]]
    pairs = list(DataLoader(np.arange(4), np.arange(4) * 10, batch_size=4, tensors=False))
    assert len(pairs) == 1 and isinstance(pairs[0], tuple)
    assert pairs[0][1].tolist() == [0, 10, 20, 30]


def test_tensor_and_list_inputs() -> None:
    t = tg.Tensor(np.arange(6.0).reshape(3, 2))
    (xb, yb), = list(DataLoader(t, [1, 0, 1], batch_size=5))
    np.testing.assert_array_equal(xb.data, t.data)
    assert yb.tolist() == [1, 0, 1]


def test_shuffle_keeps_rows_together_and_is_reproducible_by_seed() -> None:
    X = np.arange(20).reshape(10, 2)
    y = np.arange(10)
    first = [(xb.data.copy(), yb.data.copy()) for xb, yb in
             DataLoader(X, y, batch_size=4, shuffle=True, seed=3)]
    again = [(xb.data.copy(), yb.data.copy()) for xb, yb in
             DataLoader(X, y, batch_size=4, shuffle=True, seed=3)]
    for (a, b), (c, d) in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    order = np.concatenate([b for _, b in first])
    assert sorted(order.tolist()) == list(range(10))  # a permutation: every row once
    assert order.tolist() != list(range(10))
    for xb, yb in first:
        np.testing.assert_array_equal(xb, X[yb])  # rows of X and y stay paired
    # the expected order is the seed's first permutation
    np.testing.assert_array_equal(order, np.random.default_rng(3).permutation(10))


def test_each_epoch_reshuffles_and_the_run_is_reproducible() -> None:
    def two_epochs(seed: int) -> list[list[int]]:
        loader = DataLoader(np.arange(12), batch_size=12, shuffle=True, seed=seed)
        return [next(iter(loader)).tolist() for _ in range(2)]

    a, b = two_epochs(0), two_epochs(0)
    assert a == b
    assert a[0] != a[1]
    assert two_epochs(1) != a


def test_shuffle_without_seed_follows_manual_seed() -> None:
    def epoch() -> list[int]:
        tg.manual_seed(42)
        return next(iter(DataLoader(np.arange(10), batch_size=10, shuffle=True))).tolist()

    assert epoch() == epoch()
    assert epoch() == np.random.default_rng(42).permutation(10).tolist()


@given(n=st.integers(0, 40), batch_size=st.integers(1, 12), drop_last=st.booleans(),
       shuffle=st.booleans())
def test_every_row_exactly_once(n: int, batch_size: int, drop_last: bool, shuffle: bool) -> None:
    loader = DataLoader(np.arange(n), batch_size=batch_size, shuffle=shuffle, seed=0,
                        drop_last=drop_last, tensors=False)
    batches = list(loader)
    assert len(batches) == len(loader)
    assert all(len(b) == batch_size for b in batches[:-1])
    seen = np.concatenate(batches) if batches else np.array([], dtype=int)
    assert len(set(seen.tolist())) == len(seen)
    expected = n - n % batch_size if drop_last else n
    assert len(seen) == expected
    if not drop_last:
        assert sorted(seen.tolist()) == list(range(n))


@pytest.mark.parametrize("build, message", [
    (lambda: DataLoader(), "at least one array"),
    (lambda: DataLoader(np.zeros(3), np.zeros(4)), r"different lengths.*\(3,\), \(4,\)"),
    (lambda: DataLoader(np.zeros(3), batch_size=0), "batch_size must be a positive integer"),
    (lambda: DataLoader(np.zeros(3), batch_size=2.5), "batch_size must be a positive integer"),
    (lambda: DataLoader(np.float64(1.0)), "scalar"),
])
def test_errors(build, message) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_repr() -> None:
    loader = DataLoader(np.zeros((5, 2)), np.zeros(5), batch_size=2, shuffle=True, seed=1)
    assert repr(loader) == ("DataLoader((5, 2), (5,), batch_size=2, shuffle=True, seed=1, "
                            "drop_last=False, batches=3)")
