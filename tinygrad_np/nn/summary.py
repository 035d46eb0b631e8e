"""summary(model, input_shape): per-layer output shapes and parameter counts."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_np.grad_mode import no_grad
from tinygrad_np.nn import module as _module
from tinygrad_np.nn.module import Module
from tinygrad_np._tensor import Tensor, get_default_dtype


@dataclass
class SummaryRow:
    """One layer: its dotted name, class name, output shape and own parameter count."""

    name: str
    kind: str
    output_shape: tuple
    num_params: int


@dataclass
class ModelSummary:
    """The result of `summary()`: `rows`, totals, and the table as `str(summary)`."""

    input_shape: tuple
    rows: list[SummaryRow] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0

    def table(self) -> str:
        """The summary as a fixed-width text table."""
        header = ("Layer (type)", "Output shape", "Params")
        cells = [(f"{r.name} ({r.kind})", str(r.output_shape), f"{r.num_params:,}")
                 for r in self.rows]
        widths = [max(len(line[i]) for line in [header, *cells]) for i in range(3)]
        fmt = lambda c: f"{c[0]:<{widths[0]}}  {c[1]:<{widths[1]}}  {c[2]:>{widths[2]}}"  # noqa: E731
        rule = "=" * len(fmt(header))
        lines = [f"Input shape: {self.input_shape}", rule, fmt(header), rule]
        lines += [fmt(c) for c in cells]
        lines += [rule, f"Total params: {self.total_params:,}",
                  f"Trainable params: {self.trainable_params:,}",
                  f"Non-trainable params: {self.total_params - self.trainable_params:,}"]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return self.table()


def summary(model: Module, input_shape: Any, dtype: Any = None) -> ModelSummary:
    """Run `model` on zeros of `input_shape` (batch axis included, e.g. (1, 2)) without
    recording a graph, and list every leaf layer it called: output shape and parameters.

    `print(tg.nn.summary(model, (1, 2)))` shows the table; `.rows`,
    `.total_params` and `.trainable_params` hold the numbers (parameters only:
    buffers such as running statistics are not counted, as in PyTorch). dtype
    defaults to int64 for a model whose first layer is an Embedding (its input is
    indices), else to the model's first parameter's dtype. The model runs in eval
    mode, so Dropout draws no mask and BatchNorm's running statistics stay as they
    were; each module's train/eval mode is restored afterwards.

    >>> import tinygrad_np as tg
    >>> model = tg.nn.Sequential(tg.nn.Linear(2, 4), tg.nn.ReLU(), tg.nn.Linear(4, 1))
    >>> tg.nn.summary(model, (1, 2)).total_params
    17
    """
    shape = (int(input_shape),) if isinstance(input_shape, (int, np.integer)) else tuple(
        int(n) for n in input_shape)
    if dtype is None:
        first = next(model.parameters(), None)
        dtype = first.dtype if first is not None else get_default_dtype()
        first_layer = next((m for m in model.modules() if next(m.children(), None) is None),
                           None)
        from tinygrad_np.nn.sparse import Embedding  # (sparse imports this package)
        if isinstance(first_layer, Embedding):
            dtype = np.int64
    names = {id(m): name for name, m in model.named_modules()}
    result = ModelSummary(input_shape=shape)

    def record(module: Module, out: Any) -> None:
        if module is model or next(module.children(), None) is not None:
            return  # containers: their leaves are listed instead
        out_shape = tuple(out.shape) if isinstance(out, Tensor) else tuple(np.shape(out))
        own = sum(p.size for p in module.parameters())
        result.rows.append(SummaryRow(names.get(id(module), "?"), type(module).__name__,
                                      out_shape, own))

    spans = {module: module._forward_span for module in model.modules()}
    modes = {module: module.training for module in model.modules()}
    model.eval()  # no dropout mask drawn, no running statistics updated
    _module._call_observers.append(record)
    try:
        with no_grad():
            model(Tensor(np.zeros(shape, dtype=dtype)))
    except Exception as error:
        error.add_note(f"(while tg.nn.summary ran {type(model).__name__} on zeros of shape "
                       f"{shape}: is input_shape right, batch axis included?)")
        raise
    finally:
        _module._call_observers.remove(record)
        for module, span in spans.items():  # keep the spans of the user's last real forward
            object.__setattr__(module, "_forward_span", span)
        for module, mode in modes.items():
            object.__setattr__(module, "training", mode)
    result.total_params = model.num_parameters()
    result.trainable_params = model.num_parameters(trainable_only=True)
    return result
