"""``import_graph`` and ``import_cycles`` materialised for a real git repo into real Parquet and Postgres."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest

from symphony_assets.defs.imports.assets import import_cycles, import_graph
from symphony_assets.resources.installed import installed_top_level_names
from symphony_assets.resources.postgres import Database
from symphony_assets.resources.python_facts import IMPORTS_ANALYSER as ANALYSER
from symphony_assets_tests.gitrepo import GitRepo
from symphony_assets_tests.materialize import materialize_days

DAY1, DAY2 = "2024-06-01", "2024-06-02"


@pytest.fixture()
def shop(tmp_path: Path, symphony_env: Path, write_config: Any) -> GitRepo:
    repo = GitRepo(tmp_path / "shop")
    repo.write("app/__init__.py", "")
    repo.write("app/orders.py", '"""Orders."""\nfrom app import users\n')
    repo.write("app/users.py", "from app import orders\n")
    repo.write("app/report.py", "def build():\n    from app import billing\n")
    repo.write("app/billing.py", "from app import report\n")
    repo.write("app/legacy.py", "import app.orders\nprint 'still python 2'\n")
    repo.write("app/log.py", "import logging\nfrom common.logging import setup\n")
    repo.write("common/logging/__init__.py", "")
    repo.write("services/api/handlers.py", "import models\n")
    repo.write("services/api/models.py", "")
    repo.commit("day one", when=f"{DAY1}T10:00:00+00:00")
    # Day two: the users -> orders import moves into a function; the real cycle becomes latent.
    repo.write("app/users.py", "def current():\n    from app import orders\n    return orders\n")
    repo.commit("day two", when=f"{DAY2}T10:00:00+00:00")
    write_config(
        {"name": "shop", "path": str(repo.root), "imports": {"source_roots": ["services/api"]}},
    )
    return repo


def _materialize(instance: Any, pg_url: str, home: Path, first: str, last: str | None = None) -> Any:
    return materialize_days([import_graph, import_cycles], instance, pg_url, home, "shop", first, last)


def _table(db: Database, name: str) -> pd.DataFrame:
    return db.read_frame(f"SELECT * FROM symphony.{name} WHERE codebase = %s ORDER BY date", ("shop",))


def _meta(result: Any, asset: str) -> dict[str, Any]:
    """The newest partition's metadata (each partition of a range run carries its own; Dagster stores
    a range's events in no particular order)."""
    mats = [m for m in result.get_asset_materialization_events() if m.asset_key.path[-1] == asset]
    newest = max(mats, key=lambda m: str(m.materialization.partition or ""))
    return {k: v.value for k, v in newest.materialization.metadata.items()}


def test_two_day_backfill_then_cached_rerun(
    shop: GitRepo, dagster_instance: Any, pg_url: str, symphony_env: Path, db: Database
) -> None:
    with db.transaction() as cur:  # the blob counts below assume a cold cache for this analyser
        cur.execute("DELETE FROM symphony.analysis_cache WHERE analyser = %s", (ANALYSER,))
    result = _materialize(dagster_instance, pg_url, symphony_env, DAY1, DAY2)
    assert result.success

    graph = _table(db, "import_graph")
    day1 = graph[graph["date"] == dt.date(2024, 6, 1)]
    got = {(r.importer, r.imported, r.line, r.kind, r.via) for r in day1.itertuples()}
    assert got == {
        ("app.orders", "app.users", 2, "module", "ast"),
        ("app.users", "app.orders", 1, "module", "ast"),
        ("app.report", "app.billing", 2, "function", "ast"),
        ("app.billing", "app.report", 1, "module", "ast"),
        ("app.legacy", "app.orders", 1, "module", "fallback"),
        # Never `import logging`; and the empty package binds no `setup`, so Python looks for the
        # submodule common.logging.setup, which does not exist: a missing import, not an edge.
        ("app.log", "common.logging.setup", 2, "module", "ast"),
        ("handlers", "models", 1, "module", "ast"),  # services/api is a source root
    }
    assert set(day1.loc[day1["importer"] == "app.log", "status"]) == {"missing"}
    assert set(day1.loc[day1["importer"] != "app.log", "status"]) == {"resolved"}
    legacy = day1[day1["importer"] == "app.legacy"].iloc[0]
    assert "print" in legacy["importer_parse_error"]
    assert legacy["importer_path"] == "app/legacy.py" and legacy["imported_path"] == "app/orders.py"
    assert legacy["importer_blob_id"] == shop.git("rev-parse", f"HEAD~1:{'app/legacy.py'}").strip()
    day2 = graph[graph["date"] == dt.date(2024, 6, 2)]
    users = day2[day2["importer"] == "app.users"]
    assert list(zip(users["line"], users["kind"], strict=True)) == [(2, "function")]

    cycles = _table(db, "import_cycles")
    c1 = cycles[cycles["date"] == dt.date(2024, 6, 1)].sort_values("latent")
    assert list(c1["latent"]) == [False, True]
    real = c1.iloc[0]
    assert real["modules"] == "app.orders, app.users" and real["size"] == 2
    assert real["loop"] == "app.orders:2 -> app.users:1 -> app.orders"
    assert real["cut_size"] == 1 and real["loop_length"] == 2
    assert real["cut"] in {
        "app/orders.py:2 app.orders -> app.users",
        "app/users.py:1 app.users -> app.orders",
    }
    latent = c1.iloc[1]
    assert latent["modules"] == "app.billing, app.report"
    assert latent["cut"] == "app/report.py:2 app.report -> app.billing"
    c2 = cycles[cycles["date"] == dt.date(2024, 6, 2)]
    assert list(c2["latent"]) == [True, True]
    assert set(c2["modules"]) == {"app.orders, app.users", "app.billing, app.report"}

    # The check judges the newest day of the run: only latent cycles left, so it passes.
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["no_import_cycles"].passed is True
    assert checks["no_import_cycles"].metadata["latent_cycles"].value == 2

    meta = _meta(result, "import_graph")
    # Day one: 10 files, 8 distinct blobs (three empty files share one). Day two: only users.py is new.
    assert meta["run_blobs_analysed"] == 9
    assert meta["run_blobs_reused"] == 11
    cycle_meta = _meta(result, "import_cycles")
    assert cycle_meta["partition_count"] == 2

    # A rerun of day one reads every blob from the Postgres cache, and its check fails on the cycle.
    again = _materialize(dagster_instance, pg_url, symphony_env, DAY1)
    assert again.success
    meta = _meta(again, "import_graph")
    assert meta["blobs_analysed"] == 0 and meta["blobs_reused"] == 10
    assert (
        meta["edge_count"] == 6
        and meta["unresolved_imports"] == 1
        and meta["parse_failures"] == 1
        and meta["fallback_edges"] == 1
    )
    assert meta["source_roots"] == "services/api, ."
    assert "app.orders" in meta["most_imported_modules"]
    assert "app/legacy.py" in meta["parse_failure_list"]
    cycle_meta = _meta(again, "import_cycles")
    assert cycle_meta["cycle_count"] == 1 and cycle_meta["latent_cycle_count"] == 1
    assert cycle_meta["largest_cycle_size"] == 2
    assert "app.orders:2 -> app.users:1 -> app.orders" in cycle_meta["largest_cycles"]
    check = next(e for e in again.get_asset_check_evaluations() if e.check_name == "no_import_cycles")
    assert check.passed is False and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["import_cycles"].value == 1
    # Rows of day one were replaced, not duplicated.
    assert len(_table(db, "import_graph")) == len(graph)
    assert len(_table(db, "import_cycles")) == len(cycles)


def test_duplicate_claims_reported(
    tmp_path: Path, symphony_env: Path, write_config: Any, dagster_instance: Any, pg_url: str
) -> None:
    repo = GitRepo(tmp_path / "shop")
    repo.write("tools.py", "")
    repo.write("tools/__init__.py", "")
    repo.write("tools/run.py", "import tools\n")
    repo.commit("one", when=f"{DAY1}T10:00:00+00:00")
    write_config({"name": "shop", "path": str(repo.root)})
    result = _materialize(dagster_instance, pg_url, symphony_env, DAY1)
    assert result.success
    meta = _meta(result, "import_graph")
    assert meta["duplicate_module_claims"] == 1
    assert "tools.py, tools/__init__.py" in meta["duplicate_claims"]
    assert meta["source_roots"] == "."
    assert _meta(result, "import_cycles")["cycle_count"] == 0


def test_cycle_only_through_a_missing_module_is_no_cycle(
    tmp_path: Path, symphony_env: Path, write_config: Any, dagster_instance: Any, pg_url: str, db: Database
) -> None:
    # pkg.core imports pkg.core.hybrid, whose relative import names pkg.core.resiliency (the author
    # meant pkg.resiliency): Python raises there, so there is no pkg.core.hybrid -> pkg.core edge.
    repo = GitRepo(tmp_path / "shop")
    repo.write("pkg/__init__.py", "")
    repo.write("pkg/core/__init__.py", "from pkg.core import hybrid\n")
    repo.write("pkg/core/hybrid/__init__.py", "from ..resiliency.circuit_breaker import Breaker\n")
    repo.write("pkg/resiliency/__init__.py", "")
    repo.write("pkg/resiliency/circuit_breaker.py", "class Breaker:\n    pass\n")
    # ``from pkg import name``: an attribute of a package that binds it is an edge; a name the package
    # never binds is a submodule Python looks for in vain (and the broken file still counts).
    repo.write("pkg/api.py", "import pkg.resiliency\nfrom pkg import resiliency, nothere\n")
    repo.write("pkg/tools/__init__.py", "VERSION = 1\n")
    repo.write("pkg/tools/run.py", "print 'py2'\nfrom pkg.tools import VERSION\nfrom pkg.tools import gone\n")
    repo.commit("one", when=f"{DAY1}T10:00:00+00:00")
    write_config({"name": "shop", "path": str(repo.root)})
    result = _materialize(dagster_instance, pg_url, symphony_env, DAY1)
    assert result.success
    graph = _table(db, "import_graph")
    graph = graph[graph["importer"].str.startswith("pkg")]
    rows = {
        (r.importer, r.imported, r.line, r.status, None if pd.isna(r.nearest_package) else r.nearest_package)
        for r in graph.itertuples()
    }
    assert rows == {
        ("pkg.core", "pkg.core.hybrid", 1, "resolved", None),
        ("pkg.core.hybrid", "pkg.core.resiliency.circuit_breaker", 1, "missing", "pkg.core"),
        ("pkg.api", "pkg.resiliency", 1, "resolved", None),
        ("pkg.api", "pkg.resiliency", 2, "resolved", None),
        ("pkg.api", "pkg.nothere", 2, "missing", "pkg"),
        ("pkg.tools.run", "pkg.tools", 2, "resolved", None),
        ("pkg.tools.run", "pkg.tools.gone", 3, "missing", "pkg.tools"),
    }
    assert set(graph.loc[graph["status"] == "missing", "imported_path"]) == {""}
    meta = _meta(result, "import_graph")
    assert meta["unresolved_imports"] == 3 and meta["edge_count"] == 4
    assert "pkg.core.resiliency.circuit_breaker" in meta["unresolved_import_list"]
    cycles = _table(db, "import_cycles")
    assert not cycles["modules"].str.contains("pkg.").any()
    cycle_meta = _meta(result, "import_cycles")
    assert cycle_meta["cycle_count"] == 0 and cycle_meta["latent_cycle_count"] == 0
    check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "no_import_cycles")
    assert check.passed is True


def test_installed_names_leave_out_editable_installs() -> None:
    names = installed_top_level_names()
    assert {"dagster", "pandas", "yaml"} <= names
    # This project is installed in editable mode: its own package must never count as third-party.
    assert "symphony_assets" not in names


def test_migrations_match_declared_schemas(db: Database) -> None:
    from symphony_assets.defs.imports.schemas import IMPORT_CYCLES, IMPORT_GRAPH

    for schema in (IMPORT_GRAPH, IMPORT_CYCLES):
        cols = db.read_frame(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
            " WHERE table_schema = 'symphony' AND table_name = %s ORDER BY ordinal_position",
            (schema.name,),
        )
        assert list(cols["column_name"]) == ["codebase", "date", *schema.column_names]
        declared = {c.name: (c.sql_type, "YES" if c.nullable else "NO") for c in schema.columns}
        actual = {r.column_name: (r.data_type, r.is_nullable) for r in cols.itertuples()}
        assert {k: actual[k] for k in declared} == declared
