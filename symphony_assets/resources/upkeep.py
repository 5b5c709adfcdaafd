"""Git upkeep of a local codebase: repository size, and ``git maintenance run`` (or ``git gc``)."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}


@dataclass(frozen=True)
class RepoSize:
    bytes: int
    loose_objects: int
    packs: int


def _git(root: Path, *args: str, timeout: float = 3600) -> str:
    out = subprocess.run(
        ["git", *args],
        cwd=root,
        env={**os.environ, **_GIT_ENV},
        capture_output=True,
        timeout=timeout,
        check=True,
    )
    return out.stdout.decode("utf-8", "replace")


def git_dir(root: Path) -> Path:
    path = Path(_git(root, "rev-parse", "--git-dir").strip())
    return path if path.is_absolute() else (root / path)


def repo_size(root: Path) -> RepoSize:
    """Bytes of the whole git directory, plus loose objects and packs from ``git count-objects -v``."""
    total = 0
    for dirpath, _dirs, files in os.walk(git_dir(root)):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
    counts = dict(
        line.split(": ", 1) for line in _git(root, "count-objects", "-v").splitlines() if ": " in line
    )
    return RepoSize(total, int(counts.get("count", 0)), int(counts.get("packs", 0)))


@dataclass(frozen=True)
class UpkeepResult:
    command: str
    before: RepoSize
    after: RepoSize
    duration_s: float
    ok: bool
    message: str


def run_upkeep(root: Path, command: str = "maintenance", timeout: float = 3600) -> UpkeepResult:
    """``git maintenance run --task=gc --task=commit-graph`` (``command="maintenance"``) or ``git gc``."""
    args = (
        ["gc", "--quiet"] if command == "gc" else ["maintenance", "run", "--task=gc", "--task=commit-graph"]
    )
    before = repo_size(root)
    start = time.monotonic()
    try:
        _git(root, *args, timeout=timeout)
        ok, message = True, "done"
    except subprocess.CalledProcessError as exc:
        ok, message = False, (exc.stderr or b"").decode("utf-8", "replace").strip()[-500:] or str(exc)
    except subprocess.TimeoutExpired:
        ok, message = False, f"stopped after {timeout:g}s"
    return UpkeepResult(
        " ".join(["git", *args]), before, repo_size(root), time.monotonic() - start, ok, message
    )
