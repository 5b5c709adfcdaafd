"""Start a dry-run ``cleanup_actions`` run whenever a new today-partition of ``cleanup_candidates`` lands."""

from collections.abc import Iterator

import dagster as dg

from symphony_assets.defs.snapshots import exclusive_tags, new_today_partitions, utc_today

CLEANUP_DRY_RUN_JOB = "cleanup_dry_run_job"

cleanup_dry_run_job = dg.define_asset_job(
    CLEANUP_DRY_RUN_JOB,
    selection=dg.AssetSelection.assets("cleanup_actions"),
    description="Plan what cleanup would do with today's candidates (a dry run unless the config says so).",
    tags={"symphony/kind": "cleanup"},
)


@dg.sensor(
    job=cleanup_dry_run_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING
)
def cleanup_dry_run_sensor(context: dg.SensorEvaluationContext) -> Iterator[dg.RunRequest | dg.SkipReason]:
    """One dry run per new materialisation of today's ``cleanup_candidates`` partition.

    The cursor is the storage id of the last materialisation looked at, so each is seen once; past days
    (backfills) start nothing, since cleanup only ever acts on today.
    """
    requested = 0
    for key, storage_id in new_today_partitions(context, "cleanup_candidates"):
        requested += 1
        yield dg.RunRequest(
            run_key=f"cleanup|{key}|{storage_id}",
            partition_key=key,
            run_config={"ops": {"cleanup_actions": {"config": {"execute": False}}}},
            tags=exclusive_tags("cleanup", key),
        )
    if not requested:
        yield dg.SkipReason(f"no new cleanup_candidates partition for {utc_today()}")
