"""Kill the cleanup executor at random points, over and over, and prove no file is ever lost.

Each round forks a child process that runs a quarantine run (or a restore of an earlier run) and dies
mid-way: either ``os._exit`` at its N-th step (steps are the points between the write-ahead actions)
or SIGKILL from the parent after a random delay. After every round, every original file must be
either in place or in a quarantine folder, listed in that run's manifest, with the same bytes. At the
end, one reconcile plus a restore of every run must give back the original tree, git index included.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import time
import uuid
from pathlib import Path

import psycopg2

from symphony_assets.resources.quarantine import (
    MANIFEST,
    AuditLog,
    CleanupExecutor,
    read_manifest,
    sha256_file,
)
from symphony_assets_tests.gitrepo import GitRepo
from symphony_assets_tests.test_quarantine import candidates_for, tree_hash

KILLS = 100  # runs that must die mid-way
MAX_ROUNDS = 220
SEED = int(os.environ.get("CLEANUP_FAULT_SEED", "20261121"))


def _child(make: callable, op: str, arg: object, crash_step: int | None) -> None:  # type: ignore[valid-type]
    """Runs in the forked child; never returns (os._exit), so no pytest machinery runs twice."""
    code = 0
    try:
        calls = 0

        def hook(step: str) -> None:
            nonlocal calls
            calls += 1
            if crash_step is not None and calls >= crash_step:
                os._exit(137)

        ex = make(hook)
        if op == "quarantine":
            ex.run(arg)
        else:
            ex.restore(arg)
    except BaseException:  # the child reports any failure as an exit code; the parent asserts on it
        code = 3
    os._exit(code)


def _fork_and_maybe_kill(rng: random.Random, make, op: str, arg: object, steps: int) -> int:
    by_step = rng.random() < 0.75
    crash_step = rng.randint(1, steps) if by_step else None
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        _child(make, op, arg, crash_step)
    if not by_step:
        time.sleep(rng.uniform(0.0, 0.06))
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.005)


def _where_is(root: Path, qdir: Path, path: str, sha: str) -> str | None:
    full = root / path
    if os.path.lexists(full) and sha256_file(full) == sha:
        return "in place"
    if not qdir.exists():
        return None
    for run in qdir.iterdir():
        q = run / "files" / path
        if os.path.lexists(q) and sha256_file(q) == sha:
            if any(e.get("path") == path and e.get("sha256") == sha for e in read_manifest(run / MANIFEST)):
                return f"quarantine {run.name}"
            return f"UNLISTED in {run.name}"
    return None


def _release_all(pg_url: str, codebase: str) -> None:
    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE symphony.cleanup_holds SET released_at = now()"
            " WHERE codebase = %s AND released_at IS NULL",
            (codebase,),
        )


def test_no_file_is_lost_when_the_executor_is_killed(tmp_path: Path, pg_url: str) -> None:
    rng = random.Random(SEED)
    repo = GitRepo(tmp_path / "repo")
    for i in range(10):
        repo.write(f"old/debug_{i}.py", f"value = {i}\n" * (i + 1))
    repo.write("src/keep.py", "x = 1\n")
    repo.commit("init")
    for i in range(25):
        repo.write(f"out/d{i % 4}/tmp_{i}.txt", os.urandom(rng.randint(0, 3000)))
    root = repo.root
    qdir = tmp_path / "quarantine"
    codebase = f"faults-{uuid.uuid4().hex[:8]}"
    originals = {
        p.relative_to(root).as_posix(): sha256_file(p)
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }
    before = tree_hash(root)

    def executor(hook=None) -> CleanupExecutor:
        # The server never crashes here (only the executor does), so skip WAL flushes to save time.
        audit = AuditLog(lambda: psycopg2.connect(pg_url, options="-c synchronous_commit=off"), codebase)
        return CleanupExecutor(
            root, qdir, audit, uuid.uuid4().hex, max_deletions=6, execute=True, allow_tracked=True,
            lock_wait_s=20, fault_hook=hook,
        )  # fmt: skip

    crashed = round_no = 0
    while crashed < KILLS and round_no < MAX_ROUNDS:
        round_no += 1
        present = sorted(p for p in originals if os.path.lexists(root / p))
        runs = [p.name for p in qdir.iterdir()] if qdir.exists() else []
        if runs and (rng.random() < 0.3 or len(present) < 5):
            op, arg = "restore", rng.choice(runs)
            held = [
                e for e in read_manifest(qdir / arg / MANIFEST) if (qdir / arg / "files" / e["path"]).exists()
            ]
            steps = max(1, 3 * len(held))
        else:
            op = "quarantine"
            arg = candidates_for(root, rng.sample(present, min(len(present), rng.randint(1, 8))))
            acted = arg[:6]
            steps = 4 * len(acted) + sum(1 for c in acted if c.path.startswith("old/"))
        status = _fork_and_maybe_kill(rng, executor, op, arg, steps)
        if op == "restore":
            _release_all(pg_url, codebase)  # a person lets cleanup judge the restored files again
        crashed += int(not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0))
        assert not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 3), f"round {round_no}: executor error"
        for path, sha in originals.items():
            where = _where_is(root, qdir, path, sha)
            assert where is not None and not where.startswith("UNLISTED"), (
                f"seed {SEED} round {round_no} ({op}): {path} is {where or 'LOST'}"
            )
    assert crashed >= KILLS, f"only {crashed} of {round_no} runs were killed"

    final = executor()
    final.run([])  # reconcile everything the dead runs left
    with final.audit.session():
        assert final.audit.rows(state="planned") == []
    for run in final.quarantined_runs():
        failed = [r for r in final.restore(run) if r.state != "done"]
        assert failed == [], failed
    assert tree_hash(root) == before, f"seed {SEED}: tree differs after reconcile + restore of all runs"
    assert repo.git("status", "--porcelain", "--untracked-files=no") == ""
