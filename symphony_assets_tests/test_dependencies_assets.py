"""``dependency_declarations`` and ``dependency_drift`` materialised for two real git repos."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest

from symphony_assets.defs.dependencies.assets import ANALYSER, dependency_declarations, dependency_drift
from symphony_assets.defs.dependencies.schemas import DEPENDENCY_DECLARATIONS, DEPENDENCY_DRIFT
from symphony_assets.defs.partitions import snapshot_key
from symphony_assets.orchestration import sync_codebases
from symphony_assets.resources.postgres import Database
from symphony_assets_tests.gitrepo import GitRepo
from symphony_assets_tests.materialize import materialize_fleet_day, real_resources

DAY = "2024-06-01"


@pytest.fixture()
def pair(tmp_path: Path, symphony_env: Path, write_config: Any) -> dict[str, GitRepo]:
    alpha = GitRepo(tmp_path / "alpha")
    alpha.write(
        "requirements.txt",
        "-r deps/base.pip\n-r deps/missing.txt\nFoo_Bar==1.0\nrequests>=2.31\n"
        "-e ./libs/helper\nnot valid ===\n",
    )
    alpha.write("deps/base.pip", "numpy==1.26.4 \\\n    --hash=sha256:abc\nattrs\n")
    alpha.write("requirements-dev.txt", "attrs==23.1\n")
    alpha.write("pyproject.toml", '[tool.poetry.dependencies]\npython = "^3.11"\nclick = "^8.1"\n')
    alpha.commit("one", when=f"{DAY}T10:00:00+00:00")

    beta = GitRepo(tmp_path / "beta")
    beta.write("requirements.txt", "foo-bar==1.1\nnumpy==1.26.4\nrequests==2.30\nclick==7.0\n")
    beta.commit("one", when=f"{DAY}T09:00:00+00:00")
    write_config(
        {"name": "alpha", "path": str(alpha.root), "machine": "box"},
        {"name": "beta", "path": str(beta.root), "machine": "other"},
    )
    return {"alpha": alpha, "beta": beta}


def _run(instance: Any, pg_url: str, home: Path, codebase: str) -> Any:
    """``dependency_declarations`` of one codebase's day."""
    sync_codebases(instance)  # the codebase partitions are exactly this test's (the instance is shared)
    return dg.materialize(
        [dependency_declarations],
        partition_key=str(snapshot_key(codebase, DAY)),
        resources=real_resources(pg_url, home),
        instance=instance,
    )


def _run_fleet(instance: Any, pg_url: str, home: Path) -> Any:
    """``dependency_drift`` of the day, over every codebase's declarations of the day."""
    return materialize_fleet_day(dependency_declarations, dependency_drift, instance, pg_url, home, DAY)


def _table(db: Database, name: str, codebase: str | None = None) -> pd.DataFrame:
    """This test's partition only: other tests of the session may use the same codebase name."""
    if codebase is None:  # a fleet-wide table
        return db.read_frame(f"SELECT * FROM symphony.{name} WHERE date = %s", (DAY,))
    return db.read_frame(f"SELECT * FROM symphony.{name} WHERE codebase = %s AND date = %s", (codebase, DAY))


def _meta(result: Any, asset: str) -> dict[str, Any]:
    """The newest partition's metadata (each partition of a range run carries its own; Dagster stores
    a range's events in no particular order)."""
    mats = [m for m in result.get_asset_materialization_events() if m.asset_key.path[-1] == asset]
    newest = max(mats, key=lambda m: str(m.materialization.partition or ""))
    return {k: v.value for k, v in newest.materialization.metadata.items()}


def test_declarations_and_drift_across_codebases(
    pair: dict[str, GitRepo], dagster_instance: Any, pg_url: str, symphony_env: Path, db: Database
) -> None:
    with db.transaction() as cur:
        cur.execute("DELETE FROM symphony.analysis_cache WHERE analyser = %s", (ANALYSER,))
    # alpha first, before beta exists for the date: beta is named as missing.
    early = _run(dagster_instance, pg_url, symphony_env, "alpha")
    assert early.success
    early_drift = _run_fleet(dagster_instance, pg_url, symphony_env)
    assert early_drift.success
    assert _meta(early_drift, "dependency_drift")["codebases_without_declarations"] == "beta"

    decls = _table(db, "dependency_declarations", "alpha")
    got = {(r.path, r.line, r.package, r.specifier, r.kind, r.section) for r in decls.itertuples()}
    assert got == {
        ("deps/base.pip", 1, "numpy", "==1.26.4", "version", "requirements"),
        ("deps/base.pip", 3, "attrs", "", "version", "requirements"),
        ("requirements.txt", 2, "", "", "error", "requirements"),
        ("requirements.txt", 3, "foo-bar", "==1.0", "version", "requirements"),
        ("requirements.txt", 4, "requests", ">=2.31", "version", "requirements"),
        ("requirements.txt", 5, "helper", "", "editable", "requirements"),
        ("requirements.txt", 6, "", "", "error", "requirements"),
        ("requirements-dev.txt", 1, "attrs", "==23.1", "version", "requirements"),
        ("pyproject.toml", 3, "click", "<9,>=8.1", "version", "poetry:main"),
    }
    missing = decls[(decls["kind"] == "error") & (decls["line"] == 2)].iloc[0]
    assert missing["error"] == "included file deps/missing.txt not found"
    meta = _meta(early, "dependency_declarations")
    assert meta["files_parsed"] == 4 and meta["error_rows"] == 2 and meta["run_blobs_analysed"] == 4

    # With beta in, the day's fleet-wide partition holds alpha's own drift and the drift between them.
    assert _run(dagster_instance, pg_url, symphony_env, "beta").success
    result = _run_fleet(dagster_instance, pg_url, symphony_env)
    assert result.success
    drift = _table(db, "dependency_drift")
    got_drift = {(r.package, r.status, r.codebases, r.versions, r.cross_codebase) for r in drift.itertuples()}
    assert got_drift == {
        ("foo-bar", "conflicting_pins", "alpha, beta", "==1.0, ==1.1", True),
        ("requests", "unsatisfiable", "alpha, beta", "==2.30, >=2.31", True),
        ("click", "unsatisfiable", "alpha, beta", "<9,>=8.1, ==7.0", True),
        ("attrs", "pinned_and_unpinned", "alpha", "(any), ==23.1", False),
    }
    foo = drift[drift["package"] == "foo-bar"].iloc[0]
    assert foo["files"] == "alpha:requirements.txt:3, beta:requirements.txt:1"
    meta = _meta(result, "dependency_drift")
    assert meta["drift_count"] == 4 and meta["cross_codebase_drift"] == 3 and meta["conflicting_pins"] == 1
    assert meta["codebases_without_declarations"] == "(none)"
    assert "foo-bar" in meta["drift"]
    # A rerun of the day replaces its partition (delete, then insert): the same four rows, not eight.
    assert _run_fleet(dagster_instance, pg_url, symphony_env).success
    assert len(_table(db, "dependency_drift")) == 4

    # A rerun reads every file from the blob cache.
    again = _run(dagster_instance, pg_url, symphony_env, "alpha")
    meta = _meta(again, "dependency_declarations")
    assert meta["run_blobs_analysed"] == 0 and meta["run_blobs_reused"] == 4
    assert len(_table(db, "dependency_declarations", "alpha")) == len(decls)


def test_migrations_match_declared_schemas(db: Database) -> None:
    for schema in (DEPENDENCY_DECLARATIONS, DEPENDENCY_DRIFT):
        columns = db.table_columns(schema.name)
        # drift is fleet-wide: partitioned by day alone
        partition_columns = ["date"] if schema is DEPENDENCY_DRIFT else ["codebase", "date"]
        assert [name for name, _ in columns] == [*partition_columns, *schema.column_names]
        types = dict(columns)
        for column in schema.columns:
            assert types[column.name] == column.sql_type, column.name
