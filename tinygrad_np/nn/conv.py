"""Convolution and pooling layers: Conv1d, Conv2d, MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d.

PyTorch's names, arguments, weight layout (out_channels, in_channels // groups,
*kernel_size), default initialisation and reprs; inputs are (N, C, L) or
(N, C, H, W), or the same without the batch axis. The computation is in
`tg.nn.functional` (conv1d, max_pool2d, ...) and the primitives in
`tinygrad_np/ops/conv.py`.

>>> import tinygrad_np as tg
>>> _ = tg.manual_seed(0)
>>> model = tg.nn.Sequential(tg.nn.Conv2d(1, 4, 3, padding=1), tg.nn.ReLU(), tg.nn.MaxPool2d(2))
>>> model(tg.zeros(8, 1, 6, 6)).shape
(8, 4, 3, 3)
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_np._tensor import Tensor, get_default_dtype
from tinygrad_np.nn import functional as F
from tinygrad_np.nn import init
from tinygrad_np.nn.module import Module, Parameter
from tinygrad_np.ops.conv import as_tuple


class _ConvNd(Module):
    """What Conv1d and Conv2d share: arguments, checks, weight and bias, repr."""

    spatial_dims = 0

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 dtype: Any = None, generator: Any = None) -> None:
        super().__init__()
        name, n = type(self).__name__, self.spatial_dims
        for what, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("groups", groups)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: {what} must be an int >= 1, got {value!r}")
        for what, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if value % groups:
                raise ValueError(f"{name}: {what}={value} is not divisible by groups={groups}; "
                                 "each group needs the same number of channels")
        self.in_channels, self.out_channels, self.groups = (int(in_channels),
                                                            int(out_channels), int(groups))
        self.kernel_size = as_tuple(kernel_size, n, "kernel_size", name)
        self.stride = as_tuple(stride, n, "stride", name)
        self.dilation = as_tuple(dilation, n, "dilation", name)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be an int, a tuple of {n} ints, 'same' "
                                 f"or 'valid', got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' needs stride 1, got stride="
                                 f"{self.stride}; give the padding as numbers instead")
            self.padding: Any = padding
        else:
            self.padding = as_tuple(padding, n, "padding", name, minimum=0)
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        rng = init._rng(generator, None, name)
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=rng)
        if bias:
            fan_in = shape[1] * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            self.bias = Parameter(np.empty((self.out_channels,), dtype))
            init.uniform_(self.bias, -bound, bound, generator=rng)
        else:
            self.bias = None

    def forward(self, x: Any) -> Tensor:
        return F._conv_nd(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                          self.groups, self.spatial_dims, f"{type(self).__name__}"
                          f"({self.extra_repr()})")

    def extra_repr(self) -> str:
        n = self.spatial_dims
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0,) * n:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L) -> (N, C_out, L_out), PyTorch's layout and init.

    weight (out_channels, in_channels // groups, kernel_size), bias (out_channels,),
    both U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels // groups * kernel_size
    (kaiming_uniform_ with a=sqrt(5)), drawn from `generator` or the global generator.
    padding: an int, a 1-tuple, 'same' (stride 1) or 'valid'.
    """

    spatial_dims = 1


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) -> (N, C_out, H_out, W_out), PyTorch's layout
    and init.

    weight (out_channels, in_channels // groups, kH, kW), bias (out_channels,), both
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels // groups * kH * kW
    (kaiming_uniform_ with a=sqrt(5)), drawn from `generator` or the global generator.
    kernel_size, stride, dilation: an int or a pair; padding also 'same' (stride 1,
    the odd pixel after, as PyTorch) or 'valid'. H_out = (H + 2 pad - dil (k - 1) - 1)
    // stride + 1.

    >>> import tinygrad_np as tg
    >>> tg.nn.Conv2d(3, 8, 3, stride=2, padding=1)(tg.zeros(2, 3, 32, 32)).shape
    (2, 8, 16, 16)
    """

    spatial_dims = 2


class _PoolNd(Module):
    """What the max and average pools share: kernel, stride (default: the kernel), padding."""

    spatial_dims = 0

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        name, n = type(self).__name__, self.spatial_dims
        as_tuple(kernel_size, n, "kernel_size", name)  # checked here; kept as given (PyTorch)
        if stride is not None:
            as_tuple(stride, n, "stride", name)
        as_tuple(padding, n, "padding", name, minimum=0)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = bool(ceil_mode)

    def _op(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class _MaxPoolNd(_PoolNd):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 dilation: Any = 1, ceil_mode: bool = False) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode)
        as_tuple(dilation, self.spatial_dims, "dilation", type(self).__name__)
        self.dilation = dilation

    def forward(self, x: Any) -> Tensor:
        return F._max_pool_nd(x, self.kernel_size, self.stride, self.padding, self.dilation,
                              self.ceil_mode, self.spatial_dims, self._op())

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """The max of each window of (N, C, L); stride defaults to kernel_size; padding (at most
    half the kernel) is -inf; of equal maxima the first gets the gradient, as PyTorch."""

    spatial_dims = 1


class MaxPool2d(_MaxPoolNd):
    """The max of each window of (N, C, H, W); stride defaults to kernel_size; padding (at
    most half the kernel) is -inf; of equal maxima the first in the window (row-major)
    gets the gradient, as PyTorch.

    >>> import tinygrad_np as tg
    >>> tg.nn.MaxPool2d(2)
    MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
    """

    spatial_dims = 2


class _AvgPoolNd(_PoolNd):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override: int | None = None

    def forward(self, x: Any) -> Tensor:
        return F._avg_pool_nd(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                              self.count_include_pad, self.divisor_override,
                              self.spatial_dims, self._op())

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """The mean of each window of (N, C, L); zero padding counts in the mean unless
    count_include_pad=False (PyTorch's defaults)."""

    spatial_dims = 1

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        # PyTorch keeps AvgPool1d's sizes as 1-tuples (and prints them so)
        self.kernel_size = as_tuple(self.kernel_size, 1, "kernel_size", "AvgPool1d")
        self.stride = as_tuple(self.stride, 1, "stride", "AvgPool1d")
        self.padding = as_tuple(self.padding, 1, "padding", "AvgPool1d", minimum=0)


class AvgPool2d(_AvgPoolNd):
    """The mean of each window of (N, C, H, W); zero padding counts in the mean unless
    count_include_pad=False; divisor_override replaces the count (PyTorch's defaults)."""

    spatial_dims = 2

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        self.divisor_override = divisor_override


class _AdaptiveAvgPoolNd(Module):
    spatial_dims = 0

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Any) -> Tensor:
        return F._adaptive_avg_pool_nd(x, self.output_size, self.spatial_dims,
                                       f"{type(self).__name__}({self.extra_repr()})")

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Average pooling of (N, C, L) to `output_size` positions, PyTorch's windows
    [floor(i L / out), ceil((i + 1) L / out))."""

    spatial_dims = 1


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Average pooling of (N, C, H, W) to `output_size` (an int, a pair; None keeps that
    axis), PyTorch's windows [floor(i H / out), ceil((i + 1) H / out)) on each axis.

    >>> import tinygrad_np as tg
    >>> tg.nn.AdaptiveAvgPool2d((1, 1))(tg.ones(2, 5, 7, 3)).shape
    (2, 5, 1, 1)
    """

    spatial_dims = 2
