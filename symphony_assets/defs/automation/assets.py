"""``automation_health``: each registered script's runs of the day, from Dagster's run records."""

from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.analysis.automation import RunFact, job_name, summarise_runs
from symphony_assets.defs.automation.jobs import CODEBASE_TAG, TASK_TAG
from symphony_assets.defs.automation.schemas import AUTOMATION_HEALTH
from symphony_assets.defs.snapshots import (
    codebase_named,
    md_table,
    output_partitions,
    run_partitions,
    snapshot_asset,
)
from symphony_assets.resources.automation import load_registry


def run_facts(instance: dg.DagsterInstance, codebase: str, start: datetime, end: datetime) -> list[RunFact]:
    records = instance.get_run_records(
        filters=dg.RunsFilter(tags={CODEBASE_TAG: codebase}, created_after=start, created_before=end),
        limit=5000,
    )
    facts = []
    for record in records:
        run = record.dagster_run
        failure = None
        attempts = 1
        if run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.SUCCESS):
            step_events = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
            restarts = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_RESTARTED)
            attempts += len(restarts)
            if step_events and run.status == dg.DagsterRunStatus.FAILURE:
                data = step_events[-1].dagster_event.step_failure_data  # type: ignore[union-attr]
                failure = data.user_failure_data.description if data and data.user_failure_data else None
                failure = failure or (data.error.message.strip() if data and data.error else None)
        facts.append(
            RunFact(
                task=run.tags.get(TASK_TAG, run.job_name),
                run_id=run.run_id,
                status=run.status.value,
                start=record.start_time,
                end=record.end_time,
                attempts=attempts,
                failure=failure,
            )
        )
    return facts


@snapshot_asset(AUTOMATION_HEALTH, group_name="automation", kinds={"dagster", "parquet", "postgres"},
                code_version="1")  # fmt: skip
def automation_health(context: dg.AssetExecutionContext) -> Any:
    """Per registered script and day: runs, successes, failures, success rate, durations, retries and
    the last failure's message: the conductor's health files, from Dagster's own run records.

    The registry's ``task_history_retention_days`` applies to those run records (``automation_settings``
    deletes older runs), not to this table: a day already materialised keeps its rows, and a day past the
    retention materialised again finds no runs."""
    frames: dict[str, pd.DataFrame] = {}
    metas: dict[str, dict[str, Any]] = {}
    for key, name, day in run_partitions(context):
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        registry = load_registry(codebase_named(name))
        schedules = {t.name: t.schedule for t in registry.tasks}
        rows = summarise_runs(
            run_facts(context.instance, name, start, start + timedelta(days=1)), list(schedules)
        )
        for row in rows:
            row["job"] = job_name(name, row["task"])
            row["schedule"] = schedules.get(row["task"])
        df = AUTOMATION_HEALTH.frame(rows)
        failed = [r for r in rows if r["failed"]]
        frames[key] = df
        metas[key] = {
            "scripts": len(rows),
            "runs": int(sum(r["runs"] for r in rows)),
            "failed_runs": int(sum(r["failed"] for r in rows)),
            "registry_errors": "; ".join(registry.errors) or "(none)",
            "failures": md_table(failed, ["task", "failed", "last_failure", "last_failed_run_id"]),
        }
        context.log.info(f"{key}: {metas[key]['runs']} runs of {len(rows)} scripts, {len(failed)} failing")
    return output_partitions(context, frames, metas)
