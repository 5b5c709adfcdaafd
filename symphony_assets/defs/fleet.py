"""Plumbing for what spans the fleet: assets partitioned by day over every codebase, and codebase x day
assets that compare with the other codebases of their day.

Both read other codebases' partitions, so the read is a declared input with a partition mapping
(``defs/partitions.py``): the lineage shows every codebase's partition upstream, Dagster orders the day
after them (an eager automation condition under the daemon; ``symphony run`` runs them in a later
phase), and the IO manager hands the input as ``{partition_key: frame | None}``.
"""

from collections.abc import Mapping
from datetime import date
from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.core.names import BY_PARTITION, PHASE_TAG
from symphony_assets.defs.partitions import (
    daily_partitions,
    every_codebase_of_the_day,
    partition_columns,
    same_day_every_codebase,
)
from symphony_assets.defs.snapshots import days_per_run
from symphony_assets.storage.tables import TableSchema

#: A cross-codebase asset of today: run when every codebase's partition of the day is there and one of
#: them changed (past days come with the backfill that writes them: the same partitions).
AFTER_EVERY_CODEBASE = dg.AutomationCondition.eager()
#: A fleet-wide day, of today or of the past: a backfill of the codebases' partitions (whose partitions it
#: cannot share) is followed by the fleet-wide days it completes. Dagster 1.13's backfill mutation cannot
#: take both kinds of partitions when one dimension is dynamic (``partitionsByAssets`` fails with "The
#: instance is not available to load partitions"), so the automation condition orders them instead.
EVERY_DAY_AFTER_EVERY_CODEBASE = dg.AutomationCondition.eager().without(
    dg.AutomationCondition.in_latest_time_window()
)


def fleet_asset(schema: TableSchema, **kwargs: Any) -> Any:
    """``@dg.asset`` for a fleet-wide asset: partitioned by day, the Parquet + Postgres IO manager, the
    declared column schema, run after every codebase's partitions of its day."""
    metadata = {"dagster/column_schema": schema.dagster_column_schema(), **kwargs.pop("metadata", {})}
    return dg.asset(
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=days_per_run()),
        io_manager_key="warehouse_io_manager",
        automation_condition=EVERY_DAY_AFTER_EVERY_CODEBASE,
        tags={PHASE_TAG: "fleet", **kwargs.pop("tags", {})},
        metadata=metadata,
        **kwargs,
    )


def fleet_input(asset: str) -> dg.AssetIn:
    """For a fleet-wide asset: every codebase's partition of its day of the snapshot asset ``asset``;
    for a codebase x day asset: its day of the fleet-wide ``asset``."""
    return dg.AssetIn(asset, partition_mapping=every_codebase_of_the_day, metadata={BY_PARTITION: True})


def every_codebase_input(asset: str) -> dg.AssetIn:
    """For a codebase x day asset that compares with the others: every codebase's partition of its day."""
    return dg.AssetIn(asset, partition_mapping=same_day_every_codebase, metadata={BY_PARTITION: True})


def by_codebase(value: Any, day: date) -> dict[str, pd.DataFrame | None]:
    """``{codebase: frame | None}`` of one day out of an input from :func:`fleet_input` or
    :func:`every_codebase_input` (``None``: that codebase has no partition of the day)."""
    out: dict[str, pd.DataFrame | None] = {}
    for key, frame in (value or {}).items():
        cols = partition_columns(key)
        if cols.get("date") == day and "codebase" in cols:
            out[str(cols["codebase"])] = frame if isinstance(frame, pd.DataFrame) else None
    return dict(sorted(out.items()))


def fleet_day(value: Any, day: date) -> pd.DataFrame | None:
    """A day's frame of a fleet-wide asset, out of an input from :func:`fleet_input`."""
    found = value.get(str(day)) if isinstance(value, Mapping) else None
    return found if isinstance(found, pd.DataFrame) else None


def run_days(context: dg.AssetExecutionContext) -> list[tuple[str, date]]:
    """(partition key, day) for every partition of a fleet-wide asset's run, in order."""
    return [(key, date.fromisoformat(key)) for key in context.partition_keys]


def involves(df: pd.DataFrame | None, codebase: str) -> pd.DataFrame | None:
    """The rows of a fleet-wide finding frame whose ``codebases`` (comma-separated) name ``codebase``."""
    if df is None or df.empty:
        return df
    named = df["codebases"].astype(str).map(lambda text: codebase in [c.strip() for c in text.split(",")])
    return df[named.astype(bool)].reset_index(drop=True)
