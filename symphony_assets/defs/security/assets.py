"""``security_findings``: bandit (as a library), secrets-like literals, and files bandit cannot read.

Scanning depends only on a file's bytes, so it goes through the blob cache keyed by (analyser,
version, blob id); the version includes bandit's own version, since its rules decide the results.
Python files are scanned in the shared facts pass (:mod:`..resources.python_facts`): bandit visits
the tree the other code assets' extractors read, so a blob is parsed once for all of them.
Which rules count is decided per codebase after the cache (``security: {skip_rules: [B101],
min_severity: LOW}``), so changing it needs no rescan. Each finding carries a fingerprint from rule,
path, snippet hash and occurrence, ``first_seen`` and ``is_new`` (see :mod:`..newness`), and the
``no_new_security_findings`` check judges every partition of the run on its new findings only.
"""

import hashlib
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.analysis import security
from symphony_assets.analysis.facts import SECURITY
from symphony_assets.analysis.security import FileScan, analyser_version, scan_file, wants_scan
from symphony_assets.config import Codebase
from symphony_assets.defs.newness import NewFindings, new_findings_spec
from symphony_assets.defs.security.schemas import SECURITY_FINDINGS
from symphony_assets.defs.snapshots import (
    RangePrefetch,
    codebase_named,
    md_table,
    partitioned_output,
    run_partitions,
    snapshot_asset,
    snapshot_metadata,
    take_all,
)
from symphony_assets.resources.cache import AnalysisCache, CacheStats, Prefetch, analyse_files
from symphony_assets.resources.git import FileEntry, GitResource, Snapshot
from symphony_assets.resources.postgres import PostgresResource
from symphony_assets.resources.python_facts import python_facts_results

DOMAIN = "security"
TEXT_ANALYSER = "security_findings:text"
ASSET = "security_findings"
TOP_N = 15
DEFAULT_SKIP_RULES = ("B101",)  # assert_used: tests are full of asserts, and it drowns the rest
SEVERITY_RANK = {"LOW": 0, "MEDIUM": 1, "HIGH": 2}
NO_NEW_SECURITY_FINDINGS = new_findings_spec(ASSET, "security_findings")


def _options(codebase: Codebase) -> tuple[frozenset[str], int]:
    skip = codebase.option(DOMAIN, "skip_rules", None)
    rules = frozenset(str(r) for r in (DEFAULT_SKIP_RULES if skip is None else skip))
    floor = str(codebase.option(DOMAIN, "min_severity", "LOW") or "LOW").upper()
    if floor not in SEVERITY_RANK:
        raise dg.Failure(description=f"codebase {codebase.name!r}: security.min_severity {floor!r} unknown")
    return rules, SEVERITY_RANK[floor]


def _entries(snapshot: Snapshot) -> list[FileEntry]:
    return [
        e
        for e in snapshot.files
        if e.kind == "file" and e.git_status not in ("ignored", "deleted") and wants_scan(e.path)
    ]


def _fingerprint(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:20]


def scan_blob(entry: FileEntry, content: bytes) -> dict[str, Any]:
    """Module-level (not a lambda) so the blob pool can ship it to worker processes."""
    return scan_file(entry.path, content).to_dict()


def _scan(
    snapshot: Snapshot, entries: list[FileEntry], cache: AnalysisCache, version: str
) -> tuple[dict[str, Any], CacheStats]:
    """Python files through the facts pass, every other file for secrets alone (``scan_blob``): the
    same blob as ``tool.py`` and ``tool.txt`` is scanned once as each."""
    python = [e for e in entries if security.is_python(e.path)]
    text = [e for e in entries if not security.is_python(e.path)]
    results, stats = python_facts_results(snapshot, python, cache, SECURITY)
    found, text_stats = analyse_files(snapshot, text, cache, TEXT_ANALYSER, version, scan_blob)
    results.update(found)
    stats.add(text_stats)
    return {e.path: results[e.path] for e in entries if e.path in results}, stats


def compute_security_findings(
    snapshot: Snapshot, cache: AnalysisCache, version: str, prefetch: Prefetch | None = None
) -> tuple[pd.DataFrame, dict[str, Any], CacheStats]:
    """Rows (``first_seen``/``is_new`` not yet filled) and metadata of one snapshot; ``prefetch``: the
    range's blobs scanned up front, counted here."""
    skip, floor = _options(snapshot.codebase)
    entries = _entries(snapshot)
    by_path = {e.path: e for e in entries}
    results, stats = _scan(snapshot, entries, cache, version)
    if prefetch is not None:
        prefetch.settle(entries, stats)
    rows: list[dict[str, Any]] = []
    occurrences: dict[tuple[str, str, str], int] = {}
    for path in sorted(results):
        scan = FileScan.from_dict(results[path])
        blob = by_path[path].blob_id if by_path[path].git_status in ("committed", "clean") else None
        if scan.parse_error is not None:
            digest = security.snippet_hash([scan.parse_error])
            rows.append(
                {
                    "fingerprint": _fingerprint("unparsed", path),
                    "kind": "unparsed_file",
                    "rule_id": "unparsed",
                    "rule_name": "file_not_parsed_by_bandit",
                    "severity": "LOW",
                    "confidence": "HIGH",
                    "path": path,
                    "line": scan.parse_error_line or 0,
                    "end_line": scan.parse_error_line or 0,
                    "message": f"bandit cannot read this file ({scan.parse_error}); only the tolerant"
                    " parser's shell=True, eval/exec, pickle and bind sites are reported for it",
                    "snippet": None,
                    "snippet_hash": digest,
                    "via": "ast",
                    "parse_error": scan.parse_error,
                    "blob_id": blob,
                }
            )
        for f in scan.findings:
            if f.rule_id in skip or SEVERITY_RANK.get(f.severity, 0) < floor:
                continue
            ident = (f.rule_id, path, f.snippet_hash)
            n = occurrences[ident] = occurrences.get(ident, 0) + 1
            rows.append(
                {
                    "fingerprint": _fingerprint(f.rule_id, path, f.snippet_hash, str(n)),
                    "kind": "finding",
                    "rule_id": f.rule_id,
                    "rule_name": f.rule_name,
                    "severity": f.severity,
                    "confidence": f.confidence,
                    "path": path,
                    "line": f.line,
                    "end_line": f.end_line,
                    "message": f.message,
                    "snippet": f.snippet,
                    "snippet_hash": f.snippet_hash,
                    "via": f.via,
                    "parse_error": scan.parse_error,
                    "blob_id": blob,
                }
            )
    unread = [{"path": r.entry.path, "status": r.status} for r in stats.failures]
    meta: dict[str, Any] = {"files_scanned": len(results), "files_unreadable": len(unread)}
    meta["unreadable_files"] = md_table(unread[:TOP_N], ["path", "status"])
    return SECURITY_FINDINGS.frame(rows), meta, stats


def security_metadata(df: pd.DataFrame) -> dict[str, Any]:
    found = df[df["kind"] == "finding"] if not df.empty else df
    unparsed = df[df["kind"] == "unparsed_file"] if not df.empty else df
    new = found[found["is_new"].astype(bool)] if not found.empty else found

    def count(mask: Any) -> int:
        return int(mask.sum()) if not found.empty else 0

    ordered = (
        found.assign(rank=found["severity"].map(SEVERITY_RANK).fillna(0))
        .sort_values(["rank", "path", "line"], ascending=[False, True, True])
        .head(TOP_N)
        if not found.empty
        else found
    )
    by_rule = (
        found.groupby(["rule_id", "rule_name"]).size().sort_values(ascending=False).head(TOP_N)
        if not found.empty
        else pd.Series(dtype="int64")
    )
    columns = ["severity", "rule_id", "path", "line", "message", "via"]
    return {
        "finding_count": len(found),
        "high_severity": count(found["severity"] == "HIGH") if not found.empty else 0,
        "medium_severity": count(found["severity"] == "MEDIUM") if not found.empty else 0,
        "low_severity": count(found["severity"] == "LOW") if not found.empty else 0,
        "secrets": count(found["via"] == "secrets") if not found.empty else 0,
        "fallback_findings": count(found["via"] == "tree-sitter") if not found.empty else 0,
        "unparsed_files": len(unparsed),
        "new_findings": len(new),
        "worst_findings": md_table(ordered.to_dict("records"), columns),
        "new_finding_list": md_table(new.head(TOP_N).to_dict("records"), columns),
        "findings_by_rule": md_table(
            [{"rule_id": k[0], "rule": k[1], "findings": int(v)} for k, v in by_rule.items()],
            ["rule_id", "rule", "findings"],
        ),
        "unparsed_file_list": md_table(
            unparsed.head(TOP_N).to_dict("records"), ["path", "line", "parse_error"]
        ),
    }


@snapshot_asset(
    SECURITY_FINDINGS,
    group_name="security",
    kinds={"git", "python", "parquet", "postgres"},
    check_specs=[NO_NEW_SECURITY_FINDINGS],
    code_version=f"security_findings-{security.ANALYSER_VERSION}",
)
def security_findings(
    context: dg.AssetExecutionContext, git: GitResource, postgres: PostgresResource
) -> Iterator[dg.Output[Any] | dg.AssetCheckEvaluation]:
    """Security findings per file: bandit's rules run as a library (shell=True, eval, pickle, binding
    to all interfaces, hard-coded passwords, ...), secrets-like literals in code and configuration,
    and for Python files bandit cannot parse a row saying so plus the tolerant parser's dangerous
    sites in them. Each finding has a stable fingerprint, first_seen and is_new."""
    cache = AnalysisCache(postgres.database())
    version = analyser_version()
    newness = NewFindings(
        NO_NEW_SECURITY_FINDINGS,
        "fingerprint",
        ["severity", "rule_id", "path", "line", "message", "via"],
        judged=lambda df: df[df["kind"] == "finding"],
    )
    totals = CacheStats()
    frames: dict[str, pd.DataFrame] = {}
    metas: dict[str, dict[str, Any]] = {}
    snapshots = take_all(context, git)
    # A range's new blobs, scanned up front in one pooled batch.
    scan_ahead = RangePrefetch(_entries, lambda snap, entries, cache: _scan(snap, entries, cache, version)[1])
    prefetches = scan_ahead.start(snapshots, cache)
    for key, name, day in run_partitions(context):
        codebase, snapshot = codebase_named(name), snapshots[key]
        df, meta, stats = compute_security_findings(snapshot, cache, version, prefetches[name])
        totals.analysed += stats.analysed
        totals.reused += stats.reused
        frames[key] = df = newness.mark(key, codebase, day, df)
        compared = newness.compared[key]
        metas[key] = {
            **snapshot_metadata(snapshot),
            **meta,
            **security_metadata(df),
            **stats.metadata(),
            "compared_with": str(compared) if compared else "(none)",
        }
        context.log.info(f"{key}: {metas[key]['finding_count']} findings, {metas[key]['new_findings']} new")
    run = {f"run_{k}": v for k, v in totals.metadata().items()}
    yield partitioned_output(context, frames, metas, run)
    yield from newness.evaluations(context)
