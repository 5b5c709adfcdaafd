"""The frames and metadata of ``import_graph`` and ``import_cycles``: projections of the resolved
imports and cycles of :mod:`symphony_assets.analysis.imports`."""

from typing import Any

import pandas as pd

from symphony_assets.analysis.imports import Cycle, Edge, FileImports, ModuleIndex, Unresolved, find_cycles
from symphony_assets.defs.imports.schemas import IMPORT_CYCLES, IMPORT_GRAPH
from symphony_assets.defs.snapshots import md_table
from symphony_assets.resources.cache import CacheStats
from symphony_assets.resources.git import FileEntry

RESOLVED = "resolved"
MISSING = "missing"
TOP_N = 15


def graph_frame(
    entries: list[FileEntry],
    per_file: dict[str, FileImports],
    index: ModuleIndex,
    edges: list[Edge],
    unresolved: list[Unresolved],
    stats: CacheStats,
    unreadable_cache: list[str],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Edges and missing modules of one snapshot; parse failures, duplicate module claims and cache use
    go to metadata."""
    by_path = {e.path: e for e in entries}

    def row(site: Edge | Unresolved, imported: str, imported_path: str, status: str) -> dict[str, Any]:
        return {
            "importer": site.importer,
            "imported": imported,
            "importer_path": site.importer_path,
            "imported_path": imported_path,
            "line": site.line,
            "kind": site.kind,
            "via": site.via,
            "importer_blob_id": by_path[site.importer_path].committed_blob,
            "importer_parse_error": per_file[site.importer_path].parse_error,
            "status": status,
            "nearest_package": site.nearest if isinstance(site, Unresolved) else None,
        }

    rows = [row(e, e.imported, e.imported_path, RESOLVED) for e in edges]
    rows += [row(u, u.looked_for, "", MISSING) for u in unresolved]
    df = IMPORT_GRAPH.frame(rows)
    failures = [
        {
            "path": path,
            "line": fi.parse_error_line,
            "error": fi.parse_error,
            "python2": fi.python2,
            "imports_found": len(fi.imports),
        }
        for path, fi in sorted(per_file.items())
        if fi.parse_error
    ]
    failures += [
        {"path": r.entry.path, "error": r.message or f"not read: {r.status}", "imports_found": 0}
        for r in stats.failures
    ]
    failures += [{"path": p, "error": "cached result unreadable"} for p in unreadable_cache]
    duplicates = [
        {"module": d.module, "paths": ", ".join(d.paths), "winner": d.winner} for d in index.duplicates
    ]
    missing = [
        {"path": f"{u.importer_path}:{u.line}", "looked_for": u.looked_for, "nearest_package": u.nearest}
        for u in unresolved
    ]
    meta: dict[str, Any] = {
        "edge_count": len(edges),
        "unresolved_imports": len(unresolved),
        "unresolved_import_list": md_table(missing[:TOP_N], ["path", "looked_for", "nearest_package"]),
        "module_pairs": len({(e.importer, e.imported) for e in edges}),
        "python_files": len(entries),
        "modules": len(index.modules),
        "source_roots": ", ".join(r or "." for r in index.roots),
        "parse_failures": sum(1 for fi in per_file.values() if fi.parse_error),
        "fallback_edges": sum(1 for e in edges if e.via == "fallback"),
        "duplicate_module_claims": len(duplicates),
        "most_imported_modules": md_table(
            _most_imported(df[df["status"] == RESOLVED]), ["module", "importers", "imports"]
        ),
        "parse_failure_list": md_table(
            failures[:TOP_N], ["path", "line", "error", "python2", "imports_found"]
        ),
        "duplicate_claims": md_table(duplicates[:TOP_N], ["module", "paths", "winner"]),
        **stats.metadata(),
    }
    return df, meta


def _most_imported(df: pd.DataFrame) -> list[dict[str, Any]]:
    if df.empty:
        return []
    grouped = df.groupby("imported").agg(importers=("importer", "nunique"), imports=("importer", "size"))
    top = grouped.sort_values(["importers", "imports"], ascending=False).head(TOP_N)
    return [
        {"module": name, "importers": int(row["importers"]), "imports": int(row["imports"])}
        for name, row in top.iterrows()
    ]


def edges_from_frame(df: pd.DataFrame | None) -> list[Edge]:
    """The edges of an ``import_graph`` frame (rows of missing modules are no edges)."""
    if df is None or df.empty:
        return []
    if "status" in df.columns:
        df = df[df["status"].fillna(RESOLVED) == RESOLVED]
    return [
        Edge(
            importer=str(r["importer"]),
            imported=str(r["imported"]),
            importer_path=str(r["importer_path"]),
            imported_path=str(r["imported_path"]),
            line=int(r["line"]),
            kind=str(r["kind"]),
            via=str(r["via"]),
        )
        for r in df.to_dict("records")
    ]


def _cut_text(cycle: Cycle) -> str:
    return "; ".join(f"{e.importer_path}:{e.line} {e.importer} -> {e.imported}" for e in cycle.cut)


def compute_import_cycles(edges: list[Edge]) -> tuple[pd.DataFrame, dict[str, Any]]:
    report = find_cycles(edges)
    rows = [
        {
            "cycle_id": c.cycle_id,
            "latent": c.latent,
            "size": c.size,
            "modules": ", ".join(c.modules),
            "loop": c.loop_text,
            "loop_length": len(c.loop),
            "cut": _cut_text(c),
            "cut_size": len(c.cut),
        }
        for c in report.cycles
    ]
    df = IMPORT_CYCLES.frame(rows)
    ordered = sorted(report.cycles, key=lambda c: (c.latent, -c.size))
    largest = [
        {"latent": c.latent, "size": c.size, "loop": c.loop_text, "cut_size": len(c.cut), "cut": _cut_text(c)}
        for c in ordered[:TOP_N]
    ]
    meta: dict[str, Any] = {
        "cycle_count": len(report.real),
        "latent_cycle_count": len(report.latent),
        "largest_cycle_size": max((c.size for c in report.real), default=0),
        "modules_in_cycles": sum(c.size for c in report.real),
        "edge_count": len(edges),
        "largest_cycles": md_table(largest, ["latent", "size", "loop", "cut_size", "cut"]),
    }
    return df, meta
