"""``stale_processes`` for one codebase: long-running leftovers and stale temp files, and what was done."""

import time
from typing import Any

import pandas as pd

from symphony_assets.config import Codebase
from symphony_assets.defs.cleanup.reports import process_rows, stale_metadata, temp_file_rows
from symphony_assets.defs.cleanup.schemas import STALE_PROCESSES
from symphony_assets.defs.cleanup.settings import DOMAIN, fail_when_busy, temp_executor, temp_folders
from symphony_assets.resources.processes import find_stale_processes, stale_temp_files, stop_processes


def stale_report(
    codebase: Codebase, run_id: str, db_url: str, acting: bool, grace_seconds: float, max_deletions: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The codebase's stale processes and temp files; stopped and quarantined when ``acting``."""
    now = time.time()
    patterns = [str(p) for p in codebase.option(DOMAIN, "stale_process_patterns", []) or []]
    found = find_stale_processes(patterns, float(codebase.option(DOMAIN, "stale_process_hours", 24)), now)
    outcome = stop_processes(found, grace_seconds) if acting and found else {}
    rows = process_rows(found, outcome)
    file_hours = float(codebase.option(DOMAIN, "stale_file_hours", 72))
    for folder in temp_folders(codebase):
        cands = stale_temp_files(folder, file_hours, now)
        ex = temp_executor(codebase, folder, db_url, run_id, max_deletions=max_deletions, execute=acting)
        with fail_when_busy(codebase.name):
            report = ex.run(cands)
        ages = {c.path: (now - (c.mtime or now)) / 3600 for c in cands}
        rows += temp_file_rows(folder, report, ages)
    df = STALE_PROCESSES.frame(rows)
    return df, stale_metadata(df, acting, run_id)
