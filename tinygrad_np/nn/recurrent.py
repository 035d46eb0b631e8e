"""Recurrent layers: RNN, GRU, LSTM and their cells, with PyTorch's parameters and gate order.

Every layer is unrolled over time: per step, one `Linear` node projects the input and
one the hidden state, and the gates are one fused node (`ops.GRUGates`,
`ops.LSTMCellState`, `ops.LSTMHidden`; the RNN's is tanh or relu). A PyTorch state dict
converted to arrays loads as it is (`weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`,
`bias_hh_l0`, `..._reverse`) and gives the same outputs.

GRU (gates r, z, n):  r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
                      z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
                      n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
                      h' = (1 - z) * n + z * h
LSTM (gates i, f, g, o): c' = f * c + i * g,  h' = o * tanh(c')

NOTE: the input projection is one matmul per step, not one for the whole sequence:
slicing a projection that requires grad costs a full-size gradient per slice in
backward (zeros of (T, B, 3H) plus an add, each step): 8.5 ms of extra work per W8 step
against 0.27 ms for 32 small matmuls instead of one.

Each forward marks its layers and time steps for `tg.viz` (`_sub_spans`), so an
unrolled sequence draws as one cluster -- or, collapsed, one box -- per layer and step.
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from tinygrad_np import ops
from tinygrad_np._tensor import Tensor, get_default_dtype, stack
from tinygrad_np.nn import functional as F
from tinygrad_np.nn import init
from tinygrad_np.nn.module import Module, Parameter
from tinygrad_np.versions import next_seq

def _lift(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


# ------------------------------------------------------------------ one step of each cell
def rnn_step(x: Any, h: Any, w_ih: Tensor, w_hh: Tensor, bias: Any, relu: bool) -> Tensor:
    """h' = act(x W_ih^T + h W_hh^T + b_ih + b_hh); `bias` is b_ih + b_hh (or None)."""
    pre = ops.Linear.apply(h, w_hh, ops.Linear.apply(x, w_ih, bias))
    return pre.relu() if relu else pre.tanh()


def gru_step(x: Any, h: Any, w_ih: Tensor, w_hh: Tensor, b_ih: Any, b_hh: Any) -> Tensor:
    """One GRU step (PyTorch's gate order r, z, n): two projections and the fused gates."""
    return ops.GRUGates.apply(ops.Linear.apply(x, w_ih, b_ih), ops.Linear.apply(h, w_hh, b_hh),
                              h)


def lstm_step(x: Any, h: Any, c: Any, w_ih: Tensor, w_hh: Tensor,
              bias: Any) -> tuple[Tensor, Tensor]:
    """One LSTM step (PyTorch's gate order i, f, g, o); `bias` is b_ih + b_hh (or None)."""
    gates = ops.Linear.apply(h, w_hh, ops.Linear.apply(x, w_ih, bias))  # (B, 4H)
    c = ops.LSTMCellState.apply(gates, c)
    return ops.LSTMHidden.apply(gates, c), c


def _summed_bias(b_ih: Tensor | None, b_hh: Tensor | None) -> Tensor | None:
    return None if b_ih is None else b_ih + b_hh


# ------------------------------------------------------------------ shared checks
def _check_sizes(what: str, **sizes: Any) -> None:
    for name, n in sizes.items():
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ValueError(f"{what}: {name} must be an int >= 1, got {n!r}")


def _uniform_init(module: Module, hidden_size: int, generator: Any, what: str) -> None:
    """PyTorch's init for recurrent weights: every parameter ~ U(-1/sqrt(H), 1/sqrt(H)),
    drawn in registration order from `generator` or the global generator."""
    rng = init._rng(generator, None, what)
    bound = 1.0 / math.sqrt(hidden_size)
    for param in module.parameters():
        init.uniform_(param, -bound, bound, generator=rng)


# ------------------------------------------------------------------ cells
class _CellBase(Module):
    """Weights weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh (G*H,) for G gates."""

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None,
                 generator: Any = None) -> None:
        super().__init__()
        what = type(self).__name__
        _check_sizes(what, input_size=input_size, hidden_size=hidden_size)
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bias
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        rows = self.gates * self.hidden_size
        self.weight_ih = Parameter(np.empty((rows, self.input_size), dtype))
        self.weight_hh = Parameter(np.empty((rows, self.hidden_size), dtype))
        self.bias_ih = Parameter(np.empty(rows, dtype)) if bias else None
        self.bias_hh = Parameter(np.empty(rows, dtype)) if bias else None
        _uniform_init(self, self.hidden_size, generator, what)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

    def _input(self, input: Any) -> tuple[Tensor, bool]:  # noqa: A002
        """The input as a (B, I) Tensor, and whether it came without a batch axis."""
        x = _lift(input)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}({self.extra_repr()}) got an input of shape "
                             f"{x.shape}; expected (batch, input_size) = (B, {self.input_size}) "
                             f"or ({self.input_size},) without a batch")
        return (x.reshape(1, -1), True) if x.ndim == 1 else (x, False)

    def _state(self, hx: Any, batch: int, unbatched: bool, name: str) -> Any:
        """An initial state as (B, H): zeros when None, else checked."""
        if hx is None:
            return np.zeros((batch, self.hidden_size), self.weight_hh.dtype)
        h = _lift(hx)
        expected = (self.hidden_size,) if unbatched else (batch, self.hidden_size)
        if h.shape != expected:
            given = "an unbatched input" if unbatched else f"an input of batch {batch}"
            raise ValueError(f"{type(self).__name__}({self.extra_repr()}): {name} has shape "
                             f"{h.shape}, but for {given} it must be {expected}")
        return h.reshape(1, -1) if unbatched else h


class RNNCell(_CellBase):
    """One Elman RNN step: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu).

    >>> import tinygrad_np as tg
    >>> tg.nn.RNNCell(3, 5)(tg.zeros(2, 3)).shape
    (2, 5)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", dtype: Any = None, generator: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}; "
                             "use 'tanh' or 'relu'")
        super().__init__(input_size, hidden_size, bias, dtype, generator)
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.nonlinearity == "tanh" else
                                       f", nonlinearity={self.nonlinearity!r}")

    def forward(self, input: Any, hx: Any = None) -> Tensor:  # noqa: A002
        """h' of shape (B, H) ((H,) for an unbatched input)."""
        x, unbatched = self._input(input)
        h = self._state(hx, x.shape[0], unbatched, "hx")
        out = rnn_step(x, h, self.weight_ih, self.weight_hh,
                       _summed_bias(self.bias_ih, self.bias_hh), self.nonlinearity == "relu")
        return out.reshape(-1) if unbatched else out


class GRUCell(_CellBase):
    """One GRU step (gates r, z, n, PyTorch's formulas and layout).

    >>> import tinygrad_np as tg
    >>> tg.nn.GRUCell(3, 5)(tg.zeros(2, 3)).shape
    (2, 5)
    """

    gates = 3

    def forward(self, input: Any, hx: Any = None) -> Tensor:  # noqa: A002
        """h' of shape (B, H) ((H,) for an unbatched input)."""
        x, unbatched = self._input(input)
        h = self._state(hx, x.shape[0], unbatched, "hx")
        out = gru_step(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return out.reshape(-1) if unbatched else out


class LSTMCell(_CellBase):
    """One LSTM step (gates i, f, g, o); returns (h', c').

    >>> import tinygrad_np as tg
    >>> h, c = tg.nn.LSTMCell(3, 5)(tg.zeros(2, 3))
    >>> h.shape, c.shape
    ((2, 5), (2, 5))
    """

    gates = 4

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        """(h', c'), each (B, H) ((H,) for an unbatched input); hx = (h, c) or None (zeros)."""
        x, unbatched = self._input(input)
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"LSTMCell({self.extra_repr()}): hx must be a pair (h, c), got "
                            f"{type(hx).__name__}")
        h0, c0 = (None, None) if hx is None else hx
        h = self._state(h0, x.shape[0], unbatched, "h")
        c = self._state(c0, x.shape[0], unbatched, "c")
        h, c = lstm_step(x, h, c, self.weight_ih, self.weight_hh,
                         _summed_bias(self.bias_ih, self.bias_hh))
        return (h.reshape(-1), c.reshape(-1)) if unbatched else (h, c)


# ------------------------------------------------------------------ layers
class _RNNBase(Module):
    """Stacked, optionally bidirectional, recurrent layers unrolled over a sequence."""

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype: Any = None, generator: Any = None) -> None:
        super().__init__()
        what = type(self).__name__
        _check_sizes(what, input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
                or not 0 <= dropout <= 1:
            raise ValueError(f"{what}: dropout must be a number in [0, 1] (the probability of "
                             f"zeroing an element between layers), got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{what}: dropout={dropout} acts between stacked layers, so with "
                          "num_layers=1 it does nothing", stacklevel=2)
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.bias, self.batch_first = int(num_layers), bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bool(bidirectional)
        directions = 2 if bidirectional else 1
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        rows = self.gates * self.hidden_size
        for layer in range(self.num_layers):
            n_in = self.input_size if layer == 0 else self.hidden_size * directions
            for suffix in ("", "_reverse")[:directions]:
                name = f"l{layer}{suffix}"
                setattr(self, f"weight_ih_{name}", Parameter(np.empty((rows, n_in), dtype)))
                setattr(self, f"weight_hh_{name}",
                        Parameter(np.empty((rows, self.hidden_size), dtype)))
                if bias:
                    setattr(self, f"bias_ih_{name}", Parameter(np.empty(rows, dtype)))
                    setattr(self, f"bias_hh_{name}", Parameter(np.empty(rows, dtype)))
        _uniform_init(self, self.hidden_size, generator, what)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s

    def flatten_parameters(self) -> None:
        """Does nothing (PyTorch's cuDNN weight packing); here for code written for PyTorch."""

    # ---------------------------------------------------------------- checks
    def _name(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def _sequence(self, input: Any) -> tuple[Tensor, bool]:  # noqa: A002
        """The input as (T, B, I), and whether it came without a batch axis."""
        x = _lift(input)
        layout = "(batch, seq, input_size)" if self.batch_first else "(seq, batch, input_size)"
        if x.ndim not in (2, 3):
            raise ValueError(f"{self._name()} got an input of shape {x.shape}; expected 3-D "
                             f"{layout} or 2-D (seq, input_size) without a batch")
        if x.shape[-1] != self.input_size:
            hint = ""
            if self.input_size in x.shape[:-1]:
                hint = (f"; its axis {x.shape.index(self.input_size)} has size input_size: the "
                        "features must be the last axis (transpose the input)")
            raise ValueError(f"{self._name()} got an input of shape {x.shape} whose last axis is "
                             f"{x.shape[-1]}, but input_size is {self.input_size}; expected "
                             f"{layout if x.ndim == 3 else '(seq, input_size)'}{hint}")
        if x.ndim == 2:
            return x.expand_dims(1), True
        return (x.swapaxes(0, 1), False) if self.batch_first else (x, False)

    def _initial(self, hx: Any, input_shape: tuple, batch: int, unbatched: bool,
                 name: str) -> list:
        """The initial states as a list of (B, H) per layer and direction (zeros if None)."""
        count = self.num_layers * (2 if self.bidirectional else 1)
        if hx is None:
            zeros = np.zeros((batch, self.hidden_size), self.weight_hh_l0.dtype)
            return [zeros] * count
        h = _lift(hx)
        expected = (count, self.hidden_size) if unbatched else (count, batch, self.hidden_size)
        if h.shape != expected:
            hint = ""
            if not unbatched and h.ndim == 3 and h.shape[1] != batch:
                other = "(batch, seq, feature)" if not self.batch_first else \
                    "(seq, batch, feature)"
                flag = "True" if not self.batch_first else "False"
                hint = (f"; if the input is laid out {other}, pass batch_first={flag}")
            raise ValueError(
                f"{self._name()}: {name} has shape {h.shape}, but for an input of shape "
                f"{input_shape} it must be (num_layers * num_directions"
                + ("" if unbatched else ", batch") + f", hidden_size) = {expected}{hint}")
        if unbatched:
            return [h[k].reshape(1, -1) for k in range(count)]
        return [h[k] for k in range(count)]

    # ---------------------------------------------------------------- running
    def _weights(self, layer: int, reverse: bool) -> tuple:
        name = f"l{layer}" + ("_reverse" if reverse else "")
        get = self.__dict__.get
        return (get(f"weight_ih_{name}"), get(f"weight_hh_{name}"), get(f"bias_ih_{name}"),
                get(f"bias_hh_{name}"))

    def _run(self, input: Any, states: Any, name: list) -> tuple[Tensor, Any]:  # noqa: A002
        """Unroll every layer and direction; returns (output, h_n) or (output, (h_n, c_n))."""
        x, unbatched = self._sequence(input)
        steps, batch = x.shape[0], x.shape[1]
        if steps == 0:
            raise ValueError(f"{self._name()} got an empty sequence (input shape "
                             f"{_lift(input).shape})")
        inputs_shape = _lift(input).shape
        initial = [self._initial(s, inputs_shape, batch, unbatched, n)
                   for s, n in zip(states, name)]
        spans: list[tuple[str, int, int]] = []
        # per-step inputs: slices of the data (no node when x needs no grad)
        seq: list[Any] = [x.data[t] for t in range(steps)] if not x.requires_grad else \
            [x[t] for t in range(steps)]
        directions = 2 if self.bidirectional else 1
        finals: list = []
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout and self.training:
                seq = [F.dropout(_lift(s), self.dropout) for s in seq]
            outs = []
            for d in range(directions):
                start = next_seq()
                k = layer * directions + d
                hs, final = self._direction(seq, [s[k] for s in initial], layer, d == 1, spans)
                spans.append((f"layer {layer}" + (" reverse" if d else ""), start, next_seq()))
                outs.append(hs)
                finals.append(final)
            seq = outs[0] if directions == 1 else [
                ops.Concatenate.apply(f, b, axis=-1) for f, b in zip(*outs)]
        start = next_seq()
        out = stack(seq, axis=1 if self.batch_first and not unbatched else 0)
        if unbatched:
            out = out.reshape(steps, -1)
        if isinstance(finals[0], tuple):  # LSTM: (h_n, c_n)
            last: Any = (self._finals([h for h, _ in finals], unbatched),
                         self._finals([c for _, c in finals], unbatched))
        else:
            last = self._finals(finals, unbatched)
        spans.append(("output", start, next_seq()))
        self.__dict__["_sub_spans"] = spans  # read by tg.viz (see viz/modules.py)
        return out, last

    def _direction(self, seq: list, state: list, layer: int, reverse: bool,
                   spans: list) -> tuple[list, Any]:
        """One layer in one direction: the hidden state at every step, and the final state
        (h, or (h, c) for an LSTM); each step a span of its own for the pictures."""
        step = self._step(layer, reverse, spans)
        hs: list = [None] * len(seq)
        for t in (range(len(seq) - 1, -1, -1) if reverse else range(len(seq))):
            start = next_seq()
            state = step(seq[t], state)
            hs[t] = state[0]
            spans.append((f"t={t}", start, next_seq()))
        return hs, state[0] if len(state) == 1 else tuple(state)

    def _step(self, layer: int, reverse: bool, spans: list) -> Any:
        """step(x_t, state) -> new state (a list: [h] or [h, c]) for one layer and direction."""
        raise NotImplementedError

    def _finals(self, finals: list, unbatched: bool) -> Tensor:
        h = stack(finals, axis=0)
        return h.reshape(h.shape[0], -1) if unbatched else h


class RNN(_RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh) (or relu), stacked.

    `RNN(input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)`, PyTorch's argument order.
    Input (T, B, I) ((B, T, I) with batch_first, (T, I) unbatched), optional h0
    (num_layers * directions, B, H); returns (output (T, B, directions * H), h_n).

    >>> import tinygrad_np as tg
    >>> out, h = tg.nn.RNN(3, 5, num_layers=2)(tg.zeros(7, 2, 3))
    >>> out.shape, h.shape
    ((7, 2, 5), (2, 2, 5))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, dtype: Any = None,
                 generator: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; use 'tanh' or 'relu'")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype, generator)
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if getattr(self, "nonlinearity", "tanh") == "tanh"
                                       else f", nonlinearity={self.nonlinearity!r}")

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        """(output, h_n)."""
        return self._run(input, [hx], ["h0"])

    def _step(self, layer: int, reverse: bool, spans: list) -> Any:
        start = next_seq()
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, reverse)
        bias = _summed_bias(b_ih, b_hh)
        spans.append(("weights", start, next_seq()))
        relu = self.nonlinearity == "relu"
        return lambda x, state: [rnn_step(x, state[0], w_ih, w_hh, bias, relu)]


class GRU(_RNNBase):
    """Gated recurrent unit layers (gates r, z, n as PyTorch), stacked, optionally bidirectional.

    Input (T, B, I) ((B, T, I) with batch_first, (T, I) unbatched), optional h0
    (num_layers * directions, B, H); returns (output (T, B, directions * H), h_n).

    >>> import tinygrad_np as tg
    >>> out, h = tg.nn.GRU(3, 5, batch_first=True)(tg.zeros(2, 7, 3))
    >>> out.shape, h.shape
    ((2, 7, 5), (1, 2, 5))
    """

    gates = 3

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        """(output, h_n)."""
        return self._run(input, [hx], ["h0"])

    def _step(self, layer: int, reverse: bool, spans: list) -> Any:
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, reverse)
        return lambda x, state: [gru_step(x, state[0], w_ih, w_hh, b_ih, b_hh)]


class LSTM(_RNNBase):
    """Long short-term memory layers (gates i, f, g, o as PyTorch), stacked, optionally
    bidirectional.

    Input (T, B, I) ((B, T, I) with batch_first, (T, I) unbatched), optional
    (h0, c0), each (num_layers * directions, B, H); returns (output, (h_n, c_n)).

    >>> import tinygrad_np as tg
    >>> out, (h, c) = tg.nn.LSTM(3, 5, bidirectional=True)(tg.zeros(7, 2, 3))
    >>> out.shape, h.shape, c.shape
    ((7, 2, 10), (2, 2, 5), (2, 2, 5))
    """

    gates = 4

    def forward(self, input: Any,  # noqa: A002
                hx: Any = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """(output, (h_n, c_n)); hx = (h0, c0) or None (zeros)."""
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"{self._name()}: hx must be a pair (h0, c0), got "
                            f"{type(hx).__name__}")
        h0, c0 = (None, None) if hx is None else hx
        return self._run(input, [h0, c0], ["h0", "c0"])

    def _step(self, layer: int, reverse: bool, spans: list) -> Any:
        start = next_seq()
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, reverse)
        bias = _summed_bias(b_ih, b_hh)
        spans.append(("weights", start, next_seq()))
        return lambda x, state: list(lstm_step(x, state[0], state[1], w_ih, w_hh, bias))
