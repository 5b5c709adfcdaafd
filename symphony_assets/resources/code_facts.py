"""The per-file facts behind ``todo_list``, ``code_complexity`` and ``code_findings``, through the blob cache.

:func:`gather` reads one snapshot's files and analyses each new blob once (Python files through the
shared facts pass of :mod:`.python_facts`, other files for their markers). A
:class:`RunState` carries what a run keeps between its partitions, so a backfill decodes each blob
once and builds each file's rows once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from symphony_assets.analysis import complexity, todos
from symphony_assets.analysis.complexity import ComplexityReport
from symphony_assets.analysis.facts import CODE, FileFacts, todo_result
from symphony_assets.analysis.todos import comment_style
from symphony_assets.resources.cache import AnalysisCache, CacheStats, Prefetch, analyse_files
from symphony_assets.resources.git import (
    FileEntry,
    GitError,
    LinearHistory,
    ReadResult,
    Repo,
    Snapshot,
    end_of_day_utc,
)
from symphony_assets.resources.python_facts import CODE_ANALYSER, python_facts_results

PYTHON_SUFFIXES = (".py", ".pyw")
PYTHON_ANALYSER = CODE_ANALYSER
#: Days of history behind a file's churn (commits that touched it), for hotspots.
CHURN_DAYS = 90


def _todo_result(_entry: FileEntry, content: bytes, suffix: str) -> dict[str, Any]:
    return todo_result(content, suffix)


@dataclass(frozen=True)
class FunctionColumns:
    """One measured file's definitions as columns: what a (path, blob) contributes to every day."""

    function: list[str]
    kind: list[str]
    line: list[int]
    end_line: list[int]
    complexity: list[int]
    rank: list[str]

    @classmethod
    def of(cls, report: ComplexityReport) -> FunctionColumns:
        fs = report.functions
        return cls(
            [f.name for f in fs],
            [f.kind for f in fs],
            [f.line for f in fs],
            [f.end_line for f in fs],
            [f.complexity for f in fs],
            [f.rank for f in fs],
        )


@dataclass
class RunState:
    """What one run keeps between its partitions: the cache, decoded facts per blob, and totals."""

    cache: AnalysisCache
    max_bytes: int = complexity.DEFAULT_MAX_BYTES
    facts: dict[tuple[str, str], FileFacts] = field(default_factory=dict)
    rows: dict[tuple[str, str, str], list[dict[str, Any]]] = field(default_factory=dict)
    #: ``code_complexity`` columns per blob (see :func:`function_columns`).
    function_columns: dict[str, FunctionColumns] = field(default_factory=dict)
    #: Radon results per top-level definition for the run; None when caching is off (SYMPHONY_ANALYSIS_CACHE).
    blocks: dict[str, tuple[complexity.FunctionComplexity, ...]] | None = None
    #: One log of the run's whole churn window per codebase (None: per-day ``git log`` instead).
    histories: dict[str, LinearHistory | None] = field(default_factory=dict)
    #: The range's new Python blobs, analysed up front (see :func:`prefetch_python`).
    prefetch: Prefetch = field(default_factory=Prefetch)
    analysed: int = 0
    reused: int = 0
    read_failures: int = 0

    def __post_init__(self) -> None:
        if self.blocks is None and self.cache.enabled:
            self.blocks = {}

    def totals(self) -> dict[str, Any]:
        return {
            "run_blobs_analysed": self.analysed,
            "run_blobs_reused": self.reused,
            "run_read_failures": self.read_failures,
            **({"run_definitions_scored": len(self.blocks)} if self.blocks is not None else {}),
        }


def is_python(entry: FileEntry) -> bool:
    return entry.kind == "file" and entry.path.lower().endswith(PYTHON_SUFFIXES)


def analysable(entry: FileEntry) -> bool:
    """Tracked and untracked files of the snapshot; ignored ones (build output, caches) are not our code."""
    return entry.kind == "file" and entry.git_status not in ("ignored", "deleted")


@dataclass
class SnapshotFacts:
    files: dict[str, FileFacts]
    entries: dict[str, FileEntry]
    failures: list[ReadResult]
    stats: CacheStats


def gather(snapshot: Snapshot, state: RunState) -> SnapshotFacts:
    """Facts for every analysable file, through the blob cache.

    Python files share one analyser; other files are grouped by comment syntax, each syntax its own
    analyser, because the cache key is the blob and the same bytes under ``.py`` and ``.sh`` mean
    different things. Decoded facts are kept per (analyser, blob) for the run, so a blob that is on
    every day of a backfill is decoded once.
    """
    groups: dict[str, list[FileEntry]] = {}
    for entry in snapshot.files:
        if not analysable(entry):
            continue
        if is_python(entry):
            groups.setdefault(PYTHON_ANALYSER, []).append(entry)
        else:
            style = comment_style(entry.path)
            if style is not None and style != "python":
                groups.setdefault(f"todo_list:{style}", []).append(entry)
    stats = CacheStats()
    files: dict[str, FileFacts] = {}
    entries: dict[str, FileEntry] = {}
    for analyser, group in sorted(groups.items()):
        if analyser == PYTHON_ANALYSER:
            results, part = python_facts_results(snapshot, group, state.cache, CODE, state.blocks)
            state.prefetch.settle(group, part)
        else:
            fn = functools.partial(_todo_result, suffix=group[0].path)
            results, part = analyse_files(snapshot, group, state.cache, analyser, todos.ANALYSER_VERSION, fn)
        stats.add(part)
        by_path = {e.path: e for e in group}
        for path, raw in results.items():
            entry = by_path[path]
            blob = entry.committed_blob
            key = (analyser, blob) if blob else None
            facts = state.facts.get(key) if key else None
            if facts is None:
                facts = FileFacts.from_result(raw)
                if key:
                    state.facts[key] = facts
            files[path] = facts
            entries[path] = entry
    state.analysed += stats.analysed
    state.reused += stats.reused
    state.read_failures += len(stats.failures)
    return SnapshotFacts(files, entries, stats.failures, stats)


def prefetch_python(snapshots: list[Snapshot], state: RunState) -> None:
    """Facts of every Python blob new in a range run's days, in one pooled batch (:class:`Prefetch`)."""

    def analyse(snapshot: Snapshot, entries: list[FileEntry]) -> CacheStats:
        return python_facts_results(snapshot, entries, state.cache, CODE, state.blocks)[1]

    def python_files(snapshot: Snapshot) -> list[FileEntry]:
        return [e for e in snapshot.files if analysable(e) and is_python(e)]

    state.prefetch = Prefetch.over(snapshots, state.cache, python_files, analyse)


RowBuilder = Callable[[], list[dict[str, Any]]]


def memo_rows(state: RunState, table: str, entry: FileEntry, build: RowBuilder) -> list[dict[str, Any]]:
    """A file's rows depend only on (path, blob): build them once per run, not once per day."""
    blob = entry.committed_blob
    if blob is None:
        return build()
    key = (table, entry.path, blob)
    rows = state.rows.get(key)
    if rows is None:
        rows = state.rows[key] = build()
    return rows


def function_columns(state: RunState, entry: FileEntry, report: ComplexityReport) -> FunctionColumns:
    """Built once per blob for the run: a backfill repeats most files' definitions every day."""
    blob = entry.committed_blob
    if blob is None:
        return FunctionColumns.of(report)
    columns = state.function_columns.get(blob)
    if columns is None:
        columns = state.function_columns[blob] = FunctionColumns.of(report)
    return columns


def run_history(repo: Repo, branch: str | None, days: list[date]) -> LinearHistory | None:
    """One ``git log`` covering the churn windows of all these days, or None (per-day logs then)."""
    tip = repo.commit_at(max(days), branch)
    if tip is None:
        return None
    since = end_of_day_utc(min(days)) - timedelta(days=CHURN_DAYS)
    try:
        return repo.linear_history(tip[0], since)
    except GitError:
        return None  # the per-day churn pass then runs, and reports the failure if it is real
