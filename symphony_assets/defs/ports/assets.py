"""``port_map`` and ``port_conflicts``: where each codebase uses network ports, and collisions.

Extraction per file depends only on its format and bytes, so it goes through the blob cache (one
analyser name per format, since the same bytes read as Python and as YAML give different sites).
``port_conflicts`` compares this codebase's binding sites with those of every other codebase that
has the same machine label, read from their ``port_map`` partitions of the same date in the
warehouse; a codebase whose partition is missing is named in the metadata, not silently skipped.

Per-codebase options (``ports:`` in ``symphony.yaml``):

- ``components``: ``{glob: agent name}``; files matching a glob count as that component, so two files
  of one agent binding the same port are not a conflict. Default: each file is its own component.
"""

import datetime as dt
import fnmatch
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.analysis.ports import (
    PortConflict,
    PortSite,
    SiteWithContext,
    extract_ports,
    file_format,
    find_conflicts,
)
from symphony_assets.config import Codebase, ConfigError, load_config
from symphony_assets.defs.ports.checks import NO_NEW_PORT_CONFLICTS_CHECK, new_port_conflicts_result
from symphony_assets.defs.ports.schemas import PORT_CONFLICTS, PORT_MAP
from symphony_assets.defs.snapshots import (
    materialize_cached_snapshots,
    md_table,
    partitioned_output,
    run_partitions,
    snapshot_asset,
)
from symphony_assets.resources.cache import AnalysisCache, CacheStats, analyse_files
from symphony_assets.resources.git import FileEntry, GitResource, Snapshot
from symphony_assets.resources.postgres import PostgresResource
from symphony_assets.storage.warehouse import Warehouse

DOMAIN = "ports"
ANALYSER = "port_map"
#: Bump when extraction changes, so cached per-blob results are recomputed.
#: 2: config files up to ``limits.MAX_CONFIG_BYTES`` (libyaml, C JSON), ``role="skipped"`` rows for a
#: file (or part of one) left unanalysed at a limit, exact lines for JSON that YAML could not read.
#: 3: Python files that do not parse go through the recovering parser (issue 17).
ANALYSER_VERSION = "3"
TOP_N = 15


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


def compute_port_map(
    snapshot: Snapshot, cache: AnalysisCache, stats_out: CacheStats | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    entries = _port_entries(snapshot)
    by_format: dict[str, list[FileEntry]] = {}
    for entry in entries:
        by_format.setdefault(str(file_format(entry.path)), []).append(entry)
    results: dict[str, Any] = {}
    failures = []
    for fmt, group in sorted(by_format.items()):
        found, stats = analyse_files(
            snapshot,
            group,
            cache,
            f"{ANALYSER}.{fmt}",
            ANALYSER_VERSION,
            ports_of,
        )
        results.update(found)
        failures.extend(stats.failures)
        if stats_out is not None:
            stats_out.analysed += stats.analysed
            stats_out.reused += stats.reused
            stats_out.failures.extend(stats.failures)
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


def port_map_metadata(df: pd.DataFrame) -> dict[str, Any]:
    skipped = df[df["role"] == "skipped"] if not df.empty else df
    skipped_meta = {
        "skipped_files": int(skipped["path"].nunique()) if not skipped.empty else 0,
        "skipped_file_list": md_table(
            [{"path": r["path"], "reason": r["raw"]} for r in skipped.head(TOP_N).to_dict("records")],
            ["path", "reason"],
        ),
    }
    df = df[df["role"] != "skipped"] if not df.empty else df
    if df.empty:
        return {"site_count": 0, "bound_ports": 0, "unresolved_sites": 0, "fallback_sites": 0, **skipped_meta}
    resolved = df["resolved"].astype(bool)
    binding = df[df["role"].isin(["bind", "listen"]) & resolved & (df["port"].fillna(0) > 0)]
    per_port = (
        binding.groupby("port").agg(sites=("path", "size"), files=("path", "nunique")).reset_index()
        if not binding.empty
        else pd.DataFrame(columns=["port", "sites", "files"])
    )
    top = per_port.sort_values(["files", "sites", "port"], ascending=[False, False, True]).head(TOP_N)
    unresolved = df[~resolved]
    return {
        "site_count": len(df),
        "bound_ports": int(binding["port"].nunique()),
        "unresolved_sites": len(unresolved),
        "fallback_sites": int((df["via"] == "fallback").sum()),
        "sites_by_role": md_table(
            [{"role": k, "sites": int(v)} for k, v in df.groupby("role").size().items()], ["role", "sites"]
        ),
        "bound_ports_table": md_table(top.to_dict("records"), ["port", "sites", "files"]),
        "unresolved_site_list": md_table(
            unresolved.head(TOP_N).to_dict("records"), ["path", "line", "role", "raw", "context"]
        ),
        **skipped_meta,
    }


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
    return materialize_cached_snapshots(context, git, postgres, compute_port_map)


# ---------------------------------------------------------------------------------------------------------
# Conflicts
# ---------------------------------------------------------------------------------------------------------


def sites_from_frame(codebase: str, df: pd.DataFrame | None) -> list[SiteWithContext]:
    if df is None or df.empty:
        return []
    out = []
    for r in df.to_dict("records"):
        port = r.get("port")
        out.append(
            SiteWithContext(
                machine=str(r["machine"]),
                codebase=codebase,
                file=str(r["path"]),
                component=str(r["component"]),
                line=int(r["line"]),
                role=str(r["role"]),
                host=None if pd.isna(r.get("host")) else str(r["host"]),
                port=None if port is None or pd.isna(port) else int(port),
                resolved=bool(r["resolved"]),
                socket_type=None if pd.isna(r.get("socket_type")) else str(r["socket_type"]),
            )
        )
    return out


def neighbours(codebase: str) -> list[Codebase]:
    """Other configured codebases with the same machine label."""
    try:
        config = load_config()
        me = config.codebase(codebase)
    except ConfigError as exc:
        raise dg.Failure(description=f"codebase {codebase!r}: {exc}") from exc
    return [cb for cb in config.codebases if cb.name != codebase and cb.machine == me.machine]


def conflict_rows(codebase: str, conflicts: list[PortConflict], previous: set[str] | None) -> pd.DataFrame:
    rows = [
        {
            "machine": c.machine,
            "port": c.port,
            "transport": c.transport,
            "conflict_key": c.key,
            "components": ", ".join(c.components),
            "codebases": ", ".join(c.codebases),
            "component_count": len(c.components),
            "sites": ", ".join(f"{cb}:{path}:{line}" for cb, path, line, _host in c.sites),
            "cross_codebase": len(c.codebases) > 1,
            "is_new": previous is None or c.key not in previous,
        }
        for c in conflicts
        if codebase in c.codebases
    ]
    return PORT_CONFLICTS.frame(rows)


def compute_port_conflicts(
    codebase: str,
    own: pd.DataFrame | None,
    others: Mapping[str, pd.DataFrame | None],
    previous: set[str] | None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Conflicts this codebase takes part in; ``previous`` holds yesterday's keys (None: unknown)."""
    sites = sites_from_frame(codebase, own)
    for name, df in others.items():
        sites.extend(sites_from_frame(name, df))
    df = conflict_rows(codebase, find_conflicts(sites), previous)
    missing = sorted(name for name, frame in others.items() if frame is None)
    meta: dict[str, Any] = {
        "conflict_count": len(df),
        "new_conflicts": int(df["is_new"].astype(bool).sum()) if not df.empty else 0,
        "cross_codebase_conflicts": int(df["cross_codebase"].astype(bool).sum()) if not df.empty else 0,
        "codebases_compared": ", ".join(sorted(others)) or "(none on this machine)",
        "codebases_without_port_map": ", ".join(missing) or "(none)",
        "previous_day_known": previous is not None,
        "conflicts": md_table(
            df.sort_values("component_count", ascending=False).head(TOP_N).to_dict("records")
            if not df.empty
            else [],
            ["machine", "port", "transport", "components", "is_new", "sites"],
        ),
    }
    return df, meta


def _previous_keys(
    warehouse: Warehouse, codebase: str, day: dt.date, this_run: Mapping[dt.date, pd.DataFrame]
) -> set[str] | None:
    before = day - dt.timedelta(days=1)
    df = this_run.get(before)
    if df is None:
        df = warehouse.read("port_conflicts", {"codebase": codebase, "date": str(before)})
    if df is None:
        return None
    return set(df["conflict_key"].astype(str)) if not df.empty else set()


@snapshot_asset(
    PORT_CONFLICTS,
    group_name="ports",
    kinds={"parquet", "postgres"},
    ins={"port_map": dg.AssetIn("port_map")},
    check_specs=[NO_NEW_PORT_CONFLICTS_CHECK],
    code_version=f"port_conflicts-{ANALYSER_VERSION}",
)
def port_conflicts(
    context: dg.AssetExecutionContext, port_map: Any
) -> Iterator[dg.Output[Any] | dg.AssetCheckResult]:
    """Ports bound by two or more components on the codebase's machine, including components of
    other codebases with the same machine label (read from their port_map of the same date)."""
    maps = port_map if isinstance(port_map, Mapping) else {context.partition_key: port_map}
    warehouse = Warehouse()
    frames: dict[str, pd.DataFrame] = {}
    metas: dict[str, dict[str, Any]] = {}
    by_day: dict[dt.date, pd.DataFrame] = {}
    known: dict[str, bool] = {}
    for key, name, day in run_partitions(context):
        others = {
            cb.name: warehouse.read("port_map", {"codebase": cb.name, "date": str(day)})
            for cb in neighbours(name)
        }
        previous = _previous_keys(warehouse, name, day, by_day)
        df, meta = compute_port_conflicts(name, maps.get(key), others, previous)
        frames[key], metas[key], by_day[day], known[key] = df, meta, df, previous is not None
        context.log.info(f"{key}: {len(df)} port conflicts, {meta['new_conflicts']} new")
    yield partitioned_output(context, frames, metas)
    newest = list(frames)[-1]
    yield new_port_conflicts_result(frames[newest], newest, known[newest])
