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

# nn layers (Beyond MLPs): containers, activations, dropout, embedding, normalisation
from tinygrad_np.nn.activation import ELU, GELU, LeakyReLU, SiLU, Softplus
from tinygrad_np.nn.containers import Flatten, ModuleDict, ModuleList
from tinygrad_np.nn.dropout import Dropout
from tinygrad_np.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from tinygrad_np.nn.sparse import Embedding
# --- recurrent layers and attention (branch wt-rnnattn)
from tinygrad_np.nn.attention import MultiheadAttention, TransformerEncoderLayer  # noqa: E402
from tinygrad_np.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell  # noqa: E402
# --- end wt-rnnattn

# convolution and pooling
from tinygrad_np.nn.conv import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d,
                                 Conv1d, Conv2d, MaxPool1d, MaxPool2d)

__all__ = [
    "Module", "Parameter", "Linear", "Sequential", "Identity", "ReLU", "Sigmoid", "Tanh",
    "Softmax", "LogSoftmax", "MSELoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss",
    "NLLLoss", "summary", "ModelSummary", "functional", "init",
    "Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
    # nn layers (Beyond MLPs)
    "Flatten", "ModuleList", "ModuleDict", "LeakyReLU", "GELU", "SiLU", "ELU", "Softplus",
    "Dropout", "Embedding", "LayerNorm", "BatchNorm1d", "BatchNorm2d",
]
# --- wt-rnnattn
__all__ += ["RNN", "GRU", "LSTM", "RNNCell", "GRUCell", "LSTMCell", "MultiheadAttention",
            "TransformerEncoderLayer"]
# --- end wt-rnnattn
__all__ += ["utils"]
