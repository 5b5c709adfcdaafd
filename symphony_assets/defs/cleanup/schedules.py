"""Weekly cleanup review and the daily 4 AM sweep of expired transient files.

Both are dry runs unless the codebase opts in (``cleanup: {weekly_execute: true}`` or
``cleanup: {expired_execute: true}`` in symphony.yaml); acting always needs that explicit yes, and the
global kill switch (``SYMPHONY_ACTING=off``, the stopped ``acting_enabled`` sensor) turns them into dry runs.
"""

from collections.abc import Iterator

import dagster as dg

from symphony_assets.config import ConfigError, load_config
from symphony_assets.defs.partitions import CODEBASE, snapshot_key
from symphony_assets.defs.snapshots import utc_today
from symphony_assets.resources.acting import sensor_switch_reason

CLEANUP_WEEKLY_JOB = "cleanup_weekly_job"
CLEANUP_EXPIRED_JOB = "cleanup_expired_job"

cleanup_weekly_job = dg.define_asset_job(
    CLEANUP_WEEKLY_JOB,
    # The candidates come from the daily snapshot job (06:00 UTC), an hour before this runs.
    selection=dg.AssetSelection.assets("cleanup_actions", "stale_processes"),
    description="Plan (or perform) the cleanup of today's candidates and look for stale processes.",
    tags={"symphony/kind": "cleanup"},
)

cleanup_expired_job = dg.define_asset_job(
    CLEANUP_EXPIRED_JOB,
    selection=dg.AssetSelection.assets("cleanup_actions"),
    description="Quarantine files whose lifecycle-registry expiry has passed.",
    tags={"symphony/kind": "cleanup"},
)


def _opted_in(name: str, key: str) -> bool:
    try:
        return bool(load_config().codebase(name).option("cleanup", key, False))
    except ConfigError:
        return False


@dg.schedule(job=cleanup_weekly_job, cron_schedule="0 7 * * 1", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING)  # fmt: skip
def cleanup_weekly_schedule(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
    """Mondays after the daily snapshot: today's partition of every codebase, one run each."""
    day = utc_today()
    blocked = sensor_switch_reason(context)
    for name in context.instance.get_dynamic_partitions(CODEBASE):
        execute = _opted_in(name, "weekly_execute") and blocked is None
        ops = {
            "cleanup_actions": {"config": {"execute": execute}},
            "stale_processes": {"config": {"execute": execute}},
        }
        yield dg.RunRequest(
            run_key=f"cleanup-weekly|{name}|{day}",
            partition_key=snapshot_key(name, day),
            run_config={"ops": ops},
            tags={"symphony/codebase": name},
        )


@dg.schedule(job=cleanup_expired_job, cron_schedule="0 4 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING)  # fmt: skip
def cleanup_expired_schedule(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
    """Every day at 4 AM UTC: registry entries past their expiry go through the same executor."""
    day = utc_today()
    blocked = sensor_switch_reason(context)
    for name in context.instance.get_dynamic_partitions(CODEBASE):
        config = {"only_expired": True, "execute": _opted_in(name, "expired_execute") and blocked is None}
        yield dg.RunRequest(
            run_key=f"cleanup-expired|{name}|{day}",
            partition_key=snapshot_key(name, day),
            run_config={"ops": {"cleanup_actions": {"config": config}}},
            tags={"symphony/codebase": name},
        )
