"""The built-in issue tracker: issues kept in Postgres, next to the warehouse mirror."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, LiteralString

from psycopg2 import sql as pgsql

from symphony_assets.analysis.reconcile import Issue, parse_fingerprint
from symphony_assets.resources.tracker.base import TrackerNotFoundError, TrackerValidationError, key_label
from symphony_assets.resources.tracker.locks import connector, pg_advisory_lock

log = logging.getLogger(__name__)

STORE_TABLE = "tracker_issues_store"


class BuiltinTracker:
    """Issues kept in ``symphony.tracker_issues_store`` (created by ``sql/V050__tracker.sql``).

    Every method runs in its own short transaction on a fresh connection, so one instance may be
    shared by threads and nothing is left half-written if a run dies.
    """

    def __init__(self, dsn: str | Callable[[], Any], schema: str = "symphony", lock_timeout_s: float = 120.0):
        self._connect = connector(dsn)
        self._lock_timeout_s = lock_timeout_s
        self._table = pgsql.Identifier(schema, STORE_TABLE)

    _COLUMNS = pgsql.SQL("number, title, body, state, labels, created_at")

    def _q(self, template: str, **parts: pgsql.Composable) -> pgsql.Composed:
        return pgsql.SQL(template).format(table=self._table, columns=self._COLUMNS, **parts)

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        conn = self._connect()
        try:
            with conn, conn.cursor() as cur:
                yield cur
        finally:
            conn.close()

    @staticmethod
    def _issue(row: Sequence[Any]) -> Issue:
        number, title, body, state, labels, created_at = row
        return Issue(int(number), title, body, state, tuple(labels or ()), created_at, f"builtin:{number}")

    def list_issues(self, label: str) -> list[Issue]:
        with self._cursor() as cur:
            cur.execute(
                self._q("SELECT {columns} FROM {table} WHERE %s = ANY(labels) ORDER BY number"), (label,)
            )
            return [self._issue(r) for r in cur.fetchall()]

    def create(self, title: str, body: str, labels: Sequence[str]) -> Issue:
        """Insert, or return the issue a concurrent reconcile already made for this fingerprint."""
        if not title.strip():
            raise TrackerValidationError(
                "title must not be empty", [{"field": "title", "code": "missing_field"}]
            )
        labels = list(dict.fromkeys(labels))
        key = key_label(labels)
        fingerprint = parse_fingerprint(body)
        with self._cursor() as cur:
            cur.execute(
                self._q(
                    "INSERT INTO {table} (label, fingerprint, title, body, state, labels) "
                    "VALUES (%s, %s, %s, %s, 'open', %s) "
                    "ON CONFLICT (label, fingerprint) DO NOTHING RETURNING {columns}"
                ),
                (key, fingerprint, title, body, labels),
            )
            row = cur.fetchone()
            if row is None:
                cur.execute(
                    self._q("SELECT {columns} FROM {table} WHERE label = %s AND fingerprint = %s"),
                    (key, fingerprint),
                )
                row = cur.fetchone()
                log.info("builtin tracker: fingerprint %s already has issue #%s", fingerprint, row[0])
            return self._issue(row)

    def _set(self, number: int, assignments: LiteralString, params: tuple[Any, ...]) -> Issue:
        with self._cursor() as cur:
            cur.execute(
                self._q(
                    "UPDATE {table} SET {assignments}, updated_at = now() "
                    "WHERE number = %s RETURNING {columns}",
                    assignments=pgsql.SQL(assignments),
                ),
                (*params, number),
            )
            row = cur.fetchone()
        if row is None:
            raise TrackerNotFoundError(f"builtin tracker: no issue #{number}")
        return self._issue(row)

    def update(self, number: int, title: str, body: str) -> Issue:
        if not title.strip():
            raise TrackerValidationError(
                "title must not be empty", [{"field": "title", "code": "missing_field"}]
            )
        return self._set(number, "title = %s, body = %s", (title, body))

    def close(self, number: int) -> Issue:
        return self._set(number, "state = 'closed', closed_at = coalesce(closed_at, now())", ())

    def reopen(self, number: int) -> Issue:
        return self._set(number, "state = 'open', closed_at = NULL", ())

    def lock(self, codebase: str) -> Any:
        return pg_advisory_lock(self._connect, f"tracker:{codebase}", self._lock_timeout_s)
