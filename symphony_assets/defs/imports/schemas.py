"""Declared schemas of ``import_graph`` and ``import_cycles`` (match sql/V010, V011 and V020)."""

from symphony_assets.storage.tables import BOOL, DATE, INT, STRING, Column, TableSchema

IMPORT_GRAPH = TableSchema(
    name="import_graph",
    description=(
        "Imports between the codebase's own modules: one row per import statement and target; imports"
        " of own modules that do not exist are rows with status missing."
    ),
    columns=(
        Column("importer", STRING, "Module that imports (dotted name from its path and source root)", False),
        Column(
            "imported", STRING, "Module it imports: the submodule when there is one, else the package", False
        ),
        Column("importer_path", STRING, "File of the importing module", False),
        Column("imported_path", STRING, "File Python would load for the imported module", False),
        Column("line", INT, "1-based line of the import statement", False),
        Column(
            "kind",
            STRING,
            "module (runs at import), try, conditional, function, type_checking, main (__main__ guard)",
            False,
        ),
        Column("via", STRING, "ast, or fallback (the recovering parser: the file does not parse)", False),
        Column("importer_blob_id", STRING, "Git blob id of the importing file"),
        Column("importer_parse_error", STRING, "Why ast.parse rejected the importing file, when it did"),
        Column(
            "status",
            STRING,
            "resolved (an edge), or missing: no file provides the module Python looks for (imported,"
            " with imported_path empty); such an import raises, so it is never part of a cycle",
            False,
        ),
        Column("nearest_package", STRING, "missing only: the longest prefix of imported that exists"),
    ),
)

IMPORT_CYCLES = TableSchema(
    name="import_cycles",
    description="One row per import cycle (strongly connected component), real or latent.",
    columns=(
        Column("cycle_id", STRING, "Stable id from the member modules", False),
        Column(
            "latent",
            BOOL,
            "True when the cycle exists only through function-level, TYPE_CHECKING or __main__ imports",
            False,
        ),
        Column("size", INT, "Modules in the component", False),
        Column("modules", STRING, "Member modules, sorted, comma-separated", False),
        Column("loop", STRING, "One shortest loop: module:line of its import of the next -> ...", False),
        Column("loop_length", INT, "Imports in that loop", False),
        Column(
            "cut", STRING, "Imports whose removal breaks the component: path:line importer -> imported", False
        ),
        Column("cut_size", INT, "Imports in the cut", False),
        Column("first_seen", DATE, "First day the cycle was seen (null in partitions written before V072)"),
        Column("is_new", BOOL, "Not in the previous available partition (False on a first partition)"),
    ),
)
