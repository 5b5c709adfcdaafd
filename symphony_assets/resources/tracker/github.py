"""GitHub Issues as a tracker, over REST v3: retries, rate limits, a circuit breaker, and idempotent creation.

GitHub has no idempotency key, so after a POST whose outcome is unknown (timeout, 5xx) the tracker
re-lists the label and looks for the fingerprint before trying again.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from symphony_assets.analysis.reconcile import Issue, parse_fingerprint
from symphony_assets.config import symphony_home
from symphony_assets.resources.tracker.base import (
    TrackerAuthError,
    TrackerError,
    TrackerForbiddenError,
    TrackerNotFoundError,
    TrackerRateLimitError,
    TrackerUnavailableError,
    TrackerValidationError,
    key_label,
)
from symphony_assets.resources.tracker.breaker import CircuitBreaker
from symphony_assets.resources.tracker.locks import connector, file_lock, pg_advisory_lock

log = logging.getLogger(__name__)


class _AmbiguousWriteError(TrackerUnavailableError):
    """A non-idempotent request failed in a way that leaves unknown whether the server acted."""


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
        for issue in self.list_issues(key_label(labels)):
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
            return pg_advisory_lock(connector(self.lock_dsn), key, self.lock_timeout_s)
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
