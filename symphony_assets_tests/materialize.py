"""Materialise a few asset definitions directly (no whole code location) with the real resources."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from symphony_assets.defs.partitions import CODEBASE, snapshot_key
from symphony_assets.resources.git import GitResource
from symphony_assets.resources.postgres import PostgresResource
from symphony_assets.storage.io_manager import WarehouseIOManager


def real_resources(pg_url: str, home: Path) -> dict[str, Any]:
    postgres = PostgresResource(url=pg_url)
    return {
        "git": GitResource(),
        "postgres": postgres,
        "warehouse_io_manager": WarehouseIOManager(postgres=postgres, warehouse_root=str(home / "warehouse")),
    }


def materialize_days(
    assets: Sequence[Any],
    instance: Any,
    pg_url: str,
    home: Path,
    codebase: str,
    first: str,
    last: str | None = None,
) -> Any:
    """One day, or ``first..last`` in one single-run backfill, as the UI's backfill would launch it."""
    instance.add_dynamic_partitions(CODEBASE, [codebase])
    tags: dict[str, str] = {}
    key: str | None = str(snapshot_key(codebase, first))
    if last is not None:
        tags = {
            "dagster/asset_partition_range_start": str(snapshot_key(codebase, first)),
            "dagster/asset_partition_range_end": str(snapshot_key(codebase, last)),
        }
        key = None
    return dg.materialize(
        assets, partition_key=key, tags=tags, resources=real_resources(pg_url, home), instance=instance
    )


def materialize_fleet_day(upstream: Any, asset: Any, instance: Any, pg_url: str, home: Path, day: str) -> Any:
    """One day of the fleet-wide ``asset``, over every codebase's partition of the day of ``upstream``
    (already materialised: it is a source here)."""
    return dg.materialize(
        [upstream.to_source_asset(), asset],
        partition_key=day,
        resources=real_resources(pg_url, home),
        instance=instance,
        selection=[asset.key],
    )
