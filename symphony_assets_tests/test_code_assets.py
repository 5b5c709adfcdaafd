"""The code-structure assets materialised for a real git repository into real Parquet and Postgres."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest

from symphony_assets.defs.code.assets import code_structure
from symphony_assets.defs.partitions import CODEBASE, snapshot_key
from symphony_assets.resources.cache import CACHE_ENV
from symphony_assets.resources.git import GitResource
from symphony_assets.resources.postgres import Database, PostgresResource
from symphony_assets.storage.io_manager import WarehouseIOManager
from symphony_assets_tests.gitrepo import GitRepo

TD = "TO" + "DO"
ASSETS = [code_structure]

CORE = f'''"""Core module."""
import torch


def run(jobs, x):
    # {TD}: retry failed jobs
    for job in jobs:
        try:
            job()
        except Exception:
            pass
    return x.cuda()


def tidy(items):
    try:
        return sorted(items)
    except:  # items may hold anything a plugin returns; unsortable means keep the order
        return items
'''

PY2 = "def main():\n    print 'hello'\n    # a comment\n"


def _branchy(n: int) -> str:
    body = "".join(f"    if x == {i}:\n        return {i}\n" for i in range(n))
    return f"def branchy(x):\n{body}    return -1\n"


@pytest.fixture()
def demo(tmp_path: Path, symphony_env: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    repo = GitRepo(tmp_path / "demo")
    repo.write("pkg/core.py", CORE)
    repo.write("pkg/legacy.py", PY2)
    repo.write("pkg/branchy.py", _branchy(12))
    repo.write("deploy.sh", f"#!/bin/sh\necho '# {TD} not a comment'  # {TD}: pin versions\n")
    repo.write("pkg/core.py.bak", "old copy\n")
    repo.commit("day one", when="2024-06-01T10:00:00+00:00")
    # Day two: code inserted above the marker, branchy.py changed again (churn 2).
    repo.write("pkg/core.py", CORE.replace("import torch\n", "import torch\nimport os\nimport sys\n"))
    repo.write("pkg/branchy.py", _branchy(13))
    repo.commit("day two", when="2024-06-02T10:00:00+00:00")
    # Day three: renamed and moved.
    repo.remove("pkg/core.py")
    repo.write("lib/engine.py", CORE.replace("import torch\n", "import torch\nimport os\nimport sys\n"))
    repo.commit("day three", when="2024-06-03T10:00:00+00:00")
    config = tmp_path / "symphony.yaml"
    config.write_text(f"codebases:\n  - name: demo\n    path: {repo.root}\n", encoding="utf-8")
    monkeypatch.setenv("SYMPHONY_CONFIG", str(config))
    return repo


def _resources(pg_url: str, home: Path) -> dict[str, Any]:
    postgres = PostgresResource(url=pg_url)
    return {
        "git": GitResource(),
        "postgres": postgres,
        "warehouse_io_manager": WarehouseIOManager(postgres=postgres, warehouse_root=str(home / "warehouse")),
    }


def _materialize(instance: Any, pg_url: str, home: Path, first: str, last: str | None = None) -> Any:
    instance.add_dynamic_partitions(CODEBASE, ["demo"])
    tags = {}
    key: str | None = str(snapshot_key("demo", first))
    if last is not None:
        tags = {
            "dagster/asset_partition_range_start": str(snapshot_key("demo", first)),
            "dagster/asset_partition_range_end": str(snapshot_key("demo", last)),
        }
        key = None
    return dg.materialize(
        ASSETS, partition_key=key, tags=tags, resources=_resources(pg_url, home), instance=instance
    )


def _table(db: Database, name: str) -> pd.DataFrame:
    return db.read_frame(f"SELECT * FROM symphony.{name} WHERE codebase = %s ORDER BY date", ("demo",))


def _meta(result: Any, asset: str) -> dict[str, Any]:
    mats = [m for m in result.get_asset_materialization_events() if m.asset_key.path[-1] == asset]
    return {k: v.value for k, v in mats[-1].materialization.metadata.items()}


def test_three_day_backfill_then_a_cached_rerun(
    demo: GitRepo, dagster_instance: Any, pg_url: str, symphony_env: Path, db: Database
) -> None:
    with db.transaction() as cur:  # the counts below assume no blob of this repo was analysed before
        cur.execute(
            "DELETE FROM symphony.analysis_cache WHERE analyser IN ('code_complexity', 'code_findings')"
            " OR analyser LIKE 'todo_list:%%'"
        )
    result = _materialize(dagster_instance, pg_url, symphony_env, "2024-06-01", "2024-06-03")
    assert result.success

    todos = _table(db, "todo_list")
    core = todos[todos["text"] == "retry failed jobs"].sort_values("date")
    assert list(core["path"]) == ["pkg/core.py", "pkg/core.py", "lib/engine.py"]
    assert list(core["line"]) == [6, 8, 8]
    assert core["fingerprint"].nunique() == 1
    assert list(core["scope"].unique()) == ["run"]
    shell = todos[todos["path"] == "deploy.sh"]
    assert list(shell["text"].unique()) == ["pin versions"]
    assert len(shell) == 3  # one per day, and never the quoted one

    findings = _table(db, "code_findings")
    day3 = findings[findings["date"] == dt.date(2024, 6, 3)]
    excepts = day3[day3["kind"] == "broad_except"].sort_values("line")
    assert list(excepts["subkind"]) == ["Exception", "bare"]
    assert list(excepts["has_reason"]) == [False, True]
    assert set(excepts["path"]) == {"lib/engine.py"}
    gpu = day3[day3["kind"] == "gpu_site"]
    assert list(gpu["subkind"]) == ["cuda_call"]
    assert gpu["detail"].iloc[0] == "return x.cuda()"
    backups = day3[day3["kind"] == "backup_file"]
    assert list(zip(backups["path"], backups["subkind"], strict=True)) == [("pkg/core.py.bak", "bak")]
    failures = day3[day3["kind"] == "parse_failure"]
    assert list(zip(failures["path"], failures["subkind"], strict=True)) == [("pkg/legacy.py", "python2")]

    complexity = _table(db, "code_complexity")
    branchy = complexity[complexity["path"] == "pkg/branchy.py"].sort_values("date")
    assert list(branchy["max_complexity"]) == [13, 14, 14]
    assert list(branchy["churn_90d"]) == [1, 2, 2]
    assert list(branchy["hotspot_score"]) == [13, 28, 28]
    assert list(branchy["worst_rank"]) == ["C", "C", "C"]
    legacy = complexity[(complexity["path"] == "pkg/legacy.py")]
    assert set(legacy["status"]) == {"parse_error"}

    # The check judges the newest day: one handler without a reason.
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["no_unexplained_broad_except"].passed is False
    assert checks["no_unexplained_broad_except"].metadata["unexplained_broad_excepts"].value == 1
    assert checks["no_work_markers"].passed is False
    assert checks["no_work_markers"].severity == dg.AssetCheckSeverity.WARN

    # Within the run, unchanged blobs were analysed once and reused on later days.
    meta = _meta(result, "code_findings")
    # One read and parse per blob feeds all three assets. Analysed: core.py x2 versions, legacy.py,
    # branchy.py x2, deploy.sh. Reused: day 2 legacy.py and deploy.sh; day 3 all four files (lib/engine.py
    # is the same blob as day 2's pkg/core.py).
    assert meta["run_blobs_analysed"] == 6
    assert meta["run_blobs_reused"] == 6
    assert meta["broad_except_without_reason"] == 1
    assert meta["gpu_sites"] == 1 and meta["backup_files"] == 1 and meta["parse_failures"] == 1
    assert _meta(result, "code_complexity")["max_complexity"] == 14
    assert _meta(result, "todo_list")["todo_count"] == 2

    # A rerun of the newest day reads every result from the Postgres cache.
    again = _materialize(dagster_instance, pg_url, symphony_env, "2024-06-03")
    assert again.success
    for asset in ("todo_list", "code_complexity", "code_findings"):
        m = _meta(again, asset)
        assert m["blobs_analysed"] == 0, asset
        assert m["blobs_reused"] > 0, asset
    # And its rows replaced, not duplicated, the partition.
    assert len(_table(db, "code_findings")) == len(findings)


def test_cache_off_analyses_every_blob(
    demo: GitRepo,
    dagster_instance: Any,
    pg_url: str,
    symphony_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(CACHE_ENV, "off")
    result = _materialize(dagster_instance, pg_url, symphony_env, "2024-06-01", "2024-06-03")
    assert result.success
    meta = _meta(result, "code_findings")
    assert meta["run_blobs_analysed"] == 12  # three Python files and deploy.sh on each of three days
    assert meta["run_blobs_reused"] == 0


def test_one_asset_alone(
    demo: GitRepo, dagster_instance: Any, pg_url: str, symphony_env: Path, db: Database
) -> None:
    dagster_instance.add_dynamic_partitions(CODEBASE, ["demo"])
    result = dg.materialize(
        ASSETS,
        selection=["code_findings"],
        partition_key=str(snapshot_key("demo", "2024-06-02")),
        resources=_resources(pg_url, symphony_env),
        instance=dagster_instance,
    )
    assert result.success
    assert {e.asset_key.path[-1] for e in result.get_asset_materialization_events()} == {"code_findings"}
    assert [e.check_name for e in result.get_asset_check_evaluations()] == ["no_unexplained_broad_except"]
    rows = db.read_frame(
        "SELECT kind, path FROM symphony.code_findings WHERE codebase = %s AND date = %s",
        ("demo", "2024-06-02"),
    )
    assert ("gpu_site", "pkg/core.py") in set(zip(rows["kind"], rows["path"], strict=True))


def test_live_partition_sees_uncommitted_edits(
    demo: GitRepo, dagster_instance: Any, pg_url: str, symphony_env: Path, db: Database
) -> None:
    demo.write("lib/engine.py", CORE.replace("except Exception:", "except BaseException:"))
    demo.write("scratch_backup.py", f"# {TD}: delete me\ntry:\n    pass\nexcept:\n    pass\n")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    result = _materialize(dagster_instance, pg_url, symphony_env, today)
    assert result.success
    findings = db.read_frame(
        "SELECT * FROM symphony.code_findings WHERE codebase = %s AND date = %s", ("demo", today)
    )
    kinds = set(zip(findings["kind"], findings["subkind"], findings["path"], strict=True))
    assert ("broad_except", "BaseException", "lib/engine.py") in kinds
    assert ("broad_except", "bare", "scratch_backup.py") in kinds
    assert ("backup_file", "backup_name", "scratch_backup.py") in kinds
    edited = findings[findings["path"] == "lib/engine.py"]
    assert edited["blob_id"].isna().all()  # an uncommitted edit has no committed blob
    todos = db.read_frame(
        "SELECT * FROM symphony.todo_list WHERE codebase = %s AND date = %s", ("demo", today)
    )
    assert "delete me" in set(todos["text"])
