"""Machine health: judge measurements against thresholds (pure; the measuring is in resources/health.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

OK, WARN = "ok", "warn"


@dataclass(frozen=True)
class Thresholds:
    disk_free_min_pct: float = 10.0
    temp_files_max: int = 200
    temp_file_max_age_hours: float = 72.0
    stale_processes_max: int = 0
    failed_runs_max: int = 0
    postgres_max_bytes: int = 20 * 1024**3


@dataclass(frozen=True)
class Measurement:
    metric: str
    subject: str
    value: float
    unit: str
    detail: str = ""


#: metric -> (threshold attribute, True when a value above the threshold is bad).
_RULES: dict[str, tuple[str, bool]] = {
    "disk_free_pct": ("disk_free_min_pct", False),
    "temp_files": ("temp_files_max", True),
    "temp_file_oldest_hours": ("temp_file_max_age_hours", True),
    "stale_processes": ("stale_processes_max", True),
    "failed_runs": ("failed_runs_max", True),
    "postgres_bytes": ("postgres_max_bytes", True),
}


def judge(measurements: Sequence[Measurement], thresholds: Thresholds) -> list[dict[str, Any]]:
    """Rows for the asset: each measurement with its threshold and ok/warn."""
    rows = []
    for m in measurements:
        rule = _RULES.get(m.metric)
        limit = float(getattr(thresholds, rule[0])) if rule else None
        bad = rule is not None and limit is not None and (m.value > limit if rule[1] else m.value < limit)
        rows.append(
            {
                "metric": m.metric,
                "subject": m.subject,
                "value": float(m.value),
                "unit": m.unit,
                "threshold": limit,
                "status": WARN if bad else OK,
                "detail": m.detail,
            }
        )
    return rows


def temp_stats(
    files: Iterable[tuple[str, int, float]], now: float, is_temp: Callable[[str], object]
) -> tuple[int, int, float]:
    """(count, bytes, oldest age in hours) of the temp-named files among (path, size, mtime)."""
    count, size, oldest = 0, 0, 0.0
    for path, nbytes, mtime in files:
        if is_temp(path):
            count += 1
            size += nbytes
            oldest = max(oldest, (now - mtime) / 3600)
    return count, size, round(oldest, 3)
