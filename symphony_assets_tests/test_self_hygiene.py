"""Eat our own cooking: this project's own code, run through its own assets, comes out clean."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from symphony_assets.core.names import FLEET_ASSETS
from symphony_assets.runner import PROJECT_ROOT, run_snapshots
from symphony_assets.storage.warehouse import Warehouse

SNAPSHOT_ASSETS = [
    "file_inventory",
    "import_graph",
    "import_cycles",
    "port_map",
    "port_conflicts",
    "todo_list",
    "code_findings",
    "cleanup_candidates",
]


def _read(asset: str, day: dt.date) -> pd.DataFrame:
    keys = {"date": str(day)} if asset in FLEET_ASSETS else {"codebase": "self", "date": str(day)}
    df = Warehouse().read(asset, keys)
    assert df is not None, f"{asset} was not written"
    return df


def test_our_own_repository_has_no_cycle_broad_except_todo_port_conflict_or_junk(
    dagster_instance, write_config
) -> None:
    write_config({"name": "self", "path": str(PROJECT_ROOT), "imports": {"source_roots": ["."]}})
    today = dt.datetime.now(dt.UTC).date()
    outcomes = run_snapshots(dagster_instance, ["self"], today, today, assets=SNAPSHOT_ASSETS)
    assert all(o.success for o in outcomes), [o.error for o in outcomes]

    inventory = _read("file_inventory", today)
    ours = set(inventory.loc[~inventory["ignored"], "path"])
    assert "symphony_assets/definitions.py" in ours  # the scan really looked at our code

    cycles = _read("import_cycles", today)
    assert cycles[~cycles["latent"]].empty, cycles[["modules", "loop"]].to_string()

    findings = _read("code_findings", today)
    mine = findings[findings["path"].isin(ours)]
    unexplained = mine[(mine["kind"] == "broad_except") & ~mine["has_reason"].fillna(False).astype(bool)]
    assert unexplained.empty, unexplained[["path", "line", "detail"]].to_string()
    assert mine[mine["kind"] == "backup_file"].empty

    todos = _read("todo_list", today)
    todos = todos[todos["path"].isin(ours)]
    assert todos.empty, todos[["path", "line", "text"]].to_string()

    assert _read("port_conflicts", today).empty

    candidates = _read("cleanup_candidates", today)
    junk = candidates[candidates["path"].isin(ours) & (candidates["decision"] != "keep")]
    assert junk.empty, junk[["path", "decision", "rule"]].to_string()
