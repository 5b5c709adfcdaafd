"""Regression tests for the defects found by attacking the tool (issue 9), on real repositories."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import psutil
import psycopg2
import pytest

from symphony_assets import cli
from symphony_assets.defs.partitions import snapshot_key
from symphony_assets.resources.postgres import Database
from symphony_assets.resources.quarantine import AuditLog, OutsideRoot, cleanup_run_lock, move_into_root
from symphony_assets.runner import run_snapshots
from symphony_assets_tests.gitrepo import GitRepo
from symphony_assets_tests.test_cleanup_assets import age, cleanup_definitions, run_job
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


# ------------------------------------------------------------------ cleanup through Dagster, real runs
TODAY = dt.datetime.now(dt.UTC).date()
EXECUTE = {"ops": {"cleanup_actions": {"config": {"execute": True}}}}


@pytest.fixture()
def junk_repo(git_repo: GitRepo) -> GitRepo:
    git_repo.write("README.md", "# demo\n")
    git_repo.commit("init", when="2024-01-10T10:00:00+00:00")
    for rel in ("tmp_old.csv", b"tmp_caf\xe9.log", "tmp_other.txt"):
        age(git_repo.write(rel, b"a,b\n" * 50), 30)
    return git_repo


def _candidates(dagster_instance: Any, defs: dg.Definitions, name: str) -> None:
    (outcome,) = run_snapshots(
        dagster_instance, [name], TODAY, TODAY, assets=["file_inventory", "cleanup_candidates"],
        definitions=defs,
    )  # fmt: skip
    assert outcome.success, outcome.error


def _prepared(dagster_instance: Any, junk_repo: GitRepo, write_config: Any) -> tuple[str, dg.Definitions]:
    """A codebase of its own (audit rows and holds are per codebase) with today's candidates computed."""
    name = f"demo-{uuid.uuid4().hex[:8]}"
    write_config({"name": name, "path": str(junk_repo.root)})
    defs = cleanup_definitions()
    _candidates(dagster_instance, defs, name)
    return name, defs


def _actions(db: Database, run_id: str) -> pd.DataFrame:
    return db.read_frame(
        "SELECT path, action, state, message FROM symphony.cleanup_actions WHERE date = %s AND run_id = %s",
        (TODAY, run_id),
    ).set_index("path")


def test_same_size_rewrite_with_mtime_put_back_is_not_quarantined(
    dagster_instance: Any, junk_repo: GitRepo, write_config: Any, db: Database, symphony_env: Path
) -> None:
    name, defs = _prepared(dagster_instance, junk_repo, write_config)
    target = junk_repo.root / "tmp_old.csv"
    st = target.stat()
    target.write_bytes(b"x,y\n" * 50)  # same size, new content
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime put back
    done = run_job(defs, dagster_instance, "cleanup_dry_run_job", snapshot_key(name, TODAY), EXECUTE)
    acts = _actions(db, done.run_id)
    assert acts.loc["tmp_old.csv", "action"] == "refuse", acts
    assert "changed since the candidates were computed" in acts.loc["tmp_old.csv", "message"]
    assert target.read_bytes() == b"x,y\n" * 50
    assert acts.loc["tmp_other.txt", "state"] == "done"  # the untouched one still goes


def test_a_name_that_is_not_utf8_is_cleaned_and_restored_by_its_real_bytes(
    dagster_instance: Any, junk_repo: GitRepo, write_config: Any, db: Database, symphony_env: Path
) -> None:
    name, defs = _prepared(dagster_instance, junk_repo, write_config)
    raw = os.path.join(os.fsencode(junk_repo.root), b"tmp_caf\xe9.log")
    done = run_job(defs, dagster_instance, "cleanup_dry_run_job", snapshot_key(name, TODAY), EXECUTE)
    acts = _actions(db, done.run_id)
    assert acts.loc["tmp_caf\\xe9.log", "state"] == "done", acts
    assert not os.path.lexists(raw)
    assert cli.main(["cleanup", "restore", done.run_id]) == 0
    assert os.path.isfile(raw) and Path(os.fsdecode(raw)).read_bytes() == b"a,b\n" * 50


_LAUNCH = """
import sys
import dagster as dg
from symphony_assets.orchestration import sync_codebases
from symphony_assets_tests.test_cleanup_assets import cleanup_definitions
instance = dg.DagsterInstance.ephemeral()
sync_codebases(instance)
result = cleanup_definitions().resolve_job_def("cleanup_dry_run_job").execute_in_process(
    instance=instance, partition_key=sys.argv[1], raise_on_error=False,
    run_config={"ops": {"cleanup_actions": {"config": {"execute": True}}}},
)
print(result.run_id if result.success else "FAILED")
"""


def test_two_cleanup_runs_that_bypass_the_queue_keep_each_others_rows(
    dagster_instance: Any, junk_repo: GitRepo, write_config: Any, db: Database, pg_url: str,
    symphony_env: Path,
) -> None:  # fmt: skip
    """Two execute runs launched at once outside the run queue (each its own process and instance):
    they take turns, and the day's partition ends with the rows of both."""
    name = f"demo-{uuid.uuid4().hex[:8]}"
    write_config({"name": name, "path": str(junk_repo.root)})
    _candidates(dagster_instance, cleanup_definitions(), name)
    key = snapshot_key(name, TODAY)
    with cleanup_run_lock(lambda: psycopg2.connect(pg_url), name, 5):  # both start while it is held
        procs = [
            subprocess.Popen([sys.executable, "-c", _LAUNCH, key], stdout=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        time.sleep(6)
    run_ids = [p.communicate(timeout=240)[0].strip().splitlines()[-1] for p in procs]
    assert "FAILED" not in run_ids and len(set(run_ids)) == 2
    rows = db.read_frame(
        "SELECT run_id, path, action, state FROM symphony.cleanup_actions WHERE codebase = %s AND date = %s",
        (name, TODAY),
    )
    assert set(rows["run_id"]) == set(run_ids)
    moved = rows[(rows["action"] == "quarantine") & (rows["state"] == "done")]
    assert len(moved) == 3 and moved["path"].is_unique  # each file moved once, by one of the runs
    second = rows[rows["run_id"] != moved["run_id"].iloc[0]]
    assert set(second["action"]) == {"refuse"}  # the other found them gone


def test_postgres_lost_mid_run_gives_a_summary_not_a_traceback(tmp_path: Path) -> None:
    """Kill the embedded server once the first partition is written: `symphony run` ends with a line per
    codebase saying what happened and what to do, keeps the Parquet, and prints no traceback."""
    repo = GitRepo(tmp_path / "repo")
    for n in range(600):
        repo.write(f"pkg/mod_{n}.py", f"import pkg.mod_{(n + 1) % 600}\nPORT = {5000 + n}\n" + "x = 1\n" * 40)
    repo.commit("many modules")
    home = Path(tempfile.mkdtemp(prefix="symphony-lost-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYMPHONY_", "DAGSTER_HOME"))}
    env["SYMPHONY_HOME"] = str(home)
    try:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "symphony"), "run"], cwd=repo.root, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not list((home / "warehouse").rglob("*.parquet")):
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        pid = int((home / "pg" / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGQUIT)  # PostgreSQL's immediate shutdown: every session dropped at once
        out, err = proc.communicate(timeout=300)
    finally:
        _symphony(home, "pg", "stop")
    assert proc.returncode == 1, (out, err)
    assert "PostgreSQL became unreachable during the run" in out, (out, err)
    assert "rerun the same `symphony run`" in out
    assert "Traceback" not in out + err, err[-3000:]
    assert list((home / "warehouse").rglob("*.parquet"))
    shutil.rmtree(home, ignore_errors=True)


def test_a_lost_server_is_told_apart_from_a_refused_statement(db: Any) -> None:
    """`symphony run` keeps Dagster's storage connections pooled, so a lost server can arrive as a bare
    DatabaseError: that is a lost database, while an SQL error the server answered with is not."""
    import psycopg2
    import sqlalchemy.exc

    from symphony_assets.runner import database_lost

    closed = psycopg2.DatabaseError("server closed the connection unexpectedly")
    assert database_lost(closed)
    assert database_lost(sqlalchemy.exc.DatabaseError("SELECT 1", {}, closed))
    assert database_lost(psycopg2.OperationalError("could not connect to server"))
    with pytest.raises(psycopg2.Error) as refused, db.transaction() as cur:
        cur.execute("SELEC 1")
    assert refused.value.pgcode is not None
    assert not database_lost(refused.value)
    assert not database_lost(sqlalchemy.exc.DatabaseError("SELEC 1", {}, refused.value))
    assert not database_lost(psycopg2.ProgrammingError("can't adapt type 'dict'"))  # client-side, no SQLSTATE
