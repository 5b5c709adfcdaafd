"""Under the daemon, a day of a fleet-wide asset waits for every codebase's partition of the day
(issue 10): its eager automation condition, evaluated here as the automation sensor would."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg

from symphony_assets.defs.fleet import EVERY_DAY_AFTER_EVERY_CODEBASE
from symphony_assets.defs.partitions import snapshot_key
from symphony_assets.defs.ports.assets import port_conflicts, port_map
from symphony_assets.orchestration import sync_codebases
from symphony_assets_tests.gitrepo import GitRepo
from symphony_assets_tests.materialize import real_resources


def test_the_fleet_day_runs_once_every_codebase_has_its_partition(
    tmp_path: Path, write_config: Any, dagster_instance: Any, pg_url: str, symphony_env: Path
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    repos = {}
    for name in ("east", "west"):
        repo = GitRepo(tmp_path / name)
        repo.write("agent.py", "import socket\nsocket.socket().bind(('', 7000))\n")
        repo.commit("one", when=f"{today}T00:00:01+00:00")
        repos[name] = repo
    write_config(*({"name": n, "path": str(r.root), "machine": "box"} for n, r in repos.items()))
    sync_codebases(dagster_instance)
    assert port_conflicts.automation_conditions_by_key[port_conflicts.key] == EVERY_DAY_AFTER_EVERY_CODEBASE
    assets = dg.Definitions(assets=[port_map, port_conflicts], resources=real_resources(pg_url, symphony_env))
    selection = dg.AssetSelection.assets(port_conflicts)

    def materialise(codebase: str) -> None:
        result = dg.materialize(
            [port_map],
            partition_key=str(snapshot_key(codebase, today)),
            resources=real_resources(pg_url, symphony_env),
            instance=dagster_instance,
        )
        assert result.success

    first = dg.evaluate_automation_conditions(assets, dagster_instance, asset_selection=selection)
    assert first.total_requested == 0  # nothing of the day yet
    materialise("east")
    waiting = dg.evaluate_automation_conditions(
        assets, dagster_instance, asset_selection=selection, cursor=first.cursor
    )
    assert waiting.total_requested == 0  # west's port_map of the day is still missing
    materialise("west")
    ready = dg.evaluate_automation_conditions(
        assets, dagster_instance, asset_selection=selection, cursor=waiting.cursor
    )
    assert ready.get_requested_partitions(port_conflicts.key) == {str(today)}
