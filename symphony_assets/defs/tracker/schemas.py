"""Declared schema of ``tracker_issues`` (matches sql/V050__tracker.sql)."""

from symphony_assets.storage.tables import BOOL, INT, STRING, Column, TableSchema

TRACKER_ISSUES = TableSchema(
    name="tracker_issues",
    description="One row per finding or managed issue, with what the reconcile did (or would do) about it.",
    columns=(
        Column("fingerprint", STRING, "The finding's identity, hidden in the issue body as a marker", False),
        Column("source", STRING, "todo, import_cycle, port_conflict, dependency_drift or legacy_files"),
        Column(
            "action",
            STRING,
            "create, update, reopen, close, unchanged, pending_close, duplicate, "
            "skipped_create or skipped_close",
            False,
        ),
        Column("issue_number", INT, "The tracker's issue number (after creating, when applied)"),
        Column("title", STRING, "Issue title", False),
        Column("file", STRING, "Where the finding is (file or folder)"),
        Column("line", INT, "Line of the finding, when it has one"),
        Column("reason", STRING, "Why this action", False),
        Column("present", BOOL, "The finding exists in this partition", False),
        Column("tracker", STRING, "builtin or github:<owner/repo>", False),
        Column("dry_run", BOOL, "Nothing was changed in the tracker", False),
        Column("applied", BOOL, "The action was carried out successfully", False),
        Column("error", STRING, "Why applying the action failed"),
    ),
)
