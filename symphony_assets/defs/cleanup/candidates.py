"""What cleanup may act on: ``cleanup_candidates`` rows from the day's inventory, their metadata, and
the candidates ``cleanup_actions`` takes from that frame or from the lifecycle registry's expired entries.
"""

import os
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from symphony_assets.analysis.cleanup_rules import (
    CleanupRules,
    FileFacts,
    RegistryEntry,
    Verdict,
    automation_targets,
    expired_paths,
    is_automation_source,
    judge,
)
from symphony_assets.config import Codebase
from symphony_assets.defs.cleanup.schemas import CLEANUP_CANDIDATES
from symphony_assets.defs.cleanup.settings import rules_for
from symphony_assets.defs.snapshots import md_table
from symphony_assets.lifecycle import RegistryCorrupt, load_registry
from symphony_assets.resources.git import Snapshot
from symphony_assets.resources.quarantine import Candidate, file_identity


def _registry(codebase: Codebase, live: bool) -> tuple[dict[str, RegistryEntry], str | None]:
    """The lifecycle registry (only meaningful for today's working tree); a corrupt one is reported."""
    if not live:
        return {}, None
    try:
        return load_registry(codebase.path), None
    except RegistryCorrupt as exc:
        return {}, str(exc)


#: Automation targets by the registry file names and the (path, blob id) of every automation source of
#: a commit: a range run's days mostly share them, and each day would otherwise read and parse the same
#: files again.
AutomationMemo = dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], set[str]]


def _automation(snapshot: Snapshot, rules: CleanupRules, memo: AutomationMemo | None = None) -> set[str]:
    entries = [
        e
        for e in snapshot.files
        if e.kind == "file" and is_automation_source(e.path, rules.automation_registry_files)
    ]
    known = not snapshot.live and all(e.blob_id for e in entries)
    key = (tuple(rules.automation_registry_files), tuple((e.path, e.blob_id or "") for e in entries))
    if memo is not None and known and key in memo:
        return set(memo[key])
    files = {r.entry.path: r.content for r in snapshot.read(entries) if r.content is not None}
    targets = automation_targets(files, rules.automation_registry_files)
    if memo is not None and known and len(files) == len(entries):
        memo[key] = set(targets)
    return targets


def _ts(value: Any) -> datetime | None:
    if value is None or (not isinstance(value, datetime) and pd.isna(value)):
        return None
    stamp: datetime = pd.Timestamp(value).to_pydatetime()
    return stamp


def _facts(row: dict[str, Any], day: date) -> FileFacts:
    modified = _ts(row.get("modified")) or datetime(day.year, day.month, day.day, tzinfo=UTC)
    expires = row.get("expires")
    refs = row.get("references")
    size = row.get("size_bytes")
    return FileFacts(
        path=str(row["path"]),
        tracked=bool(row.get("tracked")),
        ignored=bool(row.get("ignored")),
        size=int(size) if size is not None and not pd.isna(size) else 0,
        modified=modified,
        references=int(refs) if refs is not None and not pd.isna(refs) else 0,
        expires=expires if isinstance(expires, date) else None,
    )


#: The inventory columns the rules read (:func:`_facts`).
FACT_COLUMNS = ("path", "tracked", "ignored", "size_bytes", "modified", "references", "expires")


def compute_candidates(
    snapshot: Snapshot,
    inventory: pd.DataFrame | None,
    rules: CleanupRules,
    held: dict[str, str] | None = None,
    automation_memo: AutomationMemo | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``automation_memo``: a run's automation targets by sources, shared by its days."""
    registry, registry_error = _registry(snapshot.codebase, snapshot.live)
    automation = _automation(snapshot, rules, automation_memo)
    rows = []
    # Only the columns the rules read: the whole inventory's records cost 65 ms a day.
    read = [c for c in FACT_COLUMNS if inventory is not None and c in inventory.columns]
    records = [] if inventory is None else inventory[read].to_dict("records")
    raw_paths = {e.path: e.raw_path for e in snapshot.files} if snapshot.live else {}
    for rec in records:
        facts = _facts(rec, snapshot.day)
        verdict = judge(facts, rules, snapshot.day, registry, automation)
        if verdict.rule == "default":
            continue
        if held and facts.path in held and verdict.decision != "keep":
            verdict = Verdict("keep", "restored", f"{held[facts.path]}; `symphony cleanup release` allows it")
        entry = registry.get(facts.path)
        expires = facts.expires
        if entry is not None and entry.expires is not None:
            expires = max(filter(None, [expires, entry.expires.date()]))
        raw = raw_paths.get(facts.path)
        digest, ctime_ns = (None, None)
        if raw is not None and verdict.decision != "keep":
            digest, ctime_ns = file_identity(snapshot.codebase.path, raw)
        rows.append(
            {
                "path": facts.path,
                "decision": verdict.decision,
                "rule": verdict.rule,
                "reason": verdict.reason,
                "tracked": facts.tracked,
                "size_bytes": facts.size,
                "modified": facts.modified,
                "references": facts.references,
                "expires": expires,
                "sha256": digest,
                "ctime_ns": ctime_ns,
                "path_hex": raw.hex() if raw is not None and os.fsdecode(raw) != facts.path else None,
            }
        )
    df = CLEANUP_CANDIDATES.frame(rows)
    return df, candidates_metadata(df, len(automation), registry, registry_error, inventory is None)


def candidates_metadata(
    df: pd.DataFrame,
    automation: int,
    registry: dict[str, RegistryEntry],
    registry_error: str | None,
    no_inventory: bool,
) -> dict[str, Any]:
    cands = df[df["decision"] == "candidate"] if not df.empty else df
    review = df[df["decision"] == "review"] if not df.empty else df
    per_rule = (
        df.groupby(["decision", "rule"])
        .agg(files=("path", "size"), bytes=("size_bytes", "sum"))
        .reset_index()
        if not df.empty
        else pd.DataFrame(columns=["decision", "rule", "files", "bytes"])
    )
    top = cands.sort_values("size_bytes", ascending=False).head(20) if not cands.empty else cands
    meta: dict[str, Any] = {
        "candidates": len(cands),
        "review": len(review),
        "bytes_reclaimable": int(cands["size_bytes"].fillna(0).sum()) if not cands.empty else 0,
        "automation_targets": automation,
        "registry_entries": len(registry),
        "counts_per_rule": md_table(per_rule.to_dict("records"), ["decision", "rule", "files", "bytes"]),
        "top_candidates": md_table(top.to_dict("records"), ["path", "rule", "size_bytes", "reason"]),
    }
    if registry_error:
        meta["registry_error"] = registry_error
    if no_inventory:
        meta["note"] = "file_inventory has no partition for this day"
    return meta


def candidates_from_frame(df: pd.DataFrame | None, include_review: bool) -> list[Candidate]:
    if df is None or df.empty:
        return []
    wanted = {"candidate", "review"} if include_review else {"candidate"}
    out = []
    for rec in df[df["decision"].isin(wanted)].sort_values("size_bytes", ascending=False).to_dict("records"):
        modified = _ts(rec.get("modified"))
        size, ctime_ns = rec.get("size_bytes"), rec.get("ctime_ns")
        digest, path_hex = rec.get("sha256"), rec.get("path_hex")
        out.append(
            Candidate(
                path=str(rec["path"]),
                rule=str(rec["rule"]),
                reason=str(rec["reason"]),
                size=int(size) if size is not None and not pd.isna(size) else None,
                mtime=modified.timestamp() if modified is not None else None,
                sha256=str(digest) if isinstance(digest, str) else None,
                ctime_ns=int(ctime_ns) if ctime_ns is not None and not pd.isna(ctime_ns) else None,
                fs_path=os.fsdecode(bytes.fromhex(path_hex)) if isinstance(path_hex, str) else None,
            )
        )
    return out


def expired_candidates(codebase: Codebase, today: date) -> tuple[list[Candidate], list[str]]:
    """Registry entries past expiry, judged by the same rules (protected files stay protected)."""
    registry = load_registry(codebase.path)
    rules = rules_for(codebase)
    out: list[Candidate] = []
    gone: list[str] = []
    for path in expired_paths(registry, today):
        full = codebase.path / path
        try:
            st = os.lstat(full)
        except (FileNotFoundError, NotADirectoryError):
            gone.append(path)
            continue
        except OSError:
            continue
        facts = FileFacts(path, False, False, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC), 0, None)
        verdict = judge(facts, rules, today, registry, frozenset())
        if verdict.decision == "candidate":
            out.append(Candidate(path, verdict.rule, verdict.reason, st.st_size, st.st_mtime))
    return out, gone
