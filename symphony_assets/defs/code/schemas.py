"""Declared schemas of the code-structure assets (match sql/V017, V018, V019)."""

from symphony_assets.storage.tables import BOOL, DATE, INT, STRING, Column, TableSchema

MARKER_LIST = TableSchema(
    name="todo_list",
    description="Every work marker (the usual four tags) in a comment, with a fingerprint that follows it.",
    columns=(
        Column("path", STRING, "Path from the codebase root", False),
        Column("line", INT, "1-based line of the comment", False),
        Column("tag", STRING, "The marker word found", False),
        Column("text", STRING, "The comment text after the marker", False),
        Column("scope", STRING, "Enclosing function/class qualname, or <module>", False),
        Column(
            "fingerprint",
            STRING,
            "Hash of tag, text, scope and occurrence: unchanged when the marker moves or the file is renamed",
            False,
        ),
        Column("via", STRING, "tokenize, recovered (fallback for files tokenize rejects) or lexer", False),
        Column("blob_id", STRING, "Git blob id of the file content"),
        Column("first_seen", DATE, "First day the finding was seen (null in partitions written before V072)"),
        Column("is_new", BOOL, "Not in the previous available partition (False on a first partition)"),
    ),
)

CODE_COMPLEXITY = TableSchema(
    name="code_complexity",
    description=(
        "Cyclomatic complexity (radon) per function, method and class of every Python file, with the"
        " file's 90-day churn and a hotspot score; a file that could not be measured is one row with"
        " no function and its status."
    ),
    columns=(
        Column("path", STRING, "Path from the codebase root", False),
        Column("blob_id", STRING, "Git blob id of the file content"),
        Column("function", STRING, "Dotted qualname (Class.method, outer.inner); null: file not measured"),
        Column("kind", STRING, "function, method or class (radon scores a class by its methods' mean)"),
        Column("line", INT, "1-based line where the definition starts"),
        Column("end_line", INT, "Last line of the definition"),
        Column("complexity", INT, "radon cyclomatic complexity"),
        Column("rank", STRING, "radon rank, A (1-5) B (6-10) C (11-20) D (21-30) E (31-40) F (41+)"),
        Column("churn_90d", INT, "Commits touching the file in the 90 days up to the snapshot", False),
        Column("hotspot_score", INT, "complexity x churn_90d; null for an unmeasured file"),
        Column(
            "status",
            STRING,
            "ok for a measured definition; parse_error, too_large, error or the read status of a file"
            " that was not measured",
            False,
        ),
        Column("message", STRING, "Why a file was not measured"),
    ),
)

CODE_FINDINGS = TableSchema(
    name="code_findings",
    description="One row per finding: broad excepts, GPU sites, backup/legacy files, unparseable files.",
    columns=(
        Column("kind", STRING, "broad_except, gpu_site, backup_file or parse_failure", False),
        Column(
            "subkind",
            STRING,
            "bare/Exception/BaseException, the GPU form, the backup kind, the failure",
            False,
        ),
        Column("path", STRING, "Path from the codebase root", False),
        Column("line", INT, "1-based line, when the finding has one"),
        Column("detail", STRING, "Source line, error message or why the path looks like a backup"),
        Column("has_reason", BOOL, "broad_except only: a comment on the handler says why"),
        Column(
            "via",
            STRING,
            "ast, recovered (the recovering parser, for files that do not parse), path, or read",
            False,
        ),
        Column("blob_id", STRING, "Git blob id of the file content"),
        Column("first_seen", DATE, "First day the finding was seen (null in partitions written before V072)"),
        Column("is_new", BOOL, "Not in the previous available partition (False on a first partition)"),
    ),
)
