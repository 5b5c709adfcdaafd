"""The ``symphony`` command as a person (terminal) and a script (pipe) sees it: progress, findings
summary, ``status`` and ``logs``, on real git repositories, a real Postgres and real Dagster runs.

Each test starts ``python -m symphony_assets.cli`` in a child process: through a pseudo-terminal for
the live display, through pipes for CI. The child gets the fixtures' environment (SYMPHONY_HOME,
SYMPHONY_CONFIG, the session's Postgres) and sets up its own Dagster home, as `symphony` always does.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from symphony_assets.runner import PROJECT_ROOT
from symphony_assets.storage.warehouse import Warehouse
from symphony_assets_tests.gitrepo import GitRepo

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Marker word built at run time: this file must hold no marker of its own (test_self_hygiene).
MARK = "TO" + "DO"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    return env


def _cli_pipe(
    *args: str, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "symphony_assets.cli", *args],
        env={**_env(), **(env or {})},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _cli_tty(*args: str, timeout: float = 600) -> tuple[int, str]:
    """Run through a pseudo-terminal (what an interactive shell gives); returns (rc, all output)."""
    master, slave = pty.openpty()
    env = {**_env(), "TERM": "xterm-256color", "COLUMNS": "200", "LINES": "40"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "symphony_assets.cli", *args],
        env=env,
        cwd=PROJECT_ROOT,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    rc = proc.wait(timeout=30)
    return rc, b"".join(chunks).decode("utf-8", "replace")


def _plain(text: str) -> str:
    return ANSI.sub("", text).replace("\r", "\n")


@pytest.fixture()
def cycle_repo(tmp_path: Path, symphony_env: Path, write_config: Any) -> GitRepo:
    """app.a and app.b, no cycle until 2024-04-10, when app.b starts importing app.a back."""
    repo = GitRepo(tmp_path / "loops")
    repo.write("app/__init__.py", "")
    repo.write("app/a.py", "from app import b\n\nVALUE = 1\n")
    repo.write("app/b.py", "NAME = 'b'\n")
    repo.commit("start", when="2024-02-20T10:00:00+00:00")
    repo.write("app/b.py", "from app import a\n\nNAME = 'b'\n")
    repo.commit("b needs a", when="2024-04-10T10:00:00+00:00")
    write_config({"name": "loops", "path": str(repo.root)}, start_date="2024-01-01")
    return repo


def test_terminal_run_shows_live_progress_to_61_of_61_days_and_names_the_new_cycle(
    cycle_repo: GitRepo,
) -> None:
    first, last = "2024-03-01", "2024-04-30"  # 61 days
    rc, raw = _cli_tty(
        "run", "--from", first, "--to", last, "--asset", "import_graph", "--asset", "import_cycles"
    )
    text = _plain(raw)
    assert rc == 0, text
    assert "\x1b[" in raw, "a terminal gets the live display (cursor control), not plain lines"
    assert re.search(r"loops\s+import_(graph|cycles)\s+\d+/61 days", text), text  # a line while running
    assert re.search(r"loops\s+done\s+61/61 days\s+steps 2/2", text), text

    cycles = Warehouse().read("import_cycles", {"codebase": "loops", "date": last})
    assert cycles is not None and len(cycles) == 1
    loop = str(cycles["loop"].iloc[0])
    assert "app.a" in loop and "app.b" in loop
    summary = text[text.index("Findings for loops") :]
    assert re.search(r"import_cycles\s+1 import cycle, 0 latent", summary), summary
    assert loop in summary  # the newest day names the cycle with its loop
    # ... and the day it appeared is called out as new, with the same loop.
    assert re.search(rf"2024-04-10\s+import_cycles: NEW {re.escape(loop)}", summary), summary
    assert "2024-04-09" not in summary  # nothing new that day
    assert "/assets/import_cycles?partition=loops%7C2024-04-30" in summary
    assert "symphony.import_cycles" in summary

    # The cycle fails the import-cycle check of that day; `status` lists it.
    status = _cli_pipe("status")
    assert status.returncode == 0, status.stderr
    assert re.search(rf"import_cycles:no_import_cycles\s+loops\|{last}\s+ERROR", status.stdout), status.stdout


@pytest.fixture()
def findings_repo(tmp_path: Path, symphony_env: Path, write_config: Any) -> GitRepo:
    """Day one clean; day two brings a cycle, a port bound twice, a drifting pin, a marker, a file
    that does not parse."""
    repo = GitRepo(tmp_path / "shop")
    repo.write("app/__init__.py", "")
    repo.write("app/orders.py", "from app import users\n")
    repo.write("app/users.py", "X = 1\n")
    repo.write("app/feed.py", 'import zmq\ns = zmq.Context().socket(zmq.PUB)\ns.bind("tcp://*:5555")\n')
    repo.write("requirements.txt", "numpy==1.26.4\n")
    repo.commit("day one", when="2024-06-01T10:00:00+00:00")
    repo.write("app/users.py", "from app import orders\nX = 1\n")
    repo.write("app/api.py", 'import zmq\ns = zmq.Context().socket(zmq.REP)\ns.bind("tcp://*:5555")\n')
    repo.write("tools/requirements.txt", "numpy==2.1.0\n")
    repo.write("app/jobs.py", f"def retry():\n    # {MARK}: retry on timeout\n    pass\n")
    repo.write("app/old.py", "def legacy(:\n    pass\n")
    repo.commit("day two", when="2024-06-02T10:00:00+00:00")
    write_config({"name": "shop", "path": str(repo.root), "machine": "pc1"})
    return repo


def test_piped_run_prints_plain_progress_a_findings_summary_and_json(findings_repo: GitRepo) -> None:
    proc = _cli_pipe("run", "--from", "2024-06-01", "--to", "2024-06-02")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "\x1b[" not in proc.stdout + proc.stderr, "no terminal, no escape codes"
    progress = proc.stderr.splitlines()
    assert any(re.match(r"shop: run \S+ started: \d+ steps x 2 days", line) for line in progress), progress
    assert "shop: import_cycles done: 2/2 days" in progress
    assert any(
        re.match(r"shop: import_graph done: 2/2 days, blobs \d+ analysed / \d+ reused", x) for x in progress
    )
    assert re.search(r"shop\s+done\s+2/2 days\s+steps (\d+)/\1", proc.stderr), proc.stderr

    out = proc.stdout
    wh = Warehouse()
    cycles = wh.read("import_cycles", {"codebase": "shop", "date": "2024-06-02"})
    assert cycles is not None
    loop, cut = str(cycles["loop"].iloc[0]), str(cycles["cut"].iloc[0])
    assert "1 import cycle (1 new), 0 latent" in out
    assert f"NEW {loop}" in out
    # The port with both files binding it; the drifting package with both versions; the new marker.
    assert re.search(
        r"1 port conflict \(1 new\)\s+NEW port 5555/tcp on pc1: .*app/api\.py.*app/feed\.py", out
    )
    assert re.search(r"NEW numpy ==1\.26\.4, ==2\.1\.0 \(conflicting_pins\)", out), out
    assert f"NEW app/jobs.py:2 {MARK} retry on timeout" in out
    assert re.search(r"1 file does not parse \(1 new\)\s+NEW app/old\.py", out), out
    assert "reclaimable in" in out
    assert "http://127.0.0.1:3000/assets/todo_list?partition=shop%7C2024-06-02" in out
    assert "http://127.0.0.1:3000/assets/port_conflicts?partition=2024-06-02" in out  # fleet-wide: the day

    # Scripts: one JSON document on stdout, nothing on stderr with --quiet.
    proc = _cli_pipe("run", "--from", "2024-06-01", "--to", "2024-06-02", "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    # The codebase's own run, then the fleet-wide run, then its cross-codebase run (duplicates).
    assert [r["codebase"] for r in doc["runs"]] == ["shop", "(fleet)", "shop"]
    run = doc["runs"][0]
    assert all(r["success"] for r in doc["runs"]) and "port_conflicts" in doc["runs"][1]["rows"]
    assert run["success"] and run["progress"]["days_done"] == run["progress"]["days_total"] == 2
    assert run["run_id"] and "import_cycles" in run["rows"]
    (shop,) = doc["findings"]
    heads = {h["asset"]: h for h in shop["newest"]["headlines"]}
    assert (heads["import_cycles"]["count"], heads["import_cycles"]["new"]) == (1, 1)
    assert heads["import_cycles"]["details"] == [f"NEW {loop}  (cut: {cut})"]
    assert proc.stderr == ""

    proc = _cli_pipe("run", "--date", "2024-06-02", "--asset", "file_inventory", "--quiet")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_status_shows_a_failed_run_and_logs_prints_its_events(
    tmp_path: Path, symphony_env: Path, write_config: Any
) -> None:
    repo = GitRepo(tmp_path / "solo")
    repo.write("main.py", "print('hi')\n")
    repo.commit("init", when="2024-06-01T10:00:00+00:00")
    write_config({"name": "solo-status", "path": str(repo.root)})

    # One run that works, then one that fails: tracker_issues needs today's todo_list, never made.
    ok = _cli_pipe("run", "--date", "2024-06-01", "--asset", "file_inventory", "--quiet")
    assert ok.returncode == 0, ok.stderr
    failed = _cli_pipe("run", "--asset", "tracker_issues", "--progress", "plain")
    assert failed.returncode == 1
    match = re.search(r"solo-status \S+: FAILED \(run (\S+?)[,)]", failed.stdout)
    assert match, failed.stdout
    run_id = match.group(1)
    assert f"symphony logs {run_id}" in failed.stdout

    status = _cli_pipe("status")
    assert status.returncode == 0, status.stderr
    text = status.stdout
    assert re.search(r"Postgres: running \(external", text), text
    assert re.search(r"solo-status; last run .*:\n\s+file_inventory\s+2024-06-01", text), text
    assert re.search(
        rf"solo-status; last run FAILURE in [\d:]+ at .* \(tracker_job, run {run_id[:8]}\):", text
    )
    run_line = next(line for line in text.splitlines() if line.startswith(f"  {run_id[:8]}"))
    assert "FAILURE" in run_line and "tracker_job" in run_line and "solo-status|" in run_line
    assert re.search(r"sensor\s+codebase_sync_sensor\s+on, not ticking", text), text
    assert "daemon not running" in text
    assert re.search(r"Warehouse: .*: \d+ Parquet files, [\d.]+ (B|KB|MB)", text), text

    doc = json.loads(_cli_pipe("status", "--json").stdout)
    by_id = {r["run_id"]: r for r in doc["runs"]}
    assert by_id[run_id]["status"] == "FAILURE" and by_id[run_id]["duration_s"] is not None
    assert doc["warehouse"]["newest"]["solo-status"]["file_inventory"] == "2024-06-01"
    assert doc["postgres"]["state"] == "running"

    logs = _cli_pipe("logs", "--last-failed")
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout.startswith(f"Run {run_id} of tracker_job: FAILURE")
    assert re.search(r"tracker_issues\s+STEP_FAILURE", logs.stdout)
    assert "todo_list has no partition for this day" in logs.stdout
    assert "STEP_FAILURE" in _cli_pipe("logs", run_id[:8]).stdout  # a prefix is enough
    assert _cli_pipe("logs", "no-such-run").returncode == 2

    # Postgres gone: status still shows the warehouse, says what is missing, and exits 1.
    dead = {"SYMPHONY_POSTGRES_URL": f"postgresql://postgres@/symphony?host={tmp_path / 'no-server'}"}
    down = _cli_pipe("status", env=dead)
    assert down.returncode == 1
    assert down.stdout.startswith("Postgres: unreachable (external")
    assert re.search(r"solo-status:\n\s+file_inventory\s+2024-06-01", down.stdout), down.stdout
    assert "! Postgres is unreachable: runs and checks unknown" in down.stdout
    assert _cli_pipe("logs", "--last-failed", env=dead).returncode == 2


def test_the_summary_of_a_long_range_reads_each_partition_once_and_keeps_only_the_last_days() -> None:
    """``symphony run``'s summary compares each day of a range with the day before: it reads every
    partition (the day before again only for the newest day) and never holds more than the last days
    of each asset, not the whole range's finding frames."""
    import datetime as dt

    import pandas as pd

    from symphony_assets.summary import FINDING_ASSETS, _Reader, summarise

    reads: list[tuple[str, str]] = []
    held: list[int] = []

    class CountingWarehouse:
        def read(self, asset: str, keys: dict[str, str]) -> pd.DataFrame:
            reads.append((asset, keys["date"]))
            return pd.DataFrame()

    real_read = _Reader.read

    def watched(self: _Reader, asset: str, codebase: str, day: str) -> pd.DataFrame | None:
        found = real_read(self, asset, codebase, day)
        held.append(len(self._cache))
        return found

    first, last = dt.date(2026, 9, 1), dt.date(2026, 10, 31)
    days = (last - first).days + 1
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_Reader, "read", watched)
        summarise(["cb"], first, last, warehouse=CountingWarehouse())  # type: ignore[arg-type]
    per_asset = {a: sum(1 for r in reads if r[0] == a) for a in FINDING_ASSETS}
    # Every day of the range and the day before it, each once; the newest day's "before" twice.
    assert per_asset == {a: days + 2 for a in FINDING_ASSETS}, per_asset
    assert max(held) <= 3 * len(FINDING_ASSETS)
