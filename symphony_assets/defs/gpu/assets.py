"""``gpu_utilisation`` (host x hour) from the raw NVML samples, and ``agent_inventory`` (codebase x day).

Raw samples reach ``symphony.gpu_samples`` through the ``gpu_sampler`` sensor (see ``sensors.py``).
``gpu_utilisation`` aggregates one hour of one machine from there; when it runs for the hour in
progress on the machine itself it first takes one read of its own, so ``symphony run`` without a
daemon still records something, and on a machine without NVML or GPUs the partition is written
EMPTY with the reason in its metadata.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.analysis.gpu import GpuSample, ProcessSample, aggregate_hour, match_cmdline_to_file
from symphony_assets.defs.gpu.checks import GPU_HOT_CHECK, hot_result
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
from symphony_assets.resources.nvml import (
    STATUS_OK,
    GpuSampleStore,
    NvmlResource,
    SampleBatch,
    SamplerCursor,
)
from symphony_assets.resources.postgres import Database, PostgresResource

HOUR = dt.timedelta(hours=1)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _us(ts: Any) -> int:
    stamp = pd.Timestamp(ts)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int((stamp.to_pydatetime() - _EPOCH) / dt.timedelta(microseconds=1))


# ---------------------------------------------------------------------------------------------------
# Reading raw samples back
# ---------------------------------------------------------------------------------------------------


def load_samples(db: Database, hosts: Sequence[str], start: dt.datetime, end: dt.datetime) -> list[GpuSample]:
    df = db.read_frame(
        "SELECT host, device_uuid, sample_type, ts, value FROM symphony.gpu_samples"
        " WHERE host = ANY(%s) AND ts >= %s AND ts < %s",
        (list(hosts), start, end),
    )
    return [
        GpuSample(r.host, r.device_uuid, r.sample_type, _us(r.ts), float(r.value))
        for r in df.itertuples(index=False)
    ]


def load_process_samples(
    db: Database, hosts: Sequence[str], start: dt.datetime, end: dt.datetime
) -> list[ProcessSample]:
    df = db.read_frame(
        "SELECT host, device_uuid, pid, ts, used_memory_bytes, sm_util, mem_util, cmdline, cwd, status"
        " FROM symphony.gpu_process_samples WHERE host = ANY(%s) AND ts >= %s AND ts < %s",
        (list(hosts), start, end),
    )
    out = []
    for r in df.itertuples(index=False):
        out.append(
            ProcessSample(
                host=r.host,
                device_uuid=r.device_uuid,
                pid=int(r.pid),
                ts_us=_us(r.ts),
                used_memory_bytes=None if pd.isna(r.used_memory_bytes) else int(r.used_memory_bytes),
                sm_util=None if pd.isna(r.sm_util) else float(r.sm_util),
                mem_util=None if pd.isna(r.mem_util) else float(r.mem_util),
                cmdline=tuple(r.cmdline) if isinstance(r.cmdline, list) else None,
                cwd=r.cwd,
                status=r.status,
            )
        )
    return out


def _fill_cmdlines(procs: list[ProcessSample]) -> list[ProcessSample]:
    """Utilisation rows of a pid get the command line its memory row of the same host/device saw."""
    known: dict[tuple[str, str, int], tuple[tuple[str, ...], str | None]] = {}
    for p in procs:
        if p.cmdline:
            known.setdefault((p.host, p.device_uuid, p.pid), (p.cmdline, p.cwd))
    out = []
    for p in procs:
        if p.cmdline is None and (p.host, p.device_uuid, p.pid) in known:
            cmd, cwd = known[(p.host, p.device_uuid, p.pid)]
            p = ProcessSample(**{**p.__dict__, "cmdline": cmd, "cwd": cwd})
        out.append(p)
    return out


def last_status(db: Database, host: str, start: dt.datetime, end: dt.datetime) -> tuple[str, str] | None:
    df = db.read_frame(
        "SELECT status, message FROM symphony.gpu_sampler_status WHERE host = %s AND read_at >= %s"
        " AND read_at < %s ORDER BY read_at DESC LIMIT 1",
        (host, start, end),
    )
    if df.empty:
        return None
    return str(df.iloc[0]["status"]), str(df.iloc[0]["message"])


# ---------------------------------------------------------------------------------------------------
# gpu_utilisation
# ---------------------------------------------------------------------------------------------------


def utilisation_frame(
    samples: Iterable[GpuSample], procs: Iterable[ProcessSample], threshold: float
) -> pd.DataFrame:
    summary = aggregate_hour(samples, _fill_cmdlines(list(procs)), threshold=threshold)
    top: dict[str, list[str]] = defaultdict(list)
    ranked = sorted(summary.processes, key=lambda p: -(p.peak_memory_bytes or 0))
    for p in ranked:
        if len(top[p.device_uuid]) < 5:
            who = p.agent_file or " ".join(p.cmdline or ()) or "?"
            pids = ",".join(str(x) for x in p.pids)
            top[p.device_uuid].append(f"pid {pids} {who[:120]} peak {p.peak_memory_bytes or 0} B")
    rows = [
        {
            "device_uuid": d.device_uuid,
            "samples": d.gpu_util_samples,
            "gpu_util_p50": d.gpu_util_p50,
            "gpu_util_p95": d.gpu_util_p95,
            "gpu_util_max": d.gpu_util_max,
            "mem_util_p95": d.mem_util_p95,
            "peak_memory_bytes": d.peak_memory_bytes,
            "memory_total_bytes": d.memory_total_bytes,
            "peak_memory_pct": d.peak_memory_pct,
            "max_temperature_c": d.max_temperature_c,
            "max_power_mw": d.max_power_mw,
            "minutes_util_above": d.minutes_util_above,
            "minutes_memory_above": d.minutes_memory_above,
            "minutes_any_above": d.minutes_any_above,
            "threshold_pct": threshold,
            "top_processes": "; ".join(top.get(d.device_uuid, [])) or None,
        }
        for d in summary.devices
    ]
    return GPU_UTILISATION.frame(rows)


def read_now_if_live(
    nvml: NvmlResource, db: Database, host: str, hour: dt.datetime, now: dt.datetime
) -> SampleBatch | None:
    """For the hour in progress on this very machine, take one read now (the whole NVML ring)."""
    if host != nvml.machine() or not hour <= now < hour + HOUR:
        return None
    batch = nvml.sampler().read(SamplerCursor())
    GpuSampleStore(db).append(batch)
    return batch


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


def is_agent_path(path: str) -> str | None:
    """Why a path is an agent by its name: a Python file under an ``agents/`` folder, or ``*agent*.py``."""
    if not path.endswith(".py"):
        return None
    parts = path.split("/")
    if "agents" in parts[:-1]:
        return "agents_dir"
    if "agent" in parts[-1].lower():
        return "agent_name"
    return None


def _binds(role: Any) -> bool:
    text = str(role or "").lower()
    return any(word in text for word in ("bind", "listen", "serve"))


def _path_column(df: pd.DataFrame) -> str | None:
    for name in ("path", "file"):
        if name in df.columns:
            return name
    return None


def gpu_hosts(machine: str, option: Any) -> list[str]:
    """Hosts whose GPU samples count for a codebase: its machine label, or ``gpu: {hosts: [...]}``."""
    if isinstance(option, list) and option:
        return [str(h) for h in option]
    return [machine]


def build_agent_inventory(
    *,
    machine: str,
    root: str | None,
    inventory: pd.DataFrame | None,
    findings: pd.DataFrame | None,
    ports: pd.DataFrame | None,
    procs: Sequence[ProcessSample],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Join the upstream partitions (any of them may be missing) and the day's GPU processes."""
    notes: list[str] = []
    files: set[str] = set()
    modified: dict[str, Any] = {}
    if inventory is None:
        notes.append("file_inventory partition missing: no file list, so no agents by name")
    else:
        files = {str(p) for p in inventory["path"]}
        if "modified" in inventory.columns:
            modified = dict(zip(inventory["path"].astype(str), inventory["modified"], strict=True))
    why: dict[str, set[str]] = defaultdict(set)
    for path in files:
        reason = is_agent_path(path)
        if reason:
            why[path].add(reason)

    gpu: dict[str, dict[str, Any]] = {}
    g: dict[str, Any] | None
    for p in _fill_cmdlines(list(procs)):
        if not p.cmdline:
            continue
        hit = match_cmdline_to_file(p.cmdline, files, p.cwd, root=root) if files else None
        if hit is None:
            continue
        why[hit].add("gpu_process")
        g = gpu.setdefault(hit, {"pids": set(), "mem": None, "sm": None})
        g["pids"].add(p.pid)
        if p.used_memory_bytes is not None:
            g["mem"] = max(g["mem"] or 0, p.used_memory_bytes)
        if p.sm_util is not None:
            g["sm"] = max(g["sm"] or 0.0, p.sm_util)

    sites: dict[str, list[str]] = defaultdict(list)
    if findings is None:
        notes.append("code_findings partition missing: GPU sites unknown")
    else:
        col = _path_column(findings)
        gpu_rows = (
            findings[findings["kind"] == "gpu_site"] if "kind" in findings.columns else findings.iloc[0:0]
        )
        for r in gpu_rows.to_dict("records"):
            line = r.get("line")
            form = r.get("subkind") or r.get("detail") or ""
            sites[str(r[col])].append(f"{'' if pd.isna(line) else int(line)}:{form}")

    bound: dict[str, list[str]] = defaultdict(list)
    bound_ports: dict[str, set[Any]] = defaultdict(set)
    if ports is None:
        notes.append("port_map partition missing: ports unknown")
    else:
        col = _path_column(ports)
        for r in ports.to_dict("records"):
            if col is None or ("role" in r and not _binds(r.get("role"))):
                continue
            port = r.get("port")
            if port is None or pd.isna(port):
                continue
            host = r.get("host") or "*"
            line = r.get("line")
            where = "" if line is None or pd.isna(line) else f", line {int(line)}"
            bound[str(r[col])].append(f"{host}:{int(port)} ({r.get('role', 'bind')}{where})")
            bound_ports[str(r[col])].add(int(port))

    rows = []
    for path in sorted(why):
        g = gpu.get(path)
        mod = modified.get(path)
        rows.append(
            {
                "path": path,
                "why": ",".join(sorted(why[path])),
                "machine": machine,
                "ports": "; ".join(sorted(bound.get(path, []))) or None,
                "port_count": len(bound_ports.get(path, ())),
                "gpu_sites": len(sites.get(path, [])),
                "gpu_site_lines": ", ".join(sites.get(path, [])) or None,
                "last_modified": None if mod is None or pd.isna(mod) else pd.Timestamp(mod).to_pydatetime(),
                "gpu_seen": g is not None,
                "gpu_pids": ",".join(str(x) for x in sorted(g["pids"])) if g else None,
                "gpu_peak_memory_bytes": g["mem"] if g else None,
                "gpu_peak_sm_util": g["sm"] if g else None,
            }
        )
    df = AGENT_INVENTORY.frame(rows)
    meta: dict[str, Any] = {
        "agents": len(df),
        "agents_on_gpu": int(df["gpu_seen"].sum()) if not df.empty else 0,
        "gpu_process_rows": len(procs),
        "upstream_missing": "; ".join(notes) or "none",
        "agents_table": md_table(
            df.to_dict("records"), ["path", "why", "ports", "gpu_sites", "gpu_peak_memory_bytes"]
        ),
    }
    return df, meta


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
