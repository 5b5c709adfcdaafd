"""Benchmark: ``file_inventory`` over a range of days, each day alone against each from the day before.

Usage::

    .venv/bin/python benchmarks/bench_inventory_days.py [--repo PATH] [--files 2000] [--days 61] [--rounds 2]

Takes (or builds, with ``--days`` days of churn: ``_realrepo.py``) a real-shaped repository and, for the
last ``--days`` days, computes the inventory rows the way ``file_inventory`` does in a range run, in
alternating rounds in this one process so both sides see the same machine:

- alone: every day on its own (every blob read, every text tokenised, the whole ``git log``);
- day over day: :func:`symphony_assets.resources.inventory.inventory_day` from the previous day's carry
  (only changed files read, references updated, the commits since read from ``git log``).

Wall time is the comparison (git runs in child processes); the best round of each side counts. Every
day's rows must be equal on both sides (exit 1 otherwise).
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _realrepo import equal_or_listed, range_arguments  # noqa: E402

from symphony_assets.config import Codebase  # noqa: E402
from symphony_assets.resources.git import take_snapshot  # noqa: E402
from symphony_assets.resources.inventory import InventoryDay, inventory_day  # noqa: E402

FAR_FUTURE = dt.date(2100, 1, 1)


def run(codebase: Codebase, days: list[dt.date], chained: bool) -> tuple[float, list[InventoryDay]]:
    start = time.perf_counter()
    out: list[InventoryDay] = []
    carry = None
    for day in days:
        result = inventory_day(take_snapshot(codebase, day, today=FAR_FUTURE), carry if chained else None)
        carry = result.carry
        out.append(result)
    return time.perf_counter() - start, out


def main() -> int:
    args, repo, days = range_arguments(__doc__, "bench-inventory-days-")
    codebase = Codebase("bench", repo)
    best = {"alone": float("inf"), "day over day": float("inf")}
    results: dict[str, list[InventoryDay]] = {}
    for _ in range(args.rounds):
        for name in best:
            seconds, results[name] = run(codebase, days, chained=name == "day over day")
            best[name] = min(best[name], seconds)
    alone, chained = results["alone"], results["day over day"]
    different = [str(d) for d, a, c in zip(days, alone, chained, strict=True) if a.rows != c.rows]
    files = sum(len(a.rows) for a in alone)
    read = sum(c.files_read for c in chained)
    print(f"{repo}: {args.days} days, {files / len(days):,.0f} files a day on average")
    print(f"| {args.days} days of file_inventory rows | best wall of {args.rounds} rounds (s) | files read |")
    print("|---|---:|---:|")
    print(f"| alone | {best['alone']:.2f} | {files:,} |")
    print(f"| day over day | {best['day over day']:.2f} | {read:,} |")
    ratio = best["alone"] / best["day over day"]
    print(f"day over day is {ratio:.2f}x faster; rows equal on every day: {not different}")
    return equal_or_listed(different)


if __name__ == "__main__":
    raise SystemExit(main())
