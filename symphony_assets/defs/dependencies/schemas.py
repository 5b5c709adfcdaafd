"""Declared schemas of ``dependency_declarations`` and ``dependency_drift`` (match sql/V015 and V080)."""

from symphony_assets.storage.tables import BOOL, DATE, INT, STRING, Column, TableSchema

DEPENDENCY_DECLARATIONS = TableSchema(
    name="dependency_declarations",
    description="Every dependency declared in requirements files and pyproject.toml, and unreadable lines.",
    columns=(
        Column("path", STRING, "File holding the declaration (an included file for -r/-c includes)", False),
        Column("line", INT, "1-based line (0 when the format gives none)", False),
        Column("package", STRING, "PEP 503 normalised name; empty when unknown (error rows, -e .)", False),
        Column("specifier", STRING, "PEP 440 specifier set; empty for any version", False),
        Column("extras", STRING, "Requested extras, comma-separated", False),
        Column("marker", STRING, "Environment marker, empty when unconditional", False),
        Column("kind", STRING, "version, url, path, editable or error", False),
        Column("section", STRING, "requirements, constraints, project, optional:<g>, poetry:<g>, ...", False),
        Column("raw", STRING, "The line or entry as written", False),
        Column("error", STRING, "Why the line could not be read, for kind=error"),
        Column("blob_id", STRING, "Git blob id of the file"),
    ),
)

DEPENDENCY_DRIFT = TableSchema(
    name="dependency_drift",
    description="Packages declared inconsistently within a codebase or between codebases (fleet, by day).",
    columns=(
        Column("package", STRING, "PEP 503 normalised name", False),
        Column(
            "status",
            STRING,
            "conflicting_pins, unsatisfiable, pinned_and_unpinned or declared_twice_in_file",
            False,
        ),
        Column("codebases", STRING, "Codebases involved, comma-separated", False),
        Column("files", STRING, "codebase:path:line of every declaration involved", False),
        Column("versions", STRING, "Distinct specifiers involved ((any) for none)", False),
        Column(
            "marker", STRING, "Environment marker the declarations share, empty when unconditional", False
        ),
        Column("cross_codebase", BOOL, "True when another codebase is involved", False),
        Column("declaration_count", INT, "Declarations involved", False),
        Column("first_seen", DATE, "First day the drift was seen (null in partitions written before V072)"),
        Column("is_new", BOOL, "Not in the previous available partition (False on a first partition)"),
    ),
)
