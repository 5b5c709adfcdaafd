"""Ctrl-C or SIGTERM stops a run; it does not retry the step it lands in.

Dagster turns an interrupt that lands inside a step's compute into a retry when the op has a
``RetryPolicy`` (``op_execution_error_boundary``: made for a preempted pod, whose step should run
again). Every snapshot asset has one, so in ``symphony run``'s single process Ctrl-C was retried 10 s
later and the run went on to its end. Between steps Dagster already stops the run.

:func:`stops_on_interrupt` wraps an asset's compute: the interrupt becomes a failure that is not
retried, and a guarded step of the same run that starts after it fails at once, so nothing more is
computed. The runner reads :func:`interrupted` to start no further run. Partitions are written whole
or not at all (the IO manager), so an interrupted range leaves its earlier days and nothing
half-written; running the same command again finishes it.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import dagster as dg

F = TypeVar("F", bound=Callable[..., Any])

#: Runs interrupted in this process since :func:`reset`, by run id. Per run, not one flag: a process
#: that executes steps of many runs (a Celery worker's child) must not refuse the next run's steps.
_INTERRUPTED_RUNS: set[str] = set()
_LOCK = threading.Lock()
_SIGNALS = (KeyboardInterrupt, dg.DagsterExecutionInterruptedError)
#: The run id under which an interrupt is noted when the compute was given no context.
_NO_CONTEXT = ""
MESSAGE = "interrupted (Ctrl-C or SIGTERM): stopped here, not retried; run the same command again to finish"


def interrupted() -> bool:
    """Whether a run of this process was interrupted since :func:`reset`."""
    with _LOCK:
        return bool(_INTERRUPTED_RUNS)


def reset() -> None:
    """Forget earlier interrupts (a new ``symphony run``, or a test in the same process)."""
    with _LOCK:
        _INTERRUPTED_RUNS.clear()


def note_interrupt(run_id: str = _NO_CONTEXT) -> None:
    """An interrupt seen outside a guarded step (between steps, Dagster stops the run itself)."""
    with _LOCK:
        _INTERRUPTED_RUNS.add(run_id)


def _run_id(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    for value in (*args, *kwargs.values()):
        if isinstance(value, (dg.AssetExecutionContext, dg.OpExecutionContext)):
            return str(value.run_id)
    return _NO_CONTEXT


def _stop(run_id: str) -> dg.Failure:
    note_interrupt(run_id)
    return dg.Failure(description=MESSAGE, allow_retries=False)


def _refuse_after_interrupt(run_id: str) -> None:
    with _LOCK:
        refused = run_id != _NO_CONTEXT and run_id in _INTERRUPTED_RUNS
    if refused:
        raise dg.Failure(description=f"not started: the run was {MESSAGE}", allow_retries=False)


def stops_on_interrupt(fn: F) -> F:
    """``fn`` (an asset's compute function, plain or generator) with interrupts turned into a stop."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args: Any, **kwargs: Any) -> Any:
            run_id = _run_id(args, kwargs)
            _refuse_after_interrupt(run_id)
            try:
                yield from fn(*args, **kwargs)
            except _SIGNALS as exc:
                raise _stop(run_id) from exc

        return generator  # type: ignore[return-value]

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        run_id = _run_id(args, kwargs)
        _refuse_after_interrupt(run_id)
        try:
            return fn(*args, **kwargs)
        except _SIGNALS as exc:
            raise _stop(run_id) from exc

    return call  # type: ignore[return-value]
