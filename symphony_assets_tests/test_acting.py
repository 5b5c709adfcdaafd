"""Acting policies and the kill switch: the cleanup sensor quarantines junk only in an execute-mode
codebase (restorable with the CLI), leaves a dry-run codebase alone, and stops acting when the kill switch
(the environment variable or the stopped ``acting_enabled`` sensor) is pulled. Real git repositories, the
real Postgres-backed Dagster instance; the sensor's run requests are run as the daemon would run them."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.definitions.run_request import InstigatorType
from dagster._core.remote_origin import (
    RegisteredCodeLocationOrigin,
    RemoteInstigatorOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.scheduler.instigation import InstigatorState, InstigatorStatus, SensorInstigatorData

from symphony_assets import cli
from symphony_assets.analysis.policy import CleanupPolicy, TrackerPolicy, acting_env_off
from symphony_assets.config import ConfigError, load_config
from symphony_assets.defs.acting import sensors as acting_sensors
from symphony_assets.defs.cleanup import assets as cleanup_assets
from symphony_assets.defs.cleanup import schedules as cleanup_schedules
from symphony_assets.defs.cleanup import sensors as cleanup_sensors
from symphony_assets.defs.inventory import assets as inventory_assets
from symphony_assets.defs.partitions import snapshot_key
from symphony_assets.defs.resources import resources
from symphony_assets.orchestration import snapshot_job
from symphony_assets.resources.acting import ACTING_ENV, ACTING_SENSOR, BLOCKED_TAG, switch_off_reason
from symphony_assets.resources.postgres import Database
from symphony_assets.runner import run_snapshots
from symphony_assets_tests.gitrepo import GitRepo
from symphony_assets_tests.test_quarantine import tree_hash

TODAY = dt.datetime.now(dt.UTC).date()
JUNK = {"tmp_big.csv": "a,b\n" * 400, "tmp_mid.csv": "a,b\n" * 100, "scratch.log": "line\n" * 10}


def definitions() -> dg.Definitions:
    base = dg.Definitions.merge(
        dg.load_definitions_from_modules(
            [inventory_assets, cleanup_assets, cleanup_sensors, cleanup_schedules, acting_sensors]
        ),
        resources(),
    )
    return dg.Definitions.merge(base, dg.Definitions(jobs=[snapshot_job(base.resolve_all_asset_specs())]))


def junk_repo(root: Path) -> GitRepo:
    repo = GitRepo(root)
    repo.write("README.md", "# demo\n")
    repo.write(".gitignore", "*.log\n")
    repo.write("src/app.py", "print('app')\n")
    repo.commit("init", when="2024-01-10T10:00:00+00:00")
    old = time.time() - 30 * 86400
    for rel, content in JUNK.items():
        os.utime(repo.write(rel, content), (old, old))
    return repo


@contextmanager
def acting_sensor_stopped(instance: dg.DagsterInstance) -> Iterator[None]:
    """What stopping ``acting_enabled`` in the UI stores: a STOPPED instigator state for that sensor."""
    origin = RemoteInstigatorOrigin(
        RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("symphony_assets"), "__repository__"),
        ACTING_SENSOR,
    )
    state = InstigatorState(
        origin, InstigatorType.SENSOR, InstigatorStatus.STOPPED, SensorInstigatorData(min_interval=3600)
    )
    instance.add_instigator_state(state)
    try:
        yield
    finally:
        instance.delete_instigator_state(state.instigator_origin_id, state.selector_id)


def tick(instance: dg.DagsterInstance, defs: dg.Definitions, cursor: str | None) -> Any:
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
    with dg.partition_loading_context(dynamic_partitions_store=instance):
        return cleanup_sensors.cleanup_dry_run_sensor.evaluate_tick(ctx)


def launch(defs: dg.Definitions, instance: dg.DagsterInstance, request: dg.RunRequest) -> Any:
    """Run a sensor's request as the daemon would: its job, partition, run config and tags."""
    result = defs.resolve_job_def(cleanup_sensors.CLEANUP_DRY_RUN_JOB).execute_in_process(
        instance=instance,
        partition_key=request.partition_key,
        run_config=request.run_config,
        tags=request.tags,
        raise_on_error=False,
    )
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return result


def candidates(instance: dg.DagsterInstance, defs: dg.Definitions, names: list[str]) -> None:
    outcomes = run_snapshots(
        instance, names, TODAY, TODAY, assets=["file_inventory", "cleanup_candidates"], definitions=defs
    )
    assert all(o.success for o in outcomes), [o.error for o in outcomes]


def start_cursor(instance: dg.DagsterInstance) -> str | None:
    # The Dagster database is shared by the test session: start after what earlier tests materialised.
    before = instance.fetch_materializations(dg.AssetKey("cleanup_candidates"), limit=1).records
    return str(before[0].storage_id) if before else None


def test_policies_parse_and_validate(write_config: Any, tmp_path: Path) -> None:
    assert CleanupPolicy.from_options(None) == CleanupPolicy(False, 50, False)
    policy = CleanupPolicy.from_options({"mode": "execute", "max_deletions": 3, "allow_tracked": True})
    assert policy.run_config(acting=True) == {"execute": True, "max_deletions": 3, "allow_tracked": True}
    assert policy.run_config(acting=False) == {"execute": False, "max_deletions": 3, "allow_tracked": False}
    assert TrackerPolicy.from_options({"mode": "apply"}).run_config(acting=True)["dry_run"] is False
    assert TrackerPolicy.from_options({"mode": "dry-run"}).run_config(acting=True)["dry_run"] is True
    assert acting_env_off("off") and acting_env_off(" OFF ") and not acting_env_off("on")
    assert not acting_env_off(None)
    # An ephemeral instance (one-off runs, dg.materialize without an instance) has no sensor states.
    assert switch_off_reason(dg.DagsterInstance.ephemeral()) is None

    write_config({"name": "a", "path": str(tmp_path), "cleanup": {"mode": "execute", "max_deletions": 2}})
    assert load_config().codebase("a").options["cleanup"]["mode"] == "execute"
    write_config({"name": "a", "path": str(tmp_path), "cleanup": {"mode": "exec"}})
    with pytest.raises(ConfigError, match=r"cleanup\.mode must be 'dry-run' or 'execute', not 'exec'"):
        load_config()
    write_config({"name": "a", "path": str(tmp_path), "tracker": {"mode": "execute"}})
    with pytest.raises(ConfigError, match=r"tracker\.mode must be 'dry-run' or 'apply'"):
        load_config()
    write_config({"name": "a", "path": str(tmp_path), "cleanup": {"max_deletions": "many"}})
    with pytest.raises(ConfigError, match="max_deletions must be whole number"):
        load_config()


def test_sensor_acts_only_where_the_policy_says_and_the_kill_switch_stops_it(
    dagster_instance: Any,
    write_config: Any,
    tmp_path: Path,
    db: Database,
    symphony_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    acting, dry = junk_repo(tmp_path / "acting"), junk_repo(tmp_path / "dry")
    write_config(
        {"name": "acting", "path": str(acting.root), "cleanup": {"mode": "execute", "max_deletions": 2}},
        {"name": "dry", "path": str(dry.root)},
    )
    defs = definitions()
    cursor = start_cursor(dagster_instance)
    candidates(dagster_instance, defs, ["acting", "dry"])

    data = tick(dagster_instance, defs, cursor)
    requests = {r.partition_key: r for r in data.run_requests or []}
    act_req, dry_req = requests[snapshot_key("acting", TODAY)], requests[snapshot_key("dry", TODAY)]
    assert act_req.run_config["ops"]["cleanup_actions"]["config"] == {
        "execute": True, "max_deletions": 2, "allow_tracked": False,
    }  # fmt: skip
    assert dry_req.run_config["ops"]["cleanup_actions"]["config"]["execute"] is False
    assert act_req.tags["symphony/acting"] == "true" and dry_req.tags["symphony/acting"] == "false"

    acting_before, dry_before = tree_hash(acting.root), tree_hash(dry.root, raw_index=True)
    done = launch(defs, dagster_instance, act_req)
    launch(defs, dagster_instance, dry_req)
    # The cap: the two biggest candidates go to quarantine, the third waits for the next run.
    quarantine = symphony_env / "quarantine" / "acting" / done.run_id / "files"
    for rel in ["tmp_big.csv", "tmp_mid.csv"]:
        assert not (acting.root / rel).exists() and (quarantine / rel).exists(), rel
    assert (acting.root / "scratch.log").exists()
    assert tree_hash(dry.root, raw_index=True) == dry_before
    rows = db.read_frame(
        "SELECT codebase, path, action, state FROM symphony.cleanup_actions WHERE date = %s"
        " AND codebase IN ('acting', 'dry')",
        (TODAY,),
    )
    acted = rows[rows["codebase"] == "acting"].set_index("path")
    assert acted.loc["tmp_big.csv", "action"] == "quarantine" and acted.loc["tmp_big.csv", "state"] == "done"
    assert acted.loc["scratch.log", "action"] == "skip"
    assert set(rows[rows["codebase"] == "dry"]["action"]) == {"dry_run"}

    assert cli.main(["cleanup", "restore", done.run_id]) == 0
    assert tree_hash(acting.root) == acting_before
    assert cli.main(["cleanup", "release", "acting", "tmp_big.csv"]) == 0
    assert cli.main(["cleanup", "release", "acting", "tmp_mid.csv"]) == 0

    # The environment kill switch: the sensor starts a dry run where the policy says execute.
    monkeypatch.setenv(ACTING_ENV, "off")
    candidates(dagster_instance, defs, ["acting"])
    data = tick(dagster_instance, defs, data.cursor)
    (blocked,) = data.run_requests
    assert blocked.run_config["ops"]["cleanup_actions"]["config"]["execute"] is False
    assert "SYMPHONY_ACTING=off" in blocked.tags[BLOCKED_TAG]
    launch(defs, dagster_instance, blocked)
    assert tree_hash(acting.root) == acting_before
    monkeypatch.delenv(ACTING_ENV)

    # The UI toggle: with the acting_enabled sensor stopped, the same; started again, acting resumes.
    with acting_sensor_stopped(dagster_instance):
        assert switch_off_reason(dagster_instance) == f"kill switch: the {ACTING_SENSOR} sensor is stopped"
        candidates(dagster_instance, defs, ["acting"])
        data = tick(dagster_instance, defs, data.cursor)
        (blocked,) = data.run_requests
        assert blocked.run_config["ops"]["cleanup_actions"]["config"]["execute"] is False
        assert ACTING_SENSOR in blocked.tags[BLOCKED_TAG]
        # A run asking to execute while the switch is pulled (queued before, or from the launchpad)
        # records what it would do and moves nothing.
        launch(defs, dagster_instance, act_req)
        assert tree_hash(acting.root) == acting_before
    assert switch_off_reason(dagster_instance) is None
    candidates(dagster_instance, defs, ["acting"])
    data = tick(dagster_instance, defs, data.cursor)
    (again,) = data.run_requests
    assert again.run_config["ops"]["cleanup_actions"]["config"]["execute"] is True


def test_schedules_respect_the_kill_switch(
    dagster_instance: Any, write_config: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config({"name": "weekly", "path": str(tmp_path), "cleanup": {"weekly_execute": True}})
    dagster_instance.add_dynamic_partitions("codebase", ["weekly"])

    def weekly_execute() -> bool:
        ctx = dg.build_schedule_context(instance=dagster_instance)
        reqs = cleanup_schedules.cleanup_weekly_schedule(ctx)
        reqs = [r for r in reqs if str(r.partition_key).startswith("weekly")]
        return bool(reqs[0].run_config["ops"]["cleanup_actions"]["config"]["execute"])

    assert weekly_execute() is True
    monkeypatch.setenv(ACTING_ENV, "off")
    assert weekly_execute() is False
    monkeypatch.delenv(ACTING_ENV)
    with acting_sensor_stopped(dagster_instance):
        assert weekly_execute() is False
    assert weekly_execute() is True
