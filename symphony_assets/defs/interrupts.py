"""Ctrl-C or SIGTERM stops a run; it does not retry the step it lands in.

Dagster turns an interrupt that lands inside a step's compute into a retry when the op has a
``RetryPolicy`` (``op_execution_error_boundary``: made for a preempted pod, whose step should run
again). Every snapshot asset has one, so in ``symphony run``'s single process Ctrl-C was retried 10 s
later and the run went on to its end. Between steps Dagster already stops the run.

:func:`stops_on_interrupt` wraps an asset's compute: the interrupt becomes a failure that is not
retried, and a guarded step that starts after it fails at once, so nothing more is computed. The runner
reads :func:`interrupted` to start no further run. Partitions are written whole or not at all (the IO
manager), so an interrupted range leaves its earlier days and nothing half-written; running the same
command again finishes it.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import dagster as dg

F = TypeVar("F", bound=Callable[..., Any])

_INTERRUPTED = threading.Event()
_SIGNALS = (KeyboardInterrupt, dg.DagsterExecutionInterruptedError)
MESSAGE = "interrupted (Ctrl-C or SIGTERM): stopped here, not retried; run the same command again to finish"


def interrupted() -> bool:
    """Whether a guarded step of this process was interrupted since :func:`reset`."""
    return _INTERRUPTED.is_set()


def reset() -> None:
    """Forget an earlier interrupt (a new ``symphony run``, or a test in the same process)."""
    _INTERRUPTED.clear()


def note_interrupt() -> None:
    """An interrupt seen outside a step (between steps, Dagster stops the run itself)."""
    _INTERRUPTED.set()


def _stop() -> dg.Failure:
    _INTERRUPTED.set()
    return dg.Failure(description=MESSAGE, allow_retries=False)


def _refuse_after_interrupt() -> None:
    if _INTERRUPTED.is_set():
        raise dg.Failure(description=f"not started: the run was {MESSAGE}", allow_retries=False)


def stops_on_interrupt(fn: F) -> F:
    """``fn`` (an asset's compute function, plain or generator) with interrupts turned into a stop."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args: Any, **kwargs: Any) -> Any:
            _refuse_after_interrupt()
            try:
                yield from fn(*args, **kwargs)
            except _SIGNALS as exc:
                raise _stop() from exc

        return generator  # type: ignore[return-value]

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        _refuse_after_interrupt()
        try:
            return fn(*args, **kwargs)
        except _SIGNALS as exc:
            raise _stop() from exc

    return call  # type: ignore[return-value]
