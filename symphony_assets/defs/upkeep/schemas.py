"""Declared schema of ``git_maintenance`` (sql/V062__git_maintenance.sql)."""

from symphony_assets.storage.tables import FLOAT, INT, STRING, Column, TableSchema

GIT_MAINTENANCE = TableSchema(
    name="git_maintenance",
    description="Git upkeep of a local codebase: the command, its outcome, repository size before and after.",
    columns=(
        Column("run_id", STRING, "Dagster run id", False),
        Column("command", STRING, "git maintenance run ... or git gc", False),
        Column("status", STRING, "done, failed, or skipped (another run of the codebase was active)", False),
        Column("message", STRING, "What happened"),
        Column("size_before_bytes", INT, "Bytes of the git directory before"),
        Column("size_after_bytes", INT, "Bytes of the git directory after"),
        Column("loose_before", INT, "Loose objects before"),
        Column("loose_after", INT, "Loose objects after"),
        Column("packs_before", INT, "Pack files before"),
        Column("packs_after", INT, "Pack files after"),
        Column("duration_s", FLOAT, "Seconds the command ran"),
    ),
)
