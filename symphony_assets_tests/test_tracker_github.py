"""GitHubTracker over real HTTP against the local fake of GitHub's REST API (fake_github.py)."""

from __future__ import annotations

import logging
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from symphony_assets.analysis.reconcile import Finding, label_for, marker, parse_fingerprint
from symphony_assets.resources.tracker.apply import reconcile
from symphony_assets.resources.tracker.base import (
    CircuitOpenError,
    TrackerAuthError,
    TrackerForbiddenError,
    TrackerRateLimitError,
    TrackerUnavailableError,
    TrackerValidationError,
)
from symphony_assets.resources.tracker.github import GitHubTracker
from symphony_assets_tests.fake_github import FakeClock, FakeGitHub, Flaky

TOKEN = "ghp_SECRET_do_not_log_4f9a2c"
ENV = "SYMPHONY_TEST_GH_TOKEN"
REPO = "acme/widgets"
DAY = date(2026, 11, 21)
LABEL = label_for("alpha")
TAG = "TO" + "DO"


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, TOKEN)


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture()
def gh(clock: FakeClock) -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN, clock=clock.time) as server:
        yield server


def tracker(server: FakeGitHub, clock: FakeClock, tmp_path: Path, **kw: Any) -> GitHubTracker:
    kw.setdefault("lock_dir", tmp_path / "locks")
    return GitHubTracker(
        REPO, token_env=ENV, api_url=server.api_url, sleep=clock.sleep, clock=clock.time, **kw
    )


def findings(n: int, line_shift: int = 0, file: str = "pkg/mod.py") -> list[Finding]:
    return [
        Finding(
            f"fp{i:03d}", "todo", f"{TAG}: item {i}", f"`{file}:{i + line_shift}` item {i}", file, i, "alpha"
        )
        for i in range(n)
    ]


def by_fingerprint(server: FakeGitHub) -> dict[str, tuple[str, str, str]]:
    """The tracker's state keyed by identity; fails on duplicates."""
    out: dict[str, tuple[str, str, str]] = {}
    for issue in server.all_issues(REPO):
        fp = parse_fingerprint(issue["body"])
        assert fp is not None and fp not in out, f"duplicate issue for {fp}"
        out[fp] = (issue["title"], issue["body"], issue["state"])
    return out


def test_wire_protocol_round_trip(gh: FakeGitHub, clock: FakeClock, tmp_path: Path) -> None:
    t = tracker(gh, clock, tmp_path)
    made = t.create("First", "body\n\n" + marker("abc"), [LABEL])
    assert made.number == 1 and made.state == "open" and made.labels == (LABEL,)
    assert made.url == f"https://github.com/{REPO}/issues/1" and made.created_at is not None
    assert made.fingerprint == "abc"
    assert t.update(1, "Renamed", made.body).title == "Renamed"
    assert t.close(1).state == "closed"
    assert gh.all_issues(REPO)[0]["state_reason"] == "completed"
    assert t.reopen(1).state == "open"
    gh.add_issue(REPO, "other codebase", "x", [label_for("beta")])
    assert [i.number for i in t.list_issues(LABEL)] == [1]
    assert all(h == f"Bearer {TOKEN}" for h in gh.auth_headers)


def test_pagination_follows_link_headers(gh: FakeGitHub, clock: FakeClock, tmp_path: Path) -> None:
    for i in range(250):
        gh.add_issue(REPO, f"t{i}", marker(f"f{i}"), [LABEL], state="closed" if i % 3 == 0 else "open")
    gh.add_issue(REPO, "unlabelled", "x", [])
    issues = tracker(gh, clock, tmp_path).list_issues(LABEL)
    assert len(issues) == 250 and len({i.number for i in issues}) == 250
    assert Counter(i.state for i in issues) == {"open": 166, "closed": 84}
    gets = [path for method, path, _ in gh.requests if method == "GET"]
    assert len(gets) == 3 and "page=3" in gets[-1] and "state=all" in gets[0] and "per_page=100" in gets[0]


def test_repeated_reconciles_create_each_issue_once(gh: FakeGitHub, clock: FakeClock, tmp_path: Path) -> None:
    t = tracker(gh, clock, tmp_path)
    fs = findings(12)
    for _ in range(100):
        result = reconcile(t, "alpha", fs, {}, today=DAY, dry_run=False)
        assert not result.errors
    assert gh.count("POST") == 12 and gh.count("PATCH") == 0
    assert len(by_fingerprint(gh)) == 12


def test_concurrent_reconciles_create_each_issue_once(
    gh: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    fs = findings(8)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            reconcile(tracker(gh, clock, tmp_path), "alpha", fs, {}, today=DAY, dry_run=False)
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors
    assert gh.count("POST") == 8 and len(by_fingerprint(gh)) == 8


def test_moved_finding_keeps_its_issue_and_disappearing_closes_then_reopens(
    gh: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    t = tracker(gh, clock, tmp_path)
    [f] = findings(1)
    reconcile(t, "alpha", [f], {}, today=DAY, dry_run=False)
    moved = Finding(f.fingerprint, "todo", f.title, "`pkg/other.py:99` item 0", "pkg/other.py", 99, "alpha")
    res = reconcile(t, "alpha", [moved], {f.fingerprint: DAY}, today=DAY + timedelta(days=1), dry_run=False)
    assert [a.kind for a in res.plan.update] == ["update"] and not res.plan.create
    assert "pkg/other.py:99" in gh.all_issues(REPO)[0]["body"]
    last_seen = {f.fingerprint: DAY + timedelta(days=1)}
    for gap in (1, 2):
        res = reconcile(
            t,
            "alpha",
            [],
            last_seen,
            today=DAY + timedelta(days=1 + gap),
            dry_run=False,
            closing_enabled=True,
        )
        assert not res.plan.close
    res = reconcile(
        t, "alpha", [], last_seen, today=DAY + timedelta(days=4), dry_run=False, closing_enabled=True
    )
    assert [a.number for a in res.plan.close] == [1] and gh.all_issues(REPO)[0]["state"] == "closed"
    res = reconcile(t, "alpha", [moved], last_seen, today=DAY + timedelta(days=9), dry_run=False)
    assert [a.number for a in res.plan.reopen] == [1] and not res.plan.create
    assert len(gh.all_issues(REPO)) == 1 and gh.all_issues(REPO)[0]["state"] == "open"


def test_flaky_tracker_ends_like_a_healthy_one(clock: FakeClock, tmp_path: Path) -> None:
    day2 = findings(20, line_shift=5)[5:] + findings(25)[20:]  # 5 gone, 15 moved, 5 new
    history = {f.fingerprint: DAY for f in findings(20)}
    states = []
    for flaky in (None, Flaky(seed=7, error_rate=0.25, secondary_rate=0.1, post_then_502_rate=0.3)):
        with FakeGitHub(token=TOKEN, clock=clock.time, flaky=flaky) as server:
            t = tracker(server, clock, tmp_path, breaker_threshold=50)
            for today, fs in ((DAY, findings(20)), (DAY + timedelta(days=5), day2)):
                for _ in range(5):  # a daily schedule retries what failed; converge well before 5
                    result = reconcile(
                        t, "alpha", fs, history, today=today, dry_run=False, closing_enabled=True
                    )
                    if not result.errors and result.plan.changes == 0:
                        break
                else:
                    pytest.fail("flaky tracker did not converge")
            states.append(by_fingerprint(server))
            if flaky is not None:
                assert (
                    server.count("POST", 502) > 0 and server.count("GET", 403) + server.count("POST", 403) > 0
                )
    healthy, flaky_state = states
    assert flaky_state == healthy
    assert Counter(s for _, _, s in healthy.values()) == {"open": 20, "closed": 5}


def test_post_that_times_out_after_creating_is_not_duplicated(clock: FakeClock, tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN, clock=clock.time, slow_post_s=0.6) as server:
        t = tracker(server, clock, tmp_path, read_timeout_s=0.2)
        issue = t.create("Slow", "x\n\n" + marker("slow1"), [LABEL])
        assert issue.fingerprint == "slow1"
        assert server.count("POST") <= 1 and len(server.all_issues(REPO)) == 1


def test_post_then_502_is_found_by_relisting(clock: FakeClock, tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN, clock=clock.time, flaky=Flaky(post_then_502_rate=1.0)) as server:
        issue = tracker(server, clock, tmp_path).create("T", "b\n\n" + marker("p1"), [LABEL])
        assert issue.number == 1 and len(server.all_issues(REPO)) == 1 and server.count("POST") == 1


def test_secondary_rate_limit_honours_retry_after(clock: FakeClock, tmp_path: Path) -> None:
    with FakeGitHub(
        token=TOKEN, clock=clock.time, flaky=Flaky(seed=1, secondary_rate=0.5, retry_after=17)
    ) as server:
        t = tracker(server, clock, tmp_path)
        for i in range(6):
            t.create(f"t{i}", marker(f"s{i}"), [LABEL])
        assert len(server.all_issues(REPO)) == 6
        assert clock.slept and all(s == 17 for s in clock.slept)


def test_primary_rate_limit_waits_for_reset(clock: FakeClock, tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN, clock=clock.time, rate_limit=3, rate_window=600) as server:
        t = tracker(server, clock, tmp_path)
        start = clock.time()
        for i in range(5):
            t.create(f"t{i}", marker(f"r{i}"), [LABEL])
        assert len(server.all_issues(REPO)) == 5
        assert len(clock.slept) == 1 and 600 <= clock.slept[0] <= 602 and clock.time() >= start + 600
    with FakeGitHub(token=TOKEN, clock=clock.time, rate_limit=1, rate_window=7200) as server:
        t = tracker(server, clock, tmp_path, max_wait_s=900)
        t.list_issues(LABEL)
        with pytest.raises(TrackerRateLimitError, match="resets in"):
            t.list_issues(LABEL)


def test_circuit_breaker_opens_after_consecutive_failures_then_half_opens(
    clock: FakeClock, tmp_path: Path
) -> None:
    with FakeGitHub(token=TOKEN, clock=clock.time, flaky=Flaky(error_rate=1.0)) as server:
        t = tracker(server, clock, tmp_path, breaker_threshold=4, max_retries=10, breaker_cooldown_s=60)
        with pytest.raises(CircuitOpenError):
            t.list_issues(LABEL)
        assert len(server.requests) == 4
        with pytest.raises(CircuitOpenError):
            t.list_issues(LABEL)
        assert len(server.requests) == 4  # failed fast, no request sent
        server.flaky = None
        clock.sleep(61)
        assert t.list_issues(LABEL) == [] and not t.breaker.is_open


def test_server_errors_exhaust_retries_with_backoff(clock: FakeClock, tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN, clock=clock.time, flaky=Flaky(error_rate=1.0)) as server:
        t = tracker(server, clock, tmp_path, max_retries=3, backoff_base_s=0.5)
        with pytest.raises(TrackerUnavailableError, match="gave up after 4 attempts"):
            t.update(1, "x", "y")
        assert clock.slept == [0.5, 1.0, 2.0] and len(server.requests) == 4


def test_read_timeout_is_enforced(clock: FakeClock, tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (kernel backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        t = GitHubTracker(
            REPO,
            token_env=ENV,
            api_url=url,
            read_timeout_s=0.2,
            max_retries=1,
            sleep=clock.sleep,
            clock=clock.time,
        )
        with pytest.raises(TrackerUnavailableError, match="ReadTimeout"):
            t.list_issues(LABEL)


def test_clear_errors_for_401_403_422(
    gh: FakeGitHub, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = tracker(gh, clock, tmp_path)
    with pytest.raises(TrackerValidationError) as err:
        t.create("", "body", [LABEL])
    assert "missing_field" in str(err.value) and err.value.errors[0]["field"] == "title"
    monkeypatch.setenv(ENV, "ghp_wrong")
    with pytest.raises(TrackerAuthError, match=f"401 bad credentials.*{ENV}"):
        t.list_issues(LABEL)
    monkeypatch.delenv(ENV)
    with pytest.raises(TrackerAuthError, match=f"set the environment variable {ENV}"):
        t.list_issues(LABEL)
    with FakeGitHub(token=TOKEN, read_only_token="ghp_readonly", clock=clock.time) as server:
        monkeypatch.setenv(ENV, "ghp_readonly")
        ro = tracker(server, clock, tmp_path)
        assert ro.list_issues(LABEL) == []
        with pytest.raises(TrackerForbiddenError, match="403 forbidden"):
            ro.create("t", "b", [LABEL])
        assert not clock.slept  # a plain 403 is not retried as a rate limit


def test_auth_error_stops_a_reconcile(
    gh: FakeGitHub, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, "ghp_wrong")
    with pytest.raises(TrackerAuthError):
        reconcile(tracker(gh, clock, tmp_path), "alpha", findings(2), {}, today=DAY, dry_run=False)


def test_token_never_logged(clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    messages = []
    flaky = Flaky(seed=3, error_rate=0.3, secondary_rate=0.1, post_then_502_rate=0.3)
    with FakeGitHub(token=TOKEN, clock=clock.time, flaky=flaky) as server:
        t = tracker(server, clock, tmp_path, breaker_threshold=100)
        for _ in range(3):
            result = reconcile(t, "alpha", findings(10), {}, today=DAY, dry_run=False)
            messages += [o.error or "" for o in result.errors]
        with FakeGitHub(token="ghp_other", clock=clock.time) as other:
            with pytest.raises(TrackerAuthError) as err:
                tracker(other, clock, tmp_path).list_issues(LABEL)
            messages.append(str(err.value))
    assert any("retry" in r.getMessage() for r in caplog.records)  # the logs did say things
    assert any(r.name.startswith("urllib3") for r in caplog.records)
    assert TOKEN not in caplog.text
    assert all(TOKEN not in m for m in messages)
    assert TOKEN not in repr(t)


def test_refuses_to_send_token_to_another_host(gh: FakeGitHub, clock: FakeClock, tmp_path: Path) -> None:
    t = tracker(gh, clock, tmp_path)
    with pytest.raises(Exception, match="refusing to send credentials"):
        t._request("GET", "http://evil.example/repos/x/y/issues")
