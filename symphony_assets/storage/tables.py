"""Declared table schemas: one per asset, shared by Parquet, Postgres and the Dagster UI.

Each asset declares a :class:`TableSchema`; the asset conforms its DataFrame to it, the IO manager
writes it to Parquet and mirrors it into ``symphony.<asset>`` in Postgres, and a test checks that
the migrations in ``sql/`` create exactly these columns (plus the partition columns).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

#: Arrow type -> Postgres type, for the small set of types our tables use.
_SQL_TYPES: dict[str, str] = {
    "string": "text",
    "large_string": "text",
    "int64": "bigint",
    "int32": "integer",
    "double": "double precision",
    "bool": "boolean",
    "date32[day]": "date",
    "timestamp[us, tz=UTC]": "timestamp with time zone",
}

STRING = pa.string()
INT = pa.int64()
FLOAT = pa.float64()
BOOL = pa.bool_()
DATE = pa.date32()
TIMESTAMP = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    description: str = ""
    nullable: bool = True

    @property
    def sql_type(self) -> str:
        return _SQL_TYPES[str(self.type)]


@dataclass(frozen=True)
class TableSchema:
    """The columns of one asset's table, without its partition columns (the IO manager adds those)."""

    name: str
    columns: tuple[Column, ...]
    description: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type, nullable=c.nullable) for c in self.columns])

    def empty_frame(self) -> pd.DataFrame:
        return self.arrow_schema.empty_table().to_pandas(types_mapper=pd.ArrowDtype)

    def frame(self, rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
        """Build a typed DataFrame from row dicts; missing keys become nulls, extra keys are an error."""
        rows = list(rows)
        names = set(self.column_names)
        for row in rows[:1]:
            extra = set(row) - names
            if extra:
                raise ValueError(f"{self.name}: columns not in the declared schema: {sorted(extra)}")
        arrays = {c.name: [row.get(c.name) for row in rows] for c in self.columns}
        table = pa.table(arrays, schema=self.arrow_schema)
        return table.to_pandas(types_mapper=pd.ArrowDtype)

    def conform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Reorder and cast ``df`` to the declared schema, failing loudly on missing or extra columns."""
        missing = [c for c in self.column_names if c not in df.columns]
        extra = [c for c in df.columns if c not in self.column_names]
        if missing or extra:
            raise ValueError(f"{self.name}: missing columns {missing}, undeclared columns {extra}")
        table = pa.Table.from_pandas(df[self.column_names], preserve_index=False)
        return table.cast(self.arrow_schema).to_pandas(types_mapper=pd.ArrowDtype)

    def dagster_column_schema(self) -> Any:
        """The ``dagster/column_schema`` metadata value, so the UI shows each column and its meaning."""
        import dagster as dg  # local: keeps this module importable from the analysis-free storage layer

        return dg.TableSchema(
            columns=[
                dg.TableColumn(name=c.name, type=c.sql_type, description=c.description or None)
                for c in self.columns
            ]
        )
