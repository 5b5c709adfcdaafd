"""Declared schema of ``security_findings`` (matches sql/V070)."""

from symphony_assets.storage.tables import BOOL, DATE, INT, STRING, Column, TableSchema

SECURITY_FINDINGS = TableSchema(
    name="security_findings",
    description=(
        "One row per security finding (bandit's rules, secrets-like literals, and the tolerant parser's"
        " shell=True/eval/pickle/bind sites in files bandit cannot parse), plus one row per such file."
    ),
    columns=(
        Column(
            "fingerprint", STRING, "Hash of rule, path, snippet hash and occurrence: survives moves", False
        ),
        Column("kind", STRING, "finding, or unparsed_file (bandit could not read the file)", False),
        Column("rule_id", STRING, "bandit test id (B602 ...), SEC0xx/SEC100 for secrets, unparsed", False),
        Column("rule_name", STRING, "bandit test name or secret kind", False),
        Column("severity", STRING, "LOW, MEDIUM or HIGH", False),
        Column("confidence", STRING, "LOW, MEDIUM or HIGH", False),
        Column("path", STRING, "Path from the codebase root", False),
        Column("line", INT, "1-based first line (0 for an unparsed-file row without a line)", False),
        Column("end_line", INT, "Last line of the flagged code", False),
        Column("message", STRING, "What is wrong", False),
        Column("snippet", STRING, "The first flagged source line, stripped (secrets are shown as found)"),
        Column("snippet_hash", STRING, "Hash of the flagged lines without whitespace", False),
        Column("via", STRING, "bandit, tree-sitter (file does not parse) or secrets (text patterns)", False),
        Column("parse_error", STRING, "Why bandit could not read the file, for its rows"),
        Column("blob_id", STRING, "Git blob id of the file content"),
        Column("first_seen", DATE, "First day the finding was seen (carried from earlier partitions)", False),
        Column("is_new", BOOL, "Not in the previous available partition (False on a first partition)", False),
    ),
)
