"""The real Dagster UI, on the real Postgres instance, in a real headless Chromium."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from symphony_assets.orchestration import sync_codebases
from symphony_assets.runner import PROJECT_ROOT, run_snapshots
from symphony_assets.storage.warehouse import Warehouse
from symphony_assets_tests.gitrepo import GitRepo

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"webserver exited early with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"webserver did not answer {url} in {timeout}s")


@contextlib.contextmanager
def webserver(tmp_path: Path, with_daemon: bool = False) -> Iterator[str]:
    """The real dagster-webserver (and, if asked, the daemon that dequeues runs) on the test's
    Postgres-backed instance, as `symphony ui` runs them; yields the base URL."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    log = open(tmp_path / "webserver.log", "wb")  # noqa: SIM115 - closed in finally, after the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "dagster_webserver", "-h", "127.0.0.1", "-p", str(port),
         "-w", str(PROJECT_ROOT / "workspace.yaml")],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    procs = [proc]
    if with_daemon:
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "dagster._daemon", "run", "-w", str(PROJECT_ROOT / "workspace.yaml")],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_http(f"{base}/server_info", proc)
        yield base
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        log.close()


def _browse(page, base: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """The global lineage (domain groups), the asset's own lineage, then its partitions."""
    page.goto(f"{base}/asset-groups", wait_until="domcontentloaded")
    for group in ("inventory", "imports", "ports", "code", "cleanup", "tracker"):
        page.get_by_text(group, exact=True).first.wait_for(timeout=90_000)
    page.goto(f"{base}/assets/file_inventory?view=lineage", wait_until="domcontentloaded")
    # Node cards render "Loading..." first: wait for the real asset names.
    page.get_by_text("cleanup_candidates", exact=True).first.wait_for(timeout=90_000)
    page.get_by_text("Loading...").first.wait_for(state="hidden", timeout=90_000)
    lineage = page.inner_text("body")
    page.goto(f"{base}/assets/file_inventory?view=partitions", wait_until="domcontentloaded")
    page.get_by_text("Materialized (1)").first.wait_for(timeout=90_000)
    return lineage, page.inner_text("body")


@pytest.fixture()
def own_instance(pg_server_url: str, symphony_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A Dagster instance in a database of its own, so what the UI counts is this test's alone."""
    import uuid

    import dagster as dg

    from symphony_assets.resources.postgres import ensure_database, sqlalchemy_url, with_database

    name = f"dagster_ui_{uuid.uuid4().hex[:8]}"
    ensure_database(pg_server_url, name)
    url = sqlalchemy_url(with_database(pg_server_url, name))
    monkeypatch.setenv("SYMPHONY_DAGSTER_PG_URL", url)
    with dg.instance_for_test(overrides={"storage": {"postgres": {"postgres_url": url}}}) as instance:
        yield instance


@pytest.mark.slow
def test_lineage_page_shows_file_inventory_with_partitions(
    own_instance, git_repo: GitRepo, write_config, tmp_path: Path, symphony_env: Path
) -> None:
    assert os.path.exists(CHROMIUM), "Debian's chromium is needed: `make browser` installs it"
    from playwright.sync_api import sync_playwright

    git_repo.write("agent.py", "import os\n")
    git_repo.commit("first", when="2024-05-01T10:00:00+00:00")
    write_config({"name": "uicb", "path": str(git_repo.root)})
    day = dt.date(2024, 5, 1)
    (outcome,) = run_snapshots(own_instance, ["uicb"], day, day, assets=["file_inventory"])
    assert outcome.success, outcome.error

    with webserver(tmp_path) as base:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=CHROMIUM_ARGS,  # Playwright gives every launch a fresh temporary profile
            )
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            try:
                lineage, body = _browse(page, base)
            finally:
                page.screenshot(path=str(tmp_path / "last.png"))
            browser.close()
        # file_inventory feeds the other domains' assets.
        assert "file_inventory" in lineage and "cleanup_candidates" in lineage
        # One materialised partition of the codebase x date grid, listed under its codebase.
        assert "Materialized (1)" in body and "uicb" in body.splitlines()
    out = os.environ.get("SYMPHONY_UI_SCREENSHOTS")
    if out:
        for name in ("last.png", "webserver.log"):
            if (tmp_path / name).exists():
                shutil.copy(tmp_path / name, Path(out) / name)


def test_a_range_launched_through_the_webserver_runs_out_of_process(
    dagster_instance, git_repo: GitRepo, write_config, tmp_path: Path, symphony_env: Path
) -> None:
    """What the UI's single-run backfill does: one run for a range of days, launched by the
    webserver into its own process (the path Celery/Kubernetes launchers take too)."""
    import dagster as dg
    from dagster_graphql import DagsterGraphQLClient

    for day, name in [(1, "a.py"), (3, "b.py")]:
        git_repo.write(name, "x = 1\n")
        git_repo.commit(name, when=f"2024-05-0{day}T10:00:00+00:00")
    write_config({"name": "remote", "path": str(git_repo.root)})
    sync_codebases(dagster_instance)  # the codebase partition, as the sync sensor would add it
    with webserver(tmp_path, with_daemon=True) as base:
        port = int(base.rsplit(":", 1)[1])
        client = DagsterGraphQLClient("127.0.0.1", port_number=port)
        run_id = client.submit_job_execution(
            "snapshot_job",
            repository_location_name="symphony_assets",
            tags={
                "dagster/asset_partition_range_start": "remote|2024-05-01",
                "dagster/asset_partition_range_end": "remote|2024-05-04",
            },
            asset_selection=["file_inventory"],
        )
        deadline = time.monotonic() + 240
        status = client.get_run_status(run_id)
        while (
            status not in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE)
            and time.monotonic() < deadline
        ):
            time.sleep(2)
            status = client.get_run_status(run_id)
    assert status == dg.DagsterRunStatus.SUCCESS, (tmp_path / "webserver.log").read_text()[-3000:]
    expected = {
        "2024-05-01": ["a.py"],
        "2024-05-02": ["a.py"],
        "2024-05-03": ["a.py", "b.py"],
        "2024-05-04": ["a.py", "b.py"],
    }
    for day, paths in expected.items():
        df = Warehouse().read("file_inventory", {"codebase": "remote", "date": day})
        assert df is not None and sorted(df["path"]) == paths, day
