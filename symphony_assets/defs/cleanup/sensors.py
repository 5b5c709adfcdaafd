"""Start a ``cleanup_actions`` run whenever a new today-partition of ``cleanup_candidates`` lands: a dry
run, or an acting one where the codebase's policy says ``cleanup: {mode: execute}`` and the kill switch
(``SYMPHONY_ACTING=off`` or the stopped ``acting_enabled`` sensor) is not pulled."""

from collections.abc import Iterator

import dagster as dg

from symphony_assets.analysis.policy import CleanupPolicy
from symphony_assets.config import ConfigError, load_config
from symphony_assets.defs.partitions import partition_columns
from symphony_assets.defs.snapshots import exclusive_tags, new_today_partitions, utc_today
from symphony_assets.resources.acting import BLOCKED_TAG, sensor_switch_reason

CLEANUP_DRY_RUN_JOB = "cleanup_dry_run_job"

cleanup_dry_run_job = dg.define_asset_job(
    CLEANUP_DRY_RUN_JOB,
    selection=dg.AssetSelection.assets("cleanup_actions"),
    description="Plan what cleanup would do with today's candidates (a dry run unless the config says so).",
    tags={"symphony/kind": "cleanup"},
)


def cleanup_policy(codebase: str) -> CleanupPolicy:
    """The codebase's acting policy from symphony.yaml; an unreadable config or unknown name is a dry run."""
    try:
        return CleanupPolicy.from_options(load_config().codebase(codebase).options.get("cleanup"))
    except ConfigError:
        return CleanupPolicy()


@dg.sensor(
    job=cleanup_dry_run_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING
)
def cleanup_dry_run_sensor(context: dg.SensorEvaluationContext) -> Iterator[dg.RunRequest | dg.SkipReason]:
    """One run per new materialisation of today's ``cleanup_candidates`` partition: it executes (within
    ``max_deletions``) only for codebases whose policy is ``mode: execute``, and never while the kill
    switch is pulled.

    The cursor is the storage id of the last materialisation looked at, so each is seen once; past days
    (backfills) start nothing, since cleanup only ever acts on today.
    """
    requested = 0
    new = new_today_partitions(context, "cleanup_candidates")
    blocked = sensor_switch_reason(context) if new else None
    for key, storage_id in new:
        requested += 1
        policy = cleanup_policy(str(partition_columns(key)["codebase"]))
        config = policy.run_config(acting=blocked is None)
        tags = {**exclusive_tags("cleanup", key), "symphony/acting": str(config["execute"]).lower()}
        if policy.execute and blocked:
            tags[BLOCKED_TAG] = blocked
            context.log.warning(f"{key}: the policy says execute, but {blocked}; starting a dry run")
        yield dg.RunRequest(
            run_key=f"cleanup|{key}|{storage_id}",
            partition_key=key,
            run_config={"ops": {"cleanup_actions": {"config": config}}},
            tags=tags,
        )
    if not requested:
        yield dg.SkipReason(f"no new cleanup_candidates partition for {utc_today()}")
