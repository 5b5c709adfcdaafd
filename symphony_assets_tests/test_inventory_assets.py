"""file_inventory through Dagster: real git repos, real Postgres-backed instance, Parquet + Postgres."""

from __future__ import annotations

import datetime as dt
import subprocess

from symphony_assets.resources.postgres import Database
from symphony_assets.runner import run_snapshots
from symphony_assets.storage.warehouse import Warehouse
from symphony_assets_tests.gitrepo import GitRepo

TODAY = dt.datetime.now(dt.UTC).date()


def _inventory(codebase: str, day: dt.date):
    df = Warehouse().read("file_inventory", {"codebase": codebase, "date": str(day)})
    assert df is not None, "the partition was not written"
    return df


def test_backfill_of_30_days_matches_git_ls_tree_in_one_run(
    dagster_instance, git_repo: GitRepo, write_config, db: Database
) -> None:
    commits = {}
    for day_offset, name in [(2, "a.py"), (5, "b.py"), (5, "c.txt"), (12, "pkg/d.py"), (20, "e.md")]:
        day = dt.date(2024, 3, 1) + dt.timedelta(days=day_offset)
        git_repo.write(name, f"# {name}\nimport a\n")
        commits[day] = git_repo.commit(f"add {name}", when=f"{day}T10:00:00+00:00")
    git_repo.remove("b.py")
    commits[dt.date(2024, 3, 25)] = git_repo.commit("drop b", when="2024-03-25T23:59:00+00:00")
    write_config({"name": "hist", "path": str(git_repo.root)})

    first, last = dt.date(2024, 3, 1), dt.date(2024, 3, 30)
    outcomes = run_snapshots(dagster_instance, ["hist"], first, last, assets=["file_inventory"])
    assert [o.success for o in outcomes] == [True], outcomes[0].error
    runs = dagster_instance.get_runs()
    assert len([r for r in runs if r.run_id == outcomes[0].run_id]) == 1  # 30 days, one run

    last_commit = None
    for i in range(30):
        day = first + dt.timedelta(days=i)
        last_commit = commits.get(day, last_commit)
        df = _inventory("hist", day)
        expected = git_repo.ls_tree(last_commit) if last_commit else []
        assert sorted(df["path"]) == expected, day
        in_pg = db.read_frame(
            "SELECT path FROM symphony.file_inventory WHERE codebase = %s AND date = %s ORDER BY path",
            ("hist", day),
        )
        assert list(in_pg["path"]) == expected, day


def test_today_sees_working_tree_and_history_attribution(
    dagster_instance, git_repo: GitRepo, write_config
) -> None:
    git_repo.write("app.py", "import util\n")
    git_repo.write("util.py", "X = 1\n")
    git_repo.write(".gitignore", "*.log\n")
    git_repo.commit("init", when="2024-05-01T10:00:00+00:00", author="Ann <ann@example.com>")
    git_repo.write("util.py", "X = 2\n")
    git_repo.commit("tweak", when="2024-05-02T10:00:00+00:00", author="Bob <bob@example.com>")
    git_repo.write("tmp_scratch.py", "print('scratch')  # see util.py\n")
    git_repo.write("debug.log", "noise\n")
    git_repo.write(".venv/lib/site.py", "never listed\n")
    git_repo.write("app.py", "import util  # edited, not committed\n")
    write_config({"name": "live", "path": str(git_repo.root)})

    (outcome,) = run_snapshots(dagster_instance, ["live"], TODAY, TODAY, assets=["file_inventory"])
    assert outcome.success, outcome.error
    df = _inventory("live", TODAY).set_index("path")
    assert ".venv/lib/site.py" not in df.index
    assert df.loc["tmp_scratch.py", "git_status"] == "untracked"
    assert df.loc["tmp_scratch.py", "purpose"] == "temporary_or_backup"
    assert df.loc["debug.log", "git_status"] == "ignored" and bool(df.loc["debug.log", "ignored"])
    assert df.loc["app.py", "git_status"] == "modified"
    assert df.loc["util.py", "last_author"] == "Bob <bob@example.com>"
    assert df.loc["util.py", "commit_count"] == 2
    assert df.loc["util.py", "references"] == 1  # tmp_scratch.py names util.py; app.py says "util" only
    assert df.loc["util.py", "module_references"] == 2


def test_day_before_first_commit_is_an_empty_partition(
    dagster_instance, git_repo: GitRepo, write_config
) -> None:
    git_repo.write("a.py", "x = 1\n")
    git_repo.commit("first", when="2024-05-10T10:00:00+00:00")
    write_config({"name": "early", "path": str(git_repo.root)})
    (outcome,) = run_snapshots(
        dagster_instance, ["early"], dt.date(2024, 5, 9), dt.date(2024, 5, 9), assets=["file_inventory"]
    )
    assert outcome.success, outcome.error
    assert _inventory("early", dt.date(2024, 5, 9)).empty
    mats = dagster_instance.fetch_materializations(
        records_filter=__import__("dagster").AssetKey("file_inventory"), limit=1
    ).records
    assert "no commit at or before 2024-05-09" in mats[0].asset_materialization.metadata["empty_reason"].value


def test_missing_codebase_fails_alone_with_a_clear_error(
    dagster_instance, git_repo: GitRepo, write_config, tmp_path
) -> None:
    git_repo.write("ok.py", "x = 1\n")
    git_repo.commit("ok", when="2024-05-10T10:00:00+00:00")
    not_git = tmp_path / "plain"
    not_git.mkdir()
    write_config(
        {"name": "gone", "path": str(tmp_path / "does-not-exist")},
        {"name": "plain", "path": str(not_git)},
        {"name": "fine", "path": str(git_repo.root)},
    )
    outcomes = run_snapshots(
        dagster_instance, ["gone", "plain", "fine"], TODAY, TODAY, assets=["file_inventory"]
    )
    by_name = {o.codebase: o for o in outcomes}
    assert (
        not by_name["gone"].success
        and "'gone'" in by_name["gone"].error
        and "does not exist" in by_name["gone"].error
    )
    assert not by_name["plain"].success and "not a git repository" in by_name["plain"].error
    assert by_name["fine"].success
    assert list(_inventory("fine", TODAY)["path"]) == ["ok.py"]


def test_empty_repository_today(dagster_instance, git_repo: GitRepo, write_config) -> None:
    write_config({"name": "empty", "path": str(git_repo.root)})
    (outcome,) = run_snapshots(dagster_instance, ["empty"], TODAY, TODAY, assets=["file_inventory"])
    assert outcome.success, outcome.error
    assert _inventory("empty", TODAY).empty


def test_postgres_down_keeps_parquet_and_says_so(
    dagster_instance, git_repo: GitRepo, write_config, monkeypatch, tmp_path
) -> None:
    git_repo.write("a.py", "x = 1\n")
    git_repo.commit("a", when="2024-05-10T10:00:00+00:00")
    write_config({"name": "nopg", "path": str(git_repo.root)})
    monkeypatch.setenv("SYMPHONY_POSTGRES_URL", f"postgresql://postgres:@/symphony?host={tmp_path}")
    (outcome,) = run_snapshots(dagster_instance, ["nopg"], TODAY, TODAY, assets=["file_inventory"])
    assert not outcome.success
    assert "Parquet partition(s) were written" in outcome.error and "cannot reach PostgreSQL" in outcome.error
    assert list(_inventory("nopg", TODAY)["path"]) == ["a.py"]


def test_git_is_never_asked_to_write(git_repo: GitRepo) -> None:
    # Our reads must not touch the user's index: its mtime stays put after a live snapshot.
    from symphony_assets.config import Codebase
    from symphony_assets.resources.git import take_snapshot

    git_repo.write("a.py", "x = 1\n")
    git_repo.commit("a")
    git_repo.write("a.py", "x = 2\n")
    index = git_repo.root / ".git" / "index"
    before = index.stat().st_mtime_ns
    snap = take_snapshot(Codebase("w", git_repo.root), TODAY, today=TODAY)
    assert [r.status for r in snap.read()] == ["ok"]
    assert index.stat().st_mtime_ns == before
    assert subprocess.run(["git", "status", "--porcelain"], cwd=git_repo.root, capture_output=True).stdout
