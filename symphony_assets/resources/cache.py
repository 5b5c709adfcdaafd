"""Per-file analysis results cached in Postgres by (analyser, analyser version, git blob id).

A backfill re-reads the same files day after day; a blob analysed once is never analysed (or even
read from git) again. The cache lives in the warehouse database, not on local disk, so runs on other
machines share it.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from psycopg2.extras import Json, execute_values

from symphony_assets.resources.git import FileEntry, ReadResult, Snapshot
from symphony_assets.resources.postgres import Database

CACHE_ENV = "SYMPHONY_ANALYSIS_CACHE"
T = TypeVar("T")


@dataclass
class CacheStats:
    analysed: int = 0
    reused: int = 0
    failures: list[ReadResult] = field(default_factory=list)
    #: The blob ids analysed (not found in the cache).
    fresh: set[str] = field(default_factory=set)

    def add(self, other: CacheStats) -> None:
        """Fold another call's counts, failures and analysed blobs into these."""
        self.analysed += other.analysed
        self.reused += other.reused
        self.failures.extend(other.failures)
        self.fresh.update(other.fresh)

    def metadata(self) -> dict[str, int]:
        return {
            "blobs_analysed": self.analysed,
            "blobs_reused": self.reused,
            "read_failures": len(self.failures),
        }


class AnalysisCache:
    """The Postgres cache, plus a memo for the life of this object.

    Make one per run: a single-run backfill asks for the same blobs day after day, and the memo
    answers those from memory, so each result crosses the wire once per run, not once per day.
    Nothing outlives the run.
    """

    def __init__(self, db: Database | None, enabled: bool | None = None) -> None:
        self.db = db
        if enabled is None:
            enabled = os.environ.get(CACHE_ENV, "on").lower() not in ("off", "0", "false", "no")
        self.enabled = enabled and db is not None
        self._memo: dict[tuple[str, str, str], Any] = {}
        self._decoded: dict[tuple[int, Callable[[Any], Any]], tuple[Any, Any]] = {}

    def decoded(self, raw: Any, decode: Callable[[Any], T]) -> T:
        """``decode(raw)`` once per run for a result this cache handed out: a range's days get the same
        result object for a blob day after day, and decoding it again each day cost more than the
        day's own work. Keyed by the object's identity, which stays unique because the entry holds
        the object. With the cache off every day's results are new objects, so nothing is kept."""
        if not self.enabled:
            return decode(raw)
        key = (id(raw), decode)
        hit = self._decoded.get(key)
        if hit is not None and hit[0] is raw:
            return cast(T, hit[1])
        value = decode(raw)
        self._decoded[key] = (raw, value)
        return value

    def get_many(self, analyser: str, version: str, blob_ids: Iterable[str]) -> dict[str, Any]:
        ids = set(blob_ids)
        if not self.enabled or not ids or self.db is None:
            return {}
        hits = {b: self._memo[(analyser, version, b)] for b in ids if (analyser, version, b) in self._memo}
        missing = sorted(ids - hits.keys())
        if missing:
            with self.db.transaction() as cur:
                cur.execute(
                    "SELECT blob_id, result FROM symphony.analysis_cache"
                    " WHERE analyser = %s AND version = %s AND blob_id = ANY(%s)",
                    (analyser, version, missing),
                )
                fetched = dict(cur.fetchall())
            self._memo.update({(analyser, version, b): r for b, r in fetched.items()})
            hits.update(fetched)
        return hits

    def put_many(self, analyser: str, version: str, results: Mapping[str, Any]) -> None:
        if not self.enabled or not results or self.db is None:
            return
        self._memo.update({(analyser, version, b): r for b, r in results.items()})
        rows = [(analyser, version, blob_id, Json(result)) for blob_id, result in results.items()]
        with self.db.transaction() as cur:
            execute_values(
                cur,
                "INSERT INTO symphony.analysis_cache (analyser, version, blob_id, result) VALUES %s"
                " ON CONFLICT DO NOTHING",
                rows,
                page_size=1000,
            )


#: Cold blobs below this many are analysed in this process: starting workers costs more than it saves.
POOL_MIN_BLOBS = 200
#: Files per task sent to a worker, and at most this many bytes of content per task.
POOL_CHUNK_FILES = 64
POOL_CHUNK_BYTES = 8 << 20
#: A function whose pickled form (its bound arguments) is larger than this is not shipped to workers.
POOL_MAX_FN_BYTES = 1 << 20
WORKERS_ENV = "SYMPHONY_WORKERS"


def pool_workers() -> int:
    """Worker processes for cold blobs: ``SYMPHONY_WORKERS``, default every core (1 means serial)."""
    try:
        return max(1, int(os.environ.get(WORKERS_ENV) or os.cpu_count() or 1))
    except ValueError:
        return os.cpu_count() or 1


def analyse_files(
    snapshot: Snapshot,
    entries: Sequence[FileEntry],
    cache: AnalysisCache,
    analyser: str,
    version: str,
    fn: Callable[[FileEntry, bytes], Any],
    workers: int | None = None,
) -> tuple[dict[str, Any], CacheStats]:
    """Run ``fn`` (JSON-serialisable result) over each file's bytes, reusing cached results by blob id.

    Returns results by path. Files that could not be read are in ``stats.failures`` with their status.
    Only blobs missing from the cache are read from git at all, and each distinct blob is analysed once.
    With many cold blobs the work goes to a process pool (``workers``, default :func:`pool_workers`) in
    bounded chunks; the results are the same as the serial path's (a test compares them).
    """
    results, computed, fresh, stats = _reuse_or_run(snapshot, entries, cache, analyser, version, fn, workers)
    results.update(computed)
    cache.put_many(analyser, version, fresh)
    return _in_entry_order(entries, results), stats


def analyse_by_kind(
    snapshot: Snapshot,
    entries: Sequence[FileEntry],
    cache: AnalysisCache,
    analyser: str,
    version: str,
    fn: Callable[[FileEntry, bytes], Any],
    kind_of: Callable[[str], str],
) -> tuple[dict[str, Any], CacheStats]:
    """:func:`analyse_files` for an ``fn`` whose result depends on the kind of file its path names, not
    only on the bytes: the same blob as ``tool.py`` and ``tool.txt`` is Python once and text once.

    The kind (``kind_of(path)``) joins the cache key as ``analyser:kind``, and blobs are shared only
    within a kind; otherwise the first path to meet a blob would decide its result for every other one.
    """
    groups: dict[str, list[FileEntry]] = {}
    for entry in entries:
        groups.setdefault(kind_of(entry.path), []).append(entry)
    results: dict[str, Any] = {}
    stats = CacheStats()
    for kind, group in sorted(groups.items()):
        found, part = analyse_files(snapshot, group, cache, f"{analyser}:{kind}", version, fn)
        results.update(found)
        stats.add(part)
    return _in_entry_order(entries, results), stats


@dataclass(frozen=True)
class Facet:
    """One part of a multi-part per-blob result, cached under its own (analyser, version)."""

    part: str
    analyser: str
    version: str


def analyse_facets(
    snapshot: Snapshot,
    entries: Sequence[FileEntry],
    cache: AnalysisCache,
    facets: Sequence[Facet],
    wanted: Facet,
    fn: Callable[[FileEntry, bytes], Mapping[str, Any]],
    workers: int | None = None,
) -> tuple[dict[str, Any], CacheStats]:
    """:func:`analyse_files` for one pass over a blob that yields several parts (one per facet).

    Only ``wanted``'s part is looked up and returned, but every blob analysed here stores all of its
    parts, so the other assets that need them find them cached instead of parsing the blob again. A
    part ``fn`` leaves out for a blob (one that depends on the path it was met at) is not stored.
    """
    results, computed, fresh, stats = _reuse_or_run(
        snapshot, entries, cache, wanted.analyser, wanted.version, fn, workers
    )
    results.update((path, parts[wanted.part]) for path, parts in computed.items())
    for facet in facets:
        found = {b: parts[facet.part] for b, parts in fresh.items() if facet.part in parts}
        cache.put_many(facet.analyser, facet.version, found)
    return _in_entry_order(entries, results), stats


def _in_entry_order(entries: Sequence[FileEntry], results: Mapping[str, Any]) -> dict[str, Any]:
    """Results by path in the order of ``entries`` (files that could not be read have none)."""
    return {e.path: results[e.path] for e in entries if e.path in results}


def _reuse_or_run(
    snapshot: Snapshot,
    entries: Sequence[FileEntry],
    cache: AnalysisCache,
    analyser: str,
    version: str,
    fn: Callable[[FileEntry, bytes], Any],
    workers: int | None,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], CacheStats]:
    """Cached results by path, then ``fn``'s results by path and by blob for the rest, and the counts."""
    stats = CacheStats()
    known_ids = [e.blob_id for e in entries if e.blob_id and (not snapshot.live or e.git_status == "clean")]
    cached = cache.get_many(analyser, version, known_ids)
    results: dict[str, Any] = {}
    to_read = []
    for entry in entries:
        reusable = entry.blob_id in cached and (not snapshot.live or entry.git_status == "clean")
        if reusable:
            results[entry.path] = cached[entry.blob_id or ""]
            stats.reused += 1
        else:
            to_read.append(entry)
    workers = pool_workers() if workers is None else workers
    pooled = workers > 1 and len(to_read) >= POOL_MIN_BLOBS and _shippable(fn)
    computed: dict[str, Any] = {}
    fresh = (
        _analyse_pooled(snapshot, to_read, fn, workers, computed, stats)
        if pooled
        else _analyse_serial(snapshot, to_read, fn, computed, stats)
    )
    stats.fresh.update(fresh)
    return results, computed, fresh, stats


@dataclass
class Prefetch:
    """The blobs new in a range run's days, analysed up front in one batch.

    Day by day, a backfill meets tens of new blobs a day: too few to start the blob pool's workers for,
    so they would be analysed on one core. Gathered over the whole range they go to the pool together.
    Each is then counted as analysed on the first day that meets it (:meth:`settle`), so every day's
    ``blobs_analysed`` / ``blobs_reused`` are what that day alone would have reported.
    """

    pending: set[str] = field(default_factory=set)

    @classmethod
    def over(
        cls,
        snapshots: Sequence[Snapshot],
        cache: AnalysisCache,
        entries_of: Callable[[Snapshot], Iterable[FileEntry]],
        analyse: Callable[[Snapshot, list[FileEntry]], CacheStats],
    ) -> Prefetch:
        """Analyse, through ``analyse(snapshot, entries)``, one entry per distinct committed blob of the
        past days in ``snapshots`` (a live working tree is read as it is, on its own day)."""
        past = [s for s in snapshots if not s.live and s.repo is not None]
        if len(past) < 2 or not cache.enabled:
            return cls()
        batch: dict[str, FileEntry] = {}
        for snapshot in past:
            for entry in entries_of(snapshot):
                if entry.blob_id and entry.git_status == "committed":
                    batch.setdefault(entry.blob_id, entry)
        # By path: a path's versions then meet in one chunk, in one worker, where an analysis that
        # remembers what it saw in the version before (bandit's statement memo) finds it.
        return cls(set(analyse(past[-1], sorted(batch.values(), key=lambda e: e.path)).fresh))

    def settle(self, entries: Iterable[FileEntry], stats: CacheStats) -> None:
        """Count each prefetched blob among ``entries`` (found in the cache today) as analysed, once."""
        for entry in entries:
            if entry.blob_id in self.pending:
                self.pending.discard(entry.blob_id)
                stats.analysed += 1
                stats.reused -= 1


def _analyse_serial(
    snapshot: Snapshot,
    to_read: Sequence[FileEntry],
    fn: Callable[[FileEntry, bytes], Any],
    results: dict[str, Any],
    stats: CacheStats,
) -> dict[str, Any]:
    fresh: dict[str, Any] = {}
    for read in snapshot.read(to_read):
        if read.content is None:
            stats.failures.append(read)
            continue
        if read.blob_id and read.blob_id in fresh:
            results[read.entry.path] = fresh[read.blob_id]
            stats.reused += 1
            continue
        result = fn(read.entry, read.content)
        results[read.entry.path] = result
        stats.analysed += 1
        if read.blob_id:
            fresh[read.blob_id] = result
    return fresh


def _shippable(fn: Callable[[FileEntry, bytes], Any]) -> bool:
    """Whether ``fn`` can go to a worker: picklable (a module-level function or a partial of one) and
    small (a partial binding a large in-run memo would cost more to ship than to run here)."""
    try:
        return len(pickle.dumps(fn)) <= POOL_MAX_FN_BYTES
    except (pickle.PicklingError, AttributeError, TypeError):
        return False


def _apply_chunk(fn: Callable[[FileEntry, bytes], Any], chunk: list[tuple[FileEntry, bytes]]) -> list[Any]:
    return [fn(entry, content) for entry, content in chunk]


def _analyse_pooled(
    snapshot: Snapshot,
    to_read: Sequence[FileEntry],
    fn: Callable[[FileEntry, bytes], Any],
    workers: int,
    results: dict[str, Any],
    stats: CacheStats,
) -> dict[str, Any]:
    """Read blobs in this process (one git stream), analyse chunks in workers, at most ``2 x workers``
    chunks in flight so memory stays bounded. A blob seen twice is analysed once, as in the serial path.

    The pool uses the ``forkserver`` start method: Dagster runs threads in this process, and forking a
    threaded process is unsafe.
    """
    fresh: dict[str, Any] = {}
    waiting: dict[str, list[str]] = {}  # blob id (or path) submitted -> paths that want its result
    pending: dict[Future[list[Any]], list[tuple[str, str | None]]] = {}

    def collect(done: Iterable[Future[list[Any]]]) -> None:
        for future in done:
            keys = pending.pop(future)
            for (path, blob_id), result in zip(keys, future.result(), strict=True):
                stats.analysed += 1
                if blob_id:
                    fresh[blob_id] = result
                for want in waiting.pop(blob_id or path, [path]):
                    results[want] = result

    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        chunk: list[tuple[FileEntry, bytes]] = []
        keys: list[tuple[str, str | None]] = []
        size = 0

        def submit() -> None:
            nonlocal chunk, keys, size
            if chunk:
                pending[pool.submit(_apply_chunk, fn, chunk)] = keys
            chunk, keys, size = [], [], 0
            if len(pending) >= 2 * workers:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                collect(done)

        for read in snapshot.read(to_read):
            if read.content is None:
                stats.failures.append(read)
                continue
            key = read.blob_id or read.entry.path
            if key in waiting or key in fresh:
                stats.reused += 1
                if key in fresh:
                    results[read.entry.path] = fresh[key]
                else:
                    waiting[key].append(read.entry.path)
                continue
            waiting[key] = [read.entry.path]
            chunk.append((read.entry, read.content))
            keys.append((read.entry.path, read.blob_id))
            size += len(read.content)
            if len(chunk) >= POOL_CHUNK_FILES or size >= POOL_CHUNK_BYTES:
                submit()
        submit()
        collect(list(pending))
    return fresh
