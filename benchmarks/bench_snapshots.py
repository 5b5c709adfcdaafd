"""Benchmark: a range run's snapshots, every day listed alone against each day built from the day before.

Usage::

    .venv/bin/python benchmarks/bench_snapshots.py [--repo PATH] [--files 2000] [--days 61] [--rounds 3]

Takes (or builds: ``_realrepo.py``) a real-shaped repository and takes the snapshot of each of its last
``--days`` days, as every per-day asset of a range run does before it starts (``take_all``). In
alternating rounds in this one process:

- day by day: :func:`symphony_assets.resources.git.take_snapshot` for each day (an ``ls-tree`` of the
  whole tree per day, what every asset ran before);
- from the day before: :func:`symphony_assets.resources.git.take_snapshots` (a day with the day before's
  commit takes its files; another takes them changed by ``git diff-tree``).

Wall time and CPU time including the git processes (``getrusage`` of this process and its children),
best round of each side. Every day's commit and files must be equal on both sides (exit 1 otherwise).
"""

from __future__ import annotations

import datetime as dt
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _realrepo import equal_or_listed, range_arguments  # noqa: E402

from symphony_assets.config import Codebase  # noqa: E402
from symphony_assets.resources.git import Snapshot, take_snapshot, take_snapshots  # noqa: E402


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    args, repo, days = range_arguments(__doc__, "bench-snapshots-")
    codebase = Codebase("bench", repo)
    today = days[-1] + dt.timedelta(days=1)  # every day a past one, read from git objects
    sides: dict[str, Callable[[], dict[dt.date, Snapshot]]] = {
        "day by day": lambda: {day: take_snapshot(codebase, day, today=today) for day in days},
        "from the day before": lambda: take_snapshots(codebase, days, today=today),
    }
    best = {name: (float("inf"), float("inf")) for name in sides}
    found: dict[str, dict[dt.date, Snapshot]] = {}
    for _ in range(args.rounds):
        for name, take in sides.items():
            wall, cpu = time.perf_counter(), _cpu()
            found[name] = take()
            took = (time.perf_counter() - wall, _cpu() - cpu)
            best[name] = (min(best[name][0], took[0]), min(best[name][1], took[1]))
    files = sum(len(s.files) for s in found["day by day"].values())
    print(f"{repo}: {len(days)} days, {files:,} file entries in all")
    rounds = f"best of {args.rounds} rounds"
    print(f"| snapshots of {len(days)} days | wall, {rounds} (s) | CPU with git's, {rounds} (s) |")
    print("|---|---:|---:|")
    for name, (wall, cpu) in best.items():
        print(f"| {name} | {wall:.2f} | {cpu:.2f} |")
    (old_wall, old_cpu), (new_wall, new_cpu) = best.values()
    print(f"{old_wall / new_wall:.2f}x less wall time, {old_cpu / new_cpu:.2f}x less CPU")
    different = [
        str(day)
        for day in days
        if (found["day by day"][day].commit, found["day by day"][day].files)
        != (found["from the day before"][day].commit, found["from the day before"][day].files)
    ]
    print(f"commits and files equal on every day: {not different}")
    return equal_or_listed(different)


if __name__ == "__main__":
    raise SystemExit(main())
