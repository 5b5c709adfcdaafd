"""A local stand-in for the part of GitHub's REST API v3 that the tracker uses.

GitHub cannot be reached from tests, so this speaks its wire protocol over real HTTP on 127.0.0.1:
list issues by label with ``per_page``/``page`` and ``Link`` headers, create (201), update/close/reopen
(PATCH), 401 ``Bad credentials``, 422 ``Validation Failed`` with an ``errors`` array, ``X-RateLimit-*``
headers on every response, primary rate limits (403 with ``X-RateLimit-Remaining: 0``), and a flaky
mode: seeded random 500/502s, secondary rate limits (403 + ``Retry-After``), and POSTs that create the
issue and then answer 502.

Time comes from an injectable clock so a test can share one fake clock between the server (rate-limit
windows) and the client (its sleep), and nothing waits for real.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

DOCS = "https://docs.github.com/rest"


class FakeClock:
    """A clock whose sleep advances time instantly; share it between server and client."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += max(seconds, 0.0)


@dataclass
class Flaky:
    """Fault injection, all driven by one seeded RNG so a failing run can be replayed."""

    seed: int = 0
    error_rate: float = 0.0  # share of requests answered 500 or 502 before doing anything
    secondary_rate: float = 0.0  # share answered 403 secondary rate limit with Retry-After
    post_then_502_rate: float = 0.0  # share of POSTs that create the issue, then answer 502
    retry_after: int = 2
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)


class FakeGitHub:
    """Start with ``with FakeGitHub(...) as gh:``; ``gh.api_url`` is the base URL to give the client."""

    def __init__(
        self,
        token: str = "ghp_test_token_0123456789",
        repos: tuple[str, ...] = ("acme/widgets",),
        clock: Callable[[], float] = time.time,
        rate_limit: int = 5000,
        rate_window: int = 3600,
        flaky: Flaky | None = None,
        read_only_token: str | None = None,
        slow_post_s: float = 0.0,
    ) -> None:
        self.token = token
        #: A token that may read but not write: writes answer 403 "Resource not accessible".
        self.read_only_token = read_only_token
        #: Seconds a POST waits after creating the issue before answering (to make clients time out).
        self.slow_post_s = slow_post_s
        self.repos = set(repos)
        self.clock = clock
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.flaky = flaky
        self.issues: dict[str, dict[int, dict[str, Any]]] = {r: {} for r in repos}
        self.next_number: dict[str, int] = dict.fromkeys(repos, 1)
        self.requests: list[tuple[str, str, int]] = []  # (method, path?query, status)
        self.auth_headers: list[str] = []
        self.lock = threading.RLock()
        self._used = 0
        self._reset_at = int(clock()) + rate_window
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> FakeGitHub:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        fake = self

        class Handler(_Handler):
            gh = fake

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def api_url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_port}"

    # -- helpers for tests ----------------------------------------------------------------------

    def all_issues(self, repo: str = "acme/widgets") -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(json.dumps(i)) for _, i in sorted(self.issues[repo].items())]

    def add_issue(
        self,
        repo: str,
        title: str,
        body: str,
        labels: list[str],
        state: str = "open",
        created_at: str | None = None,
    ) -> dict[str, Any]:
        """Seed an issue as if a person had made it."""
        with self.lock:
            issue = self._new_issue(repo, title, body, labels)
            issue["state"] = state
            if created_at:
                issue["created_at"] = created_at
            return issue

    def count(self, method: str, status: int | None = None) -> int:
        with self.lock:
            return sum(1 for m, _, s in self.requests if m == method and (status is None or s == status))

    # -- model ----------------------------------------------------------------------------------

    def _iso(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _new_issue(self, repo: str, title: str, body: str | None, labels: list[str]) -> dict[str, Any]:
        number = self.next_number[repo]
        self.next_number[repo] += 1
        now = self._iso()
        issue = {
            "id": 1_000_000 + number,
            "node_id": f"I_kwFake{number}",
            "url": f"{self.api_url}/repos/{repo}/issues/{number}",
            "html_url": f"https://github.com/{repo}/issues/{number}",
            "number": number,
            "title": title,
            "body": body,
            "state": "open",
            "state_reason": None,
            "labels": [_label(name) for name in labels],
            "user": {"login": "symphony-bot", "id": 1, "type": "User"},
            "comments": 0,
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
            "locked": False,
        }
        self.issues[repo][number] = issue
        return issue

    def rate_headers(self) -> dict[str, str]:
        now = self.clock()
        if now >= self._reset_at:
            self._used = 0
            self._reset_at = int(now) + self.rate_window
        return {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(max(self.rate_limit - self._used, 0)),
            "X-RateLimit-Used": str(self._used),
            "X-RateLimit-Reset": str(self._reset_at),
            "X-RateLimit-Resource": "core",
        }


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out and hung up is part of the tests, not an error worth a traceback."""
        return


def _label(name: str) -> dict[str, Any]:
    return {
        "id": abs(hash(name)) % 10**9,
        "name": name,
        "color": "ededed",
        "default": False,
        "description": None,
    }


_ISSUES = re.compile(r"^/repos/([^/]+/[^/]+)/issues$")
_ISSUE = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)$")


class _Handler(BaseHTTPRequestHandler):
    gh: FakeGitHub
    _raw: bytes = b""
    # One buffered write per response and no Nagle: otherwise each kept-alive request waits ~40 ms.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server_version = "FakeGitHub/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        return

    # -- plumbing -------------------------------------------------------------------------------

    def _send(self, status: int, payload: Any, extra: dict[str, str] | None = None) -> None:
        data = b"" if payload is None else json.dumps(payload).encode("utf-8")
        gh = self.gh
        with gh.lock:
            headers = gh.rate_headers()
            gh.requests.append((self.command, self.path, status))
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
        self.send_header("X-GitHub-Request-Id", f"FAKE:{len(gh.requests):06d}")
        for key, value in {**headers, **(extra or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _error(self, status: int, message: str, extra: dict[str, str] | None = None, **more: Any) -> None:
        self._send(
            status, {"message": message, "documentation_url": DOCS, "status": str(status), **more}, extra
        )

    def _body(self) -> Any:
        raw = self._raw
        if not raw:
            return {}
        return json.loads(raw)

    def _gate(self, repo: str | None) -> bool:
        """Auth, rate limits and injected faults; True when the request may proceed."""
        # Read the body first, whatever the answer: unread bytes would corrupt the kept-alive stream.
        length = int(self.headers.get("Content-Length") or 0)
        self._raw = self.rfile.read(length) if length else b""
        gh = self.gh
        auth = self.headers.get("Authorization") or ""
        with gh.lock:
            gh.auth_headers.append(auth)
        scheme, _, token = auth.partition(" ")
        read_only = gh.read_only_token is not None and token == gh.read_only_token
        if scheme.lower() not in ("bearer", "token") or (token != gh.token and not read_only):
            self._error(401, "Bad credentials")
            return False
        if read_only and self.command != "GET":
            self._error(403, "Resource not accessible by personal access token")
            return False
        with gh.lock:
            gh.rate_headers()  # roll the window if it has passed
            if gh._used >= gh.rate_limit:
                exhausted = True
            else:
                exhausted = False
                gh._used += 1
            flaky = gh.flaky
            roll = flaky.rng.random() if flaky else 1.0
            kind = flaky.rng.choice((500, 502)) if flaky else 0
        if exhausted:
            self._error(403, f"API rate limit exceeded for user ID 1. See {DOCS} for details.")
            return False
        if flaky is not None:
            if roll < flaky.error_rate:
                self._error(kind, "Server Error" if kind == 500 else "Bad Gateway")
                return False
            if roll < flaky.error_rate + flaky.secondary_rate:
                self._error(
                    403,
                    "You have exceeded a secondary rate limit. "
                    "Please wait a few minutes before you try again.",
                    {"Retry-After": str(flaky.retry_after)},
                )
                return False
        if repo is not None and repo not in gh.repos:
            self._error(404, "Not Found")
            return False
        return True

    # -- verbs ----------------------------------------------------------------------------------

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        m = _ISSUES.match(url.path)
        one = _ISSUE.match(url.path)
        repo = m.group(1) if m else (one.group(1) if one else None)
        if not self._gate(repo):
            return
        if one:
            with self.gh.lock:
                issue = self.gh.issues[one.group(1)].get(int(one.group(2)))
            if issue is None:
                self._error(404, "Not Found")
            else:
                self._send(200, issue)
            return
        if not m:
            self._error(404, "Not Found")
            return
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        state = query.get("state", "open")
        if state not in ("open", "closed", "all"):
            self._error(
                422,
                "Validation Failed",
                errors=[{"resource": "Issue", "field": "state", "code": "invalid", "value": state}],
            )
            return
        try:
            per_page = min(max(int(query.get("per_page", "30")), 1), 100)
            page = max(int(query.get("page", "1")), 1)
        except ValueError:
            self._error(400, "Problems parsing query")
            return
        wanted = [x.strip() for x in query.get("labels", "").split(",") if x.strip()]
        with self.gh.lock:
            issues = [
                i
                for i in self.gh.issues[m.group(1)].values()
                if (state == "all" or i["state"] == state)
                and all(w in {lab["name"] for lab in i["labels"]} for w in wanted)
            ]
        issues.sort(key=lambda i: (i["created_at"], i["number"]), reverse=True)  # GitHub: newest first
        last = max((len(issues) + per_page - 1) // per_page, 1)
        chunk = issues[(page - 1) * per_page : page * per_page]
        links = []
        base = f"{self.gh.api_url}{url.path}"

        def link(p: int, rel: str) -> str:
            return f'<{base}?{urlencode({**query, "per_page": per_page, "page": p})}>; rel="{rel}"'

        if page > 1:
            links += [link(page - 1, "prev"), link(1, "first")]
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        self._send(200, chunk, {"Link": ", ".join(links)} if links else None)

    def do_POST(self) -> None:
        m = _ISSUES.match(urlsplit(self.path).path)
        if not self._gate(m.group(1) if m else None):
            return
        if not m:
            self._error(404, "Not Found")
            return
        try:
            payload = self._body()
        except ValueError:
            self._error(400, "Problems parsing JSON")
            return
        title = payload.get("title") if isinstance(payload, dict) else None
        if not isinstance(title, str | int) or (isinstance(title, str) and not title.strip()):
            self._error(
                422,
                "Validation Failed",
                errors=[{"resource": "Issue", "code": "missing_field", "field": "title"}],
            )
            return
        labels = payload.get("labels") or []
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            self._error(
                422,
                "Validation Failed",
                errors=[{"resource": "Issue", "code": "invalid", "field": "labels"}],
            )
            return
        gh = self.gh
        with gh.lock:
            issue = gh._new_issue(m.group(1), str(title), payload.get("body"), list(dict.fromkeys(labels)))
            drop = gh.flaky is not None and gh.flaky.rng.random() < gh.flaky.post_then_502_rate
        if gh.slow_post_s:
            time.sleep(gh.slow_post_s)
        if drop:
            self._error(502, "Bad Gateway")  # the issue exists, but the client never hears of it
            return
        self._send(201, issue, {"Location": issue["url"]})

    def do_PATCH(self) -> None:
        one = _ISSUE.match(urlsplit(self.path).path)
        if not self._gate(one.group(1) if one else None):
            return
        if not one:
            self._error(404, "Not Found")
            return
        try:
            payload = self._body()
        except ValueError:
            self._error(400, "Problems parsing JSON")
            return
        gh = self.gh
        with gh.lock:
            issue = gh.issues[one.group(1)].get(int(one.group(2)))
            if issue is None:
                self._error(404, "Not Found")
                return
            errors = []
            if "title" in payload and (not isinstance(payload["title"], str) or not payload["title"].strip()):
                errors.append({"resource": "Issue", "code": "missing_field", "field": "title"})
            if "state" in payload and payload["state"] not in ("open", "closed"):
                errors.append({"resource": "Issue", "code": "invalid", "field": "state"})
            if errors:
                self._error(422, "Validation Failed", errors=errors)
                return
            if "title" in payload:
                issue["title"] = payload["title"]
            if "body" in payload:
                issue["body"] = payload["body"]
            if "labels" in payload:
                issue["labels"] = [_label(n) for n in payload["labels"]]
            if "state" in payload and payload["state"] != issue["state"]:
                issue["state"] = payload["state"]
                closing = payload["state"] == "closed"
                issue["closed_at"] = gh._iso() if closing else None
                issue["state_reason"] = payload.get("state_reason", "completed") if closing else "reopened"
            issue["updated_at"] = gh._iso()
            snapshot = json.loads(json.dumps(issue))
        self._send(200, snapshot)
