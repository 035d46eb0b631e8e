"""Grad mode and anomaly mode: per-thread switches, as PyTorch's are.

Both live in one context variable, `mode`: 0 is the common case (ops are recorded,
no anomaly checks), so an op tests a single value. Each thread starts with its own
context, so `with tg.no_grad():` in one thread, or a `backward()` running in it,
never changes what another thread records (an asyncio task keeps its own too).

NOTE: a ContextVar read costs what a module-global read does (~40 ns with the call);
a threading.local attribute cost ~70 ns more per read, 2-4% of benchmark W3. A switch
is undone with `reset` (the variable is unset again), not set back to 0: NumPy reads a
context variable of its own in every ufunc call, and that lookup is slower in a context
holding any value (set(0) after each backward cost W3 ~2%).
"""
from __future__ import annotations

import contextvars
import functools
import inspect
from typing import Any, Callable

GRAD_OFF = 1   # mode bit: ops are not recorded (no_grad, the backward walk)
ANOMALY = 2    # mode bit: detect_anomaly() checks every op
TRACING = 4    # mode bit: tg.compile is recording a call (see compile/tracer.py)
GENERAL_PATH = ANOMALY | TRACING  # modes every op takes the general apply path in

_mode: contextvars.ContextVar[int] = contextvars.ContextVar("tinygrad_np_mode", default=0)
current_mode = _mode.get  # 0: recording, no anomaly checks
# the tg.compile recorder of this thread (a compiler.tracer.Tracer), set with the TRACING bit
active_tracer: contextvars.ContextVar[Any] = contextvars.ContextVar("tinygrad_np_tracer",
                                                                     default=None)


def tracer() -> Any:
    """The tg.compile recorder of this thread, or None."""
    return active_tracer.get() if _mode.get() & TRACING else None


def step_tracer() -> Any:
    """The tg.compile recorder when a library call (optimizer.step, zero_grad, a dropout
    draw) should become one step of its plan: recording, and not inside such a call."""
    if not _mode.get() & TRACING:
        return None
    found = active_tracer.get()
    return found if found is not None and not found.suspended else None


def enter_mode(mode: int) -> contextvars.Token:
    """Switch this thread to the mode bits `mode`; `exit_mode(token)` switches back."""
    return _mode.set(mode)


def exit_mode(token: contextvars.Token) -> None:
    """Undo one enter_mode."""
    try:
        _mode.reset(token)
    except ValueError:  # entered in another context (a generator resumed elsewhere)
        old = token.old_value
        _mode.set(0 if old is contextvars.Token.MISSING else old)


def is_grad_enabled() -> bool:
    """True when new ops are recorded into the graph (in this thread)."""
    return not _mode.get() & GRAD_OFF


def is_anomaly_enabled() -> bool:
    """True inside `tg.detect_anomaly()` (in this thread)."""
    return bool(_mode.get() & ANOMALY)


def _enter_grad_mode(enabled: bool) -> contextvars.Token:
    """Switch recording on or off in this thread, keeping the anomaly bit."""
    mode = _mode.get()
    return enter_mode(mode & ~GRAD_OFF if enabled else mode | GRAD_OFF)


class _GradMode:
    """Base of no_grad/enable_grad/set_grad_enabled: a context manager and a decorator.

    Usable as `with tg.no_grad():`, `@tg.no_grad()` and `@tg.no_grad`; a decorated
    generator runs each of its steps in the mode. An instance can be re-entered.
    """

    enabled: bool

    def __new__(cls, fn: Callable | None = None) -> Any:
        if callable(fn):  # the bare-decorator form, @tg.no_grad
            return object.__new__(cls)(fn)
        return object.__new__(cls)

    def __init__(self, fn: Callable | None = None) -> None:
        self._tokens: list[contextvars.Token] = []

    def __enter__(self) -> None:
        self._tokens.append(_enter_grad_mode(self.enabled))

    def __exit__(self, *exc: Any) -> None:
        exit_mode(self._tokens.pop())

    def _same_mode(self) -> "_GradMode":
        return type(self)()

    def __call__(self, fn: Callable) -> Callable:
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def run_generator_in_mode(*args: Any, **kwargs: Any) -> Any:
                generator = fn(*args, **kwargs)
                sent = None
                while True:
                    with self._same_mode():
                        try:
                            value = generator.send(sent)
                        except StopIteration as stop:
                            return stop.value
                    sent = yield value
            return run_generator_in_mode

        @functools.wraps(fn)
        def run_in_mode(*args: Any, **kwargs: Any) -> Any:
            with self._same_mode():
                return fn(*args, **kwargs)
        return run_in_mode


class no_grad(_GradMode):  # noqa: N801 (PyTorch's name)
    """Record nothing inside: `with tg.no_grad(): ...` or `@tg.no_grad()`."""

    enabled = False


class enable_grad(_GradMode):  # noqa: N801
    """Record ops again inside a no_grad region."""

    enabled = True


class set_grad_enabled(_GradMode):  # noqa: N801
    """`tg.set_grad_enabled(False)` switches recording off in this thread, as a call or
    as `with tg.set_grad_enabled(mode):` (restored on exit), like PyTorch's."""

    def __new__(cls, mode: bool) -> Any:
        return object.__new__(cls)

    def __init__(self, mode: bool) -> None:
        super().__init__()
        self.enabled = bool(mode)
        # the plain call takes effect at once; a `with` block restores the mode it found
        self._tokens.append(_enter_grad_mode(self.enabled))

    def __enter__(self) -> None:
        pass  # already switched by the constructor

    def __call__(self, fn: Callable) -> Callable:
        """As a decorator: undo the constructor's switch, switch inside fn only."""
        exit_mode(self._tokens.pop())
        return super().__call__(fn)

    def _same_mode(self) -> "_GradMode":
        return enable_grad() if self.enabled else no_grad()
