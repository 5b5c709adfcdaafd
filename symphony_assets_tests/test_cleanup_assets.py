"""Cleanup through Dagster: candidates from a real inventory, the sensor, dry run, execute, CLI restore,
the expired-files schedule and stale processes, on the real Postgres-backed instance."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from symphony_assets import cli
from symphony_assets.defs.cleanup import assets as cleanup_assets
from symphony_assets.defs.cleanup import schedules as cleanup_schedules
from symphony_assets.defs.cleanup import sensors as cleanup_sensors
from symphony_assets.defs.inventory import assets as inventory_assets
from symphony_assets.defs.partitions import snapshot_key
from symphony_assets.defs.resources import resources
from symphony_assets.lifecycle import load_registry, update_registry
from symphony_assets.orchestration import snapshot_job, sync_codebases
from symphony_assets.resources.postgres import Database
from symphony_assets.resources.processes import stop_processes
from symphony_assets.runner import run_snapshots
from symphony_assets_tests.gitrepo import GitRepo
from symphony_assets_tests.test_quarantine import tree_hash

TODAY = dt.datetime.now(dt.UTC).date()
DAY = 86400


def cleanup_definitions() -> dg.Definitions:
    """Inventory + cleanup + shared resources: the parts these assets need, loaded as Dagster loads them."""
    base = dg.Definitions.merge(
        dg.load_definitions_from_modules(
            [inventory_assets, cleanup_assets, cleanup_sensors, cleanup_schedules]
        ),
        resources(),
    )
    return dg.Definitions.merge(base, dg.Definitions(jobs=[snapshot_job(base.resolve_all_asset_specs())]))


def age(path: Path, days: float) -> None:
    t = time.time() - days * DAY
    os.utime(path, (t, t))


@pytest.fixture()
def repo(git_repo: GitRepo) -> GitRepo:
    r = git_repo
    r.write("README.md", "# demo\n")
    r.write(".gitignore", "*.log\n")
    r.write("src/app.py", "print('app')\n")
    r.write("ops/crontab", "0 3 * * * cd /opt/demo && ./jobs/tmp_nightly.sh\n")
    r.write("scripts/debug_legacy.py", "x = 1\n")
    r.write("notes_tracked.md", "Expires: 2020-01-01\nold notes\n")
    r.commit("init", when="2024-01-10T10:00:00+00:00")
    for rel, content in [
        ("tmp_old.csv", "a,b\n" * 50),
        ("debug_new.txt", "fresh\n"),
        ("jobs/tmp_nightly.sh", "#!/bin/sh\necho nightly\n"),
        ("build.log", "log line\n" * 20),
        ("out/report.csv", "r\n"),
        ("out/keep.csv", "k\n"),
    ]:
        r.write(rel, content)
        if rel != "debug_new.txt":
            age(r.root / rel, 30)
    now = dt.datetime.now(dt.UTC)

    def entry(created_days: int, expires_days: int, creator: str) -> dict[str, Any]:
        created = (now + dt.timedelta(days=created_days)).isoformat()
        expires = (now + dt.timedelta(days=expires_days)).isoformat()
        return {"created": created, "expires": expires, "creator": creator, "pid": 1}

    update_registry(
        r.root, {"out/report.csv": entry(-3, -2, "jobs:report"), "out/keep.csv": entry(0, 5, "jobs:keep")}
    )
    return r


def run_job(defs: dg.Definitions, instance: Any, job: str, key: str, config: dict[str, Any]) -> Any:
    result = defs.resolve_job_def(job).execute_in_process(
        instance=instance, partition_key=key, run_config=config, raise_on_error=False
    )
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return result


def test_candidates_sensor_dry_run_execute_and_cli_restore(
    dagster_instance: Any, repo: GitRepo, write_config: Any, db: Database, symphony_env: Path
) -> None:
    write_config({"name": "demo", "path": str(repo.root)})
    defs = cleanup_definitions()
    # The Dagster database is shared by the session: the sensor starts after what earlier tests materialised.
    earlier = dagster_instance.fetch_materializations(dg.AssetKey("cleanup_candidates"), limit=1).records
    start = str(earlier[0].storage_id) if earlier else None
    (outcome,) = run_snapshots(
        dagster_instance,
        ["demo"],
        TODAY,
        TODAY,
        assets=["file_inventory", "cleanup_candidates"],
        definitions=defs,
    )
    assert outcome.success, outcome.error

    cands = db.read_frame(
        "SELECT path, decision, rule, reason FROM symphony.cleanup_candidates"
        " WHERE codebase = %s AND date = %s",
        ("demo", TODAY),
    ).set_index("path")
    assert cands.loc["tmp_old.csv", "rule"] == "temp_untracked"
    assert cands.loc["build.log", "decision"] == "candidate"  # ignored counts as untracked
    assert cands.loc["jobs/tmp_nightly.sh", "rule"] == "automation"
    assert cands.loc["out/report.csv", "rule"] == "expired"
    assert "jobs:report" in cands.loc["out/report.csv", "reason"]
    assert cands.loc["out/keep.csv", "rule"] == "not_expired"
    assert cands.loc["notes_tracked.md", "rule"] == "expired"
    assert cands.loc["README.md", "rule"] == "protected"
    assert "debug_new.txt" not in cands.index  # too young: the default rule, not stored
    mats = dagster_instance.fetch_materializations(dg.AssetKey("cleanup_candidates"), limit=1).records
    meta = mats[0].asset_materialization.metadata
    assert meta["candidates"].value == 4
    assert "tmp_old.csv" in meta["top_candidates"].value

    # The sensor asks for one dry run of today's partition, then nothing more for the same materialisation.
    key = snapshot_key("demo", TODAY)
    ctx = dg.build_sensor_context(instance=dagster_instance, cursor=start)
    requests = [r for r in cleanup_sensors.cleanup_dry_run_sensor(ctx) if isinstance(r, dg.RunRequest)]
    assert [r.partition_key for r in requests] == [key]
    assert requests[0].run_config["ops"]["cleanup_actions"]["config"]["execute"] is False
    again = dg.build_sensor_context(instance=dagster_instance, cursor=ctx.cursor)
    assert not [r for r in cleanup_sensors.cleanup_dry_run_sensor(again) if isinstance(r, dg.RunRequest)]

    before = tree_hash(repo.root, raw_index=True)
    dry = run_job(defs, dagster_instance, "cleanup_dry_run_job", key, requests[0].run_config)
    assert tree_hash(repo.root, raw_index=True) == before
    acts = db.read_frame(
        "SELECT path, action, state FROM symphony.cleanup_actions WHERE codebase = %s AND date = %s",
        ("demo", TODAY),
    ).set_index("path")
    assert acts.loc["tmp_old.csv", "action"] == "dry_run"
    assert acts.loc["notes_tracked.md", "action"] == "refuse"  # tracked, no allow_tracked
    assert dry.run_id

    before = tree_hash(repo.root)
    config = {"ops": {"cleanup_actions": {"config": {"execute": True}}}}
    done = run_job(defs, dagster_instance, "cleanup_dry_run_job", key, config)
    for rel in ["tmp_old.csv", "build.log", "out/report.csv"]:
        assert not (repo.root / rel).exists(), rel
        assert (symphony_env / "quarantine" / "demo" / done.run_id / "files" / rel).exists()
    assert (repo.root / "notes_tracked.md").exists() and (repo.root / "jobs/tmp_nightly.sh").exists()
    all_acts = db.read_frame(
        "SELECT run_id, path, action, state, executed FROM symphony.cleanup_actions"
        " WHERE codebase = %s AND date = %s",
        ("demo", TODAY),
    )
    # The day's partition keeps every run of the day: the dry run's rows and the execute run's.
    assert set(all_acts["run_id"]) == {dry.run_id, done.run_id}
    acts = all_acts[all_acts["run_id"] == done.run_id].set_index("path")
    assert acts.loc["tmp_old.csv", "action"] == "quarantine" and acts.loc["tmp_old.csv", "state"] == "done"
    assert bool(acts.loc["tmp_old.csv", "executed"])

    assert cli.main(["cleanup", "restore", done.run_id]) == 0
    assert tree_hash(repo.root) == before
    assert cli.main(["cleanup", "restore", "no-such-run"]) == 2

    # A restore sticks: the restored files are held out of cleanup (shown in the candidates), so the
    # next execute run leaves them where they are, until a person releases them.
    (again_outcome,) = run_snapshots(
        dagster_instance, ["demo"], TODAY, TODAY, assets=["file_inventory", "cleanup_candidates"],
        definitions=defs,
    )  # fmt: skip
    assert again_outcome.success, again_outcome.error
    cands = db.read_frame(
        "SELECT path, decision, rule FROM symphony.cleanup_candidates WHERE codebase = %s AND date = %s",
        ("demo", TODAY),
    ).set_index("path")
    assert cands.loc["tmp_old.csv", "rule"] == "restored" and cands.loc["tmp_old.csv", "decision"] == "keep"
    second = run_job(defs, dagster_instance, "cleanup_dry_run_job", key, config)
    assert (repo.root / "tmp_old.csv").exists() and (repo.root / "build.log").exists()
    assert not (symphony_env / "quarantine" / "demo" / second.run_id / "files" / "tmp_old.csv").exists()
    assert cli.main(["cleanup", "holds", "demo"]) == 0
    assert cli.main(["cleanup", "release", "demo", "tmp_old.csv"]) == 0
    assert cli.main(["cleanup", "release", "demo", "tmp_old.csv"]) == 1  # no longer held


def test_past_partitions_never_act(
    dagster_instance: Any, repo: GitRepo, write_config: Any, db: Database, symphony_env: Path
) -> None:
    write_config({"name": "past", "path": str(repo.root)})
    defs = cleanup_definitions()
    sync_codebases(dagster_instance)
    day = TODAY - dt.timedelta(days=3)
    before = tree_hash(repo.root, raw_index=True)
    config = {"ops": {"cleanup_actions": {"config": {"execute": True, "allow_tracked": True}}}}
    run_job(defs, dagster_instance, "cleanup_dry_run_job", snapshot_key("past", day), config)
    assert tree_hash(repo.root, raw_index=True) == before


def test_expired_schedule_moves_only_expired_registry_files(
    dagster_instance: Any, repo: GitRepo, write_config: Any, symphony_env: Path
) -> None:
    write_config({"name": "exp", "path": str(repo.root), "cleanup": {"expired_execute": True}})
    defs = cleanup_definitions()
    sync_codebases(dagster_instance)
    ctx = dg.build_schedule_context(instance=dagster_instance)
    (request,) = [
        r
        for r in cleanup_schedules.cleanup_expired_schedule(ctx)
        if r.partition_key == snapshot_key("exp", TODAY)
    ]
    assert request.run_config["ops"]["cleanup_actions"]["config"] == {"only_expired": True, "execute": True}
    assert cleanup_schedules.cleanup_expired_schedule.cron_schedule == "0 4 * * *"
    run_job(defs, dagster_instance, "cleanup_expired_job", request.partition_key, request.run_config)
    assert not (repo.root / "out/report.csv").exists()
    assert (repo.root / "out/keep.csv").exists() and (repo.root / "tmp_old.csv").exists()
    assert sorted(load_registry(repo.root)) == ["out/keep.csv"]

    weekly = list(cleanup_schedules.cleanup_weekly_schedule(ctx))
    weekly = [r for r in weekly if r.partition_key == snapshot_key("exp", TODAY)]
    assert len(weekly) == 1
    assert weekly[0].run_config["ops"]["cleanup_actions"]["config"]["execute"] is False


def _sleeper(marker: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time, sys; time.sleep(120)", marker])


def test_stale_processes_dry_run_execute_and_busy_queue(
    dagster_instance: Any, repo: GitRepo, write_config: Any, db: Database, symphony_env: Path, tmp_path: Path
) -> None:
    marker = f"symphony-stale-{uuid.uuid4().hex[:8]}"
    scratch = tmp_path / "scratch"
    (scratch / "sub").mkdir(parents=True)
    (scratch / "old.bin").write_bytes(b"old" * 100)
    (scratch / "sub" / "older.txt").write_text("older")
    (scratch / "new.txt").write_text("new")
    age(scratch / "old.bin", 10)
    age(scratch / "sub" / "older.txt", 20)
    options = {"stale_process_patterns": [marker], "stale_process_hours": 0, "temp_dirs": [str(scratch)],
               "stale_file_hours": 24}  # fmt: skip
    write_config({"name": "proc", "path": str(repo.root), "cleanup": options})
    defs = cleanup_definitions()
    sync_codebases(dagster_instance)
    key = snapshot_key("proc", TODAY)
    job = "cleanup_weekly_job"
    sleeper = _sleeper(marker)
    try:
        time.sleep(0.2)
        dry = {"ops": {"stale_processes": {"config": {"execute": False}}}}
        defs_job = defs.resolve_job_def(job)
        result = defs_job.execute_in_process(
            instance=dagster_instance, partition_key=key, run_config=dry,
            asset_selection=[dg.AssetKey("stale_processes")], raise_on_error=False,
        )  # fmt: skip
        assert result.success
        assert sleeper.poll() is None  # a dry run stops nothing
        rows = db.read_frame(
            "SELECT kind, pid, target, action FROM symphony.stale_processes"
            " WHERE codebase = %s AND date = %s",
            ("proc", TODAY),
        )
        procs = rows[rows["kind"] == "process"]
        assert list(procs["pid"]) == [sleeper.pid] and list(procs["action"]) == ["dry_run"]
        files = sorted(rows[rows["kind"] == "file"]["target"])
        assert files == [str(scratch / "old.bin"), str(scratch / "sub" / "older.txt")]

        # Another run in progress: skipped, nothing stopped even with execute.
        queued = dagster_instance.create_run_for_job(
            defs.resolve_job_def("cleanup_expired_job"), run_config={}, status=dg.DagsterRunStatus.STARTED
        )
        act = {"ops": {"stale_processes": {"config": {"execute": True, "grace_seconds": 2}}}}
        result = defs_job.execute_in_process(
            instance=dagster_instance, partition_key=key, run_config=act,
            asset_selection=[dg.AssetKey("stale_processes")], raise_on_error=False,
        )  # fmt: skip
        assert result.success and sleeper.poll() is None
        mats = dagster_instance.fetch_materializations(dg.AssetKey("stale_processes"), limit=1).records
        assert "skipped" in mats[0].asset_materialization.metadata
        dagster_instance.delete_run(queued.run_id)

        result = defs_job.execute_in_process(
            instance=dagster_instance, partition_key=key, run_config=act,
            asset_selection=[dg.AssetKey("stale_processes")], raise_on_error=False,
        )  # fmt: skip
        assert result.success
        sleeper.wait(timeout=10)  # gone (psutil reaped our child, so its exit code reads as 0 here)
        assert not (scratch / "old.bin").exists() and (scratch / "new.txt").exists()
        rows = db.read_frame(
            "SELECT kind, action, state FROM symphony.stale_processes WHERE codebase = %s AND date = %s",
            ("proc", TODAY),
        )
        assert set(map(tuple, rows.values.tolist())) == {("process", "terminated", "done"),
                                                         ("file", "quarantine", "done")}  # fmt: skip
        assert cli.main(["cleanup", "restore", result.run_id]) == 0
        assert (scratch / "old.bin").read_bytes() == b"old" * 100
        assert (scratch / "sub" / "older.txt").read_text() == "older"
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()


def test_stop_processes_escalates_to_sigkill() -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        " print('ready', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        import psutil

        found = [{"proc": psutil.Process(proc.pid), "pid": proc.pid}]
        outcome = stop_processes(found, grace_s=0.5)
        assert outcome[proc.pid][:2] == ("killed", "done")  # it outlived SIGTERM's grace period
        proc.wait(timeout=5)
        assert not psutil.pid_exists(proc.pid)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_corrupt_registry_is_reported_not_fatal(
    dagster_instance: Any, repo: GitRepo, write_config: Any, symphony_env: Path
) -> None:
    (repo.root / ".cleanup_registry.json").write_text("{broken")
    write_config({"name": "bad", "path": str(repo.root)})
    (outcome,) = run_snapshots(
        dagster_instance, ["bad"], TODAY, TODAY, assets=["file_inventory", "cleanup_candidates"],
        definitions=cleanup_definitions(),
    )  # fmt: skip
    assert outcome.success, outcome.error
    meta = dagster_instance.fetch_materializations(dg.AssetKey("cleanup_candidates"), limit=1).records[0]
    assert "corrupt" in meta.asset_materialization.metadata["registry_error"].value
    # The registry is left exactly as it was.
    assert (repo.root / ".cleanup_registry.json").read_text() == "{broken"


def test_migrations_match_declared_schemas(db: Database) -> None:
    from symphony_assets.defs.cleanup.schemas import CLEANUP_ACTIONS, CLEANUP_CANDIDATES, STALE_PROCESSES

    for schema in (CLEANUP_CANDIDATES, CLEANUP_ACTIONS, STALE_PROCESSES):
        expected = [("codebase", "text"), ("date", "date"), *((c.name, c.sql_type) for c in schema.columns)]
        assert db.table_columns(schema.name) == expected, schema.name
    audit = [name for name, _ in db.table_columns("cleanup_audit")]
    assert {"run_id", "codebase", "path", "action", "state", "size", "sha256", "rule", "at"} <= set(audit)
