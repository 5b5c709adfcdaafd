"""Declared schemas of the code-structure assets (match sql/V017, V018, V019)."""

from symphony_assets.storage.tables import BOOL, INT, STRING, Column, TableSchema

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
        Column("via", STRING, "tokenize, tree-sitter (fallback for files tokenize rejects) or lexer", False),
        Column("blob_id", STRING, "Git blob id of the file content"),
    ),
)

CODE_COMPLEXITY = TableSchema(
    name="code_complexity",
    description="Cyclomatic complexity per Python file (radon), with 90-day churn and a hotspot score.",
    columns=(
        Column("path", STRING, "Path from the codebase root", False),
        Column("blob_id", STRING, "Git blob id of the file content"),
        Column(
            "status", STRING, "ok, parse_error, too_large, error, or the read status of an unread file", False
        ),
        Column("message", STRING, "Why a file was not measured"),
        Column("functions", INT, "Functions and methods measured", False),
        Column("total_complexity", INT, "Sum of function and method complexities", False),
        Column("max_complexity", INT, "Highest function or method complexity", False),
        Column("worst_function", STRING, "Qualname of the most complex function or method"),
        Column("worst_function_line", INT, "Line where that function starts"),
        Column("worst_rank", STRING, "radon rank of that function, A (simple) to F"),
        Column("complex_functions", INT, "Functions ranked C or worse (complexity over 10)", False),
        Column("churn_90d", INT, "Commits touching the file in the 90 days up to the snapshot", False),
        Column("hotspot_score", INT, "total_complexity x churn_90d", False),
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
            "via", STRING, "ast, tree-sitter (fallback for files that do not parse), path, or read", False
        ),
        Column("blob_id", STRING, "Git blob id of the file content"),
    ),
)
