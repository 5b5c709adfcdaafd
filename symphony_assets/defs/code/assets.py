"""``todo_list``, ``code_complexity``, ``code_findings``: code structure per codebase per day.

One multi-asset computes all three, so each day takes ONE snapshot and reads and parses each file
once for all of them. Per-file analysis depends only on a file's bytes, so it goes through the blob
cache keyed by (analyser, version, blob id): a backfill analyses each distinct blob once and reuses
the result on every other day, and in every later run. Within a run, new blobs are parsed and
scored per top-level chunk and definition, so an edited file costs little more than its edit (see
:func:`_by_chunk`). Churn for hotspots comes from one ``git log`` pass for the whole run when the
history allows (:meth:`~symphony_assets.resources.git.Repo.linear_history`), else one per partition.
The assets can be materialised alone (the multi-asset subsets).
"""

import dataclasses
import functools
import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa

from symphony_assets.analysis import complexity, findings, todos
from symphony_assets.analysis.complexity import ComplexityReport, function_complexity
from symphony_assets.analysis.findings import BroadExcept, GpuSite, backup_kind, broad_excepts, gpu_sites
from symphony_assets.analysis.pysource import parse_python, recover_python
from symphony_assets.analysis.todos import TodoItem, comment_style, extract_todos, statement_spans
from symphony_assets.config import Codebase
from symphony_assets.defs.code.checks import (
    BROAD_EXCEPT_CHECK,
    NO_MARKERS_CHECK,
    broad_except_result,
    markers_result,
)
from symphony_assets.defs.code.schemas import CODE_COMPLEXITY, CODE_FINDINGS, MARKER_LIST
from symphony_assets.defs.newness import NewFindings, new_findings_spec
from symphony_assets.defs.partitions import snapshot_partitions
from symphony_assets.defs.snapshots import (
    SNAPSHOT_MAX_RUNTIME_S,
    SNAPSHOT_RETRY,
    codebase_named,
    md_table,
    partitioned_output,
    run_partitions,
    snapshot_backfill_policy,
    snapshot_metadata,
    take,
)
from symphony_assets.resources.cache import AnalysisCache, CacheStats, analyse_files
from symphony_assets.resources.git import (
    FileEntry,
    GitError,
    GitResource,
    LinearHistory,
    ReadResult,
    Repo,
    Snapshot,
    end_of_day_utc,
)
from symphony_assets.resources.postgres import PostgresResource

PYTHON_SUFFIXES = (".py", ".pyw")
CHURN_DAYS = 90
TOP_N = 15
DOMAIN = "code"  # per-codebase options: ``code: {max_complexity_bytes: 2000000}`` in symphony.yaml
ASSETS = ("todo_list", "code_complexity", "code_findings")
PYTHON_ANALYSER = "code_structure:python"
NO_NEW_MARKERS_CHECK = new_findings_spec("todo_list", "work_markers")
NO_NEW_FINDINGS_CHECK = new_findings_spec("code_findings", "code_findings")

# ------------------------------------------------------------------------------------------ caching


@dataclass(frozen=True)
class FileFacts:
    """Everything the three assets need from one file's bytes (the cached result, decoded)."""

    todos: tuple[TodoItem, ...] = ()
    complexity: ComplexityReport | None = None
    parse: Mapping[str, Any] | None = None
    broad_excepts: tuple[BroadExcept, ...] = ()
    gpu_sites: tuple[GpuSite, ...] = ()

    @classmethod
    def from_result(cls, raw: Mapping[str, Any]) -> "FileFacts":
        cx = raw.get("complexity")
        return cls(
            todos=tuple(TodoItem.from_dict(t) for t in raw.get("todos", ())),
            complexity=ComplexityReport.from_dict(cx) if cx is not None else None,
            parse=raw.get("parse"),
            broad_excepts=tuple(BroadExcept.from_dict(b) for b in raw.get("broad_excepts", ())),
            gpu_sites=tuple(GpuSite.from_dict(g) for g in raw.get("gpu_sites", ())),
        )


@dataclass(frozen=True)
class ChunkFacts:
    """What a stretch of top-level statements yields, lines counted from the stretch's first line."""

    functions: tuple[complexity.FunctionComplexity, ...]
    broad_excepts: tuple[BroadExcept, ...]
    statements: tuple[tuple[int, int], ...]  # (first, last) line of each top-level statement


#: Per-run memo of :class:`ChunkFacts` by a hash of the chunk's text; None: the chunk does not stand
#: alone (it does not parse, or radon gave up), so the file takes the whole-file path.
ChunkMemo = dict[str, ChunkFacts | None]

_CHUNK_STARTS = ("def ", "async def ", "class ", "@")
_OTHER_LINE_BREAKS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def analyse_python(
    content: bytes,
    max_bytes: int,
    blocks: complexity.BlockMemo | None = None,
    chunks: ChunkMemo | None = None,
) -> dict[str, Any]:
    """The cached per-blob result for a Python file: one parse shared by every analysis.

    ``blocks`` (radon results per top-level definition, see
    :func:`~symphony_assets.analysis.complexity.function_complexity`) lets a new version of a file
    re-score only the definitions that changed, and ``chunks`` lets it parse only the top-level
    stretches that changed (:func:`_by_chunk`); the result is the same with or without them.
    """
    if chunks is not None:
        result = _by_chunk(content, max_bytes, blocks, chunks)
        if result is not None:
            return result
    outcome = parse_python(content)
    parse = (
        None
        if outcome.ok
        else {"error": outcome.error, "line": outcome.error_line, "python2": outcome.python2}
    )
    # A file that does not parse is recovered once, for both finding scans.
    read = outcome if outcome.ok else recover_python(content, outcome)
    return {
        "todos": [t.to_dict() for t in extract_todos(".py", content, tree=outcome.tree)],
        "complexity": function_complexity(content, max_bytes, outcome, blocks).to_dict(),
        "parse": parse,
        "broad_excepts": [b.to_dict() for b in broad_excepts(content, read)],
        "gpu_sites": [g.to_dict() for g in gpu_sites(content, read)],
    }


def _by_chunk(
    content: bytes, max_bytes: int, blocks: complexity.BlockMemo | None, chunks: ChunkMemo
) -> dict[str, Any] | None:
    """:func:`analyse_python`'s result from the file cut into chunks, each parsed once per run.

    Cuts fall before a top-level ``def``/``class``/decorator line that follows a blank line. When
    every chunk parses on its own, each chunk ends with the tokenizer in its starting state (no
    open string, bracket or continuation, indentation 0), so the file's top-level statements are
    the chunks' statements, shifted: radon (per statement), the handler scan (per statement, its
    comments inside the statement) and the statement lines for markers are the whole-file ones.
    Anything else returns None for the whole-file path: a chunk that does not parse (a def inside
    a string, Python 2), GPU words (that scan needs the whole file), a non-UTF-8 or BOM or
    encoding-cookie file, carriage returns, ``__future__`` imports, an oversized file.
    """
    if (
        len(content) > max_bytes
        or b"cuda" in content
        or b"cupy" in content
        or b"\r" in content
        or b"__future__" in content
        or b"coding" in content[:400]
        or content.startswith(b"\xef\xbb\xbf")
    ):
        return None
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(sep in text for sep in _OTHER_LINE_BREAKS):
        return None  # ``str.splitlines`` (used for comments and snippets) would count lines differently
    lines = text.split("\n")
    cuts = [0]
    cuts += [
        i for i in range(1, len(lines)) if lines[i].startswith(_CHUNK_STARTS) and not lines[i - 1].strip()
    ]
    cuts.append(len(lines))
    functions: list[complexity.FunctionComplexity] = []
    excepts: list[BroadExcept] = []
    statements: list[tuple[int, int]] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        chunk = "\n".join(lines[a:b]) + ("\n" if b < len(lines) else "")
        key = hashlib.sha1(chunk.encode("utf-8", "surrogatepass")).hexdigest()
        if key in chunks:
            facts = chunks[key]
        else:
            facts = chunks[key] = _chunk_facts(chunk.encode("utf-8", "surrogatepass"), blocks)
        if facts is None:
            return None
        functions += [
            dataclasses.replace(f, line=f.line + a, end_line=f.end_line + a) for f in facts.functions
        ]
        excepts += [dataclasses.replace(e, line=e.line + a) for e in facts.broad_excepts]
        statements += [(first + a, last + a) for first, last in facts.statements]
    functions.sort(key=lambda f: (f.line, f.name))
    return {
        "todos": [t.to_dict() for t in extract_todos(".py", content, statements=statements)],
        "complexity": ComplexityReport(complexity.STATUS_OK, "", tuple(functions)).to_dict(),
        "parse": None,
        "broad_excepts": [e.to_dict() for e in excepts],
        "gpu_sites": [],
    }


def _chunk_facts(chunk: bytes, blocks: complexity.BlockMemo | None) -> ChunkFacts | None:
    outcome = parse_python(chunk)
    if outcome.tree is None:
        return None
    report = function_complexity(chunk, len(chunk) + 1, outcome, blocks)
    if report.status != complexity.STATUS_OK:
        return None
    return ChunkFacts(
        report.functions, tuple(broad_excepts(chunk, outcome)), tuple(statement_spans(outcome.tree))
    )


def _python_result(
    _entry: FileEntry,
    content: bytes,
    max_bytes: int,
    blocks: complexity.BlockMemo | None,
    chunks: ChunkMemo | None,
) -> dict[str, Any]:
    return analyse_python(content, max_bytes, blocks, chunks)


def _todo_result(_entry: FileEntry, content: bytes, suffix: str) -> dict[str, Any]:
    return {"todos": [t.to_dict() for t in extract_todos(suffix, content)]}


@dataclass
class RunState:
    """What one run keeps between its partitions: the cache, decoded facts per blob, and totals."""

    cache: AnalysisCache
    max_bytes: int = complexity.DEFAULT_MAX_BYTES
    facts: dict[tuple[str, str], FileFacts] = field(default_factory=dict)
    rows: dict[tuple[str, str, str], list[dict[str, Any]]] = field(default_factory=dict)
    #: ``code_complexity`` columns per blob (see :func:`_function_columns`).
    function_columns: dict[str, "FunctionColumns"] = field(default_factory=dict)
    #: Radon results per top-level definition for the run; None when caching is off (SYMPHONY_ANALYSIS_CACHE).
    blocks: dict[str, tuple[complexity.FunctionComplexity, ...]] | None = None
    chunks: ChunkMemo | None = None
    #: One log of the run's whole churn window per codebase (None: per-day ``git log`` instead).
    histories: dict[str, LinearHistory | None] = field(default_factory=dict)
    analysed: int = 0
    reused: int = 0
    read_failures: int = 0

    def __post_init__(self) -> None:
        if self.blocks is None and self.cache.enabled:
            self.blocks = {}
            self.chunks = {}

    def totals(self) -> dict[str, Any]:
        return {
            "run_blobs_analysed": self.analysed,
            "run_blobs_reused": self.reused,
            "run_read_failures": self.read_failures,
            **({"run_definitions_scored": len(self.blocks)} if self.blocks is not None else {}),
            **({"run_chunks_parsed": len(self.chunks)} if self.chunks is not None else {}),
        }


def _is_python(entry: FileEntry) -> bool:
    return entry.kind == "file" and entry.path.lower().endswith(PYTHON_SUFFIXES)


def _analysable(entry: FileEntry) -> bool:
    """Tracked and untracked files of the snapshot; ignored ones (build output, caches) are not our code."""
    return entry.kind == "file" and entry.git_status not in ("ignored", "deleted")


def _blob(entry: FileEntry) -> str | None:
    """The row's blob id: exact for committed and clean files; a live edit has no committed blob yet."""
    return entry.blob_id if entry.git_status in ("committed", "clean") else None


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
        if not _analysable(entry):
            continue
        if _is_python(entry):
            groups.setdefault(PYTHON_ANALYSER, []).append(entry)
        else:
            style = comment_style(entry.path)
            if style is not None and style != "python":
                groups.setdefault(f"todo_list:{style}", []).append(entry)
    stats = CacheStats()
    files: dict[str, FileFacts] = {}
    entries: dict[str, FileEntry] = {}
    for analyser, group in sorted(groups.items()):
        fn: Callable[[FileEntry, bytes], Any]
        if analyser == PYTHON_ANALYSER:
            version = f"{todos.ANALYSER_VERSION}.{complexity.ANALYSER_VERSION}.{findings.ANALYSER_VERSION}"
            version += f":{state.max_bytes}"
            fn = functools.partial(
                _python_result, max_bytes=state.max_bytes, blocks=state.blocks, chunks=state.chunks
            )
        else:
            version = todos.ANALYSER_VERSION
            fn = functools.partial(_todo_result, suffix=group[0].path)
        results, part = analyse_files(snapshot, group, state.cache, analyser, version, fn)
        stats.analysed += part.analysed
        stats.reused += part.reused
        stats.failures.extend(part.failures)
        by_path = {e.path: e for e in group}
        for path, raw in results.items():
            entry = by_path[path]
            blob = _blob(entry)
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


# ------------------------------------------------------------------------------------------ the rows


RowBuilder = Callable[[], list[dict[str, Any]]]


def _memo_rows(state: RunState, table: str, entry: FileEntry, build: RowBuilder) -> list[dict[str, Any]]:
    """A file's rows depend only on (path, blob): build them once per run, not once per day."""
    blob = _blob(entry)
    if blob is None:
        return build()
    key = (table, entry.path, blob)
    rows = state.rows.get(key)
    if rows is None:
        rows = state.rows[key] = build()
    return rows


def _todo_rows(path: str, entry: FileEntry, f: FileFacts) -> list[dict[str, Any]]:
    return [
        {
            "path": path,
            "line": t.line,
            "tag": t.tag,
            "text": t.text,
            "scope": t.scope,
            "fingerprint": t.fingerprint,
            "via": t.via,
            "blob_id": _blob(entry),
        }
        for t in f.todos
    ]


def todo_frame(facts: SnapshotFacts, state: RunState) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for path in sorted(facts.files):
        entry, f = facts.entries[path], facts.files[path]
        if f.todos:
            rows += _memo_rows(state, "todo_list", entry, functools.partial(_todo_rows, path, entry, f))
    return MARKER_LIST.frame(rows)


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
    def of(cls, report: ComplexityReport) -> "FunctionColumns":
        fs = report.functions
        return cls(
            [f.name for f in fs],
            [f.kind for f in fs],
            [f.line for f in fs],
            [f.end_line for f in fs],
            [f.complexity for f in fs],
            [f.rank for f in fs],
        )


def _function_columns(state: RunState, entry: FileEntry, report: ComplexityReport) -> FunctionColumns:
    """Built once per blob for the run: a backfill repeats most files' definitions every day."""
    blob = _blob(entry)
    if blob is None:
        return FunctionColumns.of(report)
    columns = state.function_columns.get(blob)
    if columns is None:
        columns = state.function_columns[blob] = FunctionColumns.of(report)
    return columns


def complexity_frame(facts: SnapshotFacts, churn: Mapping[str, int], state: RunState) -> pd.DataFrame:
    """One row per function, method and class of every Python file, and one per unmeasured file.

    Complexity comes from the cache, churn from this day's git log pass; a definition's hotspot
    score is its complexity x its file's churn, so complex code that keeps changing ranks first. A
    file radon could not measure (parse error, too large, unread) keeps one row with no function and
    its status, so a skipped file is never mistaken for a simple one. Built column-wise: a long
    backfill writes tens of thousands of rows a day, and per-row dicts would dominate its cost.
    """
    measured: list[tuple[str, FileEntry, FunctionColumns]] = []
    unmeasured: dict[str, tuple[FileEntry, str, str]] = {}
    for path, f in facts.files.items():
        report = f.complexity
        if report is None:
            continue
        entry = facts.entries[path]
        if report.status == complexity.STATUS_OK:
            measured.append((path, entry, _function_columns(state, entry, report)))
        else:
            unmeasured[path] = (entry, report.status, report.message or report.status)
    for failure in facts.failures:
        if _is_python(failure.entry):
            message = failure.message or f"not read: {failure.status}"
            unmeasured[failure.entry.path] = (failure.entry, failure.status, message)
    cols: dict[str, list[Any]] = {name: [] for name in CODE_COMPLEXITY.column_names}
    items: list[tuple[str, FileEntry, FunctionColumns | None]] = [*measured]
    items += [(path, entry, None) for path, (entry, _s, _m) in unmeasured.items()]
    items.sort(key=lambda item: item[0])
    for path, entry, fc in items:
        changes = int(churn.get(path, 0))
        if fc is None:
            _, status, message = unmeasured[path]
            n = 1
            for name in ("function", "kind", "line", "end_line", "complexity", "rank", "hotspot_score"):
                cols[name].append(None)
            cols["status"].append(status)
            cols["message"].append(message)
        else:
            n = len(fc.function)
            cols["function"] += fc.function
            cols["kind"] += fc.kind
            cols["line"] += fc.line
            cols["end_line"] += fc.end_line
            cols["complexity"] += fc.complexity
            cols["rank"] += fc.rank
            cols["hotspot_score"] += [c * changes for c in fc.complexity] if changes else [0] * n
            cols["status"] += [complexity.STATUS_OK] * n
            cols["message"] += [None] * n
        cols["path"] += [path] * n
        cols["blob_id"] += [_blob(entry)] * n
        cols["churn_90d"] += [changes] * n
    table = pa.table(cols, schema=CODE_COMPLEXITY.arrow_schema)
    return table.to_pandas(types_mapper=pd.ArrowDtype)


def _finding_rows(path: str, entry: FileEntry, f: FileFacts) -> list[dict[str, Any]]:
    blob_id = _blob(entry)
    rows: list[dict[str, Any]] = []
    if f.parse is not None:
        rows.append(
            {
                "kind": "parse_failure",
                "subkind": "python2" if f.parse["python2"] else "syntax_error",
                "path": path,
                "line": f.parse["line"],
                "detail": f.parse["error"],
                "via": "ast",
                "blob_id": blob_id,
            }
        )
    for b in f.broad_excepts:
        label = "bare except" if b.kind == "bare" else f"except {b.kind}"
        rows.append(
            {
                "kind": "broad_except",
                "subkind": b.kind,
                "path": path,
                "line": b.line,
                "detail": f"{label}, {'with' if b.has_reason else 'without'} a reason",
                "has_reason": b.has_reason,
                "via": b.via,
                "blob_id": blob_id,
            }
        )
    for g in f.gpu_sites:
        rows.append(
            {
                "kind": "gpu_site",
                "subkind": g.kind,
                "path": path,
                "line": g.line,
                "detail": g.snippet,
                "via": g.via,
                "blob_id": blob_id,
            }
        )
    return rows


def _backup_rows(entry: FileEntry) -> list[dict[str, Any]]:
    kind = backup_kind(entry.path)
    if kind is None:
        return []
    return [
        {
            "kind": "backup_file",
            "subkind": kind,
            "path": entry.path,
            "detail": f"looks like a {kind.replace('_', ' ')} ({entry.git_status})",
            "via": "path",
            "blob_id": _blob(entry),
        }
    ]


def findings_frame(snapshot: Snapshot, facts: SnapshotFacts, state: RunState) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for entry in snapshot.files:
        if entry.kind in ("file", "symlink") and entry.git_status != "deleted":
            rows += _memo_rows(state, "backup", entry, functools.partial(_backup_rows, entry))
    for path, f in facts.files.items():
        if f.parse is not None or f.broad_excepts or f.gpu_sites:
            entry = facts.entries[path]
            rows += _memo_rows(
                state, "code_findings", entry, functools.partial(_finding_rows, path, entry, f)
            )
    for failure in facts.failures:
        if _is_python(failure.entry):
            rows.append(
                {
                    "kind": "parse_failure",
                    "subkind": failure.status,
                    "path": failure.entry.path,
                    "detail": failure.message or f"not read: {failure.status}",
                    "via": "read",
                    "blob_id": _blob(failure.entry),
                }
            )
    rows.sort(key=lambda r: (str(r["kind"]), str(r["path"]), int(r.get("line") or 0), str(r["subkind"])))
    return CODE_FINDINGS.frame(rows)


def compute_code_structure(
    snapshot: Snapshot, state: RunState, selected: frozenset[str] = frozenset(ASSETS)
) -> dict[str, tuple[pd.DataFrame, dict[str, Any]]]:
    """The selected assets' frames and metadata for one snapshot."""
    facts = gather(snapshot, state)
    out: dict[str, tuple[pd.DataFrame, dict[str, Any]]] = {}
    cache_meta = facts.stats.metadata()
    if "todo_list" in selected:
        df = todo_frame(facts, state)
        out["todo_list"] = (df, {**todo_metadata(df), **cache_meta})
    if "code_complexity" in selected:
        has_python = any(_is_python(e) for e in facts.entries.values()) or facts.failures
        history = state.histories.get(snapshot.codebase.name)
        churn = snapshot.churn(CHURN_DAYS, history) if has_python else {}
        df = complexity_frame(facts, churn, state)
        out["code_complexity"] = (df, {**complexity_metadata(df), **cache_meta})
    if "code_findings" in selected:
        df = findings_frame(snapshot, facts, state)
        out["code_findings"] = (df, {**findings_metadata(df), **cache_meta})
    return out


# ---------------------------------------------------------------------------------------- metadata


def todo_metadata(df: pd.DataFrame) -> dict[str, Any]:
    if df.empty:
        return {"todo_count": 0, "files_with_todos": 0}
    by_tag = df.groupby("tag").size().sort_values(ascending=False)
    by_file = df.groupby("path").size().sort_values(ascending=False).head(TOP_N)
    return {
        "todo_count": len(df),
        "files_with_todos": int(df["path"].nunique()),
        "todos_by_tag": md_table([{"tag": k, "count": int(v)} for k, v in by_tag.items()], ["tag", "count"]),
        "files_with_most_todos": md_table(
            [{"path": k, "count": int(v)} for k, v in by_file.items()], ["path", "count"]
        ),
        "todos": md_table(df.head(TOP_N).to_dict("records"), ["path", "line", "tag", "text", "scope"]),
    }


_HOTSPOT_COLUMNS = ["path", "function", "complexity", "churn_90d", "hotspot_score"]


def complexity_metadata(df: pd.DataFrame) -> dict[str, Any]:
    """Totals over functions and methods; class rows are left out (radon's class score repeats them).

    Works on NumPy views and picks the few top rows by position: a backfill calls it for every day
    of a table with tens of thousands of rows a day.
    """
    status = df["status"].to_numpy(dtype=object)
    measured = status == complexity.STATUS_OK
    ok = measured & (df["kind"].to_numpy(dtype=object, na_value=None) != "class")
    cx = df["complexity"].to_numpy(dtype="int64", na_value=0)
    hot = df["hotspot_score"].to_numpy(dtype="int64", na_value=0)

    def top(score: np.ndarray[Any, Any], where: np.ndarray[Any, Any], columns: list[str]) -> Any:
        index = np.flatnonzero(where)
        index = index[np.argsort(-score[index], kind="stable")[:TOP_N]]
        return md_table(df.iloc[index][columns].to_dict("records"), columns)

    unmeasured = np.flatnonzero(~measured)
    return {
        "functions": int(ok.sum()),
        "max_complexity": int(cx[ok].max()) if ok.any() else 0,
        "complex_functions": int((cx[ok] > 10).sum()),  # rank C or worse
        "unmeasured_files": len(unmeasured),
        "parse_failures": int((status == complexity.STATUS_PARSE_ERROR).sum()),
        "most_complex_functions": top(cx, ok, ["path", "function", "line", "complexity", "rank"]),
        "hotspots": top(hot, ok & (hot > 0), _HOTSPOT_COLUMNS),
        "not_measured": md_table(
            df.iloc[unmeasured[:TOP_N]][["path", "status", "message"]].to_dict("records"),
            ["path", "status", "message"],
        ),
    }


def findings_metadata(df: pd.DataFrame) -> dict[str, Any]:
    def of(kind: str) -> pd.DataFrame:
        return df[df["kind"] == kind]

    excepts = of("broad_except")
    unexplained = excepts[~excepts["has_reason"].fillna(False).astype(bool)]
    gpu = of("gpu_site")
    backups = of("backup_file")
    failures = of("parse_failure")
    columns = ["path", "line", "subkind", "detail"]
    return {
        "broad_excepts": len(excepts),
        "broad_except_without_reason": len(unexplained),
        "gpu_sites": len(gpu),
        "gpu_files": int(gpu["path"].nunique()) if not gpu.empty else 0,
        "backup_files": len(backups),
        "parse_failures": len(failures),
        "unexplained_broad_excepts": md_table(unexplained.head(TOP_N).to_dict("records"), columns),
        "gpu_site_list": md_table(gpu.head(TOP_N).to_dict("records"), columns),
        "backup_file_list": md_table(backups.head(TOP_N).to_dict("records"), ["path", "subkind", "detail"]),
        "parse_failure_list": md_table(failures.head(TOP_N).to_dict("records"), columns),
    }


# ----------------------------------------------------------------------------------------- the asset


def _out(name: str, description: str, schema: Any, version: str) -> dg.AssetOut:
    return dg.AssetOut(
        key=dg.AssetKey(name),
        io_manager_key="warehouse_io_manager",
        group_name="code",
        kinds={"git", "python", "parquet", "postgres"},
        description=description,
        metadata={"dagster/column_schema": schema.dagster_column_schema()},
        code_version=version,
        is_required=False,
    )


@dg.multi_asset(
    name="code_structure",
    outs={
        "todo_list": _out(
            "todo_list",
            "Work markers in comments of every file, with a fingerprint that survives moves, edits and"
            " renames, so a marker can be followed across days.",
            MARKER_LIST,
            f"todo_list-{todos.ANALYSER_VERSION}",
        ),
        "code_complexity": _out(
            "code_complexity",
            "Cyclomatic complexity (radon) of every Python function, method and class, with rank, the"
            " file's 90-day churn and a hotspot score (complexity x churn): complex code that keeps"
            " changing. Files that could not be measured are listed with their status.",
            CODE_COMPLEXITY,
            f"code_complexity-{complexity.ANALYSER_VERSION}",
        ),
        "code_findings": _out(
            "code_findings",
            "Broad exception handlers (and whether a comment explains them), code that uses a CUDA GPU,"
            " backup and legacy files, and Python files that do not parse.",
            CODE_FINDINGS,
            f"code_findings-{findings.ANALYSER_VERSION}",
        ),
    },
    check_specs=[NO_MARKERS_CHECK, BROAD_EXCEPT_CHECK, NO_NEW_MARKERS_CHECK, NO_NEW_FINDINGS_CHECK],
    partitions_def=snapshot_partitions,
    backfill_policy=snapshot_backfill_policy(),
    retry_policy=SNAPSHOT_RETRY,
    op_tags={"dagster/max_runtime": SNAPSHOT_MAX_RUNTIME_S},
    can_subset=True,
)
def code_structure(
    context: dg.AssetExecutionContext, git: GitResource, postgres: PostgresResource
) -> Iterator[dg.Output[Any] | dg.AssetCheckResult | dg.AssetCheckEvaluation]:
    """One snapshot per day feeds all three code-structure assets."""
    selected = frozenset(k.path[-1] for k in context.selected_asset_keys) & frozenset(ASSETS)
    state: RunState | None = None
    frames: dict[str, dict[str, pd.DataFrame]] = {name: {} for name in selected}
    metas: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in selected}
    partitions = run_partitions(context)
    days: dict[str, list[date]] = {}
    for _key, name, day in partitions:
        days.setdefault(name, []).append(day)
    codebases: dict[str, Codebase] = {}
    newness = {
        "todo_list": NewFindings(
            NO_NEW_MARKERS_CHECK, "fingerprint", ["path", "line", "tag", "text"], default_severity="warn"
        ),
        "code_findings": NewFindings(
            NO_NEW_FINDINGS_CHECK,
            ["kind", "subkind", "path", "detail"],
            ["kind", "subkind", "path", "line", "detail"],
            judged=lambda df: df[df["kind"] != "gpu_site"],  # GPU sites are facts, not problems
        ),
    }
    for key, name, day in partitions:
        codebase = codebases.get(name) or codebases.setdefault(name, codebase_named(name))
        max_bytes = _max_bytes(codebase.option(DOMAIN, "max_complexity_bytes"))
        if state is None or state.max_bytes != max_bytes:
            state = RunState(AnalysisCache(postgres.database()), max_bytes)
        snapshot = take(git, codebase, day)
        if len(days[name]) > 1 and name not in state.histories and snapshot.repo is not None:
            state.histories[name] = run_history(snapshot.repo, codebase.branch, days[name])
        for asset, (df, meta) in compute_code_structure(snapshot, state, selected).items():
            if asset in newness:
                df = newness[asset].mark(key, codebase, day, df)
                meta = {**meta, "new_findings": newness[asset].new_count(key)}
            frames[asset][key] = df
            metas[asset][key] = {**snapshot_metadata(snapshot), **meta}
        if len(partitions) == 1:  # a backfill logs once at the end: each log event is stored
            context.log.info(f"{key}: commit {snapshot.commit or '(none)'}")
    totals = state.totals() if state is not None else {}
    context.log.info(f"{len(partitions)} partition(s); blobs analysed / reused over the run: {totals}")
    for asset in ASSETS:
        if asset not in selected:
            continue
        yield partitioned_output(context, frames[asset], metas[asset], totals, asset=asset)
    checks = context.selected_asset_check_keys
    newest = context.partition_keys[-1]
    if "todo_list" in selected and NO_MARKERS_CHECK.key in checks:
        yield markers_result(frames["todo_list"][newest], newest)
    if "code_findings" in selected and BROAD_EXCEPT_CHECK.key in checks:
        yield broad_except_result(frames["code_findings"][newest], newest)
    for asset, news in newness.items():
        if asset in selected:
            yield from news.evaluations(context)


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


def _max_bytes(value: Any) -> int:
    return int(value) if value else complexity.DEFAULT_MAX_BYTES
