"""``git_maintenance``: monthly, opt-in git upkeep of each local codebase (``upkeep: {git_maintenance:
true}`` in symphony.yaml), never while another run of that codebase is active; records the repository's
size before and after."""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from symphony_assets.config import ConfigError, load_config
from symphony_assets.defs.partitions import CODEBASE, snapshot_key, snapshot_partitions
from symphony_assets.defs.snapshots import codebase_named, output_partitions, run_partitions, utc_today
from symphony_assets.defs.upkeep.schemas import GIT_MAINTENANCE
from symphony_assets.resources.upkeep import run_upkeep

DOMAIN = "upkeep"
GIT_MAINTENANCE_JOB = "git_maintenance_job"
BUSY = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def active_runs(instance: dg.DagsterInstance, codebase: str, own_run_id: str | None) -> list[str]:
    """Run ids of other queued or running runs of this codebase."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=BUSY, tags={"symphony/codebase": codebase}), limit=100
    )
    return [r.dagster_run.run_id for r in records if r.dagster_run.run_id != own_run_id]


@dg.asset(
    partitions_def=snapshot_partitions,
    io_manager_key="warehouse_io_manager",
    group_name="upkeep",
    kinds={"git", "parquet", "postgres"},
    tags={"symphony/trigger": "sensor"},  # its monthly schedule starts it, never the daily snapshot job
    metadata={"dagster/column_schema": GIT_MAINTENANCE.dagster_column_schema()},
    code_version="1",
)
def git_maintenance(context: dg.AssetExecutionContext) -> Any:
    """``git maintenance run`` (or ``git gc`` with ``upkeep.git_command: gc``) in the codebase, unless
    another run of the codebase is queued or running; the git directory's size before and after."""
    frames, metas = {}, {}
    for key, name, _day in run_partitions(context):
        codebase = codebase_named(name)
        busy = active_runs(context.instance, name, context.run.run_id)
        row: dict[str, Any] = {"run_id": context.run.run_id}
        if busy:
            row |= {
                "command": "",
                "status": "skipped",
                "message": f"other runs active: {', '.join(busy[:5])}",
            }
            context.log.info(f"{key}: skipped, {len(busy)} other runs of {name} are active")
        else:
            result = run_upkeep(codebase.path, str(codebase.option(DOMAIN, "git_command", "maintenance")))
            row |= {
                "command": result.command,
                "status": "done" if result.ok else "failed",
                "message": result.message,
                "size_before_bytes": result.before.bytes,
                "size_after_bytes": result.after.bytes,
                "loose_before": result.before.loose_objects,
                "loose_after": result.after.loose_objects,
                "packs_before": result.before.packs,
                "packs_after": result.after.packs,
                "duration_s": round(result.duration_s, 3),
            }
            if not result.ok:
                raise dg.Failure(description=f"{key}: {result.command}: {result.message}")
            context.log.info(f"{key}: {result.before.bytes} -> {result.after.bytes} bytes")
        frames[key] = GIT_MAINTENANCE.frame([row])
        metas[key] = {k: v for k, v in row.items() if v is not None}
    return output_partitions(context, frames, metas)


git_maintenance_job = dg.define_asset_job(
    GIT_MAINTENANCE_JOB,
    selection=dg.AssetSelection.assets("git_maintenance"),
    description="Git upkeep of one local codebase (opt-in: upkeep.git_maintenance).",
    tags={"symphony/kind": "upkeep"},
)


def opted_in(name: str) -> bool:
    try:
        codebase = load_config().codebase(name)
    except ConfigError:
        return False
    return bool(codebase.option(DOMAIN, "git_maintenance", False)) and codebase.path.is_dir()


@dg.schedule(job=git_maintenance_job, cron_schedule="0 5 1 * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING)  # fmt: skip
def git_maintenance_schedule(
    context: dg.ScheduleEvaluationContext,
) -> Iterator[dg.RunRequest | dg.SkipReason]:
    """The first of each month: one run per opted-in local codebase with no other run active."""
    day = utc_today()
    asked = 0
    for name in context.instance.get_dynamic_partitions(CODEBASE):
        if not opted_in(name) or active_runs(context.instance, name, None):
            continue
        asked += 1
        yield dg.RunRequest(
            run_key=f"git-maintenance|{name}|{day}",
            partition_key=snapshot_key(name, day),
            tags={"symphony/codebase": name, "symphony/exclusive": f"upkeep:{name}"},
        )
    if not asked:
        yield dg.SkipReason("no opted-in codebase free for git upkeep")
