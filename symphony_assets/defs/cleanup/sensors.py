"""Start a dry-run ``cleanup_actions`` run whenever a new today-partition of ``cleanup_candidates`` lands."""

from collections.abc import Iterator

import dagster as dg

from symphony_assets.defs.partitions import partition_columns
from symphony_assets.defs.snapshots import utc_today

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
    cursor = int(context.cursor or 0)
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("cleanup_candidates"), after_storage_id=cursor),
        limit=200,
        ascending=True,
    ).records
    today = utc_today()
    requested = 0
    for record in records:
        cursor = max(cursor, record.storage_id)
        key = record.partition_key
        if not key or partition_columns(key)["date"] != today:
            continue
        requested += 1
        yield dg.RunRequest(
            run_key=f"cleanup|{key}|{record.storage_id}",
            partition_key=key,
            run_config={"ops": {"cleanup_actions": {"config": {"execute": False}}}},
            tags={"symphony/codebase": str(partition_columns(key)["codebase"])},
        )
    context.update_cursor(str(cursor))
    if not requested:
        yield dg.SkipReason(f"no new cleanup_candidates partition for {today}")
