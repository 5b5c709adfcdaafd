"""``import_graph`` and ``import_cycles``: imports between a codebase's own modules, and their cycles.

Extraction per file depends only on its bytes, so it goes through the blob cache: a backfill parses
each distinct blob once. Module naming, resolution and cycles are cheap and redone per partition,
since they depend on every file of the snapshot. ``import_cycles`` reads the graph back from the
warehouse rather than parsing again.

Per-codebase options (``imports:`` in ``symphony.yaml``):

- ``source_roots``: folders on ``sys.path`` (``["src", "services/api"]``); default the repository root,
  plus ``src`` when it exists.
- ``external_names``: top-level names that are third-party packages (never resolved to repo folders).
- ``use_installed_names``: also treat every package installed where Dagster runs as third-party (off by
  default: this environment is not the codebase's, and it can hold odd names such as ``example``).
"""

import importlib.metadata
import json
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.analysis import imports as imports_analysis
from symphony_assets.analysis.imports import (
    Cycle,
    Edge,
    FileImports,
    build_module_index,
    extract_imports,
    find_cycles,
    find_unresolved,
    resolve_imports,
)
from symphony_assets.config import Codebase
from symphony_assets.defs.imports.checks import NO_IMPORT_CYCLES_CHECK, import_cycles_result
from symphony_assets.defs.imports.schemas import IMPORT_CYCLES, IMPORT_GRAPH
from symphony_assets.defs.newness import NewFindings, new_findings_spec
from symphony_assets.defs.snapshots import (
    codebase_named,
    materialize_cached_snapshots,
    md_table,
    partitioned_output,
    run_partitions,
    snapshot_asset,
)
from symphony_assets.resources.cache import AnalysisCache, CacheStats, analyse_files
from symphony_assets.resources.git import FileEntry, GitResource, Snapshot
from symphony_assets.resources.postgres import PostgresResource

DOMAIN = "imports"
NO_NEW_IMPORT_CYCLES_CHECK = new_findings_spec("import_cycles", "import_cycles")
ANALYSER = "import_graph"
RESOLVED = "resolved"
_NON_SOURCE_MODULES = (".pyi", ".pyx", ".so", ".pyd")
MISSING = "missing"
TOP_N = 15


def installed_top_level_names() -> frozenset[str]:
    """Top-level import names of the distributions installed here, except editable installs.

    An editable install is usually the very codebase being analysed (``pip install -e .``); counting
    its names as third-party would drop every edge into it.
    """
    editable: set[str] = set()
    for dist in importlib.metadata.distributions():
        direct = dist.read_text("direct_url.json")
        if not direct:
            continue
        try:
            info = json.loads(direct).get("dir_info", {})
        except (ValueError, AttributeError):
            continue
        if isinstance(info, dict) and info.get("editable"):
            editable.add(dist.metadata["Name"].lower())
    return frozenset(
        name
        for name, dists in importlib.metadata.packages_distributions().items()
        if name.isidentifier() and not name.startswith("_") and not all(d.lower() in editable for d in dists)
    )


def _options(codebase: Codebase) -> tuple[list[str], frozenset[str]]:
    roots = codebase.option(DOMAIN, "source_roots", []) or []
    if isinstance(roots, str) or not all(isinstance(r, str) for r in roots):
        raise dg.Failure(
            description=f"codebase {codebase.name!r}: imports.source_roots must be a list of folders"
        )
    external = {str(n) for n in codebase.option(DOMAIN, "external_names", []) or []}
    if codebase.option(DOMAIN, "use_installed_names", False):
        external |= installed_top_level_names()
    return list(roots), frozenset(external)


def _python_entries(snapshot: Snapshot) -> list[FileEntry]:
    """Python files that are the codebase's code: tracked or untracked, not ignored, not deleted."""
    return [
        e
        for e in snapshot.files
        if e.kind == "file" and e.path.endswith(".py") and e.git_status not in ("ignored", "deleted")
    ]


def _blob(entry: FileEntry) -> str | None:
    return entry.blob_id if entry.git_status in ("committed", "clean") else None


def imports_of(_entry: FileEntry, content: bytes) -> dict[str, Any]:
    """Module-level (not a lambda) so the blob pool can ship it to worker processes."""
    return extract_imports(content).to_dict()


def compute_import_graph(
    snapshot: Snapshot, cache: AnalysisCache, stats_out: CacheStats | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Edges of one snapshot; parse failures, duplicate module claims and cache use go to metadata."""
    roots, external = _options(snapshot.codebase)
    entries = _python_entries(snapshot)
    by_path = {e.path: e for e in entries}
    results, stats = analyse_files(
        snapshot,
        entries,
        cache,
        ANALYSER,
        imports_analysis.ANALYSER_VERSION,
        imports_of,
    )
    if stats_out is not None:
        stats_out.analysed += stats.analysed
        stats_out.reused += stats.reused
        stats_out.failures.extend(stats.failures)
    per_file: dict[str, FileImports] = {}
    unreadable_cache: list[str] = []
    for path, raw in results.items():
        try:
            per_file[path] = FileImports.from_dict(raw)
        except ValueError:
            unreadable_cache.append(path)  # a damaged cache row must not sink the partition
    # Stubs, Cython and compiled extensions (often ignored build output) exist without Python source.
    others = [
        e.path
        for e in snapshot.files
        if e.kind == "file" and e.git_status != "deleted" and e.path.endswith(_NON_SOURCE_MODULES)
    ]
    index = build_module_index([e.path for e in entries] + others, roots)
    edges = resolve_imports(index, per_file, external)
    unresolved = find_unresolved(index, per_file, external)
    rows = [
        {
            "importer": e.importer,
            "imported": e.imported,
            "importer_path": e.importer_path,
            "imported_path": e.imported_path,
            "line": e.line,
            "kind": e.kind,
            "via": e.via,
            "importer_blob_id": _blob(by_path[e.importer_path]),
            "importer_parse_error": per_file[e.importer_path].parse_error,
            "status": RESOLVED,
            "nearest_package": None,
        }
        for e in edges
    ]
    rows += [
        {
            "importer": u.importer,
            "imported": u.looked_for,
            "importer_path": u.importer_path,
            "imported_path": "",
            "line": u.line,
            "kind": u.kind,
            "via": u.via,
            "importer_blob_id": _blob(by_path[u.importer_path]),
            "importer_parse_error": per_file[u.importer_path].parse_error,
            "status": MISSING,
            "nearest_package": u.nearest,
        }
        for u in unresolved
    ]
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


@snapshot_asset(
    IMPORT_GRAPH,
    group_name="imports",
    kinds={"git", "python", "parquet", "postgres"},
    code_version=f"import_graph-{imports_analysis.ANALYSER_VERSION}",
)
def import_graph(context: dg.AssetExecutionContext, git: GitResource, postgres: PostgresResource) -> Any:
    """Imports between the codebase's own modules, with where each runs (import time, function,
    TYPE_CHECKING, ...). Files that do not parse still count, through the recovering parser."""
    return materialize_cached_snapshots(context, git, postgres, compute_import_graph)


@snapshot_asset(
    IMPORT_CYCLES,
    group_name="imports",
    kinds={"python", "parquet", "postgres"},
    ins={"graph": dg.AssetIn("import_graph")},
    check_specs=[NO_IMPORT_CYCLES_CHECK, NO_NEW_IMPORT_CYCLES_CHECK],
    code_version=f"import_cycles-{imports_analysis.ANALYSER_VERSION}-2",
)
def import_cycles(
    context: dg.AssetExecutionContext, graph: Any
) -> Iterator[dg.Output[Any] | dg.AssetCheckResult | dg.AssetCheckEvaluation]:
    """Import cycles (strongly connected components), each with one shortest loop and a small set
    of imports whose removal breaks it. Latent cycles exist only through imports that do not run at
    import time (inside functions, under TYPE_CHECKING)."""
    graphs = graph if isinstance(graph, Mapping) else {context.partition_key: graph}
    frames: dict[str, pd.DataFrame] = {}
    metas: dict[str, dict[str, Any]] = {}
    newness = NewFindings(
        NO_NEW_IMPORT_CYCLES_CHECK,
        "cycle_id",
        ["size", "loop", "cut"],
        lambda df: df[~df["latent"].astype(bool)],
    )
    for key, name, day in run_partitions(context):
        df, meta = compute_import_cycles(edges_from_frame(graphs.get(key)))
        frames[key] = df = newness.mark(key, codebase_named(name), day, df)
        metas[key] = {**meta, "new_cycles": newness.new_count(key)}
        context.log.info(f"{key}: {meta['cycle_count']} import cycles, {meta['latent_cycle_count']} latent")
    yield partitioned_output(context, frames, metas)
    newest = list(frames)[-1]
    yield import_cycles_result(frames[newest], newest)
    yield from newness.evaluations(context)
