"""The Postgres layer against a real embedded server."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from symphony_assets.resources.postgres import Database, DatabaseUnavailable, libpq_url, sqlalchemy_url
from symphony_assets.storage.tables import BOOL, DATE, INT, STRING, TIMESTAMP, Column, TableSchema


def test_migrations_are_recorded_and_idempotent(db: Database) -> None:
    assert db.migrate() == []  # the session fixture applied them all already
    versions = db.read_frame("SELECT version FROM symphony.schema_migrations ORDER BY version")
    assert list(versions["version"])[:3] == ["001", "002", "003"]


def test_replace_partition_deletes_then_copies_awkward_values(db: Database) -> None:
    with db.transaction() as cur:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS symphony.t_roundtrip (codebase text, date date, s text, i bigint,"
            " b boolean, d date, ts timestamptz)"
        )
    schema = TableSchema(
        "t_roundtrip",
        (
            Column("s", STRING),
            Column("i", INT),
            Column("b", BOOL),
            Column("d", DATE),
            Column("ts", TIMESTAMP),
        ),
    )
    when = dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC)
    rows = [
        {"s": 'quote " comma , newline \n end', "i": 1, "b": True, "d": dt.date(2024, 1, 2), "ts": when},
        {"s": "", "i": None, "b": None, "d": None, "ts": None},
        {"s": None, "i": 3, "b": False, "d": None, "ts": None},
        {"s": "nul\x00byte", "i": 4, "b": True, "d": None, "ts": None},
    ]
    keys = {"codebase": "alpha", "date": dt.date(2024, 5, 1)}
    assert db.replace_partitions("t_roundtrip", [(keys, schema.frame(rows))]) == 4
    # Replacing again must not duplicate.
    assert db.replace_partitions("t_roundtrip", [(keys, schema.frame(rows[:2]))]) == 2
    out = db.read_frame("SELECT s, i, b, d, ts FROM symphony.t_roundtrip WHERE codebase='alpha' ORDER BY i")
    assert len(out) == 2
    got = {r.s: r for r in out.itertuples()}
    assert 'quote " comma , newline \n end' in got
    assert "" in got  # an empty string stays an empty string, not NULL
    assert pd.isna(got[""].i)
    assert got['quote " comma , newline \n end'].ts == when


def test_unreachable_database_gives_a_clear_error(tmp_path) -> None:
    db = Database(f"postgresql://postgres:@/symphony?host={tmp_path}")
    with pytest.raises(DatabaseUnavailable, match="symphony pg start"), db.connect():
        pass


def test_url_forms() -> None:
    assert sqlalchemy_url("postgresql://u:p@h/db") == "postgresql+psycopg2://u:p@h/db"
    assert libpq_url("postgresql+psycopg2://u:p@h/db") == "postgresql://u:p@h/db"
