"""Declared schemas of the cleanup assets (sql/V040__cleanup_candidates.sql, V042__stale_processes.sql)."""

from symphony_assets.storage.tables import BOOL, DATE, FLOAT, INT, STRING, TIMESTAMP, Column, TableSchema

CLEANUP_CANDIDATES = TableSchema(
    name="cleanup_candidates",
    description="Every file a cleanup rule had something to say about, with the rule and its reason.",
    columns=(
        Column("path", STRING, "Path from the codebase root", False),
        Column("decision", STRING, "candidate, review (tracked: a person decides) or keep", False),
        Column("rule", STRING, "The rule that decided: expired, temp_untracked, protected, ...", False),
        Column("reason", STRING, "Why, in words", False),
        Column("tracked", BOOL, "Tracked by git", False),
        Column("size_bytes", INT, "Size in bytes"),
        Column("modified", TIMESTAMP, "mtime (today) or last commit (history)"),
        Column("references", INT, "Other files naming it"),
        Column("expires", DATE, "Expiry from the file's marker or the cleanup registry"),
        Column("sha256", STRING, "Content hash when judged (today's files up to 256 MiB)"),
        Column(
            "ctime_ns",
            INT,
            "Change time when judged: shows a rewrite whose mtime was put back",
        ),
        Column(
            "path_hex",
            STRING,
            "Exact name bytes in hex when not UTF-8 (path shows them escaped)",
        ),
    ),
)

CLEANUP_ACTIONS = TableSchema(
    name="cleanup_actions",
    description="What a cleanup run did (or, in a dry run, would do) with each candidate.",
    columns=(
        Column("run_id", STRING, "Dagster run id = quarantine folder name", False),
        Column("path", STRING, "Path from the root the executor worked in", False),
        Column("action", STRING, "dry_run, quarantine, refuse, skip (over the cap), restore", False),
        Column("state", STRING, "planned, done, failed, reverted", False),
        Column("rule", STRING, "The cleanup rule behind the candidate"),
        Column("size_bytes", INT, "Size in bytes"),
        Column("sha256", STRING, "Content hash at the time of the action"),
        Column("tracked", BOOL, "Tracked by git (removal staged, never committed)", False),
        Column("message", STRING, "What happened or why not"),
        Column("executed", BOOL, "False for a dry run", False),
    ),
)

STALE_PROCESSES = TableSchema(
    name="stale_processes",
    description="Long-running processes matching configured patterns and stale files in temp folders.",
    columns=(
        Column("kind", STRING, "process or file", False),
        Column("pid", INT, "Process id (processes)"),
        Column("target", STRING, "Command line (processes) or path (files)", False),
        Column("pattern", STRING, "The configured pattern or folder that matched", False),
        Column("age_hours", FLOAT, "Age in hours", False),
        Column("size_bytes", INT, "Size (files) or resident memory (processes)"),
        Column("action", STRING, "dry_run, terminated, killed, gone, quarantine, refuse, skip", False),
        Column("state", STRING, "done or failed", False),
        Column("message", STRING, "Details"),
    ),
)
