"""The frames of ``todo_list``, ``code_complexity`` and ``code_findings`` from one snapshot's facts.

Projection only: the facts come from :func:`~symphony_assets.resources.code_facts.gather`, and
each file's rows are built once per (path, blob) for the run
(:func:`~symphony_assets.resources.code_facts.memo_rows`).
"""

import functools
from collections.abc import Mapping
from typing import Any

import pandas as pd
import pyarrow as pa

from symphony_assets.analysis import complexity
from symphony_assets.analysis.facts import FileFacts
from symphony_assets.analysis.findings import backup_kind
from symphony_assets.defs.code.schemas import CODE_COMPLEXITY, CODE_FINDINGS, MARKER_LIST
from symphony_assets.resources.code_facts import (
    FunctionColumns,
    RunState,
    SnapshotFacts,
    function_columns,
    is_python,
    memo_rows,
)
from symphony_assets.resources.git import FileEntry, Snapshot


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
            "blob_id": entry.committed_blob,
        }
        for t in f.todos
    ]


def todo_frame(facts: SnapshotFacts, state: RunState) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for path in sorted(facts.files):
        entry, f = facts.entries[path], facts.files[path]
        if f.todos:
            rows += memo_rows(state, "todo_list", entry, functools.partial(_todo_rows, path, entry, f))
    return MARKER_LIST.frame(rows)


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
            measured.append((path, entry, function_columns(state, entry, report)))
        else:
            unmeasured[path] = (entry, report.status, report.message or report.status)
    for failure in facts.failures:
        if is_python(failure.entry):
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
        cols["blob_id"] += [entry.committed_blob] * n
        cols["churn_90d"] += [changes] * n
    table = pa.table(cols, schema=CODE_COMPLEXITY.arrow_schema)
    return table.to_pandas(types_mapper=pd.ArrowDtype)


def _finding_rows(path: str, entry: FileEntry, f: FileFacts) -> list[dict[str, Any]]:
    blob_id = entry.committed_blob
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
            "blob_id": entry.committed_blob,
        }
    ]


def findings_frame(snapshot: Snapshot, facts: SnapshotFacts, state: RunState) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for entry in snapshot.files:
        if entry.kind in ("file", "symlink") and entry.git_status != "deleted":
            rows += memo_rows(state, "backup", entry, functools.partial(_backup_rows, entry))
    for path, f in facts.files.items():
        if f.parse is not None or f.broad_excepts or f.gpu_sites:
            entry = facts.entries[path]
            rows += memo_rows(state, "code_findings", entry, functools.partial(_finding_rows, path, entry, f))
    for failure in facts.failures:
        if is_python(failure.entry):
            rows.append(
                {
                    "kind": "parse_failure",
                    "subkind": failure.status,
                    "path": failure.entry.path,
                    "detail": failure.message or f"not read: {failure.status}",
                    "via": "read",
                    "blob_id": failure.entry.committed_blob,
                }
            )
    rows.sort(key=lambda r: (str(r["kind"]), str(r["path"]), int(r.get("line") or 0), str(r["subkind"])))
    return CODE_FINDINGS.frame(rows)
