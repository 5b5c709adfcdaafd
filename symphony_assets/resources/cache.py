"""Per-file analysis results cached in Postgres by (analyser, analyser version, git blob id).

A backfill re-reads the same files day after day; a blob analysed once is never analysed (or even
read from git) again. The cache lives in the warehouse database, not on local disk, so runs on other
machines share it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg2.extras import Json, execute_values

from symphony_assets.resources.git import FileEntry, ReadResult, Snapshot
from symphony_assets.resources.postgres import Database

CACHE_ENV = "SYMPHONY_ANALYSIS_CACHE"


@dataclass
class CacheStats:
    analysed: int = 0
    reused: int = 0
    failures: list[ReadResult] = field(default_factory=list)

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


def analyse_files(
    snapshot: Snapshot,
    entries: Sequence[FileEntry],
    cache: AnalysisCache,
    analyser: str,
    version: str,
    fn: Callable[[FileEntry, bytes], Any],
) -> tuple[dict[str, Any], CacheStats]:
    """Run ``fn`` (JSON-serialisable result) over each file's bytes, reusing cached results by blob id.

    Returns results by path. Files that could not be read are in ``stats.failures`` with their status.
    Only blobs missing from the cache are read from git at all.
    """
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
    cache.put_many(analyser, version, fresh)
    return results, stats
