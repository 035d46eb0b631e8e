"""tg.nn: modules, layers, activations, losses, initialisers and model summaries."""
from tinygrad_np.nn import functional, init
from tinygrad_np.nn.layers import (
    Identity,
    Linear,
    LogSoftmax,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
from tinygrad_np.nn.losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from tinygrad_np.nn.module import Module, Parameter
from tinygrad_np.nn.summary import ModelSummary, summary
from tinygrad_np.nn import utils  # gradient clipping: tg.nn.utils.clip_grad_norm_

__all__ = [
    "Module", "Parameter", "Linear", "Sequential", "Identity", "ReLU", "Sigmoid", "Tanh",
    "Softmax", "LogSoftmax", "MSELoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss",
    "NLLLoss", "summary", "ModelSummary", "functional", "init",
]
__all__ += ["utils"]
