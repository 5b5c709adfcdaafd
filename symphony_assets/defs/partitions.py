"""The one place that defines partitions.

Snapshot assets are partitioned by codebase (dynamic, kept in sync with ``symphony.yaml``) x day (UTC).
GPU assets are partitioned by host (the machine label) x hour. ``end_offset=1`` makes the partition of
the day (hour) in progress exist, since "today" is what a daily run looks at.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import dagster as dg

from symphony_assets.config import DEFAULT_START_DATE, ConfigError, load_config

CODEBASE = "codebase"
DATE = "date"
HOST = "host"
HOUR = "hour"


def _start_date() -> str:
    """Never raises: a broken config must not take the code location down (the sync sensor's tick, the
    config check and `symphony run` report it), so anything unusable falls back to the default."""
    env = os.environ.get("SYMPHONY_START_DATE")
    try:
        if env:
            return dt.date.fromisoformat(env).isoformat()
        return load_config().start_date
    except (ConfigError, OSError, ValueError):
        return DEFAULT_START_DATE


START_DATE = _start_date()

codebase_partitions = dg.DynamicPartitionsDefinition(name=CODEBASE)
host_partitions = dg.DynamicPartitionsDefinition(name=HOST)
daily_partitions = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone="UTC", end_offset=1)
hourly_partitions = dg.HourlyPartitionsDefinition(
    start_date=f"{START_DATE}-00:00", timezone="UTC", end_offset=1
)

snapshot_partitions = dg.MultiPartitionsDefinition({CODEBASE: codebase_partitions, DATE: daily_partitions})
gpu_partitions = dg.MultiPartitionsDefinition({HOST: host_partitions, HOUR: hourly_partitions})


def snapshot_key(codebase: str, day: dt.date | str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({CODEBASE: codebase, DATE: str(day)})


def partition_columns(partition_key: str | dg.MultiPartitionKey) -> dict[str, Any]:
    """The partition as typed column values, in path order (non-time dimension first)."""
    if not isinstance(partition_key, dg.MultiPartitionKey):
        first, _, second = str(partition_key).partition("|")
        # Multi-partition keys put dimensions in name order: codebase|date, host|hour.
        dims = [CODEBASE, DATE] if _looks_like_date(second) else [HOST, HOUR]
        partition_key = dg.MultiPartitionKey({dims[0]: first, dims[1]: second})
    values = partition_key.keys_by_dimension
    if DATE in values:
        return {CODEBASE: values[CODEBASE], DATE: dt.date.fromisoformat(values[DATE])}
    hour = dt.datetime.strptime(values[HOUR], "%Y-%m-%d-%H:%M").replace(tzinfo=dt.UTC)
    return {HOST: values[HOST], HOUR: hour}


def _looks_like_date(value: str) -> bool:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def partition_path_keys(columns: dict[str, Any]) -> dict[str, str]:
    """The warehouse path keys for typed partition columns (hours written ``2026-11-21T05``)."""
    out = {}
    for name, value in columns.items():
        out[name] = value.strftime("%Y-%m-%dT%H") if isinstance(value, dt.datetime) else str(value)
    return out
