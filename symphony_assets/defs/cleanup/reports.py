"""Rows and metadata of ``cleanup_actions`` and ``stale_processes``: what each run did, or would do."""

from pathlib import Path
from typing import Any

import pandas as pd

from symphony_assets.defs.snapshots import md_table
from symphony_assets.resources.quarantine import (
    QUARANTINE,
    ActionResult,
    AuditRow,
    CleanupExecutor,
    RunReport,
)


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


def process_rows(
    found: list[dict[str, Any]], outcome: dict[int, tuple[str, str, str]]
) -> list[dict[str, Any]]:
    """One row per stale process: what was done to it, or what a dry run would do."""
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
    return rows


def temp_file_rows(folder: Path, report: RunReport, ages: dict[str, float]) -> list[dict[str, Any]]:
    """One row per stale file of a temp folder, from its executor's report."""
    rows: list[dict[str, Any]] = []
    for r in report.results:
        rows.append({"kind": "file", "pid": None, "target": str(folder / r.path), "pattern": str(folder),
                     "age_hours": round(ages.get(r.path, 0.0), 3), "size_bytes": r.size,
                     "action": r.action, "state": r.state if r.state != "planned" else "failed",
                     "message": r.message})  # fmt: skip
    return rows


def stale_metadata(df: pd.DataFrame, acting: bool, run_id: str) -> dict[str, Any]:
    return {
        "processes": int((df["kind"] == "process").sum()) if not df.empty else 0,
        "files": int((df["kind"] == "file").sum()) if not df.empty else 0,
        "executed": acting,
        "restore_with": f"symphony cleanup restore {run_id}",
        "findings": md_table(
            df.head(50).to_dict("records"), ["kind", "pid", "target", "age_hours", "action"]
        ),
    }
