"""Issue trackers that findings are reconciled into: a built-in Postgres one (default) and GitHub.

Both satisfy :class:`Tracker`. Reconciling (:func:`reconcile`) takes a per-codebase lock, lists the
labelled issues, plans with :func:`symphony_assets.analysis.reconcile.plan`, and applies the plan.
Creating is idempotent in both: the built-in tracker has a UNIQUE (label, fingerprint) constraint;
GitHub has no idempotency key, so after a POST whose outcome is unknown (timeout, 5xx) the tracker
re-lists the label and looks for the fingerprint before trying again.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, LiteralString, Protocol, runtime_checkable

import dagster as dg
import psycopg2
import psycopg2.errors
import requests
from filelock import FileLock
from filelock import Timeout as FileLockTimeout
from psycopg2 import sql as pgsql

from symphony_assets.analysis.reconcile import (
    LABEL_PREFIX,
    Action,
    Finding,
    Issue,
    Plan,
    label_for,
    parse_fingerprint,
    plan,
)
from symphony_assets.config import Codebase, symphony_home

__all__ = [
    "BuiltinTracker",
    "CircuitBreaker",
    "CircuitOpenError",
    "GitHubTracker",
    "Issue",
    "Outcome",
    "ReconcileResult",
    "Tracker",
    "TrackerAuthError",
    "TrackerBusyError",
    "TrackerError",
    "TrackerForbiddenError",
    "TrackerNotFoundError",
    "TrackerRateLimitError",
    "TrackerUnavailableError",
    "TrackerResource",
    "TrackerValidationError",
    "reconcile",
]

log = logging.getLogger(__name__)

STORE_TABLE = "tracker_issues_store"


# ----------------------------------------------------------------------------------------------
# Errors


class TrackerError(RuntimeError):
    """Something a tracker refused or could not do; messages never contain credentials."""


class TrackerAuthError(TrackerError):
    """Bad or missing credentials: retrying will not help."""


class TrackerForbiddenError(TrackerError):
    """Authenticated, but not allowed (token scope, repository permissions)."""


class TrackerValidationError(TrackerError):
    def __init__(self, message: str, errors: list[Any] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class TrackerNotFoundError(TrackerError):
    pass


class TrackerRateLimitError(TrackerError):
    """Rate limited for longer than we are willing to wait."""


class TrackerUnavailableError(TrackerError):
    """The tracker kept failing (5xx, timeouts, connection errors) through every retry."""


class _AmbiguousWriteError(TrackerUnavailableError):
    """A non-idempotent request failed in a way that leaves unknown whether the server acted."""


class CircuitOpenError(TrackerUnavailableError):
    """Too many consecutive failures: calls fail fast until the cool-down has passed."""


class TrackerBusyError(TrackerError):
    """Another reconcile of the same codebase holds the lock."""


# ----------------------------------------------------------------------------------------------
# Protocol


@runtime_checkable
class Tracker(Protocol):
    def list_issues(self, label: str) -> list[Issue]:
        """Every issue carrying ``label``, open and closed."""
        ...

    def create(self, title: str, body: str, labels: Sequence[str]) -> Issue: ...

    def update(self, number: int, title: str, body: str) -> Issue: ...

    def close(self, number: int) -> Issue: ...

    def reopen(self, number: int) -> Issue: ...

    def lock(self, codebase: str) -> Any:
        """A context manager held while one codebase is reconciled."""
        ...


# ----------------------------------------------------------------------------------------------
# Locks


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


# ----------------------------------------------------------------------------------------------
# Built-in tracker (Postgres)


def _connector(dsn: str | Callable[[], Any]) -> Callable[[], Any]:
    if callable(dsn):
        return dsn
    return lambda: psycopg2.connect(dsn)


class BuiltinTracker:
    """Issues kept in ``symphony.tracker_issues_store`` (created by ``sql/V050__tracker.sql``).

    Every method runs in its own short transaction on a fresh connection, so one instance may be
    shared by threads and nothing is left half-written if a run dies.
    """

    def __init__(self, dsn: str | Callable[[], Any], schema: str = "symphony", lock_timeout_s: float = 120.0):
        self._connect = _connector(dsn)
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
        key = _key_label(labels)
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


def _key_label(labels: Sequence[str]) -> str:
    """The label that scopes a fingerprint: the codebase label when there is one."""
    for label in labels:
        if label.startswith(LABEL_PREFIX):
            return label
    return labels[0] if labels else ""


# ----------------------------------------------------------------------------------------------
# GitHub


class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; lets one trial call through after ``cooldown_s``."""

    def __init__(self, threshold: int = 10, cooldown_s: float = 60.0, clock: Callable[[], float] = time.time):
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._opened_at is not None and self._clock() < self._opened_at + self.cooldown_s

    def before_call(self) -> None:
        with self._lock:
            if self._opened_at is None:
                return
            wait = self._opened_at + self.cooldown_s - self._clock()
            if wait > 0:
                raise CircuitOpenError(
                    f"tracker circuit open after {self._failures} consecutive failures; retry in {wait:.0f}s"
                )
            # half-open: let this call through; one more failure re-opens at once
            self._failures = self.threshold - 1
            self._opened_at = None

    def success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._failures >= self.threshold:
                self._opened_at = self._clock()


@dataclass
class GitHubTracker:
    """GitHub Issues over REST v3. The token comes from ``$<token_env>`` and is only ever sent as a header."""

    repo: str
    token_env: str = "GITHUB_TOKEN"
    api_url: str = "https://api.github.com"
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    max_retries: int = 5
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    #: Longest single rate-limit wait we accept; beyond it the call fails with TrackerRateLimitError.
    max_wait_s: float = 900.0
    breaker_threshold: int = 10
    breaker_cooldown_s: float = 60.0
    per_page: int = 100
    lock_dir: Path | None = None
    lock_dsn: str | Callable[[], Any] | None = None
    lock_timeout_s: float = 120.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    session: requests.Session = field(default_factory=requests.Session, repr=False)
    breaker: CircuitBreaker = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.repo.count("/") != 1 or not all(self.repo.split("/")):
            raise ValueError(f"repo must be 'owner/name', got {self.repo!r}")
        self.api_url = self.api_url.rstrip("/")
        self.breaker = CircuitBreaker(self.breaker_threshold, self.breaker_cooldown_s, self.clock)

    # -- HTTP ---------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        token = os.environ.get(self.token_env, "").strip()
        if not token:
            raise TrackerAuthError(f"GitHub token missing: set the environment variable {self.token_env}")
        return {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "Authorization": f"Bearer {token}",
            "User-Agent": "symphony-assets",
        }

    def _backoff(self, attempt: int) -> float:
        return float(min(self.backoff_base_s * (2**attempt), self.backoff_max_s))

    def _rate_limit_wait(self, resp: requests.Response, attempt: int) -> float | None:
        """Seconds to wait when ``resp`` is a rate limit (primary or secondary), else None."""
        if resp.status_code not in (403, 429):
            return None
        retry_after = resp.headers.get("Retry-After")
        if retry_after is not None:
            try:
                return max(float(retry_after), 0.0)
            except ValueError:
                return self._backoff(attempt)
        if resp.headers.get("X-RateLimit-Remaining") == "0":
            try:
                reset = float(resp.headers.get("X-RateLimit-Reset", "0"))
            except ValueError:
                reset = 0.0
            return max(reset - self.clock(), 0.0) + 1.0
        message = _message(resp).lower()
        if resp.status_code == 429 or "rate limit" in message:
            # GitHub's advice for a secondary limit with no header: wait at least a minute, then back off.
            return max(60.0, self._backoff(attempt))
        return None

    def _request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        payload: Mapping[str, Any] | None = None,
        safe_to_retry: bool = True,
    ) -> requests.Response:
        """One call with retries; an unknown-outcome failure raises at once when not ``safe_to_retry``."""
        if not url.startswith(self.api_url + "/"):
            raise TrackerError(f"refusing to send credentials to {url.split('?')[0]!r}")
        path = url[len(self.api_url) :].split("?")[0]
        attempt = 0
        while True:
            self.breaker.before_call()
            try:
                resp = self.session.request(
                    method,
                    url,
                    params=params,
                    json=payload,
                    headers=self._headers(),
                    timeout=(self.connect_timeout_s, self.read_timeout_s),
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                self.breaker.failure()
                problem = f"{method} {path}: {type(exc).__name__}"
                if not safe_to_retry:
                    raise _AmbiguousWriteError(problem) from exc
                wait = self._backoff(attempt)
            else:
                status = resp.status_code
                log.debug("github %s %s -> %s", method, path, status)
                if status < 400:
                    self.breaker.success()
                    return resp
                rate_wait = self._rate_limit_wait(resp, attempt)
                if rate_wait is not None:
                    problem = f"{method} {path}: rate limited ({status})"
                    if rate_wait > self.max_wait_s:
                        raise TrackerRateLimitError(f"{problem}; the limit resets in {rate_wait:.0f}s")
                    wait = rate_wait
                elif status >= 500:
                    self.breaker.failure()
                    problem = f"{method} {path}: server error {status}"
                    if not safe_to_retry:
                        raise _AmbiguousWriteError(problem)
                    wait = self._backoff(attempt)
                else:
                    self.breaker.success()  # the service is up; the request itself is wrong
                    raise _client_error(method, path, resp, self.token_env)
            attempt += 1
            if attempt > self.max_retries:
                raise TrackerUnavailableError(f"{problem}; gave up after {attempt} attempts")
            log.warning("github %s; retry %d/%d in %.1fs", problem, attempt, self.max_retries, wait)
            self.sleep(wait)

    def _url(self, suffix: str) -> str:
        return f"{self.api_url}/repos/{self.repo}/{suffix}"

    # -- Tracker ------------------------------------------------------------------------------

    def list_issues(self, label: str) -> list[Issue]:
        url: str | None = self._url("issues")
        params: dict[str, Any] | None = {"labels": label, "state": "all", "per_page": self.per_page}
        issues: list[Issue] = []
        pages = 0
        while url is not None:
            resp = self._request("GET", url, params=params)
            pages += 1
            for item in resp.json():
                if "pull_request" not in item:  # the issues endpoint also lists pull requests
                    issues.append(_issue_from_json(item))
            url = resp.links.get("next", {}).get("url")
            params = None  # the next link carries the query
        log.debug("github: %d issues labelled %s in %d pages", len(issues), label, pages)
        return issues

    def create(self, title: str, body: str, labels: Sequence[str]) -> Issue:
        """POST once; after an unknown outcome, look for our issue before posting again."""
        fingerprint = parse_fingerprint(body)
        payload = {"title": title, "body": body, "labels": list(labels)}
        problem: TrackerError | None = None
        for attempt in range(self.max_retries + 1):
            if problem is not None:
                found = self._find_created(labels, fingerprint, body)
                if found is not None:
                    log.info("github: issue #%d was created by an earlier attempt", found.number)
                    return found
                self.sleep(self._backoff(attempt - 1))
            try:
                resp = self._request("POST", self._url("issues"), payload=payload, safe_to_retry=False)
            except _AmbiguousWriteError as exc:
                problem = exc
                log.warning("github: create %s; checking whether it was created", exc)
                continue
            return _issue_from_json(resp.json())
        found = self._find_created(labels, fingerprint, body)
        if found is not None:
            return found
        raise TrackerUnavailableError(f"{problem}; gave up creating after {self.max_retries + 1} attempts")

    def _find_created(self, labels: Sequence[str], fingerprint: str | None, body: str) -> Issue | None:
        if not labels:
            return None
        for issue in self.list_issues(_key_label(labels)):
            if (fingerprint is not None and issue.fingerprint == fingerprint) or (
                fingerprint is None and issue.body == body
            ):
                return issue
        return None

    def _patch(self, number: int, payload: Mapping[str, Any]) -> Issue:
        # PATCH sets fields to given values, so repeating it is harmless: safe to retry.
        resp = self._request("PATCH", self._url(f"issues/{int(number)}"), payload=payload)
        return _issue_from_json(resp.json())

    def update(self, number: int, title: str, body: str) -> Issue:
        return self._patch(number, {"title": title, "body": body})

    def close(self, number: int) -> Issue:
        return self._patch(number, {"state": "closed", "state_reason": "completed"})

    def reopen(self, number: int) -> Issue:
        return self._patch(number, {"state": "open"})

    def lock(self, codebase: str) -> Any:
        key = f"tracker:github:{self.repo}:{codebase}"
        if self.lock_dsn is not None:
            return pg_advisory_lock(_connector(self.lock_dsn), key, self.lock_timeout_s)
        folder = self.lock_dir or symphony_home() / "locks"
        name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in key)
        return file_lock(folder / f"{name}.lock", self.lock_timeout_s)


def _message(resp: requests.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.text[:200]
    return str(data.get("message", "")) if isinstance(data, dict) else ""


def _client_error(method: str, path: str, resp: requests.Response, token_env: str) -> TrackerError:
    status, message = resp.status_code, _message(resp)
    where = f"GitHub {method} {path}"
    if status == 401:
        return TrackerAuthError(f"{where}: 401 bad credentials ({message}); check the token in ${token_env}")
    if status == 403:
        return TrackerForbiddenError(
            f"{where}: 403 forbidden ({message}); the token lacks access or the 'issues: write' permission"
        )
    if status == 404:
        return TrackerNotFoundError(
            f"{where}: 404 not found ({message}); check the repository name and access"
        )
    if status == 422:
        try:
            errors = resp.json().get("errors") or []
        except (ValueError, AttributeError):
            errors = []
        return TrackerValidationError(f"{where}: 422 validation failed ({message}); errors: {errors}", errors)
    return TrackerError(f"{where}: {status} ({message})")


def _issue_from_json(item: Mapping[str, Any]) -> Issue:
    created = item.get("created_at")
    return Issue(
        number=int(item["number"]),
        title=str(item.get("title") or ""),
        body=str(item.get("body") or ""),
        state=str(item.get("state") or "open"),
        labels=tuple(
            str(lab["name"] if isinstance(lab, Mapping) else lab) for lab in item.get("labels") or ()
        ),
        created_at=datetime.fromisoformat(created) if isinstance(created, str) else None,
        url=item.get("html_url"),
    )


# ----------------------------------------------------------------------------------------------
# Reconcile


@dataclass(frozen=True)
class Outcome:
    action: Action
    applied: bool
    number: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class ReconcileResult:
    plan: Plan
    dry_run: bool
    outcomes: tuple[Outcome, ...] = ()

    @property
    def errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.error is not None]


def reconcile(
    tracker: Tracker,
    codebase: str,
    findings: Iterable[Finding],
    history: Mapping[str, date],
    *,
    today: date,
    dry_run: bool = True,
    close_after_days: int = 3,
    closing_enabled: bool = False,
    max_create: int | None = None,
    max_close: int | None = None,
) -> ReconcileResult:
    """Plan (and unless ``dry_run``, apply) under the codebase's lock, so concurrent runs serialise.

    One failed action does not stop the others: each outcome records its error, and the next run
    retries what is still to do. Bad credentials stop everything at once.
    """
    label = label_for(codebase)
    findings = list(findings)
    with tracker.lock(codebase):
        the_plan = plan(
            findings,
            tracker.list_issues(label),
            history,
            today=today,
            close_after_days=close_after_days,
            closing_enabled=closing_enabled,
            max_create=max_create,
            max_close=max_close,
        )
        if dry_run:
            return ReconcileResult(the_plan, True)
        outcomes: list[Outcome] = []
        steps: list[tuple[Action, Callable[[Action], Issue]]] = [
            *((a, lambda a: _reopen(tracker, a)) for a in the_plan.reopen),
            *((a, lambda a: tracker.update(_num(a), a.title, a.body)) for a in the_plan.update),
            *((a, lambda a: tracker.create(a.title, a.body, [label])) for a in the_plan.create),
            *((a, lambda a: tracker.close(_num(a))) for a in the_plan.close),
        ]
        for action, step in steps:
            try:
                issue = step(action)
            except TrackerAuthError:
                raise
            except TrackerError as exc:
                log.warning("tracker: %s %s failed: %s", action.kind, action.fingerprint, exc)
                outcomes.append(Outcome(action, False, action.number, str(exc)))
            else:
                outcomes.append(Outcome(action, True, issue.number))
        return ReconcileResult(the_plan, False, tuple(outcomes))


def _reopen(tracker: Tracker, action: Action) -> Issue:
    issue = tracker.reopen(_num(action))
    if issue.title != action.title or issue.body != action.body:
        issue = tracker.update(_num(action), action.title, action.body)
    return issue


def _num(action: Action) -> int:
    if action.number is None:
        raise TrackerError(f"{action.kind} {action.fingerprint}: no issue number")
    return action.number


# ----------------------------------------------------------------------------------------------
# Dagster resource

TRACKER_ENV = "SYMPHONY_TRACKER"
GITHUB_REPO_ENV = "SYMPHONY_GITHUB_REPO"
GITHUB_TOKEN_ENV_ENV = "SYMPHONY_GITHUB_TOKEN_ENV"
GITHUB_API_URL_ENV = "SYMPHONY_GITHUB_API_URL"
TRACKER_KINDS = ("builtin", "github")


class TrackerResource(dg.ConfigurableResource):
    """Which tracker findings go to: ``builtin`` (Postgres, the default) or ``github``.

    A codebase may name its own GitHub repository with the option ``tracker: {github_repo: owner/name}``.
    The GitHub token is never part of this config: only the name of the variable holding it.
    """

    kind: str = "builtin"
    github_repo: str | None = None
    github_token_env: str = "GITHUB_TOKEN"
    github_api_url: str = "https://api.github.com"

    @classmethod
    def from_env(cls) -> TrackerResource:
        return cls(
            kind=os.environ.get(TRACKER_ENV) or "builtin",
            github_repo=os.environ.get(GITHUB_REPO_ENV) or None,
            github_token_env=os.environ.get(GITHUB_TOKEN_ENV_ENV) or "GITHUB_TOKEN",
            github_api_url=os.environ.get(GITHUB_API_URL_ENV) or "https://api.github.com",
        )

    def tracker(self, database_url: str, codebase: Codebase | None = None) -> Tracker:
        """The tracker for ``codebase``; ``database_url`` holds the built-in store and the locks."""
        kind = self.kind.strip().lower()
        if kind == "builtin":
            return BuiltinTracker(database_url)
        if kind == "github":
            repo = (codebase.option("tracker", "github_repo") if codebase else None) or self.github_repo
            if not repo:
                raise TrackerError(
                    f"tracker 'github' needs a repository: set {GITHUB_REPO_ENV} or the codebase option "
                    "tracker.github_repo"
                )
            return GitHubTracker(
                str(repo), token_env=self.github_token_env, api_url=self.github_api_url, lock_dsn=database_url
            )
        raise TrackerError(f"unknown tracker {self.kind!r}; choose one of {', '.join(TRACKER_KINDS)}")
