"""Where a run's steps execute: chosen by configuration, never by code.

- ``symphony run`` executes in process (``execute_in_process``), one codebase after another.
- Runs launched by the daemon (schedules, sensors, backfills from the UI) use the multiprocess executor:
  one process per step on the machine that runs the run.
- ``SYMPHONY_EXECUTOR=celery`` (with ``SYMPHONY_BROKER_URL``, e.g. ``redis://127.0.0.1:6379/0``) sends
  every step to Celery workers through dagster-celery; ``symphony worker`` starts one. The broker URL is
  read through the executor's config as ``{"env": ...}``, so it never lands in the code location's
  snapshot; the same URL is the result backend.

Tasks are acknowledged late and requeued when their worker dies, so a killed worker's step runs again on
another one. Two cases: a prefork pool's child that dies is seen by its parent, which rejects the task
back onto the queue at once (``task_reject_on_worker_lost``); a whole worker that dies (``kill -9``, a lost
machine) acknowledges nothing, and Redis hands its task to a live worker once the visibility timeout has
passed (live workers sweep the unacknowledged tasks every quarter of that timeout, at most every 10 s).
The timeout must exceed the longest step: a step still running past it is handed out a second time.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

import dagster as dg

EXECUTOR_ENV = "SYMPHONY_EXECUTOR"
BROKER_ENV = "SYMPHONY_BROKER_URL"
#: Seconds before Redis hands an unacknowledged task (its worker died) to another worker.
VISIBILITY_TIMEOUT_ENV = "SYMPHONY_CELERY_VISIBILITY_TIMEOUT"
EXECUTORS = ("in_process", "multiprocess", "celery")
#: The Celery queue dagster-celery routes steps to.
QUEUE = "dagster"


def celery_config_source() -> dict[str, Any]:
    """Settings shared by the executor (which sends) and ``symphony worker`` (which runs)."""
    visibility = int(os.environ.get(VISIBILITY_TIMEOUT_ENV) or 3600)
    # kombu's default sweep runs every 10 s but scans Redis only every 10th time (100 s); scan each time.
    sweep = {"unacked_restore_interval": max(1, min(10, visibility // 4)), "unacked_restore_throttle": 1}
    return {
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {"visibility_timeout": visibility, **sweep},
        "result_backend_transport_options": {"visibility_timeout": visibility},
        "result_expires": 7 * 24 * 3600,
    }


def executor_name() -> str:
    name = (os.environ.get(EXECUTOR_ENV) or "multiprocess").strip().lower().replace("-", "_")
    if name not in EXECUTORS:
        raise dg.DagsterInvalidConfigError(
            f"{EXECUTOR_ENV}={name!r}: expected one of {', '.join(EXECUTORS)}", [], name
        )
    return name


def executor_from_env() -> dg.ExecutorDefinition:
    """The code location's executor for launched runs, from ``SYMPHONY_EXECUTOR`` (default multiprocess)."""
    name = executor_name()
    if name == "in_process":
        return dg.in_process_executor
    if name == "multiprocess":
        return dg.multiprocess_executor
    from dagster_celery import celery_executor

    return celery_executor.configured(
        {
            "broker": {"env": BROKER_ENV},
            "backend": {"env": BROKER_ENV},
            "config_source": celery_config_source(),
            "retries": {"enabled": {}},
        },
        name="celery",
    )


def execution_place() -> dict[str, Any]:
    """Which worker executes this step: the Celery worker's name (``w1@host``) inside a Celery task,
    else this machine's host name; and the process id."""
    host = None
    celery = sys.modules.get("celery")
    if celery is not None:
        request = getattr(getattr(celery, "current_task", None), "request", None)
        host = getattr(request, "hostname", None)
    return {"worker_host": str(host or socket.gethostname()), "worker_pid": os.getpid()}
