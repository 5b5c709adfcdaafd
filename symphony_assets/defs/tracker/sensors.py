"""Start a dry-run reconcile whenever a new today-partition of ``todo_list`` is materialised."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from symphony_assets.defs.partitions import partition_columns
from symphony_assets.defs.snapshots import utc_today

TRACKER_JOB = "tracker_job"

tracker_job = dg.define_asset_job(
    TRACKER_JOB,
    selection=dg.AssetSelection.assets("tracker_issues"),
    description="Reconcile findings with the issue tracker (a dry run unless the run config says otherwise).",
    tags={"symphony/kind": "tracker"},
)


@dg.sensor(job=tracker_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def tracker_dry_run_sensor(context: dg.SensorEvaluationContext) -> Iterator[dg.RunRequest | dg.SkipReason]:
    """One dry-run reconcile per new materialisation of today's ``todo_list`` partition.

    The cursor is the storage id of the last materialisation looked at, so each is seen once and
    materialisations of past days (backfills) start nothing: only today can act.
    """
    cursor = int(context.cursor or 0)
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("todo_list"), after_storage_id=cursor),
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
            run_key=f"tracker|{key}|{record.storage_id}",
            partition_key=key,
            run_config={"ops": {"tracker_issues": {"config": {"dry_run": True}}}},
            tags={"symphony/codebase": str(partition_columns(key)["codebase"])},
        )
    context.update_cursor(str(cursor))
    if not requested:
        yield dg.SkipReason(f"no new todo_list partition for {today}")
