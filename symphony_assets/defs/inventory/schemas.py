"""Declared schema of ``file_inventory`` (matches sql/V002__file_inventory.sql)."""

from symphony_assets.storage.tables import BOOL, DATE, INT, STRING, TIMESTAMP, Column, TableSchema

FILE_INVENTORY = TableSchema(
    name="file_inventory",
    description="Every file of the codebase at the end of the day, with what we know about it.",
    columns=(
        Column("path", STRING, "Path from the codebase root; undecodable bytes shown as \\x escapes", False),
        Column("path_is_utf8", BOOL, "False when the file name is not valid UTF-8", False),
        Column(
            "file_type", STRING, "python_module, python_script, shell_script, text, doc, data, ...", False
        ),
        Column(
            "purpose", STRING, "Heuristic: source, test, config, docs, temporary_or_backup, log, ...", False
        ),
        Column("size_bytes", INT, "Size in bytes"),
        Column("modified", TIMESTAMP, "Working-tree mtime for today; last commit touching it for history"),
        Column("tracked", BOOL, "Tracked by git", False),
        Column("ignored", BOOL, "Matched by .gitignore", False),
        Column("git_status", STRING, "clean, modified, added, deleted, untracked, ignored, committed", False),
        Column("blob_id", STRING, "Git blob id of the content"),
        Column("last_author", STRING, "Author of the last commit touching the file"),
        Column("commit_count", INT, "Commits touching the file up to the snapshot commit"),
        Column("references", INT, "Other files naming its basename as a whole word (git grep -lwF)"),
        Column("module_references", INT, "Other files naming its basename or Python module name"),
        Column("expires", DATE, "Date from an 'Expires: YYYY-MM-DD' marker in the first 5 lines"),
        Column(
            "read_status",
            STRING,
            "ok, too_large, missing_blob, unreadable, dangling, outside_root, ...",
            False,
        ),
        Column("link_target", STRING, "Symlink target, never followed"),
        Column("notes", STRING, "Anything odd about the file, in words"),
    ),
)
