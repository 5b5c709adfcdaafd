"""The pure planner: identity by fingerprint marker, moves, closing after N days, reopening, caps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from symphony_assets.analysis.reconcile import (
    Finding,
    Issue,
    Plan,
    from_dependency_drift_rows,
    from_import_cycle_rows,
    from_legacy_file_rows,
    from_port_conflict_rows,
    from_todo_rows,
    label_for,
    marker,
    parse_fingerprint,
    plan,
    plan_markdown,
    render_body,
    render_title,
)

TODAY = date(2026, 11, 21)
LABEL = label_for("alpha")
TAG = "TO" + "DO"


def finding(fp: str, line: int = 10, file: str = "pkg/mod.py", text: str = "retry the upload") -> Finding:
    return Finding(fp, "todo", f"{TAG}: {text}", f"`{file}:{line}`: {text}", file, line, "alpha")


def issue_for(f: Finding, number: int, state: str = "open", created: int = 0) -> Issue:
    """An issue exactly as a previous reconcile would have written it."""
    return Issue(
        number,
        render_title(f),
        render_body(f),
        state,
        (LABEL,),
        datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=created),
    )


def run(
    findings: list[Finding], issues: list[Issue], history: dict[str, date] | None = None, **kw: Any
) -> Plan:
    kw.setdefault("max_create", None)
    kw.setdefault("max_close", None)
    return plan(findings, issues, history or {}, today=TODAY, **kw)


def test_marker_round_trip_and_foreign_bodies() -> None:
    assert parse_fingerprint("hello\n\n" + marker("abc123") + "\n") == "abc123"
    assert parse_fingerprint("<!--symphony-fingerprint:todo:9f-->") == "todo:9f"
    assert parse_fingerprint("no marker here") is None
    assert parse_fingerprint(None) is None
    with pytest.raises(ValueError):
        Finding("bad fingerprint --> <script>", "todo", "t", "b", None, None, "alpha")


def test_new_findings_are_created_and_rerun_plans_nothing() -> None:
    fs = [finding("a1"), finding("b2", line=20)]
    p = run(fs, [])
    assert [a.fingerprint for a in p.create] == ["a1", "b2"]
    assert all(parse_fingerprint(a.body) == a.fingerprint for a in p.create)
    # what the tracker would hold after applying: the rerun changes nothing
    again = run(fs, [issue_for(f, i + 1) for i, f in enumerate(fs)])
    assert again.changes == 0
    assert [a.kind for a in again.unchanged] == ["unchanged", "unchanged"]


def test_matching_ignores_titles_and_unmarked_issues() -> None:
    f = finding("a1")
    renamed = Issue(7, "a person renamed this", render_body(f), "open", (LABEL,))
    unmarked = Issue(8, render_title(f), "same title, no marker", "open", (LABEL,))
    p = run([f], [renamed, unmarked])
    assert not p.create
    assert [(a.kind, a.number) for a in p.update] == [("update", 7)]
    assert p.update[0].reason == "title changed"
    assert 8 not in {a.number for a in p.actions()}


def test_moved_finding_updates_its_issue_never_creates() -> None:
    old = finding("a1", line=10, file="pkg/mod.py")
    moved = finding("a1", line=42, file="pkg/other.py")
    p = run([moved], [issue_for(old, 3)])
    assert not p.create
    assert [(a.number, a.fingerprint) for a in p.update] == [(3, "a1")]
    assert "pkg/other.py:42" in p.update[0].body and p.update[0].finding == moved


def test_same_text_different_fingerprints_are_two_issues() -> None:
    p = run([finding("scope-f"), finding("scope-g")], [])
    assert len(p.create) == 2


def test_duplicate_fingerprints_in_input_are_planned_once() -> None:
    p = run([finding("a1", line=1), finding("a1", line=2)], [])
    assert len(p.create) == 1 and len(p.ignored) == 1


def test_two_existing_issues_same_fingerprint_keep_oldest_report_other() -> None:
    f = finding("a1")
    older = issue_for(f, 9, created=0)
    newer = issue_for(f, 4, created=5)  # lower number, but made later (e.g. imported)
    p = run([f], [newer, older])
    assert not p.create
    assert [a.number for a in p.unchanged] == [9]
    assert [(a.kind, a.number) for a in p.duplicates] == [("duplicate", 4)]
    assert "#9" in p.duplicates[0].reason


def test_open_duplicate_preferred_over_closed_oldest() -> None:
    f = finding("a1")
    p = run([f], [issue_for(f, 1, state="closed", created=0), issue_for(f, 2, created=3)])
    assert [a.number for a in p.unchanged] == [2] and [a.number for a in p.duplicates] == [1]
    assert not p.reopen and not p.create


@pytest.mark.parametrize("missing_days, closes", [(1, False), (2, False), (3, True), (10, True)])
def test_gone_finding_closes_after_n_days_only_when_enabled(missing_days: int, closes: bool) -> None:
    f = finding("a1")
    history = {"a1": TODAY - timedelta(days=missing_days)}
    enabled = run([], [issue_for(f, 5)], history, closing_enabled=True)
    assert [a.number for a in enabled.close] == ([5] if closes else [])
    assert [a.number for a in enabled.pending_close] == ([] if closes else [5])
    disabled = run([], [issue_for(f, 5)], history)
    assert not disabled.close and [a.number for a in disabled.pending_close] == [5]


def test_close_after_days_is_configurable_and_unknown_history_never_closes() -> None:
    f = finding("a1")
    p = run(
        [], [issue_for(f, 5)], {"a1": TODAY - timedelta(days=1)}, closing_enabled=True, close_after_days=1
    )
    assert [a.number for a in p.close] == [5]
    p = run([], [issue_for(f, 5)], {}, closing_enabled=True)
    assert not p.close and p.pending_close[0].reason == "never seen in history"
    with pytest.raises(ValueError):
        run([], [], close_after_days=0)


def test_closed_issue_reopens_when_finding_comes_back() -> None:
    f = finding("a1")
    p = run([f], [issue_for(f, 5, state="closed")], {"a1": TODAY - timedelta(days=4)})
    assert [(a.kind, a.number) for a in p.reopen] == [("reopen", 5)]
    assert not p.create
    # no history at all (a new deployment): still reopen rather than duplicate
    assert [a.number for a in run([f], [issue_for(f, 5, state="closed")]).reopen] == [5]


def test_issue_closed_by_a_person_while_live_stays_closed() -> None:
    f = finding("a1")
    p = run([f], [issue_for(f, 5, state="closed")], {"a1": TODAY - timedelta(days=1)})
    assert not p.reopen and not p.create
    assert p.unchanged[0].reason == "closed while the finding was live"
    forced = run(
        [f], [issue_for(f, 5, state="closed")], {"a1": TODAY - timedelta(days=1)}, respect_manual_close=False
    )
    assert [a.number for a in forced.reopen] == [5]


def test_closed_issue_of_gone_finding_is_left_alone() -> None:
    f = finding("a1")
    p = run([], [issue_for(f, 5, state="closed")], {"a1": TODAY - timedelta(days=30)}, closing_enabled=True)
    assert p.changes == 0 and not p.pending_close


def test_caps_skip_the_rest_deterministically() -> None:
    fs = [finding(f"f{i:02d}", line=i) for i in range(10)]
    p = run(fs, [], max_create=3)
    assert [a.fingerprint for a in p.create] == ["f00", "f01", "f02"]
    assert [a.fingerprint for a in p.skipped_by_cap] == [f"f{i:02d}" for i in range(3, 10)]
    assert all(a.kind == "create" and "max_create=3" in a.reason for a in p.skipped_by_cap)
    gone = [issue_for(finding(f"g{i}"), 100 + i) for i in range(5)]
    old = {f"g{i}": TODAY - timedelta(days=9) for i in range(5)}
    p = run([], gone, old, closing_enabled=True, max_close=2)
    assert [a.number for a in p.close] == [100, 101]
    assert [a.number for a in p.skipped_by_cap] == [102, 103, 104]
    assert run(fs, [], max_create=0).create == ()


def test_one_codebase_per_plan() -> None:
    other = Finding("x", "todo", "t", "b", None, None, "beta")
    with pytest.raises(ValueError, match="one codebase"):
        run([finding("a1"), other], [])


def test_long_titles_and_bodies_are_bounded() -> None:
    f = Finding("a1", "todo", "x" * 1000, "y" * 100_000, None, None, "alpha")
    assert len(render_title(f)) <= 200
    body = render_body(f)
    assert len(body) < 61_000 and parse_fingerprint(body) == "a1"


def test_markdown_lists_would_create() -> None:
    p = run([finding("a1", text="fix *this* | now")], [])
    md = plan_markdown(p)
    assert "### Create (1)" in md and "pkg/mod.py:10" in md and r"\*this\*" in md
    assert plan_markdown(run([], [])) == "Nothing to do."


def test_todo_adapter_keeps_fingerprint_and_location() -> None:
    rows = [
        {
            "tag": TAG.lower(),
            "text": "handle it\nsecond line",
            "file": "a.py",
            "line": 3,
            "scope": "f",
            "fingerprint": "fp1",
        },
        {"tag": TAG, "text": "no fp", "file": "a.py", "line": 4, "scope": "", "fingerprint": None},
    ]
    [f] = from_todo_rows(rows, "alpha")
    assert (f.fingerprint, f.file, f.line, f.source) == ("fp1", "a.py", 3, "todo")
    assert f.title == f"{TAG}: handle it" and "> second line" in f.body and "`f`" in f.body


def test_cycle_adapter_uses_the_cycle_id_and_skips_latent_cycles() -> None:
    row = {
        "cycle_id": "c1a2",
        "latent": False,
        "size": 3,
        "modules": "a, b, c",
        "loop": "a:1 -> b:2 -> c:3 -> a",
    }
    [f] = from_import_cycle_rows([row], "alpha")
    assert f.fingerprint == "cycle:c1a2" and f.title == "Import cycle: a, b, c" and "`a:1 -> b:2" in f.body
    assert from_import_cycle_rows([{**row, "latent": True}], "alpha") == []
    assert len(from_import_cycle_rows([{**row, "latent": True}], "alpha", include_latent=True)) == 1
    a = from_import_cycle_rows([{"cycle": ["a", "b", "c", "a"]}], "alpha")
    b = from_import_cycle_rows([{"cycle": "b -> c -> a -> b"}], "alpha")
    assert a[0].fingerprint == b[0].fingerprint  # no id: the member set is the identity


def test_port_and_drift_adapters_fingerprint_the_subject_not_the_details() -> None:
    base = {"machine": "pc1", "port": 8080, "transport": "tcp"}
    p1 = from_port_conflict_rows(
        [{**base, "components": "alpha:web, alpha:api", "sites": "alpha:web.py:3, alpha:api.py:9"}], "alpha"
    )
    p2 = from_port_conflict_rows([{**base, "components": "alpha:web, alpha:api, beta:x"}], "alpha")
    assert len(p1) == 1 and p1[0].fingerprint == p2[0].fingerprint and p1[0].body != p2[0].body
    assert p1[0].file == "api.py" and "bound by 2 components" in p1[0].title
    udp = from_port_conflict_rows([{**base, "transport": "udp", "components": "a, b"}], "alpha")
    assert udp[0].fingerprint != p1[0].fingerprint
    d1 = from_dependency_drift_rows(
        [{"package": "Foo_Bar", "status": "conflicting_pins", "versions": "==1"}], "alpha"
    )
    d2 = from_dependency_drift_rows([{"package": "foo-bar", "status": "pinned_and_unpinned"}], "alpha")
    assert d1[0].fingerprint == d2[0].fingerprint and d1[0].title != d2[0].title


def test_legacy_files_group_one_finding_per_folder() -> None:
    rows = [{"path": p} for p in ("a/x.bak", "a/y.orig", "a/b/z~", "top.old", "a/x.bak")]
    fs = from_legacy_file_rows(rows, "alpha")
    assert [(f.file, f.title) for f in fs] == [
        (".", "1 backup/legacy file in ./"),
        ("a", "2 backup/legacy files in a/"),
        ("a/b", "1 backup/legacy file in a/b/"),
    ]
    more = from_legacy_file_rows([*rows, {"path": "a/new.bak"}], "alpha")
    assert {f.file: f.fingerprint for f in more} == {f.file: f.fingerprint for f in fs}
