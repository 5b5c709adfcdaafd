"""Declared schema of ``machine_health`` (sql/V061__machine_health.sql)."""

from symphony_assets.storage.tables import FLOAT, STRING, TIMESTAMP, Column, TableSchema

MACHINE_HEALTH = TableSchema(
    name="machine_health",
    description="A machine's health readings for the hour: disk, temp files, stale processes, runs, DB.",
    columns=(
        Column(
            "metric",
            STRING,
            "disk_free_pct, temp_files, stale_processes, failed_runs, postgres_bytes...",
            False,
        ),
        Column("subject", STRING, "The codebase, database or 'dagster' the reading is about", False),
        Column("value", FLOAT, "The reading", False),
        Column("unit", STRING, "%, files, bytes, hours, processes, runs", False),
        Column("threshold", FLOAT, "The limit it is judged against (none: informational)"),
        Column("status", STRING, "ok or warn", False),
        Column("detail", STRING, "More about the reading"),
        Column("measured_at", TIMESTAMP, "When it was read (the latest reading of the hour wins)", False),
    ),
)
