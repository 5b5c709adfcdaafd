"""``tracker_issues``: reconcile a codebase's findings with the issue tracker, one partition a day.

Only today's partition acts, and only with ``dry_run: false``; any other partition (or a dry run)
records what would have been done. The asset runs when its sensor (or a person) asks, never as part
of the daily snapshot job: it acts on the world.
"""

from collections.abc import Mapping
from datetime import date
from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.analysis.reconcile import (
    ADAPTERS,
    Finding,
    actions_markdown,
    plan_markdown,
)
from symphony_assets.config import Codebase
from symphony_assets.core.names import FLEET_ASSETS, TRIGGER_TAG
from symphony_assets.defs.fleet import fleet_day, fleet_input, involves
from symphony_assets.defs.snapshots import (
    codebase_named,
    input_for,
    output_partitions,
    required_input,
    run_partitions,
    snapshot_asset,
    utc_today,
)
from symphony_assets.defs.tracker.schemas import TRACKER_ISSUES
from symphony_assets.resources.acting import run_switch_reason
from symphony_assets.resources.finding_history import load_history
from symphony_assets.resources.postgres import PostgresResource
from symphony_assets.resources.tracker import (
    BuiltinTracker,
    GitHubTracker,
    ReconcileResult,
    Tracker,
    TrackerError,
    TrackerResource,
    reconcile,
)

DOMAIN = "tracker"

#: Other finding sources: the asset they come from, and the rows of it that count.
SOURCE_ASSETS: Mapping[str, tuple[str, Mapping[str, str]]] = {
    "import_cycle": ("import_cycles", {}),
    "port_conflict": ("port_conflicts", {}),
    "dependency_drift": ("dependency_drift", {}),
    "legacy_files": ("code_findings", {"kind": "backup_file"}),
}


class TrackerIssuesConfig(dg.Config):
    dry_run: bool = True
    """Plan only. Set false to change the tracker (today's partition only)."""
    closing_enabled: bool = False
    """Close issues whose finding has been gone for ``close_after_days`` daily partitions."""
    close_after_days: int = 3
    max_create: int = 20
    """At most this many new issues per run; the rest wait for the next run."""
    max_close: int = 10
    sources: list[str] = ["todo"]
    """Finding sources: todo, import_cycle, port_conflict, dependency_drift, legacy_files.
    A codebase's option ``tracker.sources`` overrides this."""


def gather_findings(
    codebase: Codebase,
    day: date,
    todo_rows: pd.DataFrame,
    sources: list[str],
    upstream: Mapping[str, pd.DataFrame | None],
) -> tuple[list[Finding], dict[str, str]]:
    """Findings from every configured source, out of the day's partitions of the declared upstream assets
    (``upstream``: asset name -> frame); a source with no partition for the day is noted, not fatal."""
    findings: list[Finding] = []
    notes: dict[str, str] = {}
    for source in sources:
        if source == "todo":
            findings += ADAPTERS["todo"](todo_rows.to_dict("records"), codebase.name)
            continue
        if source not in SOURCE_ASSETS:
            notes[source] = f"unknown source; known: todo, {', '.join(SOURCE_ASSETS)}"
            continue
        asset, where = SOURCE_ASSETS[source]
        df = upstream.get(asset)
        if df is None:
            notes[source] = f"no {asset} partition for {day}: skipped"
            continue
        for column, value in where.items():
            if column in df.columns:
                df = df[df[column] == value]
        found = ADAPTERS[source](df.to_dict("records"), codebase.name)
        findings += found
        notes[source] = f"{len(found)} findings from {asset}"
    return findings, notes


def tracker_name(tracker: Tracker) -> str:
    if isinstance(tracker, GitHubTracker):
        return f"github:{tracker.repo}"
    if isinstance(tracker, BuiltinTracker):
        return "builtin"
    return type(tracker).__name__


def result_rows(result: ReconcileResult, findings: list[Finding], tracker: str) -> list[dict[str, Any]]:
    present = {f.fingerprint for f in findings}
    outcomes = {id(o.action): o for o in result.outcomes}
    skipped = {id(a) for a in result.plan.skipped_by_cap}
    rows = []
    for action in result.plan.actions():
        outcome = outcomes.get(id(action))
        kind = f"skipped_{action.kind}" if id(action) in skipped else action.kind
        number = outcome.number if outcome is not None and outcome.number is not None else action.number
        f = action.finding
        rows.append(
            {
                "fingerprint": action.fingerprint,
                "source": f.source if f is not None else None,
                "action": kind,
                "issue_number": number,
                "title": action.title,
                "file": f.file if f is not None else None,
                "line": f.line if f is not None else None,
                "reason": action.reason,
                "present": action.fingerprint in present,
                "tracker": tracker,
                "dry_run": result.dry_run,
                "applied": bool(outcome is not None and outcome.applied),
                "error": outcome.error if outcome is not None else None,
            }
        )
    return rows


def result_metadata(result: ReconcileResult, tracker: str, notes: Mapping[str, str]) -> dict[str, Any]:
    p = result.plan
    verb = "would_" if result.dry_run else ""
    meta: dict[str, Any] = {
        "tracker": tracker,
        "dry_run": result.dry_run,
        f"{verb}create_count": len(p.create),
        f"{verb}update_count": len(p.update),
        f"{verb}close_count": len(p.close),
        f"{verb}reopen_count": len(p.reopen),
        "unchanged_count": len(p.unchanged),
        "pending_close_count": len(p.pending_close),
        "skipped_by_cap_count": len(p.skipped_by_cap),
        "duplicate_issues": len(p.duplicates),
        "errors": len(result.errors),
        f"{verb}create": dg.MetadataValue.md(actions_markdown(p.create)),
        f"{verb}update": dg.MetadataValue.md(actions_markdown(p.update)),
        f"{verb}close": dg.MetadataValue.md(actions_markdown(p.close)),
        f"{verb}reopen": dg.MetadataValue.md(actions_markdown(p.reopen)),
        "plan": dg.MetadataValue.md(plan_markdown(p)),
    }
    if notes:
        meta["sources"] = dg.MetadataValue.md("\n".join(f"- `{k}`: {v}" for k, v in notes.items()))
    if result.errors:
        meta["error_list"] = dg.MetadataValue.md(
            "\n".join(f"- {o.action.kind} `{o.action.fingerprint}`: {o.error}" for o in result.errors[:20])
        )
    return meta


@snapshot_asset(
    TRACKER_ISSUES,
    # Every asset a source can read is a declared input, so the lineage shows where findings come from.
    ins={
        "todo_list": dg.AssetIn("todo_list"),
        **{a: dg.AssetIn(a) for a, _ in SOURCE_ASSETS.values() if a not in FLEET_ASSETS},
        **{a: fleet_input(a) for a in FLEET_ASSETS},
    },
    group_name="tracker",
    kinds={"postgres", "parquet"},
    tags={TRIGGER_TAG: "sensor"},
    code_version="1",
    retry_policy=None,  # it acts on the world: a person reruns it, not a retry
)
def tracker_issues(
    context: dg.AssetExecutionContext,
    config: TrackerIssuesConfig,
    todo_list: Any,
    import_cycles: Any,
    port_conflicts: Any,
    dependency_drift: Any,
    code_findings: Any,
    tracker: TrackerResource,
    postgres: PostgresResource,
) -> Any:
    """Issues for work markers (and configured other findings): created once per fingerprint, updated
    when a finding moves, closed after it has been gone a few days, reopened when it returns. A dry
    run by default; the metadata lists what would be created, updated and closed."""
    db = postgres.database()
    inputs = {
        "import_cycles": import_cycles,
        "port_conflicts": port_conflicts,
        "dependency_drift": dependency_drift,
        "code_findings": code_findings,
    }
    today = utc_today()
    frames: dict[str, pd.DataFrame] = {}
    metas: dict[str, dict[str, Any]] = {}
    blocked = None if config.dry_run else run_switch_reason(context)
    if blocked:
        context.log.warning(f"apply requested, but {blocked}: a dry run instead")
        config = config.model_copy(update={"dry_run": True})
    for key, name, day in run_partitions(context):
        todo_rows = required_input(todo_list, key, "todo_list")
        codebase = codebase_named(name)
        sources = list(codebase.option(DOMAIN, "sources") or config.sources)
        upstream = {
            asset: involves(fleet_day(value, day), name) if asset in FLEET_ASSETS else input_for(value, key)
            for asset, value in inputs.items()
        }
        findings, notes = gather_findings(codebase, day, todo_rows, sources, upstream)
        acting = not config.dry_run and day == today
        if not config.dry_run and day != today:
            context.log.info(f"{key}: not today's partition, so recording what would be done without acting")
        try:
            trk = tracker.tracker(db.url, codebase)
            result = reconcile(
                trk,
                name,
                findings,
                load_history(db, name, day),
                today=day,
                dry_run=not acting,
                close_after_days=config.close_after_days,
                closing_enabled=config.closing_enabled,
                max_create=config.max_create,
                max_close=config.max_close,
            )
        except TrackerError as exc:
            raise dg.Failure(description=f"{key}: tracker: {exc}") from exc
        label = tracker_name(trk)
        frames[key] = TRACKER_ISSUES.frame(result_rows(result, findings, label))
        metas[key] = result_metadata(result, label, notes)
        p = result.plan
        context.log.info(
            f"{key}: {'dry run' if result.dry_run else 'applied'} on {label}: "
            f"{len(p.create)} create, {len(p.update)} update, {len(p.close)} close, {len(p.reopen)} reopen, "
            f"{len(p.skipped_by_cap)} over the caps, {len(result.errors)} errors"
        )
        for outcome in result.errors:
            context.log.warning(f"{key}: {outcome.action.kind} {outcome.action.fingerprint}: {outcome.error}")
    return output_partitions(context, frames, metas)
