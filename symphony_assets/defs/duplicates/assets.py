"""``duplicate_code``: exact duplicates, near-duplicate Python files, and copies diverged across machines.

Input through the graph: ``file_inventory`` (blob ids, sizes and the last commit of every file) of
EVERY codebase of the day, a declared input with a partition mapping: the lineage shows it, and the
asset runs after every codebase's inventory of its day (an eager automation condition under the
daemon, a later phase in ``symphony run``). Token-shingle MinHash signatures depend only on a
file's bytes and the parameters, so they go through the per-blob cache; the codebases' bytes are read
from git snapshots only for blobs the cache has not seen.

Per-codebase options (``duplicates:`` in ``symphony.yaml``): ``threshold`` (near-duplicate
similarity, default 0.8), ``shingle_size`` (tokens per shingle, 5), ``min_tokens`` (smaller files are
not compared, 30), ``num_perm`` (MinHash permutations, 64).
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.analysis import duplicates as dup
from symphony_assets.config import Codebase, ConfigError, load_config
from symphony_assets.core.names import PHASE_TAG
from symphony_assets.defs.duplicates.compare import (
    Params,
    Side,
    compute_duplicates,
    duplicate_metadata,
    inventory_rows,
    python_entries,
    sign_entries,
)
from symphony_assets.defs.duplicates.schemas import DUPLICATE_CODE
from symphony_assets.defs.fleet import AFTER_EVERY_CODEBASE, by_codebase, every_codebase_input
from symphony_assets.defs.newness import NewFindings, new_findings_spec
from symphony_assets.defs.snapshots import (
    RangePrefetch,
    codebase_named,
    partitioned_output,
    required_input,
    run_partitions,
    snapshot_asset,
    snapshot_metadata,
    take,
    take_all,
)
from symphony_assets.resources.cache import AnalysisCache, CacheStats
from symphony_assets.resources.git import GitResource, Snapshot
from symphony_assets.resources.postgres import PostgresResource

ASSET = "duplicate_code"
NO_NEW_DUPLICATES = new_findings_spec(ASSET, "duplicate_code")


def _other_codebases(name: str) -> list[Codebase]:
    try:
        config = load_config()
        config.codebase(name)
    except ConfigError as exc:
        raise dg.Failure(description=f"codebase {name!r}: {exc}") from exc
    return [cb for cb in config.codebases if cb.name != name]


@snapshot_asset(
    DUPLICATE_CODE,
    name=ASSET,
    group_name="duplicates",
    kinds={"git", "python", "parquet", "postgres"},
    ins={"inventory": every_codebase_input("file_inventory")},
    automation_condition=AFTER_EVERY_CODEBASE,
    tags={PHASE_TAG: "cross"},
    check_specs=[NO_NEW_DUPLICATES],
    code_version=f"duplicate_code-{dup.ANALYSER_VERSION}",
)
def duplicate_code(
    context: dg.AssetExecutionContext, git: GitResource, postgres: PostgresResource, inventory: Any
) -> Iterator[dg.Output[Any] | dg.AssetCheckEvaluation]:
    """Exact duplicates by blob id (within the codebase, and at other paths of other codebases),
    near-duplicate Python files (token shingles, MinHash/LSH, threshold configurable) and diverged
    copies: the same path with different content on a codebase of another machine, with a
    similarity figure and the last commit on each side. Identical copies on other machines are
    counted, not reported."""
    cache = AnalysisCache(postgres.database())
    newness = NewFindings(
        NO_NEW_DUPLICATES,
        "finding_key",
        ["kind", "path", "other_codebase", "other_path"],
        default_severity="warn",
    )
    totals = CacheStats()
    frames: dict[str, pd.DataFrame] = {}
    metas: dict[str, dict[str, Any]] = {}
    own_snapshots = take_all(context, git)
    # A range's new Python blobs, signed up front in one pooled batch.
    sign_ahead = RangePrefetch(
        python_entries,
        lambda snap, entries, cache: sign_entries(snap, entries, cache, Params.of(snap.codebase))[1],
    )
    prefetches = sign_ahead.start(own_snapshots, cache)
    # One near-duplicate index per (threshold, permutations) for the whole range: a day re-reads only
    # the signatures that changed since the day before.
    indexes: dict[tuple[float, int], dup.NearPairs] = {}
    for key, name, day in run_partitions(context):
        codebase = codebase_named(name)
        params = Params.of(codebase)
        shape = (params.threshold, params.num_perm)
        if shape not in indexes:
            indexes[shape] = dup.NearPairs(*shape)
        index = indexes[shape]
        inventories = by_codebase(inventory, day)
        own_inventory = required_input(inventories.get(name), key, "file_inventory")
        others, missing = [], []
        for cb in _other_codebases(name):
            other_inv = inventories.get(cb.name)
            if other_inv is None:
                missing.append(cb.name)
            else:
                others.append(Side(cb, inventory_rows(other_inv)))
        own = Side(codebase, inventory_rows(own_inventory))
        snapshots: dict[str, Snapshot] = {name: own_snapshots[key]}

        def snapshot_of(cb: Codebase, day: Any = day, snapshots: dict[str, Snapshot] = snapshots) -> Snapshot:
            if cb.name not in snapshots:
                snapshots[cb.name] = take(git, cb, day)
            return snapshots[cb.name]

        df, meta, stats = compute_duplicates(snapshot_of, own, others, cache, params, index)
        prefetches[name].settle(python_entries(own_snapshots[key]), stats)
        totals.analysed += stats.analysed
        totals.reused += stats.reused
        df = newness.mark(key, codebase, day, df)
        frames[key] = df
        snapshot_meta = snapshot_metadata(snapshot_of(codebase))
        metas[key] = {
            **snapshot_meta,
            **meta,
            **duplicate_metadata(df),
            **stats.metadata(),
            "codebases_without_inventory": ", ".join(missing) or "(none)",
        }
        context.log.info(f"{key}: {len(df)} duplicate findings")
    yield partitioned_output(context, frames, metas, {f"run_{k}": v for k, v in totals.metadata().items()})
    yield from newness.evaluations(context)
