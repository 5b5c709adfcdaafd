"""``machine_health``: one machine's health for the hour (host x hour), read every 30 minutes by its
schedule: disk space of each codebase's filesystem, temp-named files in the working trees, stale
processes, failed Dagster runs in the hour, the Postgres database's size. The asset check warns past the
thresholds, and warnings go to ``SYMPHONY_WEBHOOK_URL`` like failed runs do."""

import datetime as dt
import time
from typing import Any

import dagster as dg

from symphony_assets.analysis.health import WARN, Measurement, Thresholds, judge
from symphony_assets.config import ConfigError, load_config
from symphony_assets.defs.cleanup.settings import rules_for
from symphony_assets.defs.health.schemas import MACHINE_HEALTH
from symphony_assets.defs.partitions import gpu_partitions, partition_columns
from symphony_assets.defs.snapshots import md_table, partitioned_output
from symphony_assets.resources.health import disk, post_alert, postgres_size, temp_files
from symphony_assets.resources.postgres import PostgresResource
from symphony_assets.resources.processes import find_stale_processes

HEALTH_CHECK = dg.AssetCheckSpec(
    "machine_healthy",
    asset="machine_health",
    description="Every reading within its threshold (a warning: disk filling up, temp files piling up, "
    "stale processes, failed runs, a large database).",
)


class MachineHealthConfig(dg.Config):
    disk_free_min_pct: float = 10.0
    temp_files_max: int = 200
    temp_file_max_age_hours: float = 72.0
    stale_processes_max: int = 0
    failed_runs_max: int = 0
    postgres_max_gb: float = 20.0
    alert: bool = True
    """Post warnings to SYMPHONY_WEBHOOK_URL."""


def failed_runs(instance: dg.DagsterInstance, start: dt.datetime, end: dt.datetime) -> Measurement:
    records = instance.get_run_records(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.FAILURE], updated_after=start, updated_before=end
        ),
        limit=1000,
    )
    jobs = sorted({r.dagster_run.job_name for r in records})
    return Measurement("failed_runs", "dagster", len(records), "runs", ", ".join(jobs[:20]))


@dg.asset(
    partitions_def=gpu_partitions,
    io_manager_key="warehouse_io_manager",
    group_name="health",
    kinds={"parquet", "postgres"},
    metadata={"dagster/column_schema": MACHINE_HEALTH.dagster_column_schema()},
    check_specs=[HEALTH_CHECK],
    code_version="1",
)
def machine_health(
    context: dg.AssetExecutionContext, config: MachineHealthConfig, postgres: PostgresResource
) -> Any:
    """Health readings of this machine for the partition's hour; codebases are those whose ``machine``
    is the partition's host."""
    key = context.partition_key
    cols = partition_columns(key)
    host, hour = str(cols["host"]), cols["hour"]
    now = time.time()
    try:
        codebases = [c for c in load_config().codebases if c.machine == host]
    except ConfigError as exc:
        raise dg.Failure(description=f"symphony.yaml: {exc}") from exc
    readings: list[Measurement] = []
    for codebase in codebases:
        reading = disk(codebase)
        if reading is not None:
            readings.append(reading)
        rules = rules_for(codebase)
        readings += temp_files(codebase, now, rules.temp_match)
        patterns = [str(p) for p in codebase.option("cleanup", "stale_process_patterns", []) or []]
        if patterns:
            hours = float(codebase.option("cleanup", "stale_process_hours", 24))
            stale = find_stale_processes(patterns, hours, now)
            detail = ", ".join(f"{s['pid']}" for s in stale[:20])
            readings.append(Measurement("stale_processes", codebase.name, len(stale), "processes", detail))
    readings.append(failed_runs(context.instance, hour, hour + dt.timedelta(hours=1)))
    readings.append(postgres_size(postgres.database()))
    limits = Thresholds(
        disk_free_min_pct=config.disk_free_min_pct,
        temp_files_max=config.temp_files_max,
        temp_file_max_age_hours=config.temp_file_max_age_hours,
        stale_processes_max=config.stale_processes_max,
        failed_runs_max=config.failed_runs_max,
        postgres_max_bytes=int(config.postgres_max_gb * 1024**3),
    )
    measured = dt.datetime.fromtimestamp(now, dt.UTC)
    judged = judge(readings, limits)
    rows = [{**row, "measured_at": measured} for row in judged]
    warnings = [r for r in judged if r["status"] == WARN]
    df = MACHINE_HEALTH.frame(rows)
    table = md_table(warnings, ["metric", "subject", "value", "threshold", "detail"])
    meta = {"host": host, "readings": len(rows), "warnings": len(warnings), "codebases": len(codebases),
            "warn": table}  # fmt: skip
    alerted = False
    if warnings and config.alert:
        text = ", ".join(
            f"{r['metric']} {r['subject']} = {r['value']:g} (limit {r['threshold']:g})" for r in warnings
        )
        alerted = post_alert({"text": f"Symphony health warning on {host}: {text}", "host": host,
                              "hour": hour.isoformat(), "run_id": context.run.run_id, "warnings": warnings},
                             )  # fmt: skip
    meta["alert_sent"] = alerted
    context.log.info(f"{key}: {len(rows)} readings, {len(warnings)} warnings")
    yield partitioned_output(context, {key: df}, {key: meta})
    yield dg.AssetCheckResult(
        check_name=HEALTH_CHECK.name,
        asset_key=HEALTH_CHECK.asset_key,
        passed=not warnings,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"partition": key, "warnings": len(warnings), "where": table},
    )
