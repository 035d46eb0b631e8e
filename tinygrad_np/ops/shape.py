"""Shape ops: reshape, transpose, broadcast, indexing and its adjoint, item assignment,
concatenation."""
from __future__ import annotations

import numpy as np

from tinygrad_np.function import Function
from tinygrad_np.ops.helpers import masked, scatter_add


class Reshape(Function):
    traceable = True
    def forward(self, a, shape): return a.reshape(shape)
    def backward(self, g): return g.reshape(self.saved[1].shape)


class Transpose(Function):
    traceable = True
    def forward(self, a, axes):
        self.axes = axes
        return a.transpose(axes)

    def backward(self, g):
        if self.axes is None:
            return g.transpose(None)
        return g.transpose(tuple(np.argsort([a % len(self.axes) for a in self.axes])))


class BroadcastTo(Function):
    def forward(self, a, shape): return np.broadcast_to(a, shape)
    def backward(self, g): return g  # the walk sums it back to the input's shape


class GetItem(Function):
    def forward(self, a, index):
        self.index = index
        return a[index]

    def backward(self, g): return scatter_add(g, self.index, self.saved[1].shape)


class ScatterAdd(Function):
    """The adjoint of indexing; recorded only when differentiating a gradient."""

    def forward(self, g, index, shape):
        self.index = index
        return scatter_add(g, index, shape)

    def backward(self, g): return g[self.index]


class SetItem(Function):
    """A copy of `a` with `a[index] = value`: what assigning a recorded value into a
    tensor records (the tensor is rebound to this node's output, as in-place ops are)."""

    keeps_output = False

    def forward(self, a, value, index):
        self.index = index
        out = a.copy()
        out[index] = value
        return out

    def backward(self, g):
        ga = gv = None
        if self.parent0 is not None:  # positions that were overwritten get nothing
            kept = np.ones(self.saved[1].shape, dtype=bool)
            kept[self.index] = False
            ga = masked(g, kept)
        if self.parent1 is not None:  # the walk sums it to value's shape if it broadcast
            gv = g[self.index]
        return ga, gv


class Concatenate(Function):
    def forward(self, *arrays, axis=0):
        self.axis = axis % max(np.ndim(arrays[0]), 1)
        return np.concatenate(arrays, axis=axis)

    def backward(self, g):
        grads, start = [], 0
        lead = (slice(None),) * self.axis
        for a in self.saved[1:]:
            stop = start + np.shape(a)[self.axis]
            grads.append(g[lead + (slice(start, stop),)])
            start = stop
        return tuple(grads)
