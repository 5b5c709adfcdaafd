"""Locks held while one codebase is reconciled: a Postgres advisory lock, or a file lock on one machine."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.errors
from filelock import FileLock
from filelock import Timeout as FileLockTimeout

from symphony_assets.resources.tracker.base import TrackerBusyError


def connector(dsn: str | Callable[[], Any]) -> Callable[[], Any]:
    if callable(dsn):
        return dsn
    return lambda: psycopg2.connect(dsn)


@contextmanager
def pg_advisory_lock(connect: Callable[[], Any], key: str, timeout_s: float = 120.0) -> Iterator[None]:
    """Hold a session-level advisory lock on ``hashtext(key)`` in a connection of its own.

    A dedicated connection keeps the lock independent of the work's transactions; Postgres frees it
    if the process dies, so a crashed reconcile never wedges the next one.
    """
    conn = connect()
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT set_config('lock_timeout', %s, false)", (f"{int(timeout_s * 1000)}ms",))
            try:
                cur.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
            except psycopg2.errors.LockNotAvailable as exc:
                raise TrackerBusyError(
                    f"{key}: another reconcile held the lock for {timeout_s:.0f}s"
                ) from exc
        try:
            yield
        finally:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))
    finally:
        conn.close()


@contextmanager
def file_lock(path: Path, timeout_s: float = 120.0) -> Iterator[None]:
    """A cross-process lock for trackers with no database beside them (one machine only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=timeout_s)
    except FileLockTimeout as exc:
        raise TrackerBusyError(f"{path.name}: another reconcile held the lock for {timeout_s:.0f}s") from exc
    try:
        yield
    finally:
        lock.release()
