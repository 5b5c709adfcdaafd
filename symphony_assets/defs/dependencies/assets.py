"""``dependency_declarations`` and ``dependency_drift``: what each codebase asks for, and disagreements.

Each requirements file and ``pyproject.toml`` is parsed on its own through the blob cache (its bytes
decide its rows). ``-r``/``-c`` includes are then followed across the snapshot: an include that names
a file of the snapshot is not an error, and an included file that is not itself named like a
requirements file is parsed too. ``dependency_drift`` is partitioned by day over the whole fleet: it
reads every codebase's ``dependency_declarations`` of its day (a declared input, so the lineage shows
them and the day runs after them) and compares them within each codebase and between codebases;
codebases not materialised for that day are named in the metadata.
"""

import posixpath
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.analysis.requirements import (
    Declaration,
    find_drift,
    is_requirements_file,
    missing_include_target,
    parse_pyproject,
    parse_requirements_file,
)
from symphony_assets.defs.dependencies.checks import TOP_N, drift_metadata
from symphony_assets.defs.dependencies.schemas import DEPENDENCY_DECLARATIONS, DEPENDENCY_DRIFT
from symphony_assets.defs.fleet import by_codebase, fleet_asset, fleet_input, run_days
from symphony_assets.defs.newness import NewFindings, new_findings_spec
from symphony_assets.defs.partitions import daily_partitions
from symphony_assets.defs.snapshots import (
    materialize_cached_snapshots,
    md_table,
    partitioned_output,
    snapshot_asset,
)
from symphony_assets.resources.cache import AnalysisCache, CacheStats, analyse_files
from symphony_assets.resources.git import FileEntry, GitResource, Snapshot
from symphony_assets.resources.postgres import PostgresResource

ANALYSER = "dependency_declarations"
#: New drift warns by default (drift is often deliberate); ``new_findings`` options make it fail.
NO_NEW_DRIFT_CHECK = new_findings_spec("dependency_drift", "dependency_drift", daily_partitions)
#: Bump when parsing changes, so cached per-blob results are recomputed.
ANALYSER_VERSION = "2"


def _declares(path: str) -> bool:
    return posixpath.basename(path) == "pyproject.toml" or is_requirements_file(path)


def _parse_one(entry: FileEntry, content: bytes) -> list[dict[str, Any]]:
    """One file alone: includes are left as "not found" rows for the asset to resolve in the snapshot."""
    if posixpath.basename(entry.path) == "pyproject.toml":
        decls = parse_pyproject(entry.path, content)
    else:
        decls = parse_requirements_file(entry.path, content, lambda _path: None)
    return [asdict(d) for d in decls]


def _declaration(raw: Mapping[str, Any]) -> Declaration:
    return Declaration(**{**raw, "extras": tuple(raw.get("extras") or ())})


def compute_declarations(
    snapshot: Snapshot, cache: AnalysisCache, stats_out: CacheStats | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    live = [e for e in snapshot.files if e.kind == "file" and e.git_status not in ("ignored", "deleted")]
    by_path = {e.path: e for e in live}
    wanted = [e for e in live if _declares(e.path)]
    parsed: dict[str, list[Declaration]] = {}
    failures = []
    while wanted:
        results, stats = analyse_files(snapshot, wanted, cache, ANALYSER, ANALYSER_VERSION, _parse_one)
        failures.extend(stats.failures)
        if stats_out is not None:
            stats_out.add(stats)
        for path, rows in results.items():
            parsed[path] = [_declaration(r) for r in rows]
        # Follow includes to files of the snapshot that were not parsed yet (e.g. ``-r base.pip``).
        targets = {missing_include_target(d) for decls in parsed.values() for d in decls}
        wanted = [by_path[t] for t in sorted(t for t in targets if t) if t in by_path and t not in parsed]
    rows = []
    for path in sorted(parsed):
        for d in parsed[path]:
            target = missing_include_target(d)
            if target is not None and target in by_path:
                continue  # the include exists in the snapshot and was parsed in its own right
            rows.append(
                {
                    "path": path,
                    "line": d.line,
                    "package": d.name,
                    "specifier": d.specifier,
                    "extras": ",".join(d.extras),
                    "marker": d.marker,
                    "kind": d.kind,
                    "section": d.section,
                    "raw": d.raw,
                    "error": d.error,
                    "blob_id": by_path[path].blob_id if path in by_path else None,
                }
            )
    df = DEPENDENCY_DECLARATIONS.frame(rows)
    errors = df[df["kind"] == "error"] if not df.empty else df
    meta: dict[str, Any] = {
        "declaration_count": len(df),
        "files_parsed": len(parsed),
        "packages": int(df.loc[df["package"] != "", "package"].nunique()) if not df.empty else 0,
        "error_rows": len(errors),
        "non_version_rows": int(df["kind"].isin(["url", "path", "editable"]).sum()) if not df.empty else 0,
        "declarations_by_kind": md_table(
            [{"kind": k, "rows": int(v)} for k, v in df.groupby("kind").size().items()]
            if not df.empty
            else [],
            ["kind", "rows"],
        ),
        "errors": md_table(errors.head(TOP_N).to_dict("records"), ["path", "line", "raw", "error"]),
        "unreadable_files": md_table(
            [{"path": r.entry.path, "status": r.status} for r in failures[:TOP_N]], ["path", "status"]
        ),
    }
    return df, meta


@snapshot_asset(
    DEPENDENCY_DECLARATIONS,
    group_name="dependencies",
    kinds={"git", "python", "parquet", "postgres"},
    code_version=f"dependency_declarations-{ANALYSER_VERSION}",
)
def dependency_declarations(
    context: dg.AssetExecutionContext, git: GitResource, postgres: PostgresResource
) -> Any:
    """Every dependency declared in requirements files (following -r/-c includes) and pyproject.toml
    (PEP 621, PEP 735 groups, Poetry), names normalised; unreadable lines kept as error rows."""
    return materialize_cached_snapshots(context, git, postgres, compute_declarations)


def declarations_from_frame(df: pd.DataFrame | None) -> list[Declaration]:
    if df is None or df.empty:
        return []
    return [
        Declaration(
            name=str(r["package"]),
            specifier=str(r["specifier"]),
            extras=tuple(e for e in str(r["extras"]).split(",") if e),
            marker=str(r["marker"]),
            kind=r["kind"],
            file=str(r["path"]),
            line=int(r["line"]),
            raw=str(r["raw"]),
            error=None if pd.isna(r["error"]) else str(r["error"]),
            section=str(r["section"]),
        )
        for r in df.to_dict("records")
    ]


def compute_drift(declarations: Mapping[str, pd.DataFrame | None]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Drift within and between the codebases of ``declarations`` (codebase -> its
    ``dependency_declarations`` of the day; None: it has none)."""
    scopes = {name: declarations_from_frame(df) for name, df in declarations.items()}
    rows = [
        {
            "package": d.package,
            "status": d.status,
            "codebases": ", ".join(d.scopes),
            "files": ", ".join(d.files),
            "versions": ", ".join(d.versions),
            "marker": d.marker,
            "cross_codebase": d.cross_scope,
            "declaration_count": len(d.files),
        }
        for d in find_drift(scopes)
    ]
    df = DEPENDENCY_DRIFT.frame(rows)
    missing = sorted(name for name, frame in declarations.items() if frame is None)
    meta = {
        **drift_metadata(df),
        "codebases_compared": ", ".join(sorted(n for n, f in declarations.items() if f is not None))
        or "(none)",
        "codebases_without_declarations": ", ".join(missing) or "(none)",
    }
    return df, meta


@fleet_asset(
    DEPENDENCY_DRIFT,
    group_name="dependencies",
    kinds={"parquet", "postgres"},
    ins={"declarations": fleet_input("dependency_declarations")},
    check_specs=[NO_NEW_DRIFT_CHECK],
    code_version=f"dependency_drift-{ANALYSER_VERSION}-fleet",
)
def dependency_drift(
    context: dg.AssetExecutionContext, declarations: Any
) -> Iterator[dg.Output[Any] | dg.AssetCheckEvaluation]:
    """Packages pinned to different versions, asked for in ranges no version satisfies, pinned in one
    place and floating in another, or declared twice in one file: within each codebase and between
    every codebase of the day."""
    newness = NewFindings(
        NO_NEW_DRIFT_CHECK, ["package", "status", "marker"], ["package", "status", "versions", "files"],
        default_severity="warn",
    )  # fmt: skip
    frames: dict[str, pd.DataFrame] = {}
    metas: dict[str, dict[str, Any]] = {}
    for key, day in run_days(context):
        df, meta = compute_drift(by_codebase(declarations, day))
        df = newness.mark(key, None, day, df)
        frames[key], metas[key] = df, {**meta, "new_drift": newness.new_count(key)}
        context.log.info(f"{key}: {len(df)} drift findings")
    yield partitioned_output(context, frames, metas)
    yield from newness.evaluations(context)
