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

from collections.abc import Iterator
from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.analysis import imports as imports_analysis
from symphony_assets.analysis.facts import IMPORTS
from symphony_assets.analysis.imports import (
    FileImports,
    build_module_index,
    find_unresolved,
    resolve_imports,
)
from symphony_assets.config import Codebase
from symphony_assets.defs.imports.checks import NO_IMPORT_CYCLES_CHECK, import_cycles_result
from symphony_assets.defs.imports.frames import compute_import_cycles, edges_from_frame, graph_frame
from symphony_assets.defs.imports.schemas import IMPORT_CYCLES, IMPORT_GRAPH
from symphony_assets.defs.newness import NewFindings, new_findings_spec
from symphony_assets.defs.snapshots import (
    codebase_named,
    input_for,
    materialize_cached_snapshots,
    partitioned_output,
    run_partitions,
    snapshot_asset,
)
from symphony_assets.resources.cache import AnalysisCache, CacheStats
from symphony_assets.resources.git import FileEntry, GitResource, Snapshot
from symphony_assets.resources.installed import installed_top_level_names
from symphony_assets.resources.postgres import PostgresResource
from symphony_assets.resources.python_facts import python_facts_results

DOMAIN = "imports"
NO_NEW_IMPORT_CYCLES_CHECK = new_findings_spec("import_cycles", "import_cycles")
_NON_SOURCE_MODULES = (".pyi", ".pyx", ".so", ".pyd")


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


def compute_import_graph(
    snapshot: Snapshot, cache: AnalysisCache, stats_out: CacheStats | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Edges of one snapshot; parse failures, duplicate module claims and cache use go to metadata."""
    roots, external = _options(snapshot.codebase)
    entries = _python_entries(snapshot)
    results, stats = python_facts_results(snapshot, entries, cache, IMPORTS)
    if stats_out is not None:
        stats_out.add(stats)
    per_file: dict[str, FileImports] = {}
    unreadable_cache: list[str] = []
    for path, raw in results.items():
        try:
            per_file[path] = cache.decoded(raw, FileImports.from_dict)
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
    return graph_frame(entries, per_file, index, edges, unresolved, stats, unreadable_cache)


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
    frames: dict[str, pd.DataFrame] = {}
    metas: dict[str, dict[str, Any]] = {}
    newness = NewFindings(
        NO_NEW_IMPORT_CYCLES_CHECK,
        "cycle_id",
        ["size", "loop", "cut"],
        lambda df: df[~df["latent"].astype(bool)],
    )
    for key, name, day in run_partitions(context):
        df, meta = compute_import_cycles(edges_from_frame(input_for(graph, key)))
        frames[key] = df = newness.mark(key, codebase_named(name), day, df)
        metas[key] = {**meta, "new_cycles": newness.new_count(key)}
        context.log.info(f"{key}: {meta['cycle_count']} import cycles, {meta['latent_cycle_count']} latent")
    yield partitioned_output(context, frames, metas)
    newest = list(frames)[-1]
    yield import_cycles_result(frames[newest], newest)
    yield from newness.evaluations(context)
