"""The registry's ``settings`` (the seed conductor's), applied on the Dagster instance.

- ``max_concurrent_tasks``: every script's op of a codebase is in that codebase's pool
  (``analysis.automation.pool_name``); ``automation_settings`` sets the pool's limit to this value (2
  when unset). A run-queue tag limit in dagster.yaml cannot differ per codebase; a pool limit can, and it
  is visible (and editable until the next tick) on the UI's concurrency page. The registry is the source:
  a limit changed in the UI is put back on the next tick, and the pool of a codebase without a registry
  any more is removed.
- ``task_history_retention_days``: runs of the codebase's scripts that ended longer ago than this are
  deleted from Dagster's run history by ``automation_settings`` (the seed kept its task history files that
  long). ``automation_health`` partitions already materialised keep their rows; a day past the retention
  materialised again finds no runs.
- ``notification_webhook``: ``automation_failure_webhook`` posts each failed run of the codebase's scripts
  there (besides ``SYMPHONY_WEBHOOK_URL``, which gets every failed run; the same URL in both places gets
  one post). The URL is read from the registry when the sensor ticks, never at load time, so it is not
  part of the code location's snapshot.
"""

import json
import logging
import os
from datetime import UTC, datetime, timedelta

import dagster as dg
import requests

from symphony_assets.analysis.automation import AutomationSettings, parse_settings, pool_name
from symphony_assets.config import Codebase, ConfigError, load_config
from symphony_assets.core.names import WEBHOOK_ENV
from symphony_assets.defs.automation.jobs import CODEBASE_TAG, TASK_TAG
from symphony_assets.resources.automation import AutomationError, read_registry, registry_path

log = logging.getLogger(__name__)

POOL_PREFIX = pool_name("")
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
#: Runs deleted per codebase and tick at most (the next tick goes on), so one tick stays short.
PURGE_BATCH = 500


def registry_settings(codebase: Codebase) -> AutomationSettings | None:
    """The codebase's automation settings; None when it has no registry (or an unreadable one)."""
    if not registry_path(codebase).is_file():
        return None
    try:
        raw = read_registry(codebase)
    except AutomationError as exc:
        log.warning("%s", exc)
        return None
    return parse_settings(raw.get("settings"))[0]


def apply_settings(instance: dg.DagsterInstance, codebases: list[Codebase], now: datetime) -> list[str]:
    """Set each codebase's pool limit, drop the pools of codebases without a registry, and purge runs
    past the retention. Returns what changed, one line each."""
    changes: list[str] = []
    storage = instance.event_log_storage
    limits = {p.name: p.limit for p in storage.get_pool_limits() if p.name.startswith(POOL_PREFIX)}
    wanted: dict[str, int] = {}
    for codebase in codebases:
        settings = registry_settings(codebase)
        if settings is None:
            continue
        pool = pool_name(codebase.name)
        wanted[pool] = settings.max_concurrent_tasks
        if limits.get(pool) != settings.max_concurrent_tasks:
            storage.set_concurrency_slots(pool, settings.max_concurrent_tasks)
            changes.append(f"{pool}: limit {settings.max_concurrent_tasks}")
        if settings.task_history_retention_days:
            cutoff = now - timedelta(days=settings.task_history_retention_days)
            records = instance.get_run_records(
                filters=dg.RunsFilter(
                    tags={CODEBASE_TAG: codebase.name}, statuses=FINISHED, created_before=cutoff
                ),
                limit=PURGE_BATCH,
            )
            for record in records:
                instance.delete_run(record.dagster_run.run_id)
            if records:
                changes.append(
                    f"{codebase.name}: {len(records)} script runs older than "
                    f"{settings.task_history_retention_days} days deleted"
                )
    for pool in sorted(set(limits) - set(wanted)):
        storage.delete_concurrency_limit(pool)
        changes.append(f"{pool}: removed (no registry)")
    return changes


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Applies each automation registry's settings: pool limit (max_concurrent_tasks) and "
    "run history retention (task_history_retention_days).",
)
def automation_settings(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Starts nothing; puts the registries' settings onto the instance (see the module's docstring)."""
    try:
        codebases = list(load_config().codebases)
    except ConfigError as exc:
        return dg.SkipReason(f"settings not applied: {exc}")
    changes = apply_settings(context.instance, codebases, datetime.now(UTC))
    for change in changes:
        context.log.info(change)
    return dg.SkipReason("; ".join(changes) if changes else "automation settings already applied")


def failure_payload(context: dg.RunFailureSensorContext, codebase: str) -> dict[str, object]:
    run = context.dagster_run
    task = run.tags.get(TASK_TAG, run.job_name)
    reasons = []
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        if data.user_failure_data and data.user_failure_data.description:
            reasons.append(data.user_failure_data.description)
        elif data.error:
            reasons.append(data.error.message.strip())
    return {
        "text": f"Symphony automation script {task} of {codebase} failed (run {run.run_id})",
        "codebase": codebase,
        "task": task,
        "run_id": run.run_id,
        "job": run.job_name,
        "error": "; ".join(reasons) or context.failure_event.message,
    }


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    monitor_all_code_locations=False,
    description="Posts each failed run of a registered script to its registry's notification_webhook.",
)
def automation_failure_webhook(context: dg.RunFailureSensorContext) -> None:
    codebase = context.dagster_run.tags.get(CODEBASE_TAG)
    if not codebase:
        return  # not a registered script's run
    try:
        settings = registry_settings(load_config().codebase(codebase))
    except ConfigError as exc:
        context.log.warning(f"{codebase}: no notification webhook looked up: {exc}")
        return
    url = settings.notification_webhook if settings else None
    if not url or url == os.environ.get(WEBHOOK_ENV):
        return  # none set, or run_failure_webhook posts there already
    try:
        resp = requests.post(
            url,
            data=json.dumps(failure_payload(context, codebase)),
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        resp.raise_for_status()
    except requests.RequestException as exc:
        # A dead webhook must not break the sensor loop; the failure is still in the Dagster UI.
        context.log.warning(f"{codebase}: notification webhook did not accept the alert: {exc}")
