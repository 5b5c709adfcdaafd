"""The built-in tracker against the real embedded Postgres: idempotent under repeats, threads, processes."""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from datetime import date, timedelta
from typing import Any

import psycopg2
import pytest

from symphony_assets.analysis.reconcile import Finding, label_for, marker
from symphony_assets.resources.tracker.apply import reconcile
from symphony_assets.resources.tracker.base import (
    Tracker,
    TrackerBusyError,
    TrackerNotFoundError,
    TrackerValidationError,
)
from symphony_assets.resources.tracker.builtin import BuiltinTracker

DAY = date(2026, 11, 21)
TAG = "TO" + "DO"


@pytest.fixture()
def codebase() -> str:
    """A fresh codebase name per test: the store table is shared by the whole session."""
    return f"cb-{uuid.uuid4().hex[:10]}"


def findings(codebase: str, n: int, file: str = "pkg/mod.py", shift: int = 0) -> list[Finding]:
    return [
        Finding(
            f"fp{i:03d}",
            "todo",
            f"{TAG}: item {i}",
            f"`{file}:{i + shift}` item {i}",
            file,
            i + shift,
            codebase,
        )
        for i in range(n)
    ]


def rows(pg_url: str, codebase: str) -> list[tuple[Any, ...]]:
    with psycopg2.connect(pg_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT fingerprint, state, title, body FROM symphony.tracker_issues_store WHERE label = %s"
            " ORDER BY fingerprint",
            (label_for(codebase),),
        )
        out: list[tuple[Any, ...]] = cur.fetchall()
    conn.close()
    return out


def test_crud_and_protocol(pg_url: str, codebase: str) -> None:
    t = BuiltinTracker(pg_url)
    assert isinstance(t, Tracker)
    label = label_for(codebase)
    a = t.create("First", "b\n\n" + marker("x1"), [label, "extra"])
    assert a.state == "open" and a.labels == (label, "extra") and a.fingerprint == "x1" and a.created_at
    again = t.create("Other title", "other body\n\n" + marker("x1"), [label])
    assert again.number == a.number and again.title == "First"  # the existing issue, untouched
    hand = t.create("Made by hand", "no marker", [label])
    hand2 = t.create("Made by hand", "no marker", [label])
    assert hand.number != hand2.number  # no fingerprint, no uniqueness
    assert t.update(a.number, "Renamed", a.body).title == "Renamed"
    assert t.close(a.number).state == "closed"
    assert t.reopen(a.number).state == "open"
    assert {i.number for i in t.list_issues(label)} == {a.number, hand.number, hand2.number}
    assert t.list_issues(label_for(codebase + "-other")) == []
    with pytest.raises(TrackerNotFoundError):
        t.close(10**12)
    with pytest.raises(TrackerValidationError):
        t.create("  ", "b", [label])


def test_repeated_reconciles_create_each_issue_once(pg_url: str, codebase: str) -> None:
    t = BuiltinTracker(pg_url)
    fs = findings(codebase, 15)
    first = reconcile(t, codebase, fs, {}, today=DAY, dry_run=False)
    assert len(first.plan.create) == 15 and not first.errors
    for _ in range(99):
        assert reconcile(t, codebase, fs, {}, today=DAY, dry_run=False).plan.changes == 0
    assert len(rows(pg_url, codebase)) == 15


def test_dry_run_changes_nothing(pg_url: str, codebase: str) -> None:
    res = reconcile(BuiltinTracker(pg_url), codebase, findings(codebase, 3), {}, today=DAY)
    assert res.dry_run and len(res.plan.create) == 3 and rows(pg_url, codebase) == []


def test_concurrent_threads_create_each_issue_once(pg_url: str, codebase: str) -> None:
    fs = findings(codebase, 10)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            reconcile(BuiltinTracker(pg_url), codebase, fs, {}, today=DAY, dry_run=False)
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors
    assert [r[0] for r in rows(pg_url, codebase)] == [f.fingerprint for f in fs]


def test_unique_constraint_holds_without_the_lock(pg_url: str, codebase: str) -> None:
    """Even creates racing outside any reconcile lock cannot duplicate: the constraint decides."""
    t = BuiltinTracker(pg_url)
    barrier = threading.Barrier(10)
    numbers: list[int] = []

    def worker() -> None:
        barrier.wait()
        numbers.append(t.create("Race", "b\n\n" + marker("race1"), [label_for(codebase)]).number)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert len(numbers) == 10 and len(set(numbers)) == 1 and len(rows(pg_url, codebase)) == 1


def _reconcile_in_process(pg_url: str, codebase: str, n: int, barrier: Any, results: Any) -> None:
    barrier.wait(30)  # all ten start reconciling at once
    result = reconcile(BuiltinTracker(pg_url), codebase, findings(codebase, n), {}, today=DAY, dry_run=False)
    results.put(len([o for o in result.outcomes if o.applied]))


def test_concurrent_processes_create_each_issue_once(pg_url: str, codebase: str) -> None:
    ctx = multiprocessing.get_context("fork")  # separate processes and connections, without re-importing
    barrier, results = ctx.Barrier(10), ctx.Queue()
    procs = [
        ctx.Process(target=_reconcile_in_process, args=(pg_url, codebase, 6, barrier, results))
        for _ in range(10)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 10
    applied = [results.get(timeout=5) for _ in procs]
    assert sum(applied) == 6  # exactly one process did the work; the others found it done
    assert len(rows(pg_url, codebase)) == 6


def test_lock_excludes_a_second_reconcile(pg_url: str, codebase: str) -> None:
    holder = BuiltinTracker(pg_url)
    waiter = BuiltinTracker(pg_url, lock_timeout_s=0.3)
    with holder.lock(codebase):
        with pytest.raises(TrackerBusyError):
            reconcile(waiter, codebase, findings(codebase, 1), {}, today=DAY, dry_run=False)
        with waiter.lock(codebase + "-other"):
            pass  # other codebases are not blocked
    reconcile(waiter, codebase, findings(codebase, 1), {}, today=DAY, dry_run=False)
    assert len(rows(pg_url, codebase)) == 1


def test_move_close_after_n_days_and_reopen(pg_url: str, codebase: str) -> None:
    t = BuiltinTracker(pg_url)
    fs = findings(codebase, 3)
    reconcile(t, codebase, fs, {}, today=DAY, dry_run=False)
    moved = findings(codebase, 3, file="pkg/new_home.py", shift=100)
    res = reconcile(t, codebase, moved, {}, today=DAY, dry_run=False)
    assert len(res.plan.update) == 3 and not res.plan.create
    assert all("pkg/new_home.py" in body for *_, body in rows(pg_url, codebase))
    seen = {f.fingerprint: DAY for f in fs}
    for gap in (1, 2, 3):
        res = reconcile(
            t, codebase, moved[:1], seen, today=DAY + timedelta(days=gap), dry_run=False, closing_enabled=True
        )
    assert [a.fingerprint for a in res.plan.close] == ["fp001", "fp002"]
    assert [s for _, s, *_ in rows(pg_url, codebase)] == ["open", "closed", "closed"]
    res = reconcile(
        t, codebase, moved, seen, today=DAY + timedelta(days=6), dry_run=False, closing_enabled=True
    )
    assert [a.fingerprint for a in res.plan.reopen] == ["fp001", "fp002"] and not res.plan.create
    assert [s for _, s, *_ in rows(pg_url, codebase)] == ["open", "open", "open"]


def test_caps_limit_a_run_and_the_next_run_continues(pg_url: str, codebase: str) -> None:
    t = BuiltinTracker(pg_url)
    fs = findings(codebase, 7)
    res = reconcile(t, codebase, fs, {}, today=DAY, dry_run=False, max_create=3)
    assert len(res.plan.create) == 3 and len(res.plan.skipped_by_cap) == 4
    assert len(rows(pg_url, codebase)) == 3
    reconcile(t, codebase, fs, {}, today=DAY, dry_run=False, max_create=3)
    reconcile(t, codebase, fs, {}, today=DAY, dry_run=False, max_create=3)
    assert len(rows(pg_url, codebase)) == 7
    old = {f.fingerprint: DAY - timedelta(days=10) for f in fs}
    res = reconcile(t, codebase, [], old, today=DAY, dry_run=False, closing_enabled=True, max_close=2)
    assert len(res.plan.close) == 2 and [s for _, s, *_ in rows(pg_url, codebase)].count("closed") == 2
