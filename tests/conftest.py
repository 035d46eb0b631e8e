"""Shared test setup: hypothesis profiles, and state reset between tests.

Profiles (select with the environment variable HYPOTHESIS_PROFILE):
  default -- quick, for the edit-test loop (`pytest`);
  ci      -- more examples per property, what `.ci/run` uses.
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                     HealthCheck.data_too_large])
settings.register_profile("default", max_examples=15, **_common)
settings.register_profile("ci", max_examples=60, print_blob=True, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def _restore_global_state():
    """Undo changes a test makes to the default dtype, grad mode or seed."""
    import tinygrad_np as tg
    from tinygrad_np import grad_mode

    from tinygrad_np import _tensor as tensor

    dtype, rng, errors = tg.get_default_dtype(), tensor.default_generator(), np.geterr()
    yield
    tg.set_default_dtype(dtype)
    tensor._rng = rng
    if grad_mode.current_mode():  # a test left no_grad or anomaly mode on
        grad_mode.enter_mode(0)
    np.seterr(**errors)
