"""Shared plumbing for snapshot assets: which partitions a run covers, and one output per partition.

A run may cover one partition or, for single-run backfills, a range of days of one codebase. Each
asset hands a per-snapshot function to :func:`materialize_snapshots`; the IO manager then writes every
partition to Parquet and mirrors all of them into Postgres in one transaction.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.config import Codebase, ConfigError, load_config
from symphony_assets.core.clock import utc_today
from symphony_assets.defs.interrupts import stops_on_interrupt
from symphony_assets.defs.partitions import partition_columns, snapshot_partitions
from symphony_assets.executors import execution_place
from symphony_assets.resources.cache import AnalysisCache, CacheStats, Prefetch
from symphony_assets.resources.git import CodebaseUnavailable, FileEntry, GitError, GitResource, Snapshot
from symphony_assets.resources.postgres import PostgresResource
from symphony_assets.storage.io_manager import scope_to_partitions
from symphony_assets.storage.tables import TableSchema

SnapshotFn = Callable[[Snapshot], tuple[pd.DataFrame, dict[str, Any]]]

SNAPSHOT_RETRY = dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL)
#: Runs over this many seconds are stopped by the run monitor (a stuck git or a huge repo).
SNAPSHOT_MAX_RUNTIME_S = 3 * 3600
#: A backfill is split into runs of at most this many partitions (days of one codebase): each run keeps
#: its blob reuse across its days, and the run queue spreads the runs over the executor's workers.
DAYS_PER_RUN_ENV = "SYMPHONY_DAYS_PER_RUN"
DEFAULT_DAYS_PER_RUN = 31


def days_per_run() -> int:
    return max(1, int(os.environ.get(DAYS_PER_RUN_ENV) or DEFAULT_DAYS_PER_RUN))


def snapshot_backfill_policy() -> dg.BackfillPolicy:
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=days_per_run())


def snapshot_asset(schema: TableSchema, **kwargs: Any) -> Any:
    """``@dg.asset`` for a codebase x date asset: our partitions, single-run backfills, retries with
    backoff, the Parquet + Postgres IO manager and the declared column schema. ``kwargs`` adds the
    rest (group_name, kinds, ins, check_specs, code_version, ...)."""
    metadata = {"dagster/column_schema": schema.dagster_column_schema(), **kwargs.pop("metadata", {})}
    decorate = dg.asset(
        name=kwargs.pop("name", None),
        partitions_def=snapshot_partitions,
        backfill_policy=snapshot_backfill_policy(),
        retry_policy=kwargs.pop("retry_policy", SNAPSHOT_RETRY),
        io_manager_key="warehouse_io_manager",
        metadata=metadata,
        **kwargs,
    )
    # The retry policy is for failures that pass; an interrupt stops the run (see .interrupts).
    return lambda fn: decorate(stops_on_interrupt(fn))


def input_for(value: Any, key: str) -> pd.DataFrame | None:
    """One partition's frame of an input: the IO manager hands a frame for one day and a dict of frames
    (``None`` where a day has no partition) for a range."""
    found = value.get(key) if isinstance(value, Mapping) else value
    return found if isinstance(found, pd.DataFrame) else None


def required_input(value: Any, key: str, asset: str) -> pd.DataFrame:
    """:func:`input_for`, failing the step with a plain message when that day's partition is missing."""
    frame = input_for(value, key)
    if frame is None:
        raise dg.Failure(
            description=f"{key}: {asset} has no partition for this day; materialise {asset} first"
        )
    return frame


def run_partitions(context: dg.AssetExecutionContext) -> list[tuple[str, str, date]]:
    """(partition key, codebase, day) for every partition of this run, in order."""
    out = []
    for key in context.partition_keys:
        cols = partition_columns(key)
        out.append((key, str(cols["codebase"]), cols["date"]))
    return out


def codebase_named(name: str) -> Codebase:
    try:
        return load_config().codebase(name)
    except ConfigError as exc:
        raise dg.Failure(description=f"codebase {name!r}: {exc}") from exc


@contextlib.contextmanager
def _git_failures(codebase: Codebase, where: str = "") -> Iterator[None]:
    """A codebase git cannot read fails the step with the reason, not a traceback."""
    try:
        yield
    except CodebaseUnavailable as exc:
        raise dg.Failure(description=str(exc)) from exc
    except GitError as exc:
        raise dg.Failure(description=f"codebase {codebase.name!r}{where}: {exc}") from exc


def take(git: GitResource, codebase: Codebase, day: date) -> Snapshot:
    with _git_failures(codebase, f" at {day}"):
        return git.snapshot(codebase, day, today=utc_today())


def take_all(context: dg.AssetExecutionContext, git: GitResource) -> dict[str, Snapshot]:
    """Every partition's snapshot up front, by partition key (for a range's :class:`RangePrefetch`);
    a codebase's days each built from the day before (:meth:`GitResource.snapshots`)."""
    partitions = run_partitions(context)
    days_of: dict[str, list[date]] = {}
    for _, name, day in partitions:
        days_of.setdefault(name, []).append(day)
    taken: dict[str, dict[date, Snapshot]] = {}
    for name, days in days_of.items():
        codebase = codebase_named(name)
        with _git_failures(codebase):
            taken[name] = git.snapshots(codebase, days, today=utc_today())
    return {key: taken[name][day] for key, name, day in partitions}


@dataclass(frozen=True)
class RangePrefetch:
    """How a per-file asset analyses a range's new blobs up front, in one pooled batch (see
    :class:`~symphony_assets.resources.cache.Prefetch`): the entries it reads in a snapshot, and the
    analysis that fills the blob cache for a batch of them."""

    entries: Callable[[Snapshot], Sequence[FileEntry]]
    analyse: Callable[[Snapshot, list[FileEntry], AnalysisCache], CacheStats]

    def start(self, snapshots: Mapping[str, Snapshot], cache: AnalysisCache) -> dict[str, Prefetch]:
        """One :class:`Prefetch` per codebase of ``snapshots`` (partition key -> snapshot)."""
        by_codebase: dict[str, list[Snapshot]] = {}
        for snapshot in snapshots.values():
            by_codebase.setdefault(snapshot.codebase.name, []).append(snapshot)
        return {
            name: Prefetch.over(
                days, cache, self.entries, lambda snap, entries: self.analyse(snap, entries, cache)
            )
            for name, days in by_codebase.items()
        }


def snapshot_metadata(snapshot: Snapshot) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "codebase": snapshot.codebase.name,
        "machine": snapshot.codebase.machine,
        "commit": snapshot.commit or "(none)",
        "live_working_tree": snapshot.live,
        **execution_place(),  # worker_host, worker_pid: which worker ran the step
    }
    if snapshot.commit_time is not None:
        meta["commit_time"] = snapshot.commit_time.isoformat()
    if snapshot.empty_reason:
        meta["empty_reason"] = snapshot.empty_reason
    return meta


def materialize_snapshots(
    context: dg.AssetExecutionContext,
    git: GitResource,
    fn: SnapshotFn,
    run_metadata: Callable[[], dict[str, Any]] | None = None,
) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """Run ``fn`` on the snapshot of every partition in this run; attach metadata; return the output.

    ``fn``'s result must depend only on the snapshot's commit (its files and their history), not on
    the day: in a range, a day whose commit is the previous day's reuses that day's frame (a copy) and
    says so in ``frames_reused_from``. A live working tree is always computed. ``run_metadata`` adds
    figures for the whole run (e.g. blobs analysed vs reused over a backfill).
    """
    return materialize_days(context, git, lambda snapshot, _carry: (*fn(snapshot), None), run_metadata)


#: ``(snapshot, what the previous day of the codebase carried or None) -> (frame, metadata, carry)``.
DayFn = Callable[[Snapshot, Any], tuple[pd.DataFrame, dict[str, Any], Any]]


def materialize_days(
    context: dg.AssetExecutionContext,
    git: GitResource,
    fn: DayFn,
    run_metadata: Callable[[], dict[str, Any]] | None = None,
    snapshots: Mapping[str, Snapshot] | None = None,
) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """:func:`materialize_snapshots` for an ``fn`` that builds a day from the day before: whatever it
    returned as its carry for a codebase's previous day in this run is handed to it with the next
    day's snapshot (``None`` for a codebase's first day). Its result must still equal building the day
    alone (issue 11; ``test_range_equals_days``). ``snapshots``: the run's snapshots by partition key,
    when the caller took them already (:func:`take_all`)."""
    frames: dict[str, pd.DataFrame] = {}
    metas: dict[str, dict[str, Any]] = {}
    carried: dict[str, Any] = {}
    # The last computed frame: ((codebase, commit), its partition key, frame, metadata).
    reusable: tuple[tuple[str, str], str, pd.DataFrame, dict[str, Any]] | None = None
    snapshots = take_all(context, git) if snapshots is None else snapshots
    for key, name, _day in run_partitions(context):
        snapshot = snapshots[key]
        commit = None if snapshot.live else snapshot.commit
        if reusable is not None and commit is not None and reusable[0] == (name, commit):
            df, meta = reusable[2].copy(), _reused_metadata(reusable[3], reusable[1])
        else:
            df, meta, carried[name] = fn(snapshot, carried.get(name))
            reusable = None if commit is None else ((name, commit), key, df, meta)
        frames[key] = df
        metas[key] = {**snapshot_metadata(snapshot), **meta}
        context.log.info(f"{key}: {len(df)} rows at commit {snapshot.commit or '(none)'}")
    return output_partitions(context, frames, metas, run_metadata() if run_metadata else None)


def _reused_metadata(meta: Mapping[str, Any], source_key: str) -> dict[str, Any]:
    """A reused partition's metadata: the frame's figures, but nothing analysed for it."""
    out = {**meta, "frames_reused_from": source_key}
    if "files_read" in out:
        out["files_read"] = 0
    if "blobs_analysed" in out:
        out["blobs_reused"] = int(out.get("blobs_reused", 0)) + int(out["blobs_analysed"])
        out["blobs_analysed"] = 0
    return out


def add_partition_metadata(
    context: dg.AssetExecutionContext,
    metas: Mapping[str, Mapping[str, Any]],
    run: Mapping[str, Any] | None = None,
    asset: str | None = None,
) -> None:
    """Give each partition of the run its OWN metadata on its own materialisation event.

    Metadata added with ``add_output_metadata`` (or on ``dg.Output``) is copied onto every partition of
    a range run, so after a single-run backfill every day would show the newest day's commit and the
    range's totals, and the UI's plots over time would be flat lines. ``metas`` maps each partition key
    to that day's figures; ``run`` (figures of the whole run, e.g. blobs analysed over a backfill) goes
    onto every partition, plus ``partition_count`` for a range. ``asset`` names the output of a
    multi-asset. Call it before the output is returned or yielded: every snapshot asset, single or
    multi, attaches its metadata through here (the IO manager adds each partition's row count, Parquet
    URI and Postgres table the same way). This is ``context.add_asset_metadata(..., partition_key=...)``
    for each partition, made cheap: see :func:`~symphony_assets.storage.io_manager.scope_to_partitions`."""
    shared = dict(run or {})
    if len(metas) > 1:
        shared["partition_count"] = len(metas)
    asset_key = dg.AssetKey(asset) if asset else context.assets_def.key
    if asset_key not in context.assets_def.keys:
        raise dg.DagsterInvariantViolationError(f"{asset_key.to_user_string()} is not an asset of this step")
    unknown = set(metas) - set(context.partition_keys)
    if unknown:
        raise dg.DagsterInvariantViolationError(f"partitions not in this run: {sorted(unknown)}")
    owners = _owners_by_codebase()
    step = context.get_step_execution_context()
    scope_to_partitions(
        step, asset_key, {key: {**meta, **shared, **_owner_meta(key, owners)} for key, meta in metas.items()}
    )


def _owners_by_codebase() -> dict[str, tuple[str, ...]]:
    try:
        return {cb.name: cb.owners for cb in load_config().codebases if cb.owners}
    except ConfigError:
        return {}


def _owner_meta(key: str, owners: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """Asset owners are per asset in Dagster, and every asset spans every codebase: a codebase's owners
    (``owners:`` in symphony.yaml) go onto each of its partitions instead."""
    name = str(partition_columns(key).get("codebase", ""))
    return {"owners": ", ".join(owners[name])} if name in owners else {}


def _value(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """What the IO manager expects: one frame, or for a range the dict ``{partition_key: frame}``."""
    return next(iter(frames.values())) if len(frames) == 1 else dict(frames)


def output_partitions(
    context: dg.AssetExecutionContext,
    frames: Mapping[str, pd.DataFrame],
    metas: Mapping[str, Mapping[str, Any]],
    extra: Mapping[str, Any] | None = None,
) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """Attach each partition's metadata (:func:`add_partition_metadata`); return the output value."""
    add_partition_metadata(context, metas, extra)
    return _value(frames)


CachedSnapshotFn = Callable[[Snapshot, AnalysisCache, CacheStats], tuple[pd.DataFrame, dict[str, Any]]]


def materialize_cached_snapshots(
    context: dg.AssetExecutionContext,
    git: GitResource,
    postgres: PostgresResource,
    fn: CachedSnapshotFn,
    prefetch: RangePrefetch | None = None,
) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """:func:`materialize_snapshots` for per-file analyses: one blob cache for the run, and the run's
    totals of blobs analysed vs reused (``run_blobs_analysed`` ...) in the metadata. With ``prefetch``,
    a range's new blobs are analysed up front and each counted as analysed on the first day to meet it."""
    cache = AnalysisCache(postgres.database())
    totals = CacheStats()

    def run_totals() -> dict[str, Any]:
        state = "on" if cache.enabled else "off"
        context.log.info(f"blobs analysed {totals.analysed}, reused {totals.reused}; cache {state}")
        return {f"run_{k}": v for k, v in totals.metadata().items()}

    if prefetch is None:
        return materialize_snapshots(context, git, lambda snap: fn(snap, cache, totals), run_totals)
    snapshots = take_all(context, git)
    prefetches = prefetch.start(snapshots, cache)

    def day(snapshot: Snapshot, _carry: Any) -> tuple[pd.DataFrame, dict[str, Any], None]:
        df, meta = fn(snapshot, cache, totals)
        prefetches[snapshot.codebase.name].settle(prefetch.entries(snapshot), totals)
        return df, meta, None

    return materialize_days(context, git, day, run_totals, snapshots)


def partitioned_output(
    context: dg.AssetExecutionContext,
    frames: Mapping[str, pd.DataFrame],
    metas: Mapping[str, Mapping[str, Any]],
    extra: Mapping[str, Any] | None = None,
    asset: str | None = None,
) -> dg.Output[Any]:
    """:func:`output_partitions` as a ``dg.Output``, for assets that also yield check results, and for
    the outputs of a multi-asset (``asset`` names the output and its asset)."""
    add_partition_metadata(context, metas, extra, asset)
    if asset is None:
        return dg.Output(_value(frames))
    return dg.Output(_value(frames), output_name=asset)


def md_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], empty: str = "_none_"
) -> dg.MarkdownMetadataValue:
    """A Markdown table for the UI; pipes and newlines in values are escaped."""
    if not rows:
        return dg.MetadataValue.md(empty)

    def cell(value: Any) -> str:
        text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return dg.MetadataValue.md("\n".join(lines))
