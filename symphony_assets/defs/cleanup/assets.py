"""Cleanup assets: ``cleanup_candidates`` (rules over the inventory), ``cleanup_actions`` (the quarantine
executor, a dry run unless told otherwise) and ``stale_processes`` (long-running leftovers, stale temp files).

Acting is opt-in twice over: run config ``execute: true`` and only on today's partition; the global kill
switch (``SYMPHONY_ACTING=off`` or the stopped ``acting_enabled`` sensor) turns any run into a dry run.
Everything moved goes to ``<quarantine>/<run_id>/`` and ``symphony cleanup restore RUN_ID`` puts it back.
"""

from contextlib import ExitStack
from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.defs.cleanup.candidates import (
    AutomationMemo,
    candidates_from_frame,
    compute_candidates,
    expired_candidates,
)
from symphony_assets.defs.cleanup.reports import actions_metadata, audit_rows, report_rows
from symphony_assets.defs.cleanup.schemas import CLEANUP_ACTIONS, CLEANUP_CANDIDATES, STALE_PROCESSES
from symphony_assets.defs.cleanup.settings import (
    codebase_executor,
    fail_when_busy,
    held_after_restore,
    rules_for,
)
from symphony_assets.defs.cleanup.stale import stale_report
from symphony_assets.defs.partitions import snapshot_partitions
from symphony_assets.defs.snapshots import (
    codebase_named,
    input_for,
    output_partitions,
    run_partitions,
    snapshot_asset,
    take_all,
    utc_today,
)
from symphony_assets.lifecycle import RegistryCorrupt, remove_entries
from symphony_assets.resources.acting import run_switch_reason
from symphony_assets.resources.git import GitResource
from symphony_assets.resources.postgres import PostgresResource, connect_factory
from symphony_assets.resources.quarantine import QUARANTINE, cleanup_run_lock

TRIGGER_TAG = "symphony/trigger"  # same tag as symphony_assets.orchestration.TRIGGER_TAG


# ------------------------------------------------------------------------------------ cleanup_candidates
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
    snapshots = take_all(context, git)
    automation: AutomationMemo = {}
    for key, name, _day in run_partitions(context):
        codebase = codebase_named(name)
        snapshot = snapshots[key]
        held = held_after_restore(postgres.database().url, name) if snapshot.live else {}
        inventory = input_for(file_inventory, key)
        df, meta = compute_candidates(snapshot, inventory, rules_for(codebase), held, automation)
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
            with fail_when_busy(key):
                locks.enter_context(cleanup_run_lock(connect_factory(db_url), name, config.lock_wait_s))
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
    ex = codebase_executor(
        codebase,
        db_url,
        context.run.run_id,
        max_deletions=config.max_deletions,
        execute=config.execute,
        allow_tracked=config.allow_tracked,
    )
    with fail_when_busy(key):
        report = ex.run(cands)
    if config.execute and config.only_expired:
        moved = [r.path for r in report.results if r.action == QUARANTINE and r.state == "done"]
        remove_entries(codebase.path, [*moved, *gone])
    with ex.audit.session():
        earlier = ex.audit.day_rows(today, exclude_run=ex.run_id)
    frame = CLEANUP_ACTIONS.frame([*audit_rows(earlier), *report_rows(report)])
    meta = {**actions_metadata(report, ex), "earlier_runs_today": len({r.run_id for r in earlier})}
    context.log.info(f"{key}: {'executed' if config.execute else 'dry run'}: {meta['summary']}")
    return frame, meta


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
        frames[key], metas[key] = stale_report(
            codebase,
            context.run.run_id,
            postgres.database().url,
            acting,
            config.grace_seconds,
            config.max_deletions,
        )
    return output_partitions(context, frames, metas)
