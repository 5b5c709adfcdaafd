"""A backfill spread over two Celery workers on a real Redis broker, through dagster-celery.

Starts ``redis-server`` on 127.0.0.1 (a free port) and two ``symphony worker`` processes (each with its
own name, working directory and SYMPHONY_HOME, so each keeps its own git mirrors), launches a backfill of
3 codebases given by ``file://`` URL x 10 days in runs of at most 5 days, and checks that every step ran
on one of the workers and that the results equal an in-process run's.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from symphony_assets.resources.postgres import Database
from symphony_assets.runner import backfill_chunks, run_backfill, run_snapshots
from symphony_assets.storage.warehouse import Warehouse
from symphony_assets_tests.celery_helpers import start_workers, stop_workers, wait_ready
from symphony_assets_tests.gitrepo import GitRepo

ASSETS = ["file_inventory", "dependency_declarations"]
FIRST, LAST = dt.date(2024, 3, 1), dt.date(2024, 3, 10)
DAYS = (LAST - FIRST).days + 1


def _frames(codebases: list[str]) -> dict[tuple[str, str, str], pd.DataFrame]:
    out = {}
    for asset in ASSETS:
        for name in codebases:
            for i in range((LAST - FIRST).days + 1):
                day = str(FIRST + dt.timedelta(days=i))
                df = Warehouse().read(asset, {"codebase": name, "date": day})
                assert df is not None, f"{asset} {name} {day} missing"
                out[(asset, name, day)] = df.reset_index(drop=True)
    return out


def test_backfill_on_two_celery_workers_equals_an_in_process_run(
    dagster_instance,
    write_config,
    tmp_path: Path,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    db: Database,
) -> None:
    codebases = []
    for name, files in (
        ("alpha", ["app.py", "requirements.txt"]),
        ("beta", ["svc.py", "lib/util.py"]),
        ("gamma", ["main.py", "requirements.txt", "tools/x.py"]),
    ):
        repo = GitRepo(tmp_path / f"src-{name}")
        for offset, path in enumerate(files):
            repo.write(path, "requests==2.31.0\n" if path.endswith(".txt") else f"import os\n# {path}\n")
            repo.commit(f"add {path}", when=f"{FIRST + dt.timedelta(days=3 * offset)}T10:00:00+00:00")
        codebases.append({"name": name, "path": repo.root.as_uri()})
    write_config(*codebases)
    names = [c["name"] for c in codebases]

    # The reference: in process, one run per codebase.
    monkeypatch.setenv("SYMPHONY_WAREHOUSE", str(tmp_path / "warehouse-in-process"))
    reference = run_snapshots(dagster_instance, names, FIRST, LAST, assets=ASSETS)
    assert all(o.success for o in reference), [o.error for o in reference]
    expected = _frames(names)

    # The same backfill, every step on a Celery worker.
    monkeypatch.setenv("SYMPHONY_WAREHOUSE", str(tmp_path / "warehouse-celery"))
    monkeypatch.setenv("SYMPHONY_EXECUTOR", "celery")
    monkeypatch.setenv("SYMPHONY_BROKER_URL", redis_url)
    workers = start_workers(tmp_path, 2)
    try:
        hostnames = [w.name for w in workers]
        wait_ready(redis_url, workers)
        assert len(backfill_chunks(names, FIRST, LAST, 5)) == 6  # 3 codebases x (5 days + 5 days)
        outcomes = run_backfill(
            dagster_instance,
            names,
            FIRST,
            LAST,
            assets=ASSETS,
            days_per_run=5,
            parallel_runs=2,
            timeout_s=240,
        )
        assert all(o.success for o in outcomes), [(o.codebase, o.partitions, o.error) for o in outcomes]
        pids = {w.name: w.pid for w in workers}
    finally:
        stop_workers(workers)

    used = set()
    run_ids = {o.run_id for o in outcomes}
    for asset in ASSETS:
        records = dagster_instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset)), limit=500
        ).records
        mine = [r for r in records if r.run_id in run_ids]
        assert sorted(r.partition_key for r in mine) == sorted(
            f"{n}|{FIRST + dt.timedelta(days=i)}" for n in names for i in range(DAYS)
        ), asset
        for record in mine:
            meta = record.asset_materialization.metadata
            host, pid = meta["worker_host"].value, meta["worker_pid"].value
            assert host in pids and pid == pids[host], (asset, record.partition_key, host, pid)
            used.add(host)
    assert used == set(hostnames), f"only {used} executed steps"

    got = _frames(names)
    assert got.keys() == expected.keys()
    for key, df in expected.items():
        pd.testing.assert_frame_equal(got[key], df, check_dtype=True, obj=str(key))
    for asset in ASSETS:
        count = db.read_frame(
            f"SELECT count(*) AS n FROM symphony.{asset} WHERE codebase = ANY(%s) AND date BETWEEN %s AND %s",
            (names, FIRST, LAST),
        )["n"][0]
        assert count == sum(len(df) for (a, _, _), df in got.items() if a == asset)
