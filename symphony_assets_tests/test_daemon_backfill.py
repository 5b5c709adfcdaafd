"""A backfill handed to Dagster: submitted to the instance, split and launched by a real ``dagster-daemon``.

``symphony backfill`` sends Dagster's ``launchPartitionBackfill`` mutation (through the ``dagster-graphql``
command) for 2 codebases x 3 days of ``file_inventory`` and returns; a ``dagster-daemon run`` process on
the same instance (our ``dagster.yaml``, storage in the session's Postgres) does the rest. Its
backfill loop splits the backfill by the assets' backfill policy (``SYMPHONY_DAYS_PER_RUN=2``: runs of at
most 2 days of one codebase), the run queue dequeues the runs, and the default run launcher executes each
in its own process. The test checks the split, that every partition is materialised exactly once by
those runs, and the Parquet files.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg
import psutil
import pytest
import yaml

from symphony_assets.backfills import (
    BACKFILL_TAG,
    SUBMITTED_BY_TAG,
    BackfillError,
    backfill_params,
    partition_keys,
    wait_for_backfill,
)
from symphony_assets.cli import main
from symphony_assets.core.names import RANGE_END_TAG, RANGE_START_TAG
from symphony_assets.runner import INSTANCE_YAML, PROJECT_ROOT
from symphony_assets.storage.warehouse import Warehouse
from symphony_assets_tests.gitrepo import GitRepo

ASSET = "file_inventory"
FLEET_ASSET = "port_conflicts"
FIRST, LAST = dt.date(2024, 6, 1), dt.date(2024, 6, 3)
#: The project's workspace: the code location named ``symphony_assets``, as the UI shows it.
WORKSPACE = PROJECT_ROOT / "workspace.yaml"
DAYS = [FIRST + dt.timedelta(days=i) for i in range((LAST - FIRST).days + 1)]


def _daemon(home: Path, log: Path) -> subprocess.Popen[bytes]:
    binary = Path(sys.executable).with_name("dagster-daemon")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    with log.open("wb") as out:
        # Dagster maps SIGTERM onto its SIGINT handler; a process started from a script may inherit both
        # as ignored (STACK_NOTES): reset them so the daemon stops on SIGTERM.
        return subprocess.Popen(
            ["env", "--default-signal=INT,TERM", str(binary), "run", "-w", str(WORKSPACE)],
            cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _stop_tree(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the daemon, wait for it and for every process it started (code server, runs)."""
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    _, alive = psutil.wait_procs(children, timeout=20)
    for child in alive:  # started by this daemon, still there after it stopped
        try:
            child.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(alive, timeout=10)


@pytest.mark.timeout(600)
def test_a_backfill_submitted_to_the_instance_is_split_and_run_by_the_daemon(
    symphony_env: Path,
    write_config: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    codebases = []
    for name in ("alpha", "beta"):
        repo = GitRepo(tmp_path / f"src-{name}")
        for offset, day in enumerate(DAYS):
            repo.write(f"{name}/mod{offset}.py", f"import os\nDAY = {offset}\n")
            repo.write(f"{name}/server.py", f"import socket\nsocket.socket().bind(('', {5000 + offset}))\n")
            repo.commit(f"day {offset}", when=f"{day}T10:00:00+00:00")
        codebases.append({"name": name, "path": str(repo.root)})
    write_config(*codebases)
    names = [c["name"] for c in codebases]

    home = tmp_path / "dagster_home"
    home.mkdir()
    instance_yaml = yaml.safe_load(INSTANCE_YAML.read_text())
    instance_yaml["run_queue"].update({"max_concurrent_runs": 2, "dequeue_interval_seconds": 1})
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance_yaml))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("SYMPHONY_WAREHOUSE", str(tmp_path / "warehouse"))
    monkeypatch.setenv("SYMPHONY_DAYS_PER_RUN", "2")
    monkeypatch.setenv("SYMPHONY_EXECUTOR", "in_process")  # each run is already its own process

    log = tmp_path / "daemon.log"
    started, wall_start = time.monotonic(), time.time()
    daemon = _daemon(home, log)  # it loads the code location while the backfill is being submitted
    try:
        assert main(["backfill", "--from", str(FIRST), "--to", str(LAST), "--asset", ASSET,
                     "--asset", "port_map",
                     "--codebase", "alpha", "--codebase", "beta"]) == 0  # fmt: skip
        printed = capsys.readouterr().out
        match = re.search(r"^backfill (\S+): 2 codebase\(s\) x", printed, re.MULTILINE)
        assert match, printed
        backfill_id = match[1]
        submitted = time.monotonic()
        with dg.DagsterInstance.get() as instance:
            state = wait_for_backfill(instance, backfill_id, timeout_s=330)
            # The fleet-wide days follow: the automation sensor runs each once both codebases have it.
            fleet = _wait_fleet_days(instance, wall_start, timeout_s=240)
    finally:
        _stop_tree(daemon)
        sys.stderr.write(f"--- dagster-daemon log (tail) ---\n{log.read_text(errors='replace')[-4000:]}\n")
    finished = time.monotonic()
    print(f"submitted at +{submitted - started:.1f} s; done {finished - submitted:.1f} s later")
    assert state.succeeded, (state.status, state.runs)

    with dg.DagsterInstance.get() as instance:
        # Split by the backfill policy: one codebase and at most 2 days per run.
        runs = instance.get_runs(filters=dg.RunsFilter(tags={BACKFILL_TAG: backfill_id}))
        ranges = set()
        own_runs = [r for r in runs if "|" in (r.tags.get(RANGE_START_TAG) or r.tags["dagster/partition"])]
        for run in own_runs:
            assert run.tags[SUBMITTED_BY_TAG] == "symphony backfill"
            start = run.tags.get(RANGE_START_TAG) or run.tags["dagster/partition"]
            end = run.tags.get(RANGE_END_TAG) or run.tags["dagster/partition"]
            ranges.add((start, end))
        expected_ranges = {
            (f"{n}|{a}", f"{n}|{b}") for n in names for a, b in ((DAYS[0], DAYS[1]), (DAYS[2], DAYS[2]))
        }
        assert ranges == expected_ranges and len(own_runs) == len(expected_ranges), ranges

        # Every partition materialised exactly once by the backfill's runs, each in a launched process.
        run_ids = {r.run_id for r in runs}
        records = [
            r
            for r in instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey(ASSET)), limit=1000
            ).records
            if r.run_id in run_ids
        ]
        counts = Counter(r.partition_key for r in records)
        assert counts == Counter({key: 1 for key in partition_keys(names, FIRST, LAST)}), counts
        pids = {r.asset_materialization.metadata["worker_pid"].value for r in records}
        assert os.getpid() not in pids and daemon.pid not in pids and len(pids) == len(own_runs)

        # Each fleet-wide day ran once, after both codebases' port_map of that day.
        assert Counter(r.partition_key for r in fleet) == Counter({str(d): 1 for d in DAYS}), fleet

        def materialised(asset: str) -> list[Any]:
            found = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset)), limit=1000
            )
            return [r for r in found.records if r.run_id in run_ids]

        maps = materialised("port_map")
        for record in fleet:
            before = [m.storage_id for m in maps if str(m.partition_key).endswith(f"|{record.partition_key}")]
            assert len(before) == 2 and max(before) < record.storage_id, (record.partition_key, before)

    for name in names:
        for offset, day in enumerate(DAYS):
            df = Warehouse().read(ASSET, {"codebase": name, "date": str(day)})
            assert df is not None, (name, day)
            assert f"{name}/mod{offset}.py" in set(df["path"])  # that day's commit
    for offset, day in enumerate(DAYS):  # both codebases bind that day's port: one conflict a day
        conflicts = Warehouse().read(FLEET_ASSET, {"date": str(day)})
        assert conflicts is not None and list(conflicts["port"]) == [5000 + offset], (day, conflicts)
        assert conflicts["codebases"].iloc[0] == "alpha, beta"


def _wait_fleet_days(instance: dg.DagsterInstance, since: float, timeout_s: float) -> list[Any]:
    """The fleet-wide asset's materialisations of the test's days since ``since``, once every day has one."""
    deadline = time.monotonic() + timeout_s
    while True:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(FLEET_ASSET)), limit=1000
        ).records
        found = [r for r in records if r.timestamp >= since and r.partition_key in {str(d) for d in DAYS}]
        if {r.partition_key for r in found} == {str(d) for d in DAYS} or time.monotonic() > deadline:
            return found
        time.sleep(2)


def test_backfill_parameters_and_what_the_command_refuses(
    symphony_env: Path, write_config: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params = backfill_params(["alpha", "beta"], FIRST, LAST, [ASSET], tags={"team": "data"})
    assert params["partitionNames"] == [f"{n}|{d}" for n in ("alpha", "beta") for d in DAYS]
    assert params["assetSelection"] == [{"path": [ASSET]}]
    assert {"key": SUBMITTED_BY_TAG, "value": "symphony backfill"} in params["tags"]
    assert {"key": "team", "value": "data"} in params["tags"]
    with pytest.raises(BackfillError, match="before it starts"):
        backfill_params(["alpha"], LAST, FIRST, [ASSET])
    with pytest.raises(BackfillError, match="at least one asset"):
        backfill_params(["alpha"], FIRST, LAST, [])

    write_config({"name": "alpha", "path": str(GitRepo(tmp_path / "src").root)})
    assert main(["backfill", "--from", str(LAST), "--to", str(FIRST)]) == 2
    assert "before --from" in capsys.readouterr().err
    assert main(["backfill", "--from", str(FIRST), "--to", str(LAST), "--codebase", "nope"]) == 2
    assert "unknown codebase" in capsys.readouterr().err
