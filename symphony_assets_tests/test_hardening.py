"""Regression tests for the defects found by attacking the tool (issue 9), on real repositories."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

from symphony_assets.resources.quarantine import AuditLog, OutsideRoot, move_into_root
from symphony_assets_tests.gitrepo import GitRepo
from symphony_assets_tests.test_quarantine import candidates_for, executor


def test_restore_never_writes_through_a_symlinked_folder(
    quarantine_repo: GitRepo, cleanup_audit: AuditLog, tmp_path: Path
) -> None:
    repo, audit = quarantine_repo, cleanup_audit
    """Quarantine sub2/deeper/tmp_r.log, replace sub2 by a link to a folder outside, restore: refused."""
    repo.write("sub2/deeper/tmp_r.log", "log\n")
    ex = executor(repo, audit, tmp_path, execute=True)
    assert ex.run(candidates_for(repo.root, ["sub2/deeper/tmp_r.log"])).count("quarantine", "done") == 1
    victim = Path(tempfile.mkdtemp(prefix="symphony-victim-"))
    (repo.root / "sub2" / "deeper").rmdir()
    (repo.root / "sub2").rmdir()
    os.symlink(victim, repo.root / "sub2")

    results = executor(repo, audit, tmp_path).restore(ex.run_id)

    assert [r.state for r in results] == ["failed"]
    assert "outside the root" in results[0].message
    assert list(victim.iterdir()) == []
    assert ex.quarantined_path(ex.run_id, "sub2/deeper/tmp_r.log").exists()  # nothing lost


def test_restore_does_not_follow_a_link_swapped_in_below_an_existing_folder(tmp_path: Path) -> None:
    """The walk opens each folder with O_NOFOLLOW, so a link appearing deeper down is refused too."""
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "a" / "b")
    src = tmp_path / "file.txt"
    src.write_text("x")
    try:
        move_into_root(src, str(root), "a/b/c/file.txt")
    except OutsideRoot:
        pass
    else:
        raise AssertionError("moved through a symlink")
    assert list(outside.iterdir()) == [] and src.exists()
    move_into_root(src, str(root), "a/new/file.txt")
    assert (root / "a" / "new" / "file.txt").read_text() == "x" and not src.exists()


def _symphony(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYMPHONY_POSTGRES", "SYMPHONY_DAGSTER"))}
    env["SYMPHONY_HOME"] = str(home)
    return subprocess.run(
        [str(Path(sys.executable).parent / "symphony"), *args], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


def test_pg_stop_stops_the_server_and_start_keeps_private_parents_private() -> None:
    """`symphony pg stop` really ends the postmaster; `status` names its pid, data dir and socket; as root,
    starting the server does not make a private (0700) parent of SYMPHONY_HOME world-traversable."""
    private = Path(tempfile.mkdtemp(prefix="symphony-private-"))
    private.chmod(0o700)
    home = private / "home"
    try:
        assert _symphony(home, "pg", "start").returncode == 0
        status = _symphony(home, "pg", "status")
        assert status.returncode == 0, status.stderr
        pid = int(status.stdout.split("pid ")[1].split(",")[0])
        assert f"data dir {home / 'pg'}" in status.stdout and ".s.PGSQL." in status.stdout
        assert psutil.pid_exists(pid)
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
        stop = _symphony(home, "pg", "stop")
        assert stop.returncode == 0 and stop.stdout.startswith("stopped"), stop
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        after = _symphony(home, "pg", "status")
        assert after.returncode == 3 and "not running" in after.stdout
        assert _symphony(home, "pg", "stop").stdout.strip() == "not running"
    finally:
        _symphony(home, "pg", "stop")
        shutil.rmtree(private, ignore_errors=True)
