"""tracker_issues through Dagster: real git repo, todo_list materialised first, real Postgres store."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from symphony_assets.analysis.reconcile import label_for, parse_fingerprint
from symphony_assets.defs.partitions import snapshot_key
from symphony_assets.resources.postgres import Database
from symphony_assets.runner import load_definitions, run_snapshots
from symphony_assets_tests.fake_github import FakeGitHub
from symphony_assets_tests.gitrepo import GitRepo

TODAY = dt.datetime.now(dt.UTC).date()
TAG = "TO" + "DO"

SOURCE = f"""\
def load(path):
    # {TAG}: validate the path before opening it
    return open(path).read()


def save(path, data):
    # {TAG}: write atomically
    with open(path, "w") as fh:
        fh.write(data)


def other():
    # {TAG}: write atomically
    return None
"""


_DEFS: dict[str, dg.Definitions] = {}


def _defs() -> dg.Definitions:
    """Definitions loaded once per test (they read the test's environment when loaded)."""
    if "defs" not in _DEFS:
        _DEFS["defs"] = load_definitions()
    return _DEFS["defs"]


@pytest.fixture(autouse=True)
def _fresh_definitions() -> None:
    _DEFS.clear()


def _materialise_todos(instance: dg.DagsterInstance, name: str, day: dt.date = TODAY) -> None:
    (outcome,) = run_snapshots(instance, [name], day, day, assets=["todo_list"], definitions=_defs())
    assert outcome.success, outcome.error


def _reconcile(
    instance: dg.DagsterInstance, name: str, day: dt.date = TODAY, **config: Any
) -> dict[str, Any]:
    job = _defs().resolve_job_def("tracker_job")
    result = job.execute_in_process(
        instance=instance,
        partition_key=snapshot_key(name, day),
        run_config={"ops": {"tracker_issues": {"config": config}}},
        raise_on_error=False,
    )
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    (mat,) = [
        e.step_materialization_data.materialization
        for e in result.get_asset_materialization_events()
        if e.step_materialization_data.materialization.asset_key == dg.AssetKey("tracker_issues")
    ]
    return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}


def _store(db: Database, name: str) -> list[tuple[Any, ...]]:
    with db.transaction() as cur:
        cur.execute(
            "SELECT number, fingerprint, title, body, state FROM symphony.tracker_issues_store"
            " WHERE label = %s ORDER BY number",
            (label_for(name),),
        )
        return list(cur.fetchall())


def _rows(db: Database, name: str, day: dt.date = TODAY) -> list[tuple[Any, ...]]:
    with db.transaction() as cur:
        cur.execute(
            "SELECT action, fingerprint, file, line, dry_run, applied, issue_number"
            " FROM symphony.tracker_issues"
            " WHERE codebase = %s AND date = %s ORDER BY file, line",
            (name, day),
        )
        return list(cur.fetchall())


@pytest.fixture()
def repo_with_todos(git_repo: GitRepo, write_config: Callable[..., Path]) -> tuple[GitRepo, str]:
    name = f"trk-{uuid.uuid4().hex[:8]}"
    git_repo.write("app/io.py", SOURCE)
    git_repo.commit("init", when="2024-05-01T10:00:00+00:00")
    write_config({"name": name, "path": str(git_repo.root)})
    return git_repo, name


def test_dry_run_lists_would_create_and_changes_nothing(
    dagster_instance: dg.DagsterInstance, repo_with_todos: tuple[GitRepo, str], db: Database
) -> None:
    _, name = repo_with_todos
    _materialise_todos(dagster_instance, name)
    meta = _reconcile(dagster_instance, name)
    assert meta["dry_run"] is True and meta["tracker"] == "builtin"
    assert meta["would_create_count"] == 3
    md = meta["would_create"]
    assert f"{TAG}: validate the path before opening it" in md and "`app/io.py:2`" in md
    assert md.count(f"{TAG}: write atomically") == 2  # same text, two functions: two issues
    assert _store(db, name) == []
    rows = _rows(db, name)
    assert [r[0] for r in rows] == ["create"] * 3 and all(r[4] and not r[5] for r in rows)


def test_enabled_run_fills_the_store_and_rerun_creates_nothing(
    dagster_instance: dg.DagsterInstance, repo_with_todos: tuple[GitRepo, str], db: Database
) -> None:
    repo, name = repo_with_todos
    _materialise_todos(dagster_instance, name)
    meta = _reconcile(dagster_instance, name, dry_run=False)
    assert meta["create_count"] == 3 and meta["errors"] == 0
    store = _store(db, name)
    assert len(store) == 3 and all(s[4] == "open" for s in store)
    assert all(parse_fingerprint(s[3]) == s[1] for s in store)
    rows = _rows(db, name)
    assert all(r[5] and not r[4] for r in rows) and sorted(r[6] for r in rows) == sorted(s[0] for s in store)

    again = _reconcile(dagster_instance, name, dry_run=False)
    assert again["create_count"] == 0 and again["unchanged_count"] == 3
    assert _store(db, name) == store

    # Move the file and shift every marker down: same issues, updated in place.
    repo.git("mv", "app/io.py", "app/storage.py")
    repo.write("app/storage.py", "import os\n\n\n" + SOURCE)
    repo.commit("move", when="2024-05-02T10:00:00+00:00")
    _materialise_todos(dagster_instance, name)
    moved = _reconcile(dagster_instance, name, dry_run=False)
    assert moved["create_count"] == 0 and moved["update_count"] == 3
    after = _store(db, name)
    assert [s[0] for s in after] == [s[0] for s in store]
    assert all("app/storage.py" in s[3] for s in after)


def test_past_partition_records_but_never_acts(
    dagster_instance: dg.DagsterInstance, repo_with_todos: tuple[GitRepo, str], db: Database
) -> None:
    _, name = repo_with_todos
    day = dt.date(2024, 6, 1)
    _materialise_todos(dagster_instance, name, day)
    meta = _reconcile(dagster_instance, name, day, dry_run=False)
    assert meta["dry_run"] is True and meta["would_create_count"] == 3
    assert _store(db, name) == [] and len(_rows(db, name, day)) == 3


def test_caps_apply_through_run_config(
    dagster_instance: dg.DagsterInstance, repo_with_todos: tuple[GitRepo, str], db: Database
) -> None:
    _, name = repo_with_todos
    _materialise_todos(dagster_instance, name)
    meta = _reconcile(dagster_instance, name, dry_run=False, max_create=1)
    assert meta["create_count"] == 1 and meta["skipped_by_cap_count"] == 2
    assert len(_store(db, name)) == 1
    assert sorted(r[0] for r in _rows(db, name)) == ["create", "skipped_create", "skipped_create"]


def test_missing_todo_partition_fails_clearly(
    dagster_instance: dg.DagsterInstance, repo_with_todos: tuple[GitRepo, str]
) -> None:
    _, name = repo_with_todos
    from symphony_assets.orchestration import sync_codebases

    sync_codebases(dagster_instance)
    result = (
        _defs()
        .resolve_job_def("tracker_job")
        .execute_in_process(
            instance=dagster_instance, partition_key=snapshot_key(name, TODAY), raise_on_error=False
        )
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "materialise todo_list first" in str(failure.step_failure_data.error)


def test_sensor_requests_one_dry_run_per_new_today_partition(
    dagster_instance: dg.DagsterInstance, repo_with_todos: tuple[GitRepo, str]
) -> None:
    from symphony_assets.defs.tracker.sensors import tracker_dry_run_sensor

    _, name = repo_with_todos
    # The Dagster database is shared by the session: start after what earlier tests materialised.
    before = dagster_instance.fetch_materializations(dg.AssetKey("todo_list"), limit=1).records
    start = str(before[0].storage_id) if before else None
    _materialise_todos(dagster_instance, name, dt.date(2024, 6, 1))  # a backfill day: no reconcile
    _materialise_todos(dagster_instance, name)
    definitions = _defs()

    def tick(cursor: str | None) -> Any:
        # The daemon evaluates sensors with the instance as the store of dynamic partitions; so do we.
        ctx = dg.build_sensor_context(instance=dagster_instance, cursor=cursor, definitions=definitions)
        with dg.partition_loading_context(dynamic_partitions_store=dagster_instance):
            return tracker_dry_run_sensor.evaluate_tick(ctx)

    data = tick(start)
    requests = data.run_requests or []
    assert [r.partition_key for r in requests] == [str(snapshot_key(name, TODAY))]
    assert requests[0].run_config["ops"]["tracker_issues"]["config"]["dry_run"] is True
    again = tick(data.cursor)
    assert not again.run_requests and again.cursor == data.cursor
    _materialise_todos(dagster_instance, name)  # materialised again today: reconcile again
    assert len(tick(data.cursor).run_requests or []) == 1


def test_github_tracker_chosen_by_env(
    dagster_instance: dg.DagsterInstance,
    repo_with_todos: tuple[GitRepo, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, name = repo_with_todos
    _materialise_todos(dagster_instance, name)
    _DEFS.clear()  # the tracker is chosen from the environment when definitions load
    with FakeGitHub(token="ghp_asset_test", repos=("acme/app",)) as gh:
        monkeypatch.setenv("SYMPHONY_TRACKER", "github")
        monkeypatch.setenv("SYMPHONY_GITHUB_REPO", "acme/app")
        monkeypatch.setenv("SYMPHONY_GITHUB_API_URL", gh.api_url)
        monkeypatch.setenv("SYMPHONY_GITHUB_TOKEN_ENV", "ACME_TOKEN")
        monkeypatch.setenv("ACME_TOKEN", "ghp_asset_test")
        meta = _reconcile(dagster_instance, name, dry_run=False)
        assert meta["tracker"] == "github:acme/app" and meta["create_count"] == 3
        assert _reconcile(dagster_instance, name, dry_run=False)["create_count"] == 0
        issues = gh.all_issues("acme/app")
        assert len(issues) == 3 and all(
            i["labels"] == [{**i["labels"][0], "name": label_for(name)}] for i in issues
        )


def test_backup_files_grouped_one_issue_per_folder(
    dagster_instance: dg.DagsterInstance, git_repo: GitRepo, write_config: Callable[..., Path], db: Database
) -> None:
    name = f"trk-{uuid.uuid4().hex[:8]}"
    git_repo.write("app/io.py", SOURCE)
    for path in ("app/io.py.bak", "app/io.py.orig", "tools/run.sh.bak"):
        git_repo.write(path, "old copy\n")
    git_repo.commit("init", when="2024-05-01T10:00:00+00:00")
    write_config({"name": name, "path": str(git_repo.root), "tracker": {"sources": ["todo", "legacy_files"]}})
    (outcome,) = run_snapshots(
        dagster_instance, [name], TODAY, TODAY, assets=["todo_list", "code_findings"], definitions=_defs()
    )
    assert outcome.success, outcome.error
    meta = _reconcile(dagster_instance, name, dry_run=False)
    assert meta["create_count"] == 5  # three markers + two folders
    titles = sorted(s[2] for s in _store(db, name) if s[1].startswith("legacy:"))
    assert titles == ["1 backup/legacy file in tools/", "2 backup/legacy files in app/"]
    assert "legacy_files" in meta["sources"]


def test_migration_matches_the_declared_schema(db: Database) -> None:
    from symphony_assets.defs.tracker.schemas import TRACKER_ISSUES

    expected = [("codebase", "text"), ("date", "date")] + [
        (c.name, c.sql_type) for c in TRACKER_ISSUES.columns
    ]
    assert db.table_columns("tracker_issues") == expected
