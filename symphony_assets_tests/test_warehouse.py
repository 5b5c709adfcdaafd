"""The Parquet warehouse: atomic partitions, local folders and URLs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from symphony_assets.storage.tables import INT, STRING, Column, TableSchema
from symphony_assets.storage.warehouse import Warehouse

SCHEMA = TableSchema("t", (Column("path", STRING), Column("n", INT)))
KEYS = {"codebase": "alpha", "date": "2026-11-05"}


def test_layout_and_round_trip(tmp_path: Path) -> None:
    wh = Warehouse(str(tmp_path))
    df = SCHEMA.frame([{"path": "a.py", "n": 1}, {"path": "b.py", "n": None}])
    path = wh.write("t", KEYS, df)
    assert path == f"{tmp_path}/t/codebase=alpha/date=2026-11-05.parquet"
    back = wh.read("t", KEYS)
    assert back is not None and list(back["path"]) == ["a.py", "b.py"] and pd.isna(back["n"].iloc[1])
    assert wh.read("t", {"codebase": "alpha", "date": "2026-11-06"}) is None


def test_a_root_given_as_a_url(tmp_path: Path) -> None:
    wh = Warehouse(f"file://{tmp_path}/remote")
    wh.write("t", KEYS, SCHEMA.frame([{"path": "x", "n": 2}]))
    assert (tmp_path / "remote/t/codebase=alpha/date=2026-11-05.parquet").exists()
    assert wh.uri("t", KEYS).startswith("file://")
    back = wh.read("t", KEYS)
    assert back is not None and list(back["n"]) == [2]


def test_a_failed_write_leaves_the_old_partition_and_no_temp_file(tmp_path: Path) -> None:
    wh = Warehouse(str(tmp_path))
    wh.write("t", KEYS, SCHEMA.frame([{"path": "old", "n": 1}]))
    bad = pd.DataFrame({"path": ["new"], "n": [object()]})  # pyarrow cannot convert this column
    with pytest.raises(Exception):  # noqa: B017 - any pyarrow conversion error will do
        wh.write("t", KEYS, bad)
    back = wh.read("t", KEYS)
    assert back is not None and list(back["path"]) == ["old"]
    leftovers = [p.name for p in (tmp_path / "t/codebase=alpha").iterdir()]
    assert leftovers == ["date=2026-11-05.parquet"]


def test_schema_rejects_undeclared_and_missing_columns() -> None:
    with pytest.raises(ValueError, match="not in the declared schema"):
        SCHEMA.frame([{"path": "a", "n": 1, "extra": 3}])
    with pytest.raises(ValueError, match="missing columns"):
        SCHEMA.conform(pd.DataFrame({"path": ["a"]}))
