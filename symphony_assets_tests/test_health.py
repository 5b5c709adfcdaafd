"""``machine_health`` on a real machine: disk, temp files in a real working tree, failed runs and the
Postgres size; the check warns past the thresholds and the warning reaches the webhook."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from symphony_assets.analysis.health import Measurement, Thresholds, judge
from symphony_assets.defs.health.assets import machine_health
from symphony_assets.defs.health.schedules import machine_health_schedule
from symphony_assets.defs.partitions import HOST, HOUR
from symphony_assets.resources.postgres import Database
from symphony_assets_tests.gitrepo import GitRepo
from symphony_assets_tests.materialize import real_resources
from symphony_assets_tests.webhook import Webhook


def test_judge_directions() -> None:
    rows = judge(
        [Measurement("disk_free_pct", "a", 5.0, "%"), Measurement("temp_files", "a", 3, "files"),
         Measurement("temp_file_bytes", "a", 10, "bytes")],
        Thresholds(disk_free_min_pct=10, temp_files_max=5),
    )  # fmt: skip
    assert [r["status"] for r in rows] == ["warn", "ok", "ok"]
    assert rows[2]["threshold"] is None  # informational


def test_machine_health_reads_warns_and_alerts(
    dagster_instance: Any, pg_url: str, symphony_env: Path, tmp_path: Path, write_config: Any,
    db: Database, monkeypatch: pytest.MonkeyPatch, webhook: Webhook,
) -> None:  # fmt: skip
    repo = GitRepo(tmp_path / "box")
    repo.write("README.md", "# box\n")
    repo.commit("init")
    old = time.time() - 5 * 86400
    for name in ("tmp_a.csv", "tmp_b.csv", "scratch/tmp_c.txt"):
        os.utime(repo.write(name, "x" * 100), (old, old))
    write_config({"name": "box", "path": str(repo.root), "machine": "healthbox"})
    received = webhook.received
    monkeypatch.setenv("SYMPHONY_WEBHOOK_URL", webhook.url)
    monkeypatch.setenv("SYMPHONY_MACHINE", "healthbox")
    # The schedule asks for the hour in progress of this machine.
    now = dt.datetime.now(dt.UTC)
    request = machine_health_schedule(
        dg.build_schedule_context(instance=dagster_instance, scheduled_execution_time=now)
    )
    key = request.partition_key
    assert key.keys_by_dimension == {HOST: "healthbox", HOUR: now.strftime("%Y-%m-%d-%H:00")}
    config = {"temp_files_max": 2, "failed_runs_max": 100000, "disk_free_min_pct": 0.0}
    result = dg.materialize(
        [machine_health], partition_key=key, instance=dagster_instance,
        resources=real_resources(pg_url, symphony_env),
        run_config={"ops": {"machine_health": {"config": config}}},
    )  # fmt: skip
    assert result.success
    rows = db.read_frame(
        "SELECT metric, subject, value, status FROM symphony.machine_health WHERE host = %s", ("healthbox",)
    )
    by = {(r["metric"], r["subject"]): r for r in rows.to_dict("records")}
    assert by[("temp_files", "box")]["value"] == 3 and by[("temp_files", "box")]["status"] == "warn"
    assert by[("temp_file_oldest_hours", "box")]["value"] >= 5 * 24 - 1
    assert by[("disk_free_pct", "box")]["status"] == "ok" and 0 < by[("disk_free_pct", "box")]["value"] <= 100
    assert any(m == "postgres_bytes" and r["value"] > 0 for (m, _), r in by.items())
    assert ("failed_runs", "dagster") in by
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert len(received) == 1 and "temp_files box = 3" in received[0]["text"]
