"""Declared schema of ``duplicate_code`` (matches sql/V073)."""

from symphony_assets.storage.tables import BOOL, DATE, FLOAT, INT, STRING, Column, TableSchema

DUPLICATE_CODE = TableSchema(
    name="duplicate_code",
    description=(
        "One row per pair of files: exact duplicates (same blob) within the codebase or at another path"
        " of another codebase, near-duplicate Python files (MinHash over token shingles), and diverged"
        " copies (same path, different content) on codebases of other machines."
    ),
    columns=(
        Column("kind", STRING, "exact_duplicate, near_duplicate or diverged_copy", False),
        Column("path", STRING, "File of this codebase", False),
        Column("other_codebase", STRING, "Codebase of the other file (this one for a pair within)", False),
        Column("other_machine", STRING, "Machine label of the other codebase", False),
        Column("other_path", STRING, "The other file", False),
        Column("similarity", FLOAT, "1.0 for exact; estimated Jaccard similarity of token shingles", False),
        Column("blob_id", STRING, "Git blob id of this file"),
        Column("other_blob_id", STRING, "Git blob id of the other file"),
        Column("size_bytes", INT, "Size of this file"),
        Column(
            "last_commit", STRING, "Last commit touching this file: time and author (from file_inventory)"
        ),
        Column("other_last_commit", STRING, "Last commit touching the other file: time and author"),
        Column("group_id", STRING, "Blob id for exact duplicates, else a hash of the pair", False),
        Column("finding_key", STRING, "kind|path|other_codebase|other_path: what newness compares", False),
        Column("first_seen", DATE, "First day the pair was seen", False),
        Column("is_new", BOOL, "Not in the previous available partition (False on a first partition)", False),
    ),
)
