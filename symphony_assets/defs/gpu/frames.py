"""The frames of ``gpu_utilisation`` and ``agent_inventory``: projections of the pure results in
:mod:`symphony_assets.analysis.gpu` and :mod:`symphony_assets.analysis.gpu_agents`."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from symphony_assets.analysis.gpu import GpuSample, ProcessSample, aggregate_hour, fill_cmdlines
from symphony_assets.analysis.gpu_agents import agent_rows
from symphony_assets.defs.gpu.schemas import AGENT_INVENTORY, GPU_UTILISATION
from symphony_assets.defs.snapshots import md_table


def utilisation_frame(
    samples: Iterable[GpuSample], procs: Iterable[ProcessSample], threshold: float
) -> pd.DataFrame:
    summary = aggregate_hour(samples, fill_cmdlines(list(procs)), threshold=threshold)
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


def _records(df: pd.DataFrame | None) -> list[dict[str, Any]] | None:
    """A frame's rows as dicts with every missing value (NaN, NA, NaT) as None."""
    if df is None:
        return None
    plain = df.astype(object)
    return list(plain.where(plain.notna(), None).to_dict("records"))


def _timestamp(value: Any) -> Any:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


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
    files: set[str] | None = None
    modified: dict[str, Any] = {}
    if inventory is not None:
        files = {str(p) for p in inventory["path"]}
        if "modified" in inventory.columns:
            stamps = zip(inventory["path"].astype(str), inventory["modified"], strict=True)
            modified = {path: _timestamp(mod) for path, mod in stamps}
    if findings is not None and "kind" in findings.columns:
        # Only GPU sites are read from the findings: every row as a dict cost 35 ms a day.
        findings = findings[findings["kind"] == "gpu_site"]
    rows, notes = agent_rows(
        machine=machine,
        root=root,
        files=files,
        modified=modified,
        findings=_records(findings),
        ports=_records(ports),
        procs=procs,
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
