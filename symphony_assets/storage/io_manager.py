"""Write each asset partition to Parquet (the source of truth), then mirror it into Postgres.

An asset returns a DataFrame for its partition, or a dict ``{partition_key: DataFrame}`` when one run
covers a range (single-run backfills). All Parquet files are written first; then every partition is
replaced in Postgres in ONE transaction. If Postgres is down the run fails with a clear message, the
Parquet stays, and a rerun mirrors it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import psycopg2.extensions

from symphony_assets.core.names import BY_PARTITION
from symphony_assets.core.partition_keys import partition_columns, partition_path_keys
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
        per_partition: dict[str, dict[str, Any]] = {}
        for key, df in frames.items():
            columns = partition_columns(key) if key else {}
            full = df.assign(**columns)[[*columns, *df.columns]] if columns else df
            path = warehouse.write(asset, partition_path_keys(columns), full)
            written.append((columns, df))
            per_partition[key] = {
                "dagster/row_count": len(df),
                "dagster/uri": parquet_uri(warehouse, asset, partition_path_keys(columns), path),
                "parquet": path,
            }
        if self.mirror:
            db: Database = self.postgres.database()
            try:
                db.replace_partitions(asset, written)
            except DatabaseUnavailable as exc:
                first = next(iter(per_partition.values()), {})
                raise dg.Failure(
                    description=(
                        f"{asset}: the Parquet partition(s) were written, but mirroring into Postgres "
                        f"failed: {exc}. Rerun the partition once Postgres is back to mirror it."
                    ),
                    metadata={"parquet": str(first.get("parquet", ""))},
                ) from exc
            for meta in per_partition.values():
                meta["dagster/table_name"] = table_name(db, asset)
                meta["postgres_table"] = f"symphony.{asset}"
        attach_partition_metadata(context, per_partition, warehouse.root)

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
            frames[str(key)] = df
        if len(frames) == 1 and not (context.definition_metadata or {}).get(BY_PARTITION):
            return next(iter(frames.values()))
        return frames


def parquet_uri(warehouse: Warehouse, asset: str, keys: Mapping[str, Any], path: str) -> str:
    """Where a partition's Parquet file is, as a URI (``file:///...`` for a local warehouse)."""
    if "://" in warehouse.root:
        return warehouse.uri(asset, keys)
    return Path(path).absolute().as_uri()


def table_name(db: Database, asset: str) -> str:
    """The mirror table's fully qualified name, ``database.schema.table`` as Dagster expects it."""
    try:
        dbname = psycopg2.extensions.parse_dsn(db.url).get("dbname")
    except psycopg2.ProgrammingError:
        dbname = None  # a URL libpq cannot parse fails on connecting, long before this
    return f"{dbname}.symphony.{asset}" if dbname else f"symphony.{asset}"


def attach_partition_metadata(
    context: dg.OutputContext, per_partition: Mapping[str, Mapping[str, Any]], root: str
) -> None:
    """Each partition's row count, Parquet URI and Postgres table onto ITS materialisation event.

    ``OutputContext.add_output_metadata`` would copy one set of values onto every partition of a range
    run; metadata scoped to a partition on the step (what the asset body does too, see
    ``defs/snapshots.add_partition_metadata``) reaches only that partition's event, and Dagster builds
    the events after this returns.
    """
    if list(per_partition) == [""]:  # an unpartitioned asset: one event
        context.add_output_metadata(dict(per_partition[""]))
        return
    try:
        step = context.step_context
    except dg.DagsterInvariantViolationError:
        step = None  # an OutputContext built outside a run (build_output_context): no events to scope
    if step is None:
        if len(per_partition) == 1:
            context.add_output_metadata(dict(next(iter(per_partition.values()))))
        else:
            rows = sum(int(m["dagster/row_count"]) for m in per_partition.values())
            context.add_output_metadata(
                {"dagster/row_count": rows, "partitions_written": len(per_partition), "warehouse": root}
            )
        return
    scope_to_partitions(step, context.asset_key, per_partition)


def scope_to_partitions(step: Any, asset_key: dg.AssetKey, metas: Mapping[str, Mapping[str, Any]]) -> None:
    """``metas[key]`` onto the materialisation event of partition ``key`` of ``asset_key`` in this step.

    The same as ``step.add_asset_metadata(meta, asset_key, partition_key=key)`` for each key, without its
    check that the key is in the run's range: Dagster 1.13 makes that check by listing every partition
    of the definition (every codebase x every day since ``start_date``), about 50 ms per call, which
    over a 61-day backfill of every asset added tens of seconds. Our keys come from the run's own
    partition keys, so the check cannot fail. If a Dagster upgrade moves the accumulator, the public
    (checked) call is used instead.
    """
    accumulator: Any = getattr(step, "_metadata_accumulator", None)  # Dagster 1.13: the step's accumulator
    if not hasattr(accumulator, "with_additional_asset_metadata"):
        for key, meta in metas.items():
            step.add_asset_metadata(dict(meta), asset_key=asset_key, partition_key=str(key))
        return
    for key, meta in metas.items():
        accumulator = accumulator.with_additional_asset_metadata(
            asset_key=asset_key, partition_key=str(key), metadata=dict(meta)
        )
    step._metadata_accumulator = accumulator  # a private attribute: see the docstring
