"""Killing a Celery worker in the middle of a step loses nothing and repeats nothing.

Two ``symphony worker`` processes (solo pool, one step at a time) on a real ``redis-server``; a backfill
of 2 codebases (``file://`` URLs) x 3 days of ``file_inventory`` in runs of at most 2 days, each run in its
own process with the Celery executor. As soon as the Dagster event log shows a STEP_START written by one of
the workers (the event carries the writing process's pid), that worker gets SIGKILL: no clean shutdown, no
acknowledgement, as when a machine dies. Its task was acknowledged late, so it stays unacknowledged in
Redis; the surviving worker's sweep hands it out again once the visibility timeout has passed, and the same
step runs again there. The run never saw a failure, so Dagster's retry policy is not what saves it here.

The test checks that the killed step had started on the victim and finished on the survivor, that every
partition has exactly ONE materialisation in the backfill's runs (none from the victim), and that the
Parquet and Postgres results equal an in-process run's.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest

from symphony_assets.executors import VISIBILITY_TIMEOUT_ENV
from symphony_assets.resources.postgres import Database
from symphony_assets.runner import RunOutcome, run_backfill, run_snapshots
from symphony_assets.storage.warehouse import Warehouse
from symphony_assets_tests.celery_helpers import Worker, start_workers, stop_workers, wait_ready
from symphony_assets_tests.gitrepo import GitRepo

ASSET = "file_inventory"
FIRST, LAST = dt.date(2024, 4, 1), dt.date(2024, 4, 3)
DAYS = [FIRST + dt.timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
#: Longer than any step of this test takes (a step still running past it would be handed out twice),
#: short enough to keep the test quick: the killed step runs again about this long after the kill.
VISIBILITY_S = 30
#: Files per codebase: enough that a step takes a few seconds after its STEP_START, so the kill lands
#: mid-step.
FILES = 800


def _codebases(tmp_path: Path) -> list[dict[str, str]]:
    out = []
    for name in ("alpha", "beta"):
        repo = GitRepo(tmp_path / f"src-{name}")
        for n in range(FILES):
            repo.write(
                f"pkg{n % 20}/mod{n}.py", f"import os\nVALUE = {n}\n\n\ndef f{n}():\n    return VALUE\n"
            )
        for offset, day in enumerate(DAYS):
            for n in range(offset * 10, offset * 10 + 10):  # each day changes some files
                repo.write(f"pkg{n % 20}/mod{n}.py", f"import sys\nVALUE = {n * (offset + 2)}\n")
            repo.write(f"notes/day{offset}.txt", f"day {day}\n")
            repo.commit(f"day {offset}", when=f"{day}T10:00:00+00:00")
        out.append({"name": name, "path": repo.root.as_uri()})
    return out


def _frames(names: list[str]) -> dict[tuple[str, str], pd.DataFrame]:
    out = {}
    for name in names:
        for day in DAYS:
            df = Warehouse().read(ASSET, {"codebase": name, "date": str(day)})
            assert df is not None, f"{ASSET} {name} {day} missing"
            out[(name, str(day))] = df.reset_index(drop=True)
    return out


def _events(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> list[Any]:
    records = instance.get_records_for_run(run_id, of_type=kind, limit=1000).records
    return [r.event_log_entry.dagster_event for r in records if r.event_log_entry.dagster_event]


def _step_seconds(instance: dg.DagsterInstance, run_id: str) -> float:
    """The longest time from a STEP_START to the next STEP_SUCCESS of the same step in a run."""
    records = []
    for kind in (dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS):
        records += instance.get_records_for_run(run_id, of_type=kind, limit=1000).records
    started: dict[str, float] = {}
    longest = 0.0
    for record in sorted(records, key=lambda r: r.storage_id):
        event = record.event_log_entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            started[event.step_key] = record.event_log_entry.timestamp
        elif event.step_key in started:
            longest = max(longest, record.event_log_entry.timestamp - started.pop(event.step_key))
    return longest


def _kill_first_worker_to_start_a_step(
    instance: dg.DagsterInstance, workers: list[Worker], known_runs: set[str], backfill: Future[Any]
) -> tuple[Worker, str, str, float]:
    """Watch the event log; SIGKILL the first worker that writes the asset's STEP_START. Returns the
    victim, the run id and step key of its step, and when it was killed."""
    by_pid = {w.pid: w for w in workers}
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert not backfill.done(), (
            f"the backfill ended before any worker started a step: {backfill.result()}"
        )
        for run in instance.get_runs(limit=20):
            if run.run_id in known_runs:
                continue
            for event in _events(instance, run.run_id, dg.DagsterEventType.STEP_START):
                if event.step_key != ASSET:
                    continue  # an asset check's step: too short to be sure the kill lands before its end
                victim = by_pid.get(event.pid)
                if victim is not None:
                    os.kill(victim.pid, signal.SIGKILL)
                    killed_at = time.monotonic()
                    victim.proc.wait(timeout=10)
                    return victim, run.run_id, str(event.step_key), killed_at
        time.sleep(0.05)
    raise AssertionError("no worker started a step within 180 s")


@pytest.mark.slow
def test_killing_a_worker_mid_step_leaves_every_partition_materialised_exactly_once(
    dagster_instance: dg.DagsterInstance,
    write_config: Any,
    tmp_path: Path,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    db: Database,
) -> None:
    codebases = _codebases(tmp_path)
    write_config(*codebases)
    names = [c["name"] for c in codebases]

    monkeypatch.setenv("SYMPHONY_WAREHOUSE", str(tmp_path / "warehouse-in-process"))
    reference = run_snapshots(dagster_instance, names, FIRST, LAST, assets=[ASSET])
    assert all(o.success for o in reference), [o.error for o in reference]
    expected = _frames(names)
    known_runs = {str(o.run_id) for o in reference}

    monkeypatch.setenv("SYMPHONY_WAREHOUSE", str(tmp_path / "warehouse-celery"))
    monkeypatch.setenv("SYMPHONY_EXECUTOR", "celery")
    monkeypatch.setenv("SYMPHONY_BROKER_URL", redis_url)
    monkeypatch.setenv(VISIBILITY_TIMEOUT_ENV, str(VISIBILITY_S))
    workers = start_workers(tmp_path, 2)
    started = time.monotonic()
    try:
        wait_ready(redis_url, workers)
        watcher = dg.DagsterInstance.from_ref(dagster_instance.get_ref())
        with watcher, ThreadPoolExecutor(max_workers=1) as pool:
            backfill = pool.submit(
                run_backfill, dagster_instance, names, FIRST, LAST, assets=[ASSET], days_per_run=2,
                parallel_runs=2, timeout_s=240,
            )  # fmt: skip
            victim, killed_run, killed_step, killed_at = _kill_first_worker_to_start_a_step(
                watcher, workers, known_runs, backfill
            )
            outcomes: list[RunOutcome] = backfill.result(timeout=300)
        finished = time.monotonic()
    finally:
        stop_workers(workers)
    survivor = next(w for w in workers if w is not victim)
    assert victim.proc.returncode == -signal.SIGKILL
    assert all(o.success for o in outcomes), [(o.codebase, o.partitions, o.error) for o in outcomes]
    assert len(outcomes) == 4  # 2 codebases x (2 days + 1 day)
    assert killed_run in {o.run_id for o in outcomes}
    took = f"{killed_at - started:.1f} s in; the backfill ended {finished - killed_at:.1f} s after the kill"
    print(f"killed {victim.name} {took}")

    # The killed step started on the victim, never finished there, and ran again on the survivor.
    starts = [e.pid for e in _events(dagster_instance, killed_run, dg.DagsterEventType.STEP_START)
              if e.step_key == killed_step]  # fmt: skip
    successes = [e.pid for e in _events(dagster_instance, killed_run, dg.DagsterEventType.STEP_SUCCESS)
                 if e.step_key == killed_step]  # fmt: skip
    assert starts == [victim.pid, survivor.pid], (starts, victim.pid, survivor.pid)
    assert successes == [survivor.pid]

    # Redelivery waited for the visibility timeout (the victim acknowledged nothing), which runs from the
    # task's delivery to the victim. Delivery is not in the event log; its submission is (the executor's
    # "Submitting celery task" engine event, just before), so the second STEP_START is at least the
    # timeout after that. Not from the first STEP_START: the step starts only after the worker has
    # loaded the code, seconds after delivery on a loaded machine. An immediate requeue would restart
    # the step well inside the timeout. No Dagster retry.
    def times(event_type: dg.DagsterEventType, message: str = "") -> list[float]:
        records = dagster_instance.get_records_for_run(killed_run, of_type=event_type, limit=1000).records
        return [
            r.event_log_entry.timestamp
            for r in records
            if r.event_log_entry.dagster_event
            and r.event_log_entry.dagster_event.step_key == killed_step
            and message in (r.event_log_entry.dagster_event.message or "")
        ]

    submitted = times(dg.DagsterEventType.ENGINE_EVENT, "Submitting celery task")
    start_times = times(dg.DagsterEventType.STEP_START)
    assert len(submitted) == 1 and len(start_times) == 2, (submitted, start_times)
    assert start_times[1] - submitted[0] >= VISIBILITY_S * 0.95, (submitted, start_times)
    assert not _events(dagster_instance, killed_run, dg.DagsterEventType.STEP_UP_FOR_RETRY)

    # A step that outlived the visibility timeout would have been handed out twice: say so if one did.
    longest = max(_step_seconds(dagster_instance, str(o.run_id)) for o in outcomes)
    print(f"longest step on a worker: {longest:.1f} s (visibility timeout {VISIBILITY_S} s)")

    # Every partition materialised exactly once across the backfill's runs, none by the victim.
    run_ids = {o.run_id for o in outcomes}
    records = [
        r for r in dagster_instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(ASSET)), limit=1000
        ).records
        if r.run_id in run_ids
    ]  # fmt: skip
    counts = Counter(r.partition_key for r in records)
    assert counts == Counter({f"{n}|{day}": 1 for n in names for day in DAYS}), counts
    pids = {r.asset_materialization.metadata["worker_pid"].value for r in records}
    assert pids == {survivor.pid}, (pids, victim.pid)  # the victim finished no step before its end
    events: Counter[str | None] = Counter()
    for run_id in run_ids:
        for event in _events(dagster_instance, run_id, dg.DagsterEventType.ASSET_MATERIALIZATION):
            events[event.partition] += 1
    assert set(events.values()) == {1} and len(events) == len(names) * len(DAYS), events

    # The same results as the in-process run, in Parquet and in Postgres.
    got = _frames(names)
    for key, df in expected.items():
        pd.testing.assert_frame_equal(got[key], df, check_dtype=True, obj=str(key))
    count = db.read_frame(
        f"SELECT count(*) AS n FROM symphony.{ASSET} WHERE codebase = ANY(%s) AND date BETWEEN %s AND %s",
        (names, FIRST, LAST),
    )["n"][0]
    assert count == sum(len(df) for df in got.values())
