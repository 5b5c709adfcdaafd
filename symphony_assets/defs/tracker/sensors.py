"""Start a dry-run reconcile whenever a new today-partition of ``todo_list`` is materialised."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from symphony_assets.core.names import TRACKER_JOB
from symphony_assets.defs.snapshots import exclusive_tags, new_today_partitions, utc_today

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
    requested = 0
    for key, storage_id in new_today_partitions(context, "todo_list"):
        requested += 1
        yield dg.RunRequest(
            run_key=f"tracker|{key}|{storage_id}",
            partition_key=key,
            run_config={"ops": {"tracker_issues": {"config": {"dry_run": True}}}},
            tags=exclusive_tags("tracker", key),
        )
    if not requested:
        yield dg.SkipReason(f"no new todo_list partition for {utc_today()}")
