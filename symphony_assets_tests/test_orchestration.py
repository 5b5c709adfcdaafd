"""The cross-cutting pieces: codebase sync, the daily schedule, the failure webhook, the definitions."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from symphony_assets.orchestration import (
    SNAPSHOT_JOB,
    codebase_sync_sensor,
    daily_snapshot_schedule,
    run_failure_webhook,
)
from symphony_assets.runner import load_definitions, run_snapshots
from symphony_assets_tests.gitrepo import GitRepo


def test_sync_sensor_adds_codebases_and_machines(dagster_instance, write_config, tmp_path) -> None:
    write_config(
        {"name": "sync-a", "path": str(tmp_path), "machine": "main-pc"},
        {"name": "sync-b", "path": str(tmp_path), "machine": "pc2"},
    )
    result = codebase_sync_sensor(dg.build_sensor_context(instance=dagster_instance))
    assert "added" in result.skip_message
    assert {"sync-a", "sync-b"} <= set(dagster_instance.get_dynamic_partitions("codebase"))
    assert {"main-pc", "pc2"} <= set(dagster_instance.get_dynamic_partitions("host"))
    again = codebase_sync_sensor(dg.build_sensor_context(instance=dagster_instance))
    assert "added" not in again.skip_message


def test_daily_schedule_asks_for_today_of_every_codebase(dagster_instance, write_config, tmp_path) -> None:
    write_config({"name": "sched-a", "path": str(tmp_path)}, {"name": "sched-b", "path": str(tmp_path)})
    codebase_sync_sensor(dg.build_sensor_context(instance=dagster_instance))
    context = dg.build_schedule_context(instance=dagster_instance)
    requests = list(daily_snapshot_schedule(context))
    today = dt.datetime.now(dt.UTC).date().isoformat()
    keys = {r.partition_key for r in requests}
    assert {f"sched-a|{today}", f"sched-b|{today}"} <= keys
    assert len({r.run_key for r in requests}) == len(requests)


def test_definitions_hold_the_snapshot_job_without_sensor_only_assets() -> None:
    defs = load_definitions()
    job = defs.resolve_job_def(SNAPSHOT_JOB)
    keys = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert "file_inventory" in keys
    for spec in defs.resolve_all_asset_specs():
        if spec.tags.get("symphony/trigger") == "sensor":
            assert spec.key.to_user_string() not in keys


def test_failure_webhook_posts_the_failed_run(
    dagster_instance, write_config, git_repo: GitRepo, tmp_path, monkeypatch, webhook
) -> None:
    received = webhook.received
    monkeypatch.setenv("SYMPHONY_WEBHOOK_URL", webhook.url)
    write_config({"name": "broken", "path": str(tmp_path / "nowhere")})
    today = dt.datetime.now(dt.UTC).date()
    (outcome,) = run_snapshots(dagster_instance, ["broken"], today, today, assets=["file_inventory"])
    assert not outcome.success
    run = dagster_instance.get_run_by_id(outcome.run_id)
    failure = next(
        e
        for e in dagster_instance.all_logs(outcome.run_id)
        if e.dagster_event and e.dagster_event.is_run_failure
    )
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_webhook",
        dagster_instance=dagster_instance,
        dagster_run=run,
        dagster_event=failure.dagster_event,
    ).for_run_failure()
    run_failure_webhook(context)
    assert len(received) == 1
    assert received[0]["run_id"] == outcome.run_id
    assert received[0]["partition"] == f"broken|{today}"


def test_failure_webhook_survives_a_dead_endpoint(
    dagster_instance, write_config, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("SYMPHONY_WEBHOOK_URL", "http://127.0.0.1:9/nothing-listens-here")
    write_config({"name": "broken2", "path": str(tmp_path / "nowhere")})
    today = dt.datetime.now(dt.UTC).date()
    (outcome,) = run_snapshots(dagster_instance, ["broken2"], today, today, assets=["file_inventory"])
    run = dagster_instance.get_run_by_id(outcome.run_id)
    failure = next(
        e
        for e in dagster_instance.all_logs(outcome.run_id)
        if e.dagster_event and e.dagster_event.is_run_failure
    )
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_webhook", dagster_instance=dagster_instance, dagster_run=run,
        dagster_event=failure.dagster_event,
    ).for_run_failure()  # fmt: skip
    run_failure_webhook(context)  # logs a warning, never raises
