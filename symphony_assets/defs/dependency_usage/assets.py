"""``dependency_usage``: what each codebase declares against what it imports.

Inputs through the graph: ``dependency_declarations`` (what is declared) and ``import_graph`` (the
codebase's own modules, so a local ``utils`` is never taken for a distribution). The imports
themselves, third-party ones included, come from the same per-blob extraction ``import_graph`` uses
(same analyser and version in the blob cache, so a snapshot already scanned is not parsed again).
The module-to-distribution bridge is described in :mod:`symphony_assets.analysis.depusage`.

Per-codebase options (``dependency_usage:`` in ``symphony.yaml``): ``module_map`` (``{cv2:
opencv-python}``), ``ignore_modules`` and ``ignore_packages``.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.analysis.depusage import (
    STATUS_MISSING,
    DeclaredPackage,
    ImportSite,
    dependency_usage,
)
from symphony_assets.analysis.facts import IMPORTS
from symphony_assets.analysis.imports import FileImports, build_module_index
from symphony_assets.config import Codebase
from symphony_assets.defs.dependency_usage.schemas import DEPENDENCY_USAGE
from symphony_assets.defs.newness import NewFindings, new_findings_spec
from symphony_assets.defs.snapshots import (
    codebase_named,
    input_for,
    md_table,
    partitioned_output,
    required_input,
    run_partitions,
    snapshot_asset,
    snapshot_metadata,
    take_all,
)
from symphony_assets.resources.cache import AnalysisCache, CacheStats
from symphony_assets.resources.git import GitResource, Snapshot
from symphony_assets.resources.installed import installed_modules, requirement_closure
from symphony_assets.resources.postgres import PostgresResource
from symphony_assets.resources.python_facts import python_facts_results

ASSET = "dependency_usage"
DOMAIN = "dependency_usage"
#: The blob-cache analyser of import extraction, shared with ``import_graph``.
TOP_N = 15
ANALYSER_VERSION = "1"
NO_NEW_MISSING = new_findings_spec(ASSET, "missing_dependencies")


def _declared(df: pd.DataFrame | None) -> list[DeclaredPackage]:
    if df is None or df.empty:
        return []
    usable = df[(df["package"] != "") & (df["kind"] != "error")]
    return [
        DeclaredPackage(str(r["package"]), str(r["path"]), int(r["line"])) for r in usable.to_dict("records")
    ]


def _options(codebase: Codebase) -> tuple[dict[str, Any], list[str], list[str], list[str]]:
    module_map = dict(codebase.option(DOMAIN, "module_map", {}) or {})
    ignore_modules = [str(m) for m in codebase.option(DOMAIN, "ignore_modules", []) or []]
    ignore_packages = [str(p) for p in codebase.option(DOMAIN, "ignore_packages", []) or []]
    roots = [str(r) for r in codebase.option("imports", "source_roots", []) or []]
    return module_map, ignore_modules, ignore_packages, roots


def compute_dependency_usage(
    snapshot: Snapshot,
    cache: AnalysisCache,
    declarations: pd.DataFrame | None,
    graph: pd.DataFrame | None,
) -> tuple[pd.DataFrame, dict[str, Any], CacheStats]:
    module_map, ignore_modules, ignore_packages, roots = _options(snapshot.codebase)
    entries = [
        e
        for e in snapshot.files
        if e.kind == "file" and e.path.endswith(".py") and e.git_status not in ("ignored", "deleted")
    ]
    # The import graph's own part of the shared per-blob facts: one cache entry serves both.
    results, stats = python_facts_results(snapshot, entries, cache, IMPORTS)
    sites = []
    for path, raw in sorted(results.items()):
        try:
            fi = cache.decoded(raw, FileImports.from_dict)
        except ValueError:
            continue  # a damaged cache row: import_graph reports it
        sites += [ImportSite(s.module, path, s.line, s.kind) for s in fi.imports if s.level == 0 and s.module]
    own = set(build_module_index([e.path for e in entries], roots).top_level)
    if graph is not None and not graph.empty:
        own |= {str(m).split(".", 1)[0] for m in pd.concat([graph["importer"], graph["imported"]])}
    declared = _declared(declarations)
    requires = {d.package: requirement_closure(d.package) for d in declared}
    rows = dependency_usage(
        sites,
        declared,
        own,
        installed_modules(),
        requires,
        module_map,
        ignore_modules,
        ignore_packages,
    )
    df = DEPENDENCY_USAGE.frame(
        [
            {
                **r.__dict__,
                "finding_key": f"{r.status}|{r.module}|{r.package}",
                "first_seen": None,
                "is_new": None,
            }
            for r in rows
        ]
    )
    meta = {"python_files": len(entries), "declared_packages": len({d.package for d in declared})}
    return df, meta, stats


def usage_metadata(df: pd.DataFrame) -> dict[str, Any]:
    def of(status: str) -> pd.DataFrame:
        return df[df["status"] == status] if not df.empty else df

    columns = ["module", "package", "mapping_source", "imported_in", "declared_in", "via_package"]
    new = df[df["is_new"].astype(bool)] if not df.empty else df
    by_source = df.groupby("mapping_source").size() if not df.empty else pd.Series(dtype="int64")
    return {
        "imported_modules": int((df["import_count"] > 0).sum()) if not df.empty else 0,
        "missing": len(of("missing")),
        "unused": len(of("unused")),
        "transitive": len(of("transitive")),
        "used": len(of("used")),
        "tools": len(of("tool")),
        "new_findings": int(new["status"].isin(["missing", "unused", "transitive"]).sum())
        if not new.empty
        else 0,
        "missing_list": md_table(of("missing").head(TOP_N).to_dict("records"), columns),
        "unused_list": md_table(
            of("unused").head(TOP_N).to_dict("records"), ["package", "module", "declared_in"]
        ),
        "transitive_list": md_table(of("transitive").head(TOP_N).to_dict("records"), columns),
        "mapping_sources": md_table(
            [{"source": k, "rows": int(v)} for k, v in by_source.items()], ["source", "rows"]
        ),
    }


@snapshot_asset(
    DEPENDENCY_USAGE,
    name=ASSET,
    group_name="dependencies",
    kinds={"git", "python", "parquet", "postgres"},
    ins={"declarations": dg.AssetIn("dependency_declarations"), "graph": dg.AssetIn("import_graph")},
    check_specs=[NO_NEW_MISSING],
    code_version=f"dependency_usage-{ANALYSER_VERSION}",
)
def dependency_usage_asset(
    context: dg.AssetExecutionContext,
    git: GitResource,
    postgres: PostgresResource,
    declarations: Any,
    graph: Any,
) -> Iterator[dg.Output[Any] | dg.AssetCheckEvaluation]:
    """Declared vs imported, per codebase: imported but not declared (missing), declared but never
    imported (unused), imported but only pulled in by another declared package (transitive). Each row
    shows where its module-to-distribution mapping came from (config, maintained table, installed
    metadata, same name)."""
    cache = AnalysisCache(postgres.database())
    newness = NewFindings(
        NO_NEW_MISSING,
        "finding_key",
        ["module", "package", "mapping_source", "imported_in"],
        judged=lambda df: df[df["status"] == STATUS_MISSING],
    )
    totals = CacheStats()
    frames: dict[str, pd.DataFrame] = {}
    metas: dict[str, dict[str, Any]] = {}
    snapshots = take_all(context, git)
    for key, name, day in run_partitions(context):
        codebase = codebase_named(name)
        own = required_input(declarations, key, "dependency_declarations")
        snapshot = snapshots[key]
        df, meta, stats = compute_dependency_usage(snapshot, cache, own, input_for(graph, key))
        totals.analysed += stats.analysed
        totals.reused += stats.reused
        frames[key] = df = newness.mark(key, codebase, day, df)
        metas[key] = {**snapshot_metadata(snapshot), **meta, **usage_metadata(df), **stats.metadata()}
        context.log.info(f"{key}: {metas[key]['missing']} missing, {metas[key]['unused']} unused")
    yield partitioned_output(context, frames, metas, {f"run_{k}": v for k, v in totals.metadata().items()})
    yield from newness.evaluations(context)
