"""``port_map`` (codebase x day) and ``port_conflicts`` (the fleet, by day): where each codebase uses
network ports, and collisions on each machine.

Extraction per file depends only on its format and bytes, so it goes through the blob cache (one
analyser name per format, since the same bytes read as Python and as YAML give different sites).
``port_conflicts`` is partitioned by day over the whole fleet: it reads every codebase's ``port_map``
of its day (a declared input, so the lineage shows them and the day runs after them) and compares the
binding sites of the components on each machine label; a codebase whose partition is missing is named
in the metadata, not silently skipped.

Per-codebase options (``ports:`` in ``symphony.yaml``):

- ``components``: ``{glob: agent name}``; files matching a glob count as that component, so two files
  of one agent binding the same port are not a conflict. Default: each file is its own component.
"""

import fnmatch
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.analysis.facts import PORTS
from symphony_assets.analysis.ports import (
    PortSite,
    SiteWithContext,
    extract_ports,
    file_format,
    find_conflicts,
)
from symphony_assets.analysis.ports.extract import ANALYSER_VERSION
from symphony_assets.config import Codebase
from symphony_assets.defs.fleet import by_codebase, fleet_asset, fleet_input, run_days
from symphony_assets.defs.newness import NewFindings, new_findings_spec
from symphony_assets.defs.partitions import daily_partitions
from symphony_assets.defs.ports.frames import (
    TOP_N,
    conflict_rows,
    conflict_table,
    port_map_metadata,
    sites_from_frame,
)
from symphony_assets.defs.ports.schemas import PORT_CONFLICTS, PORT_MAP
from symphony_assets.defs.snapshots import (
    RangePrefetch,
    materialize_cached_snapshots,
    md_table,
    partitioned_output,
    snapshot_asset,
)
from symphony_assets.resources.cache import AnalysisCache, CacheStats, analyse_files
from symphony_assets.resources.git import FileEntry, GitResource, Snapshot
from symphony_assets.resources.postgres import PostgresResource
from symphony_assets.resources.python_facts import python_facts_results

DOMAIN = "ports"
ANALYSER = "port_map"
NO_NEW_PORT_CONFLICTS = new_findings_spec("port_conflicts", "port_conflicts", daily_partitions)


def component_of(codebase: Codebase, path: str) -> str:
    """The configured agent name for ``path``, or the path itself."""
    mapping = codebase.option(DOMAIN, "components", {}) or {}
    if not isinstance(mapping, Mapping):
        raise dg.Failure(description=f"codebase {codebase.name!r}: ports.components must be a mapping")
    for pattern, name in mapping.items():
        if fnmatch.fnmatchcase(path, str(pattern)):
            return str(name)
    return path


def _port_entries(snapshot: Snapshot) -> list[FileEntry]:
    return [
        e
        for e in snapshot.files
        if e.kind == "file" and file_format(e.path) is not None and e.git_status not in ("ignored", "deleted")
    ]


def ports_of(entry: FileEntry, content: bytes) -> list[dict[str, Any]]:
    """Module-level (not a lambda) so the blob pool can ship it to worker processes."""
    return [asdict(s) for s in extract_ports(entry.path, content)]


def port_results(
    snapshot: Snapshot, entries: list[FileEntry], cache: AnalysisCache
) -> tuple[dict[str, Any], CacheStats]:
    """Each file's port sites by path, through the blob cache: one analyser per format; Python files
    through the facts pass the code assets share."""
    by_format: dict[str, list[FileEntry]] = {}
    for entry in entries:
        by_format.setdefault(str(file_format(entry.path)), []).append(entry)
    results: dict[str, Any] = {}
    stats = CacheStats()
    for fmt, group in sorted(by_format.items()):
        if fmt == "python":  # the port part of the facts pass the code assets share
            found, part = python_facts_results(snapshot, group, cache, PORTS)
        else:
            found, part = analyse_files(
                snapshot, group, cache, f"{ANALYSER}.{fmt}", ANALYSER_VERSION, ports_of
            )
        results.update(found)
        stats.add(part)
    return results, stats


#: A range's new blobs with ports, analysed up front in one pooled batch.
PORT_PREFETCH = RangePrefetch(
    _port_entries, lambda snap, entries, cache: port_results(snap, entries, cache)[1]
)


def compute_port_map(
    snapshot: Snapshot, cache: AnalysisCache, stats_out: CacheStats | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    entries = _port_entries(snapshot)
    results, stats = port_results(snapshot, entries, cache)
    failures = stats.failures
    if stats_out is not None:
        stats_out.add(stats)
    codebase = snapshot.codebase
    by_path = {e.path: e for e in entries}
    rows = []
    for path in sorted(results):
        for raw in results[path]:
            site = PortSite(**raw)
            rows.append(
                {
                    "machine": codebase.machine,
                    "path": path,
                    "component": component_of(codebase, path),
                    "line": site.line,
                    "role": site.role,
                    "host": site.host,
                    "port": site.port,
                    "resolved": site.resolved,
                    "raw": site.raw,
                    "socket_type": site.socket_type,
                    "via": site.via,
                    "context": site.context,
                    "blob_id": by_path[path].blob_id,
                }
            )
    df = PORT_MAP.frame(rows)
    meta = port_map_metadata(df)
    meta["files_scanned"] = len(entries)
    meta["unreadable_files"] = md_table(
        [{"path": r.entry.path, "status": r.status, "message": r.message} for r in failures[:TOP_N]],
        ["path", "status", "message"],
    )
    return df, meta


@snapshot_asset(
    PORT_MAP,
    group_name="ports",
    kinds={"git", "python", "parquet", "postgres"},
    code_version=f"port_map-{ANALYSER_VERSION}",
)
def port_map(context: dg.AssetExecutionContext, git: GitResource, postgres: PostgresResource) -> Any:
    """Every port a file binds, connects to, listens on or configures (Python, compose, YAML, JSON,
    TOML, .env), resolved statically where it can be; files that do not parse go through the recovering
    parser."""
    return materialize_cached_snapshots(context, git, postgres, compute_port_map, PORT_PREFETCH)


# ---------------------------------------------------------------------------------------------------------
# Conflicts
# ---------------------------------------------------------------------------------------------------------


def compute_port_conflicts(maps: Mapping[str, pd.DataFrame | None]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every conflict on every machine among the codebases of ``maps`` (codebase -> its ``port_map``
    of the day; None: it has none)."""
    sites: list[SiteWithContext] = []
    for name, df in maps.items():
        sites.extend(sites_from_frame(name, df))
    df = conflict_rows(find_conflicts(sites))
    missing = sorted(name for name, frame in maps.items() if frame is None)
    meta: dict[str, Any] = {
        "conflict_count": len(df),
        "cross_codebase_conflicts": int(df["cross_codebase"].astype(bool).sum()) if not df.empty else 0,
        "machines_with_conflicts": int(df["machine"].nunique()) if not df.empty else 0,
        "codebases_compared": ", ".join(sorted(n for n, f in maps.items() if f is not None)) or "(none)",
        "codebases_without_port_map": ", ".join(missing) or "(none)",
    }
    return df, meta


@fleet_asset(
    PORT_CONFLICTS,
    group_name="ports",
    kinds={"parquet", "postgres"},
    ins={"port_map": fleet_input("port_map")},
    check_specs=[NO_NEW_PORT_CONFLICTS],
    code_version=f"port_conflicts-{ANALYSER_VERSION}-fleet",
)
def port_conflicts(
    context: dg.AssetExecutionContext, port_map: Any
) -> Iterator[dg.Output[Any] | dg.AssetCheckEvaluation]:
    """Ports bound by two or more components on one machine, over every codebase of the day: within a
    codebase and across the codebases that share a machine label. New conflicts (not in the previous
    available day) fail the day's check; old ones are listed."""
    newness = NewFindings(
        NO_NEW_PORT_CONFLICTS, "conflict_key", ["machine", "port", "transport", "components", "sites"]
    )
    frames: dict[str, pd.DataFrame] = {}
    metas: dict[str, dict[str, Any]] = {}
    for key, day in run_days(context):
        df, meta = compute_port_conflicts(by_codebase(port_map, day))
        df = newness.mark(key, None, day, df)
        frames[key] = df
        metas[key] = {**meta, "new_conflicts": newness.new_count(key), "conflicts": conflict_table(df)}
        context.log.info(f"{key}: {len(df)} port conflicts, {metas[key]['new_conflicts']} new")
    yield partitioned_output(context, frames, metas)
    yield from newness.evaluations(context)
