"""Deterministic weights and inputs the PyTorch constants in test_recurrent.py and
test_attention.py were computed with."""
import numpy as np


def pattern(shape, k):
    """The deterministic weights the constants were computed with (in PyTorch)."""
    return 0.5 * np.sin(np.arange(int(np.prod(shape))) * 0.37 + k).reshape(shape)


def data(shape, k=0):
    """The deterministic inputs of the constants."""
    return np.cos(np.arange(int(np.prod(shape))) * 0.61 + k).reshape(shape)


def load_pattern(module, keys):
    """The names and shapes PyTorch's state_dict has, filled with pattern(); loaded."""
    assert [(n, p.shape) for n, p in module.named_parameters()] == keys
    module.load_state_dict({name: pattern(shape, i) for i, (name, shape) in enumerate(keys)})
    return module
