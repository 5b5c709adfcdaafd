"""``gpu_utilisation`` (host x hour) from the raw NVML samples, and ``agent_inventory`` (codebase x day).

Raw samples reach ``symphony.gpu_samples`` through the ``gpu_sampler`` sensor (see ``sensors.py``).
``gpu_utilisation`` aggregates one hour of one machine from there; when it runs for the hour in
progress on the machine itself it first takes one read of its own, so ``symphony run`` without a
daemon still records something, and on a machine without NVML or GPUs the partition is written
EMPTY with the reason in its metadata.
"""

import datetime as dt
from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.analysis.gpu_agents import gpu_hosts
from symphony_assets.defs.gpu.checks import GPU_HOT_CHECK, hot_result
from symphony_assets.defs.gpu.frames import build_agent_inventory, utilisation_frame
from symphony_assets.defs.gpu.schemas import AGENT_INVENTORY, GPU_UTILISATION
from symphony_assets.defs.partitions import gpu_partitions, partition_columns
from symphony_assets.defs.snapshots import (
    codebase_named,
    input_for,
    md_table,
    output_partitions,
    partitioned_output,
    run_partitions,
    snapshot_asset,
)
from symphony_assets.resources.gpu_samples import (
    HOUR,
    last_status,
    load_process_samples,
    load_samples,
    read_now_if_live,
)
from symphony_assets.resources.nvml import STATUS_OK, NvmlResource
from symphony_assets.resources.postgres import Database, PostgresResource

# ---------------------------------------------------------------------------------------------------
# gpu_utilisation
# ---------------------------------------------------------------------------------------------------


def compute_gpu_utilisation(
    nvml: NvmlResource, db: Database, partition_key: str, threshold: float, now: dt.datetime | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    cols = partition_columns(partition_key)
    host, hour = str(cols["host"]), cols["hour"]
    live = read_now_if_live(nvml, db, host, hour, now or dt.datetime.now(dt.UTC))
    samples = load_samples(db, [host], hour, hour + HOUR)
    procs = load_process_samples(db, [host], hour, hour + HOUR)
    df = utilisation_frame(samples, procs, threshold)
    meta: dict[str, Any] = {
        "host": host,
        "hour": hour.isoformat(),
        "devices": len(df),
        "raw_samples": len(samples),
        "process_rows": len(procs),
        "threshold_pct": threshold,
        "read_now": live is not None,
    }
    status = (live.status, live.message) if live is not None else last_status(db, host, hour, hour + HOUR)
    if status is not None:
        meta["sampler_status"] = status[0]
        meta["sampler_message"] = status[1]
    if df.empty:
        if status is not None and status[0] != STATUS_OK:
            meta["empty_reason"] = f"{status[0]}: {status[1]}"
        elif status is None:
            meta["empty_reason"] = (
                f"no sampler reads recorded for host {host!r} in this hour (is the gpu_sampler sensor "
                "running on that machine?)"
            )
        else:
            meta["empty_reason"] = "the sampler ran but stored no GPU utilisation samples in this hour"
    else:
        meta["by_device"] = md_table(
            df.to_dict("records"),
            [
                "device_uuid",
                "samples",
                "gpu_util_p50",
                "gpu_util_p95",
                "peak_memory_pct",
                "minutes_any_above",
            ],
        )
    return df, meta


class GpuUtilisationConfig(dg.Config):
    #: Utilisation / memory occupancy above this percentage counts as "hot".
    threshold_pct: float = 90.0
    #: The check warns when a GPU is hot in at least this many minutes of the hour.
    hot_minutes: int = 10


#: The samples the ``gpu_sampler`` sensor appends (a Postgres table no run materialises): declared so
#: the lineage shows where ``gpu_utilisation`` and ``agent_inventory`` get their GPU data.
gpu_samples = dg.AssetSpec(
    "gpu_samples",
    description="NVML samples the gpu_sampler sensor appends (symphony.gpu_samples, gpu_process_samples).",
    group_name="gpu",
    kinds={"nvml", "postgres"},
    metadata={"dagster/table_name": "symphony.symphony.gpu_samples"},
)


@dg.asset(
    partitions_def=gpu_partitions,
    deps=[gpu_samples],
    io_manager_key="warehouse_io_manager",
    group_name="gpu",
    kinds={"nvml", "parquet", "postgres"},
    metadata={"dagster/column_schema": GPU_UTILISATION.dagster_column_schema()},
    check_specs=[GPU_HOT_CHECK],
    code_version="1",
)
def gpu_utilisation(
    context: dg.AssetExecutionContext,
    config: GpuUtilisationConfig,
    nvml: NvmlResource,
    postgres: PostgresResource,
) -> Any:
    """GPU utilisation of one machine for one hour: p50/p95/max, memory peaks, minutes above the
    threshold, top processes. Empty (with the reason) on machines without NVML or GPUs."""
    db = postgres.database()
    key = context.partition_key
    df, meta = compute_gpu_utilisation(nvml, db, key, config.threshold_pct)
    if "empty_reason" in meta:
        context.log.info(f"{key}: empty: {meta['empty_reason']}")
    yield partitioned_output(context, {key: df}, {key: meta})
    yield hot_result(df, key, config.threshold_pct, config.hot_minutes)


# ---------------------------------------------------------------------------------------------------
# agent_inventory
# ---------------------------------------------------------------------------------------------------


@snapshot_asset(
    AGENT_INVENTORY,
    ins={name: dg.AssetIn(name) for name in ("file_inventory", "code_findings", "port_map")},
    deps=[gpu_samples],
    group_name="gpu",
    kinds={"parquet", "postgres"},
    code_version="1",
)
def agent_inventory(
    context: dg.AssetExecutionContext,
    postgres: PostgresResource,
    file_inventory: Any,
    code_findings: Any,
    port_map: Any,
) -> Any:
    """Every agent of the codebase (files under agents/, *agent*.py, or run by a GPU process): its
    machine, the ports it binds, its GPU code sites, last change and GPU peak over the day."""
    db = postgres.database()
    frames: dict[str, pd.DataFrame] = {}
    metas: dict[str, dict[str, Any]] = {}
    for key, name, day in run_partitions(context):
        codebase = codebase_named(name)
        start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        hosts = gpu_hosts(codebase.machine, codebase.option("gpu", "hosts"))
        df, meta = build_agent_inventory(
            machine=codebase.machine,
            root=str(codebase.path),
            inventory=input_for(file_inventory, key),
            findings=input_for(code_findings, key),
            ports=input_for(port_map, key),
            procs=load_process_samples(db, hosts, start, start + dt.timedelta(days=1)),
        )
        frames[key], metas[key] = df, {"codebase": name, "gpu_hosts": ", ".join(hosts), **meta}
        context.log.info(f"{key}: {len(df)} agents; upstream missing: {meta['upstream_missing']}")
    return output_partitions(context, frames, metas)
