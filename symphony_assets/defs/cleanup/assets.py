"""Cleanup assets: ``cleanup_candidates`` (rules over the inventory), ``cleanup_actions`` (the quarantine
executor, a dry run unless told otherwise) and ``stale_processes`` (long-running leftovers, stale temp files).

Acting is opt-in twice over: run config ``execute: true`` and only on today's partition; the global kill
switch (``SYMPHONY_ACTING=off`` or the stopped ``acting_enabled`` sensor) turns any run into a dry run.
Everything moved goes to ``<quarantine>/<run_id>/`` and ``symphony cleanup restore RUN_ID`` puts it back.
"""

import hashlib
import os
import re
import signal
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import psutil
import psycopg2

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
from symphony_assets.config import Codebase, symphony_home
from symphony_assets.defs.cleanup.schemas import CLEANUP_ACTIONS, CLEANUP_CANDIDATES, STALE_PROCESSES
from symphony_assets.defs.partitions import snapshot_partitions
from symphony_assets.defs.snapshots import (
    codebase_named,
    input_for,
    md_table,
    output_partitions,
    run_partitions,
    snapshot_asset,
    take,
    utc_today,
)
from symphony_assets.lifecycle import RegistryCorrupt, load_registry, remove_entries
from symphony_assets.resources.acting import run_switch_reason
from symphony_assets.resources.git import GitResource, Snapshot
from symphony_assets.resources.postgres import PostgresResource
from symphony_assets.resources.quarantine import (
    QUARANTINE,
    ActionResult,
    AuditLog,
    AuditRow,
    Candidate,
    CleanupBusy,
    CleanupExecutor,
    RunReport,
    cleanup_run_lock,
    file_identity,
)

DOMAIN = "cleanup"
TRIGGER_TAG = "symphony/trigger"  # same tag as symphony_assets.orchestration.TRIGGER_TAG
TEMP_LABEL = ":temp:"


# --------------------------------------------------------------------------------------- shared helpers
def rules_for(codebase: Codebase) -> CleanupRules:
    return CleanupRules.from_options(codebase.options.get(DOMAIN))


def quarantine_dir(codebase: Codebase) -> Path:
    configured = codebase.option(DOMAIN, "quarantine_dir")
    return Path(configured) if configured else symphony_home() / "quarantine" / codebase.name


def temp_label(codebase: Codebase, folder: Path) -> str:
    """Audit name of a temp folder's executor: its own lock and rows, separate from the codebase's."""
    return f"{codebase.name}{TEMP_LABEL}{folder}"


def temp_quarantine_dir(codebase: Codebase, folder: Path) -> Path:
    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    return quarantine_dir(codebase) / "temp" / digest


def connect_factory(db_url: str) -> Callable[[], Any]:
    return lambda: psycopg2.connect(db_url, connect_timeout=10)


def executor_for_label(
    label: str, codebases: list[Codebase], db_url: str, run_id: str, **kwargs: Any
) -> CleanupExecutor:
    """The executor that owns an audit ``codebase`` label: a codebase, or one of its temp folders."""
    name, _, folder = label.partition(TEMP_LABEL)
    codebase = next((c for c in codebases if c.name == name), None)
    if codebase is None:
        raise KeyError(f"codebase {name!r} is not in symphony.yaml")
    audit = AuditLog(connect_factory(db_url), label)
    if folder:
        path = Path(folder)
        return CleanupExecutor(path, temp_quarantine_dir(codebase, path), audit, run_id, **kwargs)
    return CleanupExecutor(codebase.path, quarantine_dir(codebase), audit, run_id, **kwargs)


def _registry(codebase: Codebase, live: bool) -> tuple[dict[str, RegistryEntry], str | None]:
    """The lifecycle registry (only meaningful for today's working tree); a corrupt one is reported."""
    if not live:
        return {}, None
    try:
        return load_registry(codebase.path), None
    except RegistryCorrupt as exc:
        return {}, str(exc)


def _automation(snapshot: Snapshot, rules: CleanupRules) -> set[str]:
    entries = [
        e
        for e in snapshot.files
        if e.kind == "file" and is_automation_source(e.path, rules.automation_registry_files)
    ]
    files = {r.entry.path: r.content for r in snapshot.read(entries) if r.content is not None}
    return automation_targets(files, rules.automation_registry_files)


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


# ------------------------------------------------------------------------------------ cleanup_candidates
def compute_candidates(
    snapshot: Snapshot,
    inventory: pd.DataFrame | None,
    rules: CleanupRules,
    held: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    registry, registry_error = _registry(snapshot.codebase, snapshot.live)
    automation = _automation(snapshot, rules)
    rows = []
    records = [] if inventory is None else inventory.to_dict("records")
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


@snapshot_asset(
    CLEANUP_CANDIDATES,
    ins={"file_inventory": dg.AssetIn("file_inventory")},
    group_name="cleanup",
    kinds={"parquet", "postgres"},
    code_version="1",
)
def cleanup_candidates(
    context: dg.AssetExecutionContext, git: GitResource, postgres: PostgresResource, file_inventory: Any
) -> Any:
    """Files the cleanup rules propose (candidate), want a person to look at (review, tracked files), or
    protect (critical folder, protected name, automation script, not yet expired), each with its rule and
    reason. Built from the day's file_inventory, the lifecycle registry and cron/systemd targets."""
    frames: dict[str, pd.DataFrame] = {}
    metas: dict[str, dict[str, Any]] = {}
    for key, name, day in run_partitions(context):
        codebase = codebase_named(name)
        snapshot = take(git, codebase, day)
        held: dict[str, str] = {}
        if snapshot.live:
            audit = AuditLog(connect_factory(postgres.database().url), name)
            with audit.session():
                held = audit.held()
        df, meta = compute_candidates(snapshot, input_for(file_inventory, key), rules_for(codebase), held)
        meta["held_after_restore"] = len(held)
        frames[key], metas[key] = df, meta
        context.log.info(f"{key}: {meta['candidates']} candidates, {meta['review']} for review")
    return output_partitions(context, frames, metas)


# --------------------------------------------------------------------------------------- cleanup_actions
class CleanupActionsConfig(dg.Config):
    execute: bool = False
    """Move files into quarantine. False (the default) records what would happen and touches nothing."""
    allow_tracked: bool = False
    """Also act on git-tracked files (their removal is staged, never committed). Needs execute too."""
    max_deletions: int = 50
    """At most this many files per run and codebase."""
    include_review: bool = False
    """Also act on 'review' files (tracked, stale, temp-named); they still need allow_tracked."""
    only_expired: bool = False
    """Act on the lifecycle registry's expired entries instead of the day's candidates (4 AM schedule)."""
    lock_wait_s: float = 300.0
    """How long to wait for another cleanup_actions run of the same codebase before failing."""


def _action_row(r: AuditRow | ActionResult, executed: bool) -> dict[str, Any]:
    return {
        "run_id": r.run_id,
        "path": r.path,
        "action": r.action,
        "state": r.state,
        "rule": r.rule,
        "size_bytes": r.size,
        "sha256": r.sha256,
        "tracked": r.tracked,
        "message": r.message,
        "executed": executed,
    }


def audit_rows(rows: list[AuditRow]) -> list[dict[str, Any]]:
    """Earlier runs' audited actions (a dry run never quarantines or restores)."""
    return [_action_row(r, r.action in (QUARANTINE, "restore")) for r in rows]


def report_rows(report: RunReport) -> list[dict[str, Any]]:
    return [_action_row(r, report.execute) for r in [*report.reconciled, *report.results]]


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


@dg.asset(
    partitions_def=snapshot_partitions,
    ins={"cleanup_candidates": dg.AssetIn("cleanup_candidates")},
    io_manager_key="warehouse_io_manager",
    group_name="cleanup",
    kinds={"parquet", "postgres"},
    tags={TRIGGER_TAG: "sensor"},
    metadata={"dagster/column_schema": CLEANUP_ACTIONS.dagster_column_schema()},
    code_version="1",
)
def cleanup_actions(
    context: dg.AssetExecutionContext,
    config: CleanupActionsConfig,
    cleanup_candidates: Any,
    postgres: PostgresResource,
) -> Any:
    """Moves today's cleanup candidates into a quarantine folder (``symphony cleanup restore RUN_ID``
    undoes it). A dry run unless ``execute: true``; tracked files need ``allow_tracked: true`` too; at most
    ``max_deletions`` files; every step audited in symphony.cleanup_audit before it happens."""
    db_url = postgres.database().url
    today = utc_today()
    frames: dict[str, pd.DataFrame] = {}
    metas: dict[str, dict[str, Any]] = {}
    blocked = run_switch_reason(context) if config.execute else None
    if blocked:
        # A run queued before the switch was pulled still only records what it would have done.
        context.log.warning(f"execute requested, but {blocked}: a dry run instead")
        config = config.model_copy(update={"execute": False, "allow_tracked": False})
    with ExitStack() as locks:
        for key, name, day in run_partitions(context):
            if day != today:
                context.log.info(f"{key}: not today's partition; cleanup acts only on today")
                frames[key] = CLEANUP_ACTIONS.frame([])
                metas[key] = {"note": "not today's partition: nothing planned"}
                continue
            # Held until the partition is written (this generator resumes only after the IO manager
            # has stored the output), so runs that bypass the queue cannot overwrite each other's rows.
            try:
                locks.enter_context(cleanup_run_lock(connect_factory(db_url), name, config.lock_wait_s))
            except CleanupBusy as exc:
                raise dg.Failure(description=f"{key}: {exc}") from exc
            frames[key], metas[key] = _act_on_today(context, config, name, key, cleanup_candidates, db_url)
        yield dg.Output(output_partitions(context, frames, metas))


def _act_on_today(
    context: dg.AssetExecutionContext,
    config: CleanupActionsConfig,
    name: str,
    key: str,
    cleanup_candidates: Any,
    db_url: str,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One codebase's cleanup run; its partition also keeps the rows of the day's earlier runs."""
    today = utc_today()
    codebase = codebase_named(name)
    if codebase.url:
        # Its path is our bare mirror, not a working tree: there is nothing of the user's to clean here.
        note = f"{name} is given by URL ({codebase.path} is a mirror): cleanup acts only on local codebases"
        context.log.info(f"{key}: {note}")
        return CLEANUP_ACTIONS.frame([]), {"summary": "nothing to do", "note": note}
    gone: list[str] = []
    if config.only_expired:
        try:
            cands, gone = expired_candidates(codebase, today)
        except RegistryCorrupt as exc:
            raise dg.Failure(description=str(exc)) from exc
    else:
        cands = candidates_from_frame(input_for(cleanup_candidates, key), config.include_review)
    ex = CleanupExecutor(
        codebase.path,
        quarantine_dir(codebase),
        AuditLog(connect_factory(db_url), name),
        context.run.run_id,
        max_deletions=config.max_deletions,
        execute=config.execute,
        allow_tracked=config.allow_tracked,
    )
    try:
        report = ex.run(cands)
    except CleanupBusy as exc:
        raise dg.Failure(description=f"{key}: {exc}") from exc
    if config.execute and config.only_expired:
        moved = [r.path for r in report.results if r.action == QUARANTINE and r.state == "done"]
        remove_entries(codebase.path, [*moved, *gone])
    with ex.audit.session():
        earlier = ex.audit.day_rows(today, exclude_run=ex.run_id)
    frame = CLEANUP_ACTIONS.frame([*audit_rows(earlier), *report_rows(report)])
    meta = {**actions_metadata(report, ex), "earlier_runs_today": len({r.run_id for r in earlier})}
    context.log.info(f"{key}: {'executed' if config.execute else 'dry run'}: {meta['summary']}")
    return frame, meta


def actions_metadata(report: RunReport, ex: CleanupExecutor) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for r in report.results:
        counts[f"{r.action}/{r.state}"] = counts.get(f"{r.action}/{r.state}", 0) + 1
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "nothing to do"
    rows = [r.__dict__ for r in report.results[:50]]
    return {
        "summary": summary,
        "executed": report.execute,
        "bytes_moved": report.bytes_moved,
        "reconciled_from_earlier_runs": len(report.reconciled),
        "quarantine": str(ex.run_dir(report.run_id)),
        "restore_with": f"symphony cleanup restore {report.run_id}",
        "actions": md_table(rows, ["path", "action", "state", "rule", "size", "message"]),
    }


# --------------------------------------------------------------------------------------- stale_processes
class StaleProcessesConfig(dg.Config):
    execute: bool = False
    """Stop matching processes (SIGTERM, then SIGKILL after the grace period) and quarantine stale files."""
    grace_seconds: float = 10.0
    max_other_runs: int = 0
    """Skip while more than this many other runs are queued or in progress."""
    max_deletions: int = 50


BUSY_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def other_active_runs(instance: dg.DagsterInstance, own_run_id: str) -> int:
    runs = instance.get_run_records(filters=dg.RunsFilter(statuses=BUSY_STATUSES), limit=1000)
    return sum(1 for r in runs if r.dagster_run.run_id != own_run_id)


def find_stale_processes(patterns: list[str], min_age_hours: float, now: float) -> list[dict[str, Any]]:
    """Processes whose command line matches a pattern and that have run longer than the threshold."""
    compiled = [(p, re.compile(p)) for p in patterns]
    me = os.getpid()
    ancestors = {p.pid for p in psutil.Process(me).parents()}
    out = []
    for proc in psutil.process_iter(["pid", "cmdline", "create_time", "memory_info"]):
        info = proc.info
        if info["pid"] == me or info["pid"] in ancestors or not info.get("cmdline"):
            continue
        cmdline = " ".join(info["cmdline"])
        hit = next((p for p, rx in compiled if rx.search(cmdline)), None)
        if hit is None:
            continue
        age = (now - float(info["create_time"] or now)) / 3600
        if age < min_age_hours:
            continue
        mem = info.get("memory_info")
        out.append({"proc": proc, "pid": info["pid"], "target": cmdline, "pattern": hit, "age_hours": age,
                    "size_bytes": int(mem.rss) if mem else None})  # fmt: skip
    return out


def stop_processes(found: list[dict[str, Any]], grace_s: float) -> dict[int, tuple[str, str, str]]:
    """SIGTERM all, wait up to the grace period, SIGKILL the survivors: pid -> (action, state, message)."""
    results: dict[int, tuple[str, str, str]] = {}
    procs = []
    for item in found:
        proc: psutil.Process = item["proc"]
        try:
            proc.send_signal(signal.SIGTERM)
            procs.append(proc)
        except psutil.NoSuchProcess:
            results[item["pid"]] = ("gone", "done", "exited before SIGTERM")
        except psutil.AccessDenied as exc:
            results[item["pid"]] = ("refuse", "failed", f"no permission to signal: {exc}")
    gone, alive = psutil.wait_procs(procs, timeout=grace_s)
    for proc in gone:
        results[proc.pid] = ("terminated", "done", "stopped after SIGTERM")
    for proc in alive:
        try:
            proc.kill()
            proc.wait(timeout=5)
            results[proc.pid] = ("killed", "done", f"SIGKILL after {grace_s:g}s grace")
        except psutil.NoSuchProcess:
            results[proc.pid] = ("terminated", "done", "stopped after SIGTERM")
        except (psutil.AccessDenied, psutil.TimeoutExpired) as exc:
            results[proc.pid] = ("killed", "failed", f"SIGKILL did not stop it: {exc}")
    return results


def stale_temp_files(folder: Path, min_age_hours: float, now: float) -> list[Candidate]:
    out: list[Candidate] = []
    if not folder.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
        for name in filenames:
            full = Path(dirpath) / name
            try:
                st = os.lstat(full)
            except OSError:
                continue
            age = (now - st.st_mtime) / 3600
            if age >= min_age_hours:
                rel = full.relative_to(folder).as_posix()
                out.append(Candidate(rel, "stale_temp_file", f"{age:.1f} h old", st.st_size, st.st_mtime))
    return out


@dg.asset(
    partitions_def=snapshot_partitions,
    io_manager_key="warehouse_io_manager",
    group_name="cleanup",
    kinds={"parquet", "postgres"},
    tags={TRIGGER_TAG: "sensor"},
    metadata={"dagster/column_schema": STALE_PROCESSES.dagster_column_schema()},
    code_version="1",
)
def stale_processes(
    context: dg.AssetExecutionContext, config: StaleProcessesConfig, postgres: PostgresResource
) -> Any:
    """Processes whose command line matches ``cleanup.stale_process_patterns`` and that have run longer
    than ``cleanup.stale_process_hours``, plus files older than ``cleanup.stale_file_hours`` in
    ``cleanup.temp_dirs``. A report unless ``execute: true`` (today only); skipped while other runs are
    queued or in progress, so it never stops work that is still wanted."""
    busy = other_active_runs(context.instance, context.run.run_id)
    today = utc_today()
    blocked = run_switch_reason(context) if config.execute else None
    if blocked:
        context.log.warning(f"execute requested, but {blocked}: a report only")
        config = config.model_copy(update={"execute": False})
    frames: dict[str, pd.DataFrame] = {}
    metas: dict[str, dict[str, Any]] = {}
    for key, name, day in run_partitions(context):
        if busy > config.max_other_runs:
            frames[key] = STALE_PROCESSES.frame([])
            metas[key] = {"skipped": f"{busy} other runs queued or in progress"}
            context.log.info(f"{key}: skipped, {busy} other runs queued or in progress")
            continue
        codebase = codebase_named(name)
        acting = config.execute and day == today
        frames[key], metas[key] = _stale_for(context, codebase, config, acting, postgres.database().url)
    return output_partitions(context, frames, metas)


def _stale_for(
    context: dg.AssetExecutionContext,
    codebase: Codebase,
    config: StaleProcessesConfig,
    acting: bool,
    db_url: str,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    now = time.time()
    patterns = [str(p) for p in codebase.option(DOMAIN, "stale_process_patterns", []) or []]
    found = find_stale_processes(patterns, float(codebase.option(DOMAIN, "stale_process_hours", 24)), now)
    outcome = stop_processes(found, config.grace_seconds) if acting and found else {}
    rows: list[dict[str, Any]] = []
    for item in found:
        action, state, message = outcome.get(
            item["pid"], ("dry_run", "done", "would send SIGTERM, then SIGKILL")
        )
        rows.append(
            {
                "kind": "process",
                "pid": item["pid"],
                "target": item["target"],
                "pattern": item["pattern"],
                "age_hours": round(item["age_hours"], 3),
                "size_bytes": item["size_bytes"],
                "action": action,
                "state": state,
                "message": message,
            }
        )
    file_hours = float(codebase.option(DOMAIN, "stale_file_hours", 72))
    for raw in codebase.option(DOMAIN, "temp_dirs", []) or []:
        folder = Path(str(raw))
        folder = (folder if folder.is_absolute() else codebase.path / folder).absolute()
        cands = stale_temp_files(folder, file_hours, now)
        ex = CleanupExecutor(
            folder,
            temp_quarantine_dir(codebase, folder),
            AuditLog(connect_factory(db_url), temp_label(codebase, folder)),
            context.run.run_id,
            max_deletions=config.max_deletions,
            execute=acting,
        )
        try:
            report = ex.run(cands)
        except CleanupBusy as exc:
            raise dg.Failure(description=f"{codebase.name}: {exc}") from exc
        ages = {c.path: (now - (c.mtime or now)) / 3600 for c in cands}
        for r in report.results:
            rows.append({"kind": "file", "pid": None, "target": str(folder / r.path), "pattern": str(folder),
                         "age_hours": round(ages.get(r.path, 0.0), 3), "size_bytes": r.size,
                         "action": r.action, "state": r.state if r.state != "planned" else "failed",
                         "message": r.message})  # fmt: skip
    df = STALE_PROCESSES.frame(rows)
    meta = {
        "processes": int((df["kind"] == "process").sum()) if not df.empty else 0,
        "files": int((df["kind"] == "file").sum()) if not df.empty else 0,
        "executed": acting,
        "restore_with": f"symphony cleanup restore {context.run.run_id}",
        "findings": md_table(
            df.head(50).to_dict("records"), ["kind", "pid", "target", "age_hours", "action"]
        ),
    }
    return df, meta
