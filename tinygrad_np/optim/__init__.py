"""tg.optim: SGD, Adam, AdamW and RMSprop with PyTorch's update rules; `lr_scheduler`.

>>> import tinygrad_np as tg
>>> w = tg.tensor([1.0, -2.0], requires_grad=True)
>>> opt = tg.optim.SGD([w], lr=0.1)
>>> (w * w).sum().backward()
>>> opt.step()
>>> w
Tensor([ 0.8, -1.6], requires_grad=True)

Updates are written into `p.data` in place, with no graph recorded; `p.grad`
is read, never modified. A parameter whose `.grad` is None is skipped.
"""
from tinygrad_np.optim import lr_scheduler
from tinygrad_np.optim.adam import Adam, AdamW
from tinygrad_np.optim.optimizer import Optimizer
from tinygrad_np.optim.rmsprop import RMSprop
from tinygrad_np.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler"]
