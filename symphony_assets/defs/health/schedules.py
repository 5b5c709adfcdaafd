"""Every 30 minutes: this machine's ``machine_health`` for the hour in progress."""

import datetime as dt
import os

import dagster as dg

from symphony_assets.defs.partitions import HOST, HOUR

MACHINE_ENV = "SYMPHONY_MACHINE"  # the same label as the GPU sampler's (resources/nvml.py)
MACHINE_HEALTH_JOB = "machine_health_job"

machine_health_job = dg.define_asset_job(
    MACHINE_HEALTH_JOB,
    selection=dg.AssetSelection.assets("machine_health"),
    description="Read this machine's health for the hour in progress.",
    tags={"symphony/kind": "health"},
)


@dg.schedule(job=machine_health_job, cron_schedule="*/30 * * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING)  # fmt: skip
def machine_health_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """The current hour of the machine the daemon runs on (``SYMPHONY_MACHINE``, default ``local``)."""
    when = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    hour = when.astimezone(dt.UTC).strftime("%Y-%m-%d-%H:00")
    host = os.environ.get(MACHINE_ENV) or "local"
    if host not in context.instance.get_dynamic_partitions(HOST):
        context.instance.add_dynamic_partitions(HOST, [host])
    return dg.RunRequest(
        run_key=f"health|{host}|{when.isoformat()}",
        partition_key=dg.MultiPartitionKey({HOST: host, HOUR: hour}),
    )
