"""Each partition of a single-run backfill carries ITS OWN metadata: commit, row count, Parquet URI, table.

Before, metadata added once for a range run was copied onto every day's materialisation event, so the
UI's plots over time were flat lines at the newest day's values. Here a real git repository changes
every day; one run covers the range; the events Dagster stored are compared, day by day, with that
day's Parquet file, its Postgres rows and ``git rev-list -1 --before=<end of day>``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg

from symphony_assets.defs.partitions import snapshot_key
from symphony_assets.resources.postgres import DATA_DB, Database
from symphony_assets.runner import run_snapshots
from symphony_assets.storage.io_manager import scope_to_partitions
from symphony_assets.storage.warehouse import Warehouse
from symphony_assets_tests.gitrepo import GitRepo

FIRST = dt.date(2024, 7, 1)
DAYS = [FIRST + dt.timedelta(days=i) for i in range(4)]
#: A day without a commit (day 3 shows day 2's tree): its data, and so its figures, equal day 2's.
COMMIT_DAYS = [DAYS[0], DAYS[1], DAYS[3]]
# Snapshot assets of every kind: per-snapshot (file_inventory), through the blob cache (import_graph),
# computed from an upstream range (import_cycles, cleanup_candidates), the three outputs of the code
# multi-asset.
ASSETS = [
    "file_inventory",
    "import_graph",
    "import_cycles",
    "todo_list",
    "code_complexity",
    "code_findings",
    "cleanup_candidates",
]
WITH_COMMIT = ["file_inventory", "import_graph", "todo_list", "code_complexity", "code_findings"]


def _marker() -> str:
    return "TO" + "DO"  # built at run time: our own hygiene test scans this file


def _build(repo: GitRepo) -> None:
    """Each commit day adds modules, imports and work markers, so every count grows."""
    for n, day in enumerate(COMMIT_DAYS, start=1):
        for i in range(n * 2):
            body = [f"import app.m{n}_{j}" for j in range(i)]
            body += [f"def f{k}(x):\n    if x:\n        return {k}\n    return 0\n" for k in range(n)]
            body += [f"# {_marker()}: day {n} item {k}" for k in range(n)]
            body += ["try:\n    import json\nexcept Exception:\n    json = None\n"]
            repo.write(f"app/m{n}_{i}.py", "\n".join(body) + "\n")
        repo.write(f"app/c{n}a.py", f"import app.c{n}b\n")  # one more import cycle each commit day
        repo.write(f"app/c{n}b.py", f"import app.c{n}a\n")
        repo.write(f"notes/README{n}.md", "kept\n")  # a protected name: one more cleanup row each day
        repo.write("app/__init__.py", "")
        repo.commit(f"day {n}", when=f"{day}T09:00:00+00:00")


def _record(instance: Any, asset: str, day: dt.date) -> dg.AssetMaterialization:
    key = str(snapshot_key("hist", day))
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[key]), limit=1
    ).records
    assert records, f"{asset} {day}: no materialisation"
    mat = records[0].asset_materialization
    assert mat is not None
    return mat


def _values(mat: dg.AssetMaterialization) -> dict[str, Any]:
    return {k: v.value for k, v in mat.metadata.items()}


def test_each_day_of_a_single_run_backfill_has_its_own_metadata(
    dagster_instance: Any, git_repo: GitRepo, write_config: Any, db: Database
) -> None:
    _build(git_repo)
    write_config({"name": "hist", "path": str(git_repo.root)})

    (outcome,) = run_snapshots(dagster_instance, ["hist"], DAYS[0], DAYS[-1], assets=ASSETS)
    assert outcome.success, outcome.error
    run = dagster_instance.get_run_by_id(outcome.run_id)
    assert run.tags.get("dagster/asset_partition_range_start")  # one run for the whole range

    warehouse = Warehouse()
    for asset in ASSETS:
        seen: dict[dt.date, dict[str, Any]] = {}
        for day in DAYS:
            mat = _record(dagster_instance, asset, day)
            assert mat.partition == str(snapshot_key("hist", day))
            meta = _values(mat)
            keys = {"codebase": "hist", "date": str(day)}
            df = warehouse.read(asset, keys)
            assert df is not None, f"{asset} {day}: no Parquet"
            assert meta["dagster/row_count"] == len(df), (asset, day)
            path = warehouse.path(asset, keys)
            assert meta["parquet"] == path
            assert meta["dagster/uri"] == Path(path).absolute().as_uri()
            assert meta["dagster/table_name"] == f"{DATA_DB}.symphony.{asset}"  # database.schema.table
            assert meta["postgres_table"] == f"symphony.{asset}"
            in_pg = db.read_frame(
                f"SELECT count(*) AS n FROM symphony.{asset} WHERE codebase = %s AND date = %s", ("hist", day)
            )
            assert int(in_pg["n"].iloc[0]) == len(df), (asset, day)
            assert meta["partition_count"] == len(DAYS)
            if asset in WITH_COMMIT:
                expected = git_repo.git("rev-list", "-1", f"--before={day}T23:59:59+00:00", "HEAD").strip()
                assert meta["commit"] == expected, (asset, day)
            seen[day] = meta
        # Days whose trees differ differ in their figures; the day without a commit repeats the day before.
        rows = [seen[d]["dagster/row_count"] for d in COMMIT_DAYS]
        assert rows == sorted(rows) and len(set(rows)) == len(rows), (asset, rows)
        assert seen[DAYS[2]]["dagster/row_count"] == seen[DAYS[1]]["dagster/row_count"]
        if asset in WITH_COMMIT:
            assert len({seen[d]["commit"] for d in COMMIT_DAYS}) == len(COMMIT_DAYS)
            assert seen[DAYS[2]]["commit"] == seen[DAYS[1]]["commit"]

    # Per-day figures computed by the assets themselves (not only the IO manager's row counts).
    files = [_values(_record(dagster_instance, "file_inventory", d))["file_count"] for d in DAYS]
    assert files == [len(git_repo.ls_tree(_commit(git_repo, d))) for d in DAYS]
    todos = [_values(_record(dagster_instance, "todo_list", d))["todo_count"] for d in DAYS]
    assert todos == [_values(_record(dagster_instance, "todo_list", d))["dagster/row_count"] for d in DAYS]
    assert len(set(todos)) == len(COMMIT_DAYS)
    largest = [_values(_record(dagster_instance, "file_inventory", d))["largest_files"] for d in DAYS]
    assert largest[0] != largest[-1] and largest[1] == largest[2]  # top-N tables are per day too
    # The day without a commit reuses the previous day's frames (assets whose rows depend only on the
    # commit), says so, and counts nothing as analysed for itself; commit days are computed.
    for asset in ("file_inventory", "import_graph"):
        meta = [_values(_record(dagster_instance, asset, d)) for d in DAYS]
        assert [m.get("frames_reused_from") for m in meta] == [
            None,
            None,
            str(snapshot_key("hist", DAYS[1])),
            None,
        ]
    graph = [_values(_record(dagster_instance, "import_graph", d)) for d in DAYS]
    assert graph[2]["blobs_analysed"] == 0
    assert graph[2]["blobs_reused"] == graph[1]["blobs_reused"] + graph[1]["blobs_analysed"]
    # The run's totals are summed per partition: each event counts its own rows once.
    total = sum(_values(_record(dagster_instance, "file_inventory", d))["dagster/row_count"] for d in DAYS)
    assert outcome.rows["file_inventory"] == total


def _commit(repo: GitRepo, day: dt.date) -> str:
    return repo.git("rev-list", "-1", f"--before={day}T23:59:59+00:00", "HEAD").strip()


def test_without_the_accumulator_the_public_checked_call_is_used() -> None:
    """If a Dagster upgrade moves the step's private accumulator, each partition still gets its own
    metadata, through ``add_asset_metadata`` (slower: it lists every partition to check the key)."""

    class Step:
        def __init__(self) -> None:
            self.calls: list[tuple[dict[str, Any], dg.AssetKey, str]] = []

        def add_asset_metadata(
            self, metadata: dict[str, Any], asset_key: dg.AssetKey, partition_key: str
        ) -> None:
            self.calls.append((metadata, asset_key, partition_key))

    step = Step()
    key = dg.AssetKey("file_inventory")
    scope_to_partitions(step, key, {"a|2024-07-01": {"n": 1}, "a|2024-07-02": {"n": 2}})  # type: ignore[arg-type]
    assert step.calls == [({"n": 1}, key, "a|2024-07-01"), ({"n": 2}, key, "a|2024-07-02")]
