"""``agent_registry``: agents a startup configuration declares, against agent files and bound ports.

Inputs through the graph: ``file_inventory`` (which files exist) and ``port_map`` (the ports each
file binds). Startup configuration files are read from the day's git snapshot and parsed through the
per-blob cache (:mod:`symphony_assets.analysis.agents` describes the shapes recognised).

Per-codebase options (``agents:`` in ``symphony.yaml``): ``config_globs`` (default every ``.yaml``,
``.yml`` and ``.json`` file), ``agent_globs`` (default: Python files under an ``agents/`` folder or
named ``*agent*``), ``list_keys`` (only lists and mappings under these keys declare agents).
"""

import fnmatch
import functools
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.analysis import agents as agents_analysis
from symphony_assets.analysis.agents import Declaration, compare, declarations
from symphony_assets.analysis.gpu_agents import is_agent_path
from symphony_assets.config import Codebase
from symphony_assets.defs.agents.schemas import AGENT_REGISTRY
from symphony_assets.defs.newness import NewFindings, new_findings_spec
from symphony_assets.defs.snapshots import (
    RangePrefetch,
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
from symphony_assets.resources.cache import AnalysisCache, CacheStats, Prefetch, analyse_by_kind
from symphony_assets.resources.git import FileEntry, GitResource, Snapshot
from symphony_assets.resources.postgres import PostgresResource

ASSET = "agent_registry"
DOMAIN = "agents"
ANALYSER = "agent_registry:config"
DEFAULT_CONFIG_GLOBS = ("*.yaml", "*.yml", "*.json")
TOP_N = 15
NO_NEW_REGISTRY_PROBLEMS = new_findings_spec(ASSET, "agent_registry_problems")


def declarations_of(entry: FileEntry, content: bytes, list_keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """Module-level (not a lambda) so the blob pool can ship it to worker processes."""
    return [d.to_dict() for d in declarations(entry.path, content, list(list_keys))]


def _globs(codebase: Codebase, key: str, default: tuple[str, ...]) -> list[str]:
    value = codebase.option(DOMAIN, key, None)
    return [str(v) for v in value] if value else list(default)


def _matches(path: str, globs: list[str]) -> bool:
    name = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(path, g) or fnmatch.fnmatchcase(name, g) for g in globs)


def _code_ports(port_map: pd.DataFrame | None) -> dict[str, list[int]]:
    if port_map is None or port_map.empty:
        return {}
    binds = port_map[port_map["role"].isin(["bind", "listen"]) & port_map["port"].notna()]
    out: dict[str, list[int]] = {}
    for path, port in zip(binds["path"].astype(str), binds["port"], strict=True):
        if int(port) > 0:
            out.setdefault(path, []).append(int(port))
    return out


def inventory_files(inventory: pd.DataFrame) -> set[str]:
    """The files the day's inventory says exist (neither ignored nor deleted)."""
    live = inventory[~inventory["ignored"].astype(bool) & (inventory["git_status"] != "deleted")]
    return {str(p) for p in live["path"]}


def config_entries(snapshot: Snapshot, files: set[str] | None = None) -> list[FileEntry]:
    """The snapshot's files that may be startup configurations (``config_globs``), among ``files``."""
    globs = _globs(snapshot.codebase, "config_globs", DEFAULT_CONFIG_GLOBS)
    return [
        e
        for e in snapshot.files
        if e.kind == "file" and (files is None or e.path in files) and _matches(e.path, globs)
    ]


def read_configs(
    snapshot: Snapshot, entries: list[FileEntry], cache: AnalysisCache
) -> tuple[dict[str, Any], CacheStats]:
    """Each configuration's declarations by path, through the blob cache."""
    list_keys = [str(k) for k in snapshot.codebase.option(DOMAIN, "list_keys", []) or []]
    version = f"{agents_analysis.ANALYSER_VERSION}:{','.join(sorted(list_keys))}"
    read = functools.partial(declarations_of, list_keys=tuple(list_keys))
    # JSON files are read as JSON, the rest as YAML: the kind is part of the cache key.
    return analyse_by_kind(snapshot, entries, cache, ANALYSER, version, read, agents_analysis.config_kind)


#: A range's new configuration blobs, read up front in one pooled batch. Past days' inventories hold
#: every committed file, so the snapshot's configuration files are the ones each day reads.
CONFIG_PREFETCH = RangePrefetch(
    config_entries, lambda snap, entries, cache: read_configs(snap, entries, cache)[1]
)


def compute_agent_registry(
    snapshot: Snapshot,
    cache: AnalysisCache,
    inventory: pd.DataFrame,
    port_map: pd.DataFrame | None,
    prefetch: Prefetch | None = None,
) -> tuple[pd.DataFrame, dict[str, Any], CacheStats]:
    """One day's registry; ``prefetch``: the range's configurations read up front, counted here."""
    codebase = snapshot.codebase
    agent_globs = _globs(codebase, "agent_globs", ())
    files = inventory_files(inventory)
    entries = config_entries(snapshot, files)
    results, stats = read_configs(snapshot, entries, cache)
    if prefetch is not None:
        prefetch.settle(entries, stats)
    decls = [Declaration.from_dict(raw) for path in sorted(results) for raw in results[path]]
    if agent_globs:
        agent_files = {p for p in files if _matches(p, agent_globs)}
    else:
        agent_files = {p for p in files if is_agent_path(p)}
    rows = compare(decls, files, agent_files, _code_ports(port_map))
    df = AGENT_REGISTRY.frame(
        [
            {
                **r.__dict__,
                "finding_key": f"{r.kind}|{r.agent}|{r.config_path or ''}|{r.script_path or ''}",
                "first_seen": None,
                "is_new": None,
            }
            for r in rows
        ]
    )
    configs = sorted({d.config_path for d in decls})
    meta: dict[str, Any] = {
        "startup_configs": ", ".join(configs) or "(none found)",
        "declared_agents": len({d.name for d in decls}),
        "agent_files": len(agent_files),
    }
    return df, meta, stats


def registry_metadata(df: pd.DataFrame) -> dict[str, Any]:
    problems = df[df["kind"] != agents_analysis.KIND_OK] if not df.empty else df
    counts = problems.groupby("kind").size() if not problems.empty else pd.Series(dtype="int64")
    columns = ["kind", "agent", "config_path", "config_line", "script_path", "detail"]
    return {
        "problems": len(problems),
        **{
            kind: int(counts.get(kind, 0))
            for kind in (
                agents_analysis.KIND_MISSING,
                agents_analysis.KIND_UNDECLARED,
                agents_analysis.KIND_TWICE,
                agents_analysis.KIND_PORT,
                agents_analysis.KIND_DEPENDENCY,
            )
        },  # fmt: skip
        "new_problems": int(problems["is_new"].astype(bool).sum()) if not problems.empty else 0,
        "problem_list": md_table(problems.head(TOP_N).to_dict("records"), columns),
        "registry": md_table(
            df.head(TOP_N).to_dict("records") if not df.empty else [],
            ["agent", "kind", "script_path", "declared_port", "code_ports", "host"],
        ),
    }


@snapshot_asset(
    AGENT_REGISTRY,
    name=ASSET,
    group_name="agents",
    kinds={"git", "python", "parquet", "postgres"},
    ins={"inventory": dg.AssetIn("file_inventory"), "port_map": dg.AssetIn("port_map")},
    check_specs=[NO_NEW_REGISTRY_PROBLEMS],
    code_version=f"agent_registry-{agents_analysis.ANALYSER_VERSION}",
)
def agent_registry(
    context: dg.AssetExecutionContext,
    git: GitResource,
    postgres: PostgresResource,
    inventory: Any,
    port_map: Any,
) -> Iterator[dg.Output[Any] | dg.AssetCheckEvaluation]:
    """Agents declared in startup configuration files (YAML/JSON lists or mappings of agents with
    name, script_path/module, port, host, dependencies) joined with the agent files found and the
    ports the code binds: declared but missing, present but undeclared, declared twice, port in the
    configuration differs from the code, dependency on an undeclared agent."""
    cache = AnalysisCache(postgres.database())
    newness = NewFindings(
        NO_NEW_REGISTRY_PROBLEMS,
        "finding_key",
        ["kind", "agent", "script_path", "detail"],
        judged=lambda df: df[df["kind"] != agents_analysis.KIND_OK],
    )
    totals = CacheStats()
    frames: dict[str, pd.DataFrame] = {}
    metas: dict[str, dict[str, Any]] = {}
    snapshots = take_all(context, git)
    prefetches = CONFIG_PREFETCH.start(snapshots, cache)
    for key, name, day in run_partitions(context):
        codebase = codebase_named(name)
        own = required_input(inventory, key, "file_inventory")
        ports = input_for(port_map, key)
        snapshot = snapshots[key]
        df, meta, stats = compute_agent_registry(snapshot, cache, own, ports, prefetches[name])
        totals.analysed += stats.analysed
        totals.reused += stats.reused
        frames[key] = df = newness.mark(key, codebase, day, df)
        metas[key] = {**snapshot_metadata(snapshot), **meta, **registry_metadata(df), **stats.metadata()}
        if ports is None:
            metas[key]["note"] = "port_map partition missing: ports in code unknown"
        context.log.info(f"{key}: {metas[key]['problems']} agent registry problems")
    yield partitioned_output(context, frames, metas, {f"run_{k}": v for k, v in totals.metadata().items()})
    yield from newness.evaluations(context)
