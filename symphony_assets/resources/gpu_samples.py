"""Reading the GPU samples back from Postgres (``symphony.gpu_samples``, ``gpu_process_samples``,
``gpu_sampler_status``), and the one read ``gpu_utilisation`` takes itself for the hour in progress.

The writing side is :class:`~symphony_assets.resources.nvml.GpuSampleStore`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pandas as pd

from symphony_assets.analysis.gpu import GpuSample, ProcessSample
from symphony_assets.resources.nvml import GpuSampleStore, NvmlResource, SampleBatch, SamplerCursor
from symphony_assets.resources.postgres import Database

HOUR = dt.timedelta(hours=1)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _us(ts: Any) -> int:
    stamp = pd.Timestamp(ts)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int((stamp.to_pydatetime() - _EPOCH) / dt.timedelta(microseconds=1))


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


def last_status(db: Database, host: str, start: dt.datetime, end: dt.datetime) -> tuple[str, str] | None:
    df = db.read_frame(
        "SELECT status, message FROM symphony.gpu_sampler_status WHERE host = %s AND read_at >= %s"
        " AND read_at < %s ORDER BY read_at DESC LIMIT 1",
        (host, start, end),
    )
    if df.empty:
        return None
    return str(df.iloc[0]["status"]), str(df.iloc[0]["message"])


def read_now_if_live(
    nvml: NvmlResource, db: Database, host: str, hour: dt.datetime, now: dt.datetime
) -> SampleBatch | None:
    """For the hour in progress on this very machine, take one read now (the whole NVML ring)."""
    if host != nvml.machine() or not hour <= now < hour + HOUR:
        return None
    batch = nvml.sampler().read(SamplerCursor())
    GpuSampleStore(db).append(batch)
    return batch
