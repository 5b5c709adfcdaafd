"""``port_map`` and ``port_conflicts`` materialised for real git repos (two machines, three codebases)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest

from symphony_assets.defs.partitions import snapshot_key
from symphony_assets.defs.ports.assets import port_conflicts, port_map
from symphony_assets.defs.ports.schemas import PORT_CONFLICTS, PORT_MAP
from symphony_assets.orchestration import sync_codebases
from symphony_assets.resources.postgres import Database
from symphony_assets_tests.gitrepo import GitRepo
from symphony_assets_tests.materialize import materialize_fleet_day, real_resources

DAY1, DAY2 = "2024-06-01", "2024-06-02"


@pytest.fixture()
def fleet(tmp_path: Path, symphony_env: Path, write_config: Any) -> dict[str, GitRepo]:
    """alpha and beta share machine "box"; gamma runs on "edge" with the same ports."""
    alpha = GitRepo(tmp_path / "alpha")
    alpha.write(
        "agents/publisher.py",
        "import zmq\nBASE = 5550\nPUB = BASE + 5\n"
        "def run(ctx):\n    s = ctx.socket(zmq.PUB)\n    s.bind(f'tcp://*:{PUB}')\n",
    )
    alpha.write("agents/legacy.py", "print 'py2'\nsock.bind(('', 7001))\n")
    alpha.write(
        "agents/worker.py",
        "import zmq\ndef go(ctx, port):\n    ctx.socket(zmq.SUB).connect(f'tcp://box:{port}')\n",
    )
    alpha.commit("day one", when=f"{DAY1}T10:00:00+00:00")
    # Day two: two files of alpha start binding 6000 -- a new conflict inside alpha.
    alpha.write("agents/a.py", "import socket\nsocket.socket().bind(('0.0.0.0', 6000))\n")
    alpha.write("agents/b.py", "app.run(host='0.0.0.0', port=6000)\n")
    alpha.commit("day two", when=f"{DAY2}T10:00:00+00:00")

    beta = GitRepo(tmp_path / "beta")
    beta.write(
        "docker-compose.yml", "services:\n  relay:\n    ports:\n      - '5555:5555'\n      - '7001:7001'\n"
    )
    beta.write(".env", "BASE=9000\nMETRICS_PORT=${BASE}+1\n")
    beta.commit("day one", when=f"{DAY1}T09:00:00+00:00")

    gamma = GitRepo(tmp_path / "gamma")
    gamma.write("server.py", "HTTPServer(('', 5555), H).serve_forever()\n")
    gamma.commit("day one", when=f"{DAY1}T09:00:00+00:00")

    write_config(
        {"name": "alpha", "path": str(alpha.root), "machine": "box"},
        {"name": "beta", "path": str(beta.root), "machine": "box"},
        {"name": "gamma", "path": str(gamma.root), "machine": "edge"},
    )
    return {"alpha": alpha, "beta": beta, "gamma": gamma}


def _run(instance: Any, pg_url: str, home: Path, codebase: str, day: str, assets: list[Any]) -> Any:
    """``port_map`` of one codebase's day."""
    sync_codebases(instance)  # the codebase partitions are exactly this test's (the instance is shared)
    return dg.materialize(
        [port_map],
        partition_key=str(snapshot_key(codebase, day)),
        resources=real_resources(pg_url, home),
        instance=instance,
        selection=[a.key for a in assets],
    )


def _run_fleet(instance: Any, pg_url: str, home: Path, day: str) -> Any:
    """``port_conflicts`` of one day, over every codebase's ``port_map`` of the day."""
    return materialize_fleet_day(port_map, port_conflicts, instance, pg_url, home, day)


def _table(db: Database, name: str, codebase: str | None = None) -> pd.DataFrame:
    if name == "port_map":
        return db.read_frame(
            "SELECT * FROM symphony.port_map WHERE codebase = %s ORDER BY date, path, line", (codebase,)
        )
    # This test's days only: a fleet-wide table holds every test's days of the session.
    return db.read_frame(
        f"SELECT * FROM symphony.{name} WHERE date BETWEEN %s AND %s ORDER BY date, port",
        (DAY1, "2024-06-03"),
    )


def _meta(result: Any, asset: str) -> dict[str, Any]:
    """The newest partition's metadata (each partition of a range run carries its own; Dagster stores
    a range's events in no particular order)."""
    mats = [m for m in result.get_asset_materialization_events() if m.asset_key.path[-1] == asset]
    newest = max(mats, key=lambda m: str(m.materialization.partition or ""))
    return {k: v.value for k, v in newest.materialization.metadata.items()}


def _check(result: Any) -> Any:
    (evaluation,) = [
        e for e in result.get_asset_check_evaluations() if e.check_name == "no_new_port_conflicts"
    ]
    return evaluation


def test_port_map_and_conflicts_across_codebases_and_days(
    fleet: dict[str, GitRepo], dagster_instance: Any, pg_url: str, symphony_env: Path, db: Database
) -> None:
    home = symphony_env
    for name in ("alpha", "beta", "gamma"):
        assert _run(dagster_instance, pg_url, home, name, DAY1, [port_map]).success
    first = _run_fleet(dagster_instance, pg_url, home, DAY1)
    assert first.success

    sites = _table(db, "port_map", "alpha")
    day1 = sites[sites["date"] == dt.date(2024, 6, 1)]
    got = {
        (r.path, r.line, r.role, None if pd.isna(r.port) else int(r.port), r.resolved, r.via, r.machine)
        for r in day1.itertuples()
    }
    assert got == {
        ("agents/legacy.py", 2, "bind", 7001, True, "fallback", "box"),
        ("agents/publisher.py", 6, "bind", 5555, True, "ast", "box"),
        ("agents/worker.py", 3, "connect", None, False, "ast", "box"),
    }
    publisher = day1[day1["path"] == "agents/publisher.py"].iloc[0]
    assert publisher["socket_type"] == "PUB" and publisher["context"] == "run"
    assert publisher["blob_id"] == fleet["alpha"].git("rev-parse", "HEAD~1:agents/publisher.py").strip()
    beta_sites = _table(db, "port_map", "beta")
    assert sorted(zip(beta_sites["role"], beta_sites["port"])) == [
        ("config", 9001),
        ("listen", 5555),
        ("listen", 7001),
    ]

    # One fleet-wide partition for the day: gamma binds 5555 too, but on another machine.
    conflicts = _table(db, "port_conflicts")
    conflicts = conflicts[conflicts["date"] == dt.date(2024, 6, 1)].reset_index(drop=True)
    assert list(conflicts["port"]) == [5555, 7001]
    c5555 = conflicts.iloc[0]
    assert c5555["machine"] == "box"
    assert c5555["components"] == "alpha:agents/publisher.py, beta:docker-compose.yml"
    assert c5555["codebases"] == "alpha, beta"
    assert bool(c5555["cross_codebase"]) and c5555["first_seen"] == dt.date(2024, 6, 1)
    assert not bool(c5555["is_new"])  # the first day is the baseline: nothing is new on it
    assert c5555["sites"] == "alpha:agents/publisher.py:6, beta:docker-compose.yml:4"
    meta = _meta(first, "port_conflicts")
    assert meta["codebases_compared"] == "alpha, beta, gamma"
    assert meta["codebases_without_port_map"] == "(none)"
    assert meta["conflict_count"] == 2 and meta["new_conflicts"] == 0
    assert "5555" in meta["conflicts"]
    check = _check(first)
    assert check.passed is True and check.partition == DAY1
    assert check.metadata["compared_with"].value.startswith("(no earlier partition")
    map_meta = _meta(_run(dagster_instance, pg_url, home, "alpha", DAY1, [port_map]), "port_map")
    assert (
        map_meta["site_count"] == 3 and map_meta["fallback_sites"] == 1 and map_meta["unresolved_sites"] == 1
    )
    assert "agents/worker.py" in map_meta["unresolved_site_list"]

    # Day two: only alpha has a port_map -- beta and gamma are named, not silently ignored.
    assert _run(dagster_instance, pg_url, home, "alpha", DAY2, [port_map]).success
    second = _run_fleet(dagster_instance, pg_url, home, DAY2)
    assert second.success
    meta = _meta(second, "port_conflicts")
    assert meta["codebases_without_port_map"] == "beta, gamma"
    conflicts = _table(db, "port_conflicts")
    day2 = conflicts[conflicts["date"] == dt.date(2024, 6, 2)]
    assert [(r.port, r.components, r.is_new) for r in day2.itertuples()] == [
        (6000, "alpha:agents/a.py, alpha:agents/b.py", True)
    ]
    assert _check(second).passed is False

    # Once beta is in for day two, the old conflicts come back as known (first seen on day one), and
    # only 6000 is new; a rerun of the day replaces its partition.
    assert _run(dagster_instance, pg_url, home, "beta", DAY2, [port_map]).success
    third = _run_fleet(dagster_instance, pg_url, home, DAY2)
    day2 = _table(db, "port_conflicts")
    day2 = day2[day2["date"] == dt.date(2024, 6, 2)]
    assert [(r.port, r.is_new, r.first_seen) for r in day2.itertuples()] == [
        (5555, False, dt.date(2024, 6, 1)),
        (6000, True, dt.date(2024, 6, 2)),
        (7001, False, dt.date(2024, 6, 1)),
    ]
    assert _check(third).metadata["new_findings"].value == 1
    assert _check(third).passed is False

    # The day after, nothing changed: the check passes; gamma, alone on its machine, is in no conflict.
    again = _run_fleet(dagster_instance, pg_url, home, "2024-06-03")
    assert _check(again).passed is True
    assert "gamma" not in " ".join(_table(db, "port_conflicts")["codebases"])


def test_migrations_match_declared_schemas(db: Database) -> None:
    for schema in (PORT_MAP, PORT_CONFLICTS):
        columns = [name for name, _type in db.table_columns(schema.name)]
        partition_columns = ["codebase", "date"] if schema is PORT_MAP else ["date"]  # conflicts: the fleet
        assert columns == [*partition_columns, *schema.column_names]
        types = dict(db.table_columns(schema.name))
        for column in schema.columns:
            assert types[column.name] == column.sql_type, column.name
