"""Partition dimensions, keys and the typed columns they become (no Dagster definitions here).

Snapshot assets are partitioned by codebase x day (UTC), GPU assets by host x hour, and fleet-wide
assets (comparisons across every codebase, e.g. ``port_conflicts``) by day alone. The partition
definitions themselves live in ``defs/partitions.py``; storage and orchestration need only the keys.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dagster as dg

CODEBASE = "codebase"
DATE = "date"
HOST = "host"
HOUR = "hour"


def snapshot_key(codebase: str, day: dt.date | str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({CODEBASE: codebase, DATE: str(day)})


def partition_columns(partition_key: str | dg.MultiPartitionKey) -> dict[str, Any]:
    """The partition as typed column values, in path order (non-time dimension first)."""
    if not isinstance(partition_key, dg.MultiPartitionKey):
        first, bar, second = str(partition_key).partition("|")
        if not bar:  # a fleet-wide asset: the day alone
            return {DATE: dt.date.fromisoformat(first)}
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
