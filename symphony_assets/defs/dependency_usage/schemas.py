"""Declared schema of ``dependency_usage`` (matches sql/V071)."""

from symphony_assets.storage.tables import BOOL, DATE, INT, STRING, Column, TableSchema

DEPENDENCY_USAGE = TableSchema(
    name="dependency_usage",
    description=(
        "Declared vs imported dependencies: one row per imported third-party top-level module and per"
        " declared distribution nobody imports, with the module-to-distribution mapping's source."
    ),
    columns=(
        Column(
            "module", STRING, "Top-level module imported (for an unused row: the modules it provides)", False
        ),
        Column(
            "package",
            STRING,
            "Distribution (PEP 503 normalised) the module maps to, or the declared one",
            False,
        ),
        Column(
            "status",
            STRING,
            "used, missing (imported, not declared), transitive (not declared, pulled in by a declared"
            " package), unused (declared, never imported) or tool (declared for its command)",
            False,
        ),
        Column(
            "mapping_source",
            STRING,
            "config (module_map option), table (maintained mismatches), installed (distribution metadata),"
            " same_name, or declaration (an unused row)",
            False,
        ),
        Column("declared_in", STRING, "path:line of each declaration of the package", False),
        Column("imported_in", STRING, "path:line of the first imports of the module", False),
        Column("import_count", INT, "Import statements of the module", False),
        Column("optional", BOOL, "Every import is guarded (try, if, TYPE_CHECKING, in a function)", False),
        Column("via_package", STRING, "For transitive: the declared package that requires it", False),
        Column("finding_key", STRING, "status|module|package: what newness compares", False),
        Column("first_seen", DATE, "First day the row's finding was seen", False),
        Column("is_new", BOOL, "Not in the previous available partition (False on a first partition)", False),
    ),
)
