"""PyTorch's spellings beside NumPy's: the one place that resolves them.

Tensor methods take NumPy's `axis=`/`keepdims=`/`ddof=` and PyTorch's
`dim=`/`keepdim=`/`correction=`/`unbiased=`; `axis_args` and `ddof_arg` turn
either spelling into one value (both spellings at once: a TypeError). The hint
table says what to write instead of a PyTorch name tinygrad_np does not have.
Nothing here imports the rest of the package.
"""
from __future__ import annotations

import inspect
from collections import namedtuple
from typing import Any

# What `x.max(dim=d)` / `x.min(dim=d)` return, as torch.return_types.max/min.
max_result = namedtuple("max", ["values", "indices"])
min_result = namedtuple("min", ["values", "indices"])

CPU_ONLY = "tinygrad_np runs on the CPU with NumPy"


def axis_args(axis: Any, dim: Any, keepdims: Any, keepdim: Any, op: str,
              default: Any = None) -> tuple[Any, bool]:
    """(axis, keepdims) from NumPy's `axis`/`keepdims` or PyTorch's `dim`/`keepdim`.

    An axis equal to its default (`default`) counts as not given, so `dim=` can take its
    place; an axis and a dim given together raise a TypeError, as do keepdims=True and a
    keepdim.
    """
    if dim is None and keepdim is None:
        return axis, keepdims
    if dim is not None:
        if not (axis is default or (default is not None and axis == default)):
            raise TypeError(f"{op}() got both axis= and dim=: they are one argument (NumPy's "
                            "and PyTorch's spelling of it); pass only one")
        axis = dim
    if keepdim is not None:
        if keepdims:
            raise TypeError(f"{op}() got both keepdims= and keepdim=: they are one argument "
                            "(NumPy's and PyTorch's spelling of it); pass only one")
        keepdims = keepdim
    return axis, bool(keepdims)


def ddof_arg(ddof: Any, correction: Any, unbiased: Any, op: str) -> Any:
    """NumPy's `ddof` (default 0) from `ddof`, PyTorch's `correction` or `unbiased`.

    correction=k is ddof=k; unbiased=True is ddof=1, unbiased=False ddof=0. A nonzero ddof
    with either of the others, or correction with unbiased, raises a TypeError.
    """
    if correction is None and unbiased is None:
        return ddof
    given = [f"{name}={value!r}" for name, value in
             (("ddof", ddof), ("correction", correction), ("unbiased", unbiased))
             if value is not None and not (name == "ddof" and value == 0)]
    if len(given) > 1:
        raise TypeError(f"{op}() got {' and '.join(given)}: they are spellings of one argument "
                        "(NumPy's ddof, PyTorch's correction or unbiased); pass only one")
    if unbiased is not None:
        return 1 if unbiased else 0
    return correction


# ------------------------------------------------------- PyTorch names we lack
_OPERATOR = "use the operator: {}"
_ON_DATA = "there is no differentiable {0}; on plain data use t.data.{0}(...) (a NumPy array)"

HINTS: dict[str, str] = {
    "cuda": f"{CPU_ONLY}; drop .cuda()",
    "is_cuda": f"{CPU_ONLY}: every tensor is on the CPU",
    "device": f"{CPU_ONLY} and has no devices; drop device= arguments and .to(device)",
    "half": "use t.astype(np.float16) (differentiable)",
    "bfloat16": "NumPy has no bfloat16; use t.float() or t.astype(np.float16)",
    "type": "read t.dtype; convert with t.astype(dtype) or t.to(dtype)",
    "nelement": "use t.numel() or t.size",
    "ndimension": "use t.ndim or t.dim()",
    "t": "use t.T (all axes reversed) or t.transpose(0, 1)",
    "mT": "use t.transpose(-2, -1)",
    "mm": _OPERATOR.format("a @ b (numpy.matmul semantics)"),
    "bmm": _OPERATOR.format("a @ b (numpy.matmul semantics, batched)"),
    "add": _OPERATOR.format("a + b"),
    "sub": _OPERATOR.format("a - b"),
    "mul": _OPERATOR.format("a * b"),
    "div": _OPERATOR.format("a / b"),
    "true_divide": _OPERATOR.format("a / b"),
    "pow": _OPERATOR.format("a ** b"),
    "neg": _OPERATOR.format("-a"),
    "eq": _OPERATOR.format("a == b"),
    "ne": _OPERATOR.format("a != b"),
    "lt": _OPERATOR.format("a < b"),
    "le": _OPERATOR.format("a <= b"),
    "gt": _OPERATOR.format("a > b"),
    "ge": _OPERATOR.format("a >= b"),
    "norm": "use (t * t).sum().sqrt(), or (t * t).sum(dim=d).sqrt() along an axis",
    "copy_": "use t[...] = src (recorded when src requires grad)",
    "uniform_": "use tg.nn.init.uniform_(t, a, b)",
    "normal_": "use tg.nn.init.normal_(t, mean, std)",
    "index_select": "index with an integer array: t[idx] (dim 0) or t[:, idx] (dim 1)",
    "new_zeros": "use tg.zeros(shape, dtype=t.dtype)",
    "new_ones": "use tg.ones(shape, dtype=t.dtype)",
    "new_full": "use tg.full(shape, value, dtype=t.dtype)",
    "new_tensor": "use tg.tensor(data, dtype=t.dtype)",
    "new_empty": "use tg.zeros(shape, dtype=t.dtype)",
    "is_contiguous": "tensors wrap NumPy arrays: read t.data.flags['C_CONTIGUOUS']",
    "stride": "tensors wrap NumPy arrays: read t.data.strides (in bytes)",
    "data_ptr": "tensors wrap NumPy arrays: read t.data.ctypes.data",
    "storage": "tensors wrap NumPy arrays: t.data is the storage",
    "element_size": "read t.data.itemsize",
    "pin_memory": f"{CPU_ONLY}; drop .pin_memory()",
    "share_memory_": f"{CPU_ONLY}; drop .share_memory_()",
    "apply_": "apply a NumPy function to t.data in place, under tg.no_grad()",
    "all": "use t.data.all()",
    "any": "use t.data.any()",
    "prod": _ON_DATA.format("prod"),
    "sort": _ON_DATA.format("sort"),
    "argsort": _ON_DATA.format("argsort"),
    "topk": "there is no differentiable topk; indices: np.argsort(-t.data, axis)[..., :k]",
    "nonzero": _ON_DATA.format("nonzero"),
    "sign": _ON_DATA.format("sign") + " (np.sign)",
    "floor": _ON_DATA.format("floor") + " (np.floor)",
    "ceil": _ON_DATA.format("ceil") + " (np.ceil)",
    "round": _ON_DATA.format("round"),
}


_DTYPE = "dtypes are NumPy's: use np.{0} (tg.float32 and tg.float64 are np.float32, np.float64)"

# `tg.<name>` for a torch.<name> tinygrad_np lacks (the package's __getattr__)
MODULE_HINTS: dict[str, str] = {
    "cuda": f"{CPU_ONLY}: there is no tg.cuda (no GPU to ask about); drop .cuda() and devices",
    "device": f"{CPU_ONLY} and has no devices; drop device= arguments and .to(device)",
    "mm": "use a @ b or tg.matmul(a, b) (numpy.matmul semantics)",
    "bmm": "use a @ b or tg.matmul(a, b) (numpy.matmul semantics, batched)",
    "add": _OPERATOR.format("a + b"),
    "mul": _OPERATOR.format("a * b"),
    "empty": "use tg.zeros(*shape)",
    "empty_like": "use tg.zeros_like(t)",
    "full_like": "use tg.full(t.shape, value, dtype=t.dtype)",
    "randn_like": "use tg.randn(*t.shape)",
    "rand_like": "use tg.rand(*t.shape)",
    "randint": "draw integers with NumPy (tg.default_generator().integers(low, high, shape)) "
               "and wrap them with tg.tensor",
    "linspace": "use tg.tensor(np.linspace(start, stop, num))",
    "is_tensor": "use isinstance(x, tg.Tensor)",
    "norm": "use (t * t).sum().sqrt(), or (t * t).sum(dim=d).sqrt() along an axis",
    "Size": "shapes are plain tuples",
    "float16": _DTYPE.format("float16"), "half": _DTYPE.format("float16"),
    "float": _DTYPE.format("float32"), "double": _DTYPE.format("float64"),
    "int64": _DTYPE.format("int64"), "long": _DTYPE.format("int64"),
    "int32": _DTYPE.format("int32"), "int": _DTYPE.format("int32"),
    "bool": _DTYPE.format("bool_"), "uint8": _DTYPE.format("uint8"),
    "FloatTensor": "use tg.tensor(data, dtype=np.float32)",
    "LongTensor": "use tg.tensor(data, dtype=np.int64)",
}


def module_hint(name: str) -> str | None:
    """What to use instead of the missing `tg.<name>`, if we know."""
    return MODULE_HINTS.get(name)


def hint(cls: type, name: str) -> str | None:
    """What to use instead of the missing attribute `name` of a Tensor class, if we know."""
    if name in HINTS:
        return HINTS[name]
    stem = name[:-1]
    if name.endswith("_") and not name.startswith("_") and hasattr(cls, stem):
        return f"there is no in-place {name}; use the out-of-place t = t.{stem}(...)"
    return None


class MissingName:
    """A PyTorch name a Tensor class lacks, kept on the class: reading it raises an
    AttributeError that says what to use (so hasattr is False, as for any missing name).

    NOTE: not a Tensor.__getattr__: a class with __getattr__ makes every attribute read on
    its instances (t.data, t.grad_fn) slower, W3 +3.7% and W5 +3.5% instructions.
    """

    __slots__ = ("name", "advice")

    def __init__(self, name: str, advice: str) -> None:
        self.name, self.advice = name, advice

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        what = f"type object '{owner.__name__}'" if obj is None else \
            f"'{type(obj).__name__}' object"
        # name left unset: Python's "Did you mean" would add a guess (add -> add_)
        raise AttributeError(f"{what} has no attribute '{self.name}'; {self.advice}", obj=obj)


def add_hints(cls: type) -> None:
    """Put a MissingName on cls for each hinted name it lacks: HINTS, and x_ for its
    methods x (t.clamp_ says to use t = t.clamp(...))."""
    inplace = [name + "_" for name in dir(cls) if not name.startswith("_")
               and not name.endswith("_") and inspect.isfunction(getattr(cls, name))]
    for name in [*HINTS, *inplace]:
        advice = None if hasattr(cls, name) else hint(cls, name)
        if advice:
            setattr(cls, name, MissingName(name, advice))
