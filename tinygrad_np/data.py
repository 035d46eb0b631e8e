"""Mini-batches over arrays: a minimal DataLoader (datasets and scaling come from scikit-learn).

>>> import numpy as np
>>> from tinygrad_np.data import DataLoader
>>> X, y = np.arange(10.0).reshape(5, 2), np.arange(5)
>>> loader = DataLoader(X, y, batch_size=2)
>>> len(loader)
3
>>> [yb.tolist() for _, yb in loader]
[[0, 1], [2, 3], [4]]
"""
from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from tinygrad_np._tensor import Tensor, default_generator

__all__ = ["DataLoader"]


class DataLoader:
    """Iterate over `arrays` in mini-batches along their first axis.

    Each batch is one Tensor per array (a tuple when several arrays were given,
    the Tensor itself for one array); `tensors=False` yields ndarrays instead.
    Dtypes are kept (float64 stays float64, integer labels stay integer).
    With `shuffle=True` every pass draws a fresh order from a generator made
    from `seed` once, so epochs differ from each other while the whole run is
    reproducible; with `seed=None` the order comes from `tg.manual_seed`'s
    generator. `drop_last=True` drops a final batch smaller than `batch_size`.
    """

    def __init__(self, *arrays: Any, batch_size: int = 32, shuffle: bool = False,
                 seed: int | None = None, drop_last: bool = False,
                 tensors: bool = True) -> None:
        if not arrays:
            raise ValueError("DataLoader needs at least one array, e.g. DataLoader(X, y)")
        self.arrays = [np.asarray(a.data if isinstance(a, Tensor) else a) for a in arrays]
        for i, a in enumerate(self.arrays):
            if a.ndim == 0:
                raise ValueError(f"DataLoader: array {i} is a scalar; batches are taken along "
                                 "the first axis, so every array needs at least one dimension")
        lengths = [len(a) for a in self.arrays]
        if len(set(lengths)) != 1:
            shapes = ", ".join(str(a.shape) for a in self.arrays)
            raise ValueError(f"DataLoader: the arrays have different lengths along axis 0 "
                             f"(shapes {shapes}); every array needs one row per sample")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got "
                             f"{batch_size!r}")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = seed
        self.drop_last = bool(drop_last)
        self.tensors = bool(tensors)
        self._rng = np.random.default_rng(seed) if seed is not None else None

    @property
    def num_samples(self) -> int:
        """The number of rows in each array."""
        return len(self.arrays[0])

    def __len__(self) -> int:
        """The number of batches one pass yields."""
        n, b = self.num_samples, self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[Any]:
        n = self.num_samples
        order = None
        if self.shuffle:
            order = (self._rng or default_generator()).permutation(n)
        for batch in range(len(self)):
            start = batch * self.batch_size
            rows = slice(start, start + self.batch_size)
            picked = [a[rows] if order is None else a[order[rows]] for a in self.arrays]
            if self.tensors:
                picked = [Tensor(a) for a in picked]
            yield picked[0] if len(picked) == 1 else tuple(picked)

    def __repr__(self) -> str:
        shapes = ", ".join(str(a.shape) for a in self.arrays)
        return (f"DataLoader({shapes}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"seed={self.seed}, drop_last={self.drop_last}, batches={len(self)})")
