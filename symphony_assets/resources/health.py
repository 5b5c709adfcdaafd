"""Measuring a machine's health: disk, temp files in the working trees, the embedded Postgres, and
the alert webhook for warnings (not only failed runs)."""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from symphony_assets.analysis.health import Measurement, temp_stats
from symphony_assets.config import Codebase
from symphony_assets.resources.postgres import Database

log = logging.getLogger(__name__)
WEBHOOK_ENV = "SYMPHONY_WEBHOOK_URL"  # the same variable as the run-failure webhook


def disk(codebase: Codebase) -> Measurement | None:
    try:
        usage = shutil.disk_usage(codebase.path)
    except OSError:
        return None
    pct = 100.0 * usage.free / usage.total if usage.total else 0.0
    return Measurement(
        "disk_free_pct", codebase.name, round(pct, 3), "%", f"{usage.free} of {usage.total} bytes free"
    )


def _walk(root: Path, skip: set[str]) -> Iterator[tuple[str, int, float]]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip and not os.path.islink(os.path.join(dirpath, d))]
        for name in filenames:
            full = os.path.join(dirpath, name)
            try:
                st = os.lstat(full)
            except OSError:
                continue
            yield os.path.relpath(full, root).replace(os.sep, "/"), st.st_size, st.st_mtime


def temp_files(codebase: Codebase, now: float, is_temp: Any) -> list[Measurement]:
    if not codebase.path.is_dir():
        return []
    count, size, oldest = temp_stats(_walk(codebase.path, set(codebase.skip_dirs)), now, is_temp)
    return [
        Measurement("temp_files", codebase.name, count, "files", f"{size} bytes"),
        Measurement("temp_file_bytes", codebase.name, size, "bytes"),
        Measurement("temp_file_oldest_hours", codebase.name, oldest, "hours"),
    ]


def postgres_size(db: Database) -> Measurement:
    with db.transaction() as cur:
        cur.execute("SELECT current_database(), pg_database_size(current_database())")
        name, size = cur.fetchone()
    return Measurement("postgres_bytes", str(name), int(size), "bytes")


def post_alert(payload: dict[str, Any]) -> bool:
    """Send to ``SYMPHONY_WEBHOOK_URL``; False when unset or refused (logged, never raised)."""
    url = os.environ.get(WEBHOOK_ENV)
    if not url:
        return False
    try:
        resp = requests.post(url, data=json.dumps(payload), headers={"Content-Type": "application/json"},
                             timeout=10)  # fmt: skip
        resp.raise_for_status()
    except requests.RequestException as exc:
        log.warning("health webhook %s did not accept the alert: %s", url, exc)
        return False
    return True
