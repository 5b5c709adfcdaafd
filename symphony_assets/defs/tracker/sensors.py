"""Start a reconcile whenever a new today-partition of ``todo_list`` is materialised: a dry run, or one
that applies the plan where the codebase's policy says ``tracker: {mode: apply}`` and the kill switch
(``SYMPHONY_ACTING=off`` or the stopped ``acting_enabled`` sensor) is not pulled."""

from collections.abc import Iterator

import dagster as dg

from symphony_assets.analysis.policy import TrackerPolicy
from symphony_assets.config import ConfigError, load_config
from symphony_assets.core.names import TRACKER_JOB
from symphony_assets.defs.partitions import partition_columns
from symphony_assets.defs.snapshots import exclusive_tags, new_today_partitions, utc_today
from symphony_assets.resources.acting import BLOCKED_TAG, sensor_switch_reason

tracker_job = dg.define_asset_job(
    TRACKER_JOB,
    selection=dg.AssetSelection.assets("tracker_issues"),
    description="Reconcile findings with the issue tracker (a dry run unless the run config says otherwise).",
    tags={"symphony/kind": "tracker"},
)


def tracker_policy(codebase: str) -> TrackerPolicy:
    """The codebase's acting policy from symphony.yaml; an unreadable config or unknown name is a dry run."""
    try:
        return TrackerPolicy.from_options(load_config().codebase(codebase).options.get("tracker"))
    except ConfigError:
        return TrackerPolicy()


@dg.sensor(job=tracker_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def tracker_dry_run_sensor(context: dg.SensorEvaluationContext) -> Iterator[dg.RunRequest | dg.SkipReason]:
    """One reconcile per new materialisation of today's ``todo_list`` partition; it applies (within the
    policy's ``max_create``/``max_close``) only where the policy says ``mode: apply``.

    The cursor is the storage id of the last materialisation looked at, so each is seen once and
    materialisations of past days (backfills) start nothing: only today can act.
    """
    requested = 0
    new = new_today_partitions(context, "todo_list")
    blocked = sensor_switch_reason(context) if new else None
    for key, storage_id in new:
        requested += 1
        policy = tracker_policy(str(partition_columns(key)["codebase"]))
        config = policy.run_config(acting=blocked is None)
        tags = {**exclusive_tags("tracker", key), "symphony/acting": str(not config["dry_run"]).lower()}
        if policy.apply and blocked:
            tags[BLOCKED_TAG] = blocked
            context.log.warning(f"{key}: the policy says apply, but {blocked}; starting a dry run")
        yield dg.RunRequest(
            run_key=f"tracker|{key}|{storage_id}",
            partition_key=key,
            run_config={"ops": {"tracker_issues": {"config": config}}},
            tags=tags,
        )
    if not requested:
        yield dg.SkipReason(f"no new todo_list partition for {utc_today()}")
