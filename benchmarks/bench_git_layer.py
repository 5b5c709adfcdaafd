"""Benchmark: the git layer before and after a change, side by side, on one generated repository.

Usage::

    .venv/bin/python benchmarks/bench_git_layer.py --before REV [--files 1000] [--days 20] [--rounds 3]

Loads ``symphony_assets/resources/git.py`` as it was at ``REV`` (``git show``) next to the current one and
times, for each, what the inventory and history assets ask of git for every day of a range: the
snapshot (``commit_at`` + ``ls-tree``), every blob through ``cat-file --batch``, the one-pass log and the
90-day churn. Rounds alternate between the two so machine noise hits both alike; the best round counts.
Both must list and read the same bytes, or it exits non-zero.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from symphony_assets.config import Codebase  # noqa: E402


def _module_at(rev: str, where: Path) -> ModuleType:
    source = subprocess.run(
        ["git", "show", f"{rev}:symphony_assets/resources/git.py"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    path = where / "git_before.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("git_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["git_before"] = module
    spec.loader.exec_module(module)
    return module


def _make_repo(path: Path, files: int, days: int, first: date) -> None:
    def git(*args: str, env: dict[str, str] | None = None) -> None:
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True, env=env)

    path.mkdir()
    git("init", "-q", "-b", "main")
    rng = random.Random(7)
    names = [f"pkg{i % 40}/mod_{i}.py" for i in range(files)]
    for day in range(days):
        for name in names if day == 0 else rng.sample(names, max(1, files // 50)):
            target = path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f"# {name} day {day}\n" + "x = 1\n" * rng.randint(5, 200))
        when = f"{first + timedelta(days=day)}T12:00:00+00:00"
        env = {
            "GIT_AUTHOR_DATE": when,
            "GIT_COMMITTER_DATE": when,
            "GIT_AUTHOR_NAME": "a",
            "GIT_AUTHOR_EMAIL": "a@b",
            "GIT_COMMITTER_NAME": "a",
            "GIT_COMMITTER_EMAIL": "a@b",
            "PATH": "/usr/bin:/bin",
        }
        git("add", "-A")
        git("commit", "-q", "-m", f"day {day}", env=env)


def _one_round(module: ModuleType, codebase: Codebase, days: list[date]) -> tuple[float, int]:
    start = time.perf_counter()
    total = 0
    for day in days:
        snap = module.take_snapshot(codebase, day, today=date(2100, 1, 1))
        total += sum(len(r.content or b"") for r in snap.read())
        total += len(snap.history()) + len(snap.churn())
    return time.perf_counter() - start, total


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--before", required=True, help="the revision whose git.py is the baseline")
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--days", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from symphony_assets.resources import git as after

    with tempfile.TemporaryDirectory(prefix="bench-git-layer-") as tmp:
        first = date(2024, 1, 1)
        repo = Path(tmp) / "repo"
        _make_repo(repo, args.files, args.days, first)
        before = _module_at(args.before, Path(tmp))
        codebase = Codebase(name="bench", path=repo)
        days = [first + timedelta(days=i) for i in range(args.days)]
        best: dict[str, float] = {"before": float("inf"), "after": float("inf")}
        sizes: dict[str, int] = {}
        for _ in range(args.rounds):
            for label, module in (("before", before), ("after", after)):
                elapsed, total = _one_round(module, codebase, days)
                best[label] = min(best[label], elapsed)
                sizes[label] = total
        print(f"{args.files} files x {args.days} days, best of {args.rounds} rounds")
        for label in ("before", "after"):
            print(f"  {label:6} {best[label]:7.2f} s  ({sizes[label]} bytes and paths)")
        print(f"  after/before: {best['after'] / best['before']:.3f}")
        if sizes["before"] != sizes["after"]:
            print("  MISMATCH: the two read different data")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
