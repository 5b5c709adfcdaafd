"""Write each asset partition to Parquet (the source of truth), then mirror it into Postgres.

An asset returns a DataFrame for its partition, or a dict ``{partition_key: DataFrame}`` when one run
covers a range (single-run backfills). All Parquet files are written first; then every partition is
replaced in Postgres in ONE transaction. If Postgres is down the run fails with a clear message, the
Parquet stays, and a rerun mirrors it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.defs.partitions import partition_columns, partition_path_keys
from symphony_assets.resources.postgres import Database, DatabaseUnavailable, PostgresResource
from symphony_assets.storage.warehouse import Warehouse


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Parquet under ``warehouse_root`` (a folder or URL) mirrored into ``symphony.<asset>``."""

    postgres: PostgresResource
    warehouse_root: str | None = None
    mirror: bool = True

    def _warehouse(self) -> Warehouse:
        return Warehouse(self.warehouse_root)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        asset = context.asset_key.path[-1]
        frames = self._frames_by_partition(context, obj)
        warehouse = self._warehouse()
        written: list[tuple[dict[str, Any], pd.DataFrame]] = []
        paths = []
        for key, df in frames.items():
            columns = partition_columns(key) if key else {}
            full = df.assign(**columns)[[*columns, *df.columns]] if columns else df
            paths.append(warehouse.write(asset, partition_path_keys(columns), full))
            written.append((columns, df))
        rows = sum(len(df) for df in frames.values())
        metadata: dict[str, Any] = {
            "dagster/row_count": rows,
            "parquet": paths[0] if len(paths) == 1 else f"{len(paths)} files under {warehouse.root}/{asset}",
            "partitions_written": len(paths),
        }
        if self.mirror:
            db: Database = self.postgres.database()
            try:
                db.replace_partitions(asset, written)
            except DatabaseUnavailable as exc:
                raise dg.Failure(
                    description=(
                        f"{asset}: the Parquet partition(s) were written, but mirroring into Postgres "
                        f"failed: {exc}. Rerun the partition once Postgres is back to mirror it."
                    ),
                    metadata={"parquet": paths[0] if paths else ""},
                ) from exc
            metadata["postgres_table"] = f"symphony.{asset}"
        context.add_output_metadata(metadata)

    def _frames_by_partition(self, context: dg.OutputContext, obj: Any) -> Mapping[str, pd.DataFrame]:
        if not context.has_asset_partitions:
            return {"": obj}
        keys = list(context.asset_partition_keys)
        if isinstance(obj, Mapping):
            missing = set(keys) - set(obj)
            if missing:
                raise dg.Failure(
                    f"{context.asset_key.to_user_string()}: no output for partitions {sorted(missing)}"
                )
            return {k: obj[k] for k in keys}
        if len(keys) != 1:
            raise dg.Failure("a multi-partition run must return {partition_key: DataFrame}")
        return {keys[0]: obj}

    def load_input(self, context: dg.InputContext) -> Any:
        asset = context.asset_key.path[-1]
        warehouse = self._warehouse()
        if not context.has_asset_partitions:
            return warehouse.read(asset, {})
        frames = {}
        for key in context.asset_partition_keys:
            columns = partition_columns(key)
            df = warehouse.read(asset, partition_path_keys(columns))
            if df is not None:
                df = df.drop(columns=[c for c in columns if c in df.columns])
            frames[key] = df
        if len(frames) == 1:
            return next(iter(frames.values()))
        return frames
