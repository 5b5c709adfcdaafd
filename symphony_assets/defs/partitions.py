"""The one place that defines partitions.

Snapshot assets are partitioned by codebase (dynamic, kept in sync with ``symphony.yaml``) x day (UTC).
GPU assets are partitioned by host (the machine label) x hour. Fleet-wide assets, which compare every
codebase (``port_conflicts``, ``dependency_drift``), by day alone. ``end_offset=1`` makes the partition of
the day (hour) in progress exist, since "today" is what a daily run looks at.
"""

from __future__ import annotations

import datetime as dt
import os
import warnings

import dagster as dg

from symphony_assets.config import DEFAULT_START_DATE, ConfigError, load_config
from symphony_assets.core.partition_keys import (  # noqa: F401 - re-exported for the domains
    CODEBASE,
    DATE,
    HOST,
    HOUR,
    partition_columns,
    partition_path_keys,
    snapshot_key,
)


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

#: A fleet-wide (day) asset reads every codebase's partition of its day of a snapshot asset; a snapshot
#: asset reads its day of a fleet-wide asset. The same mapping serves both directions.
#: A codebase x day asset that compares with the other codebases reads every codebase's partition of
#: the same day (its own included). Both mappings are beta in Dagster 1.13; we accept that.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)
    every_codebase_of_the_day = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name=DATE)
    same_day_every_codebase = dg.MultiPartitionMapping(
        {
            CODEBASE: dg.DimensionPartitionMapping(CODEBASE, dg.AllPartitionMapping()),
            DATE: dg.DimensionPartitionMapping(DATE, dg.IdentityPartitionMapping()),
        }
    )
