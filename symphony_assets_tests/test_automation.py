"""The conductor on Dagster: scripts registered (CLI or a seed conductor_config.json) become jobs with
schedules, retries, timeouts and dependencies; their runs show in ``automation_health`` and failures reach
the webhook. Real git repositories, real subprocesses, the real Postgres-backed Dagster instance."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg2
import pytest
import yaml

from symphony_assets import cli
from symphony_assets.analysis.automation import cron_error, job_name, owner_error, parse_registry, pool_name
from symphony_assets.analysis.cleanup_rules import automation_targets
from symphony_assets.config import load_config
from symphony_assets.defs.automation.assets import automation_health
from symphony_assets.defs.automation.jobs import build_automation
from symphony_assets.defs.automation.sensors import automation_failure_webhook, automation_settings
from symphony_assets.orchestration import run_failure_webhook
from symphony_assets.resources.postgres import DAGSTER_DB, Database, with_database
from symphony_assets_tests.gitrepo import GitRepo
from symphony_assets_tests.materialize import materialize_days
from symphony_assets_tests.webhook import Webhook

TODAY = dt.datetime.now(dt.UTC).date()

FLAKY = (
    '#!/bin/sh\nn=$(cat .attempts 2>/dev/null || echo 0)\nn=$((n+1))\necho "$n" > .attempts\n'
    'echo "attempt $n"\n[ "$n" -ge 2 ]\n'
)


def script(repo: GitRepo, rel: str, body: str, executable: bool = True) -> None:
    path = repo.write(rel, body)
    path.chmod(0o755 if executable else 0o644)


@pytest.fixture()
def ops_repo(tmp_path: Path, write_config: Any, symphony_env: Path) -> GitRepo:
    # After symphony_env, which clears SYMPHONY_CONFIG.
    repo = GitRepo(tmp_path / "ops")
    script(repo, "jobs/flaky.sh", FLAKY)
    script(repo, "jobs/after.sh", '#!/bin/sh\npwd > after.out\necho "after ran"\n')
    script(repo, "jobs/slow.sh", "#!/bin/sh\necho starting\nsleep 60\n")
    script(repo, "jobs/broken.sh", "#!/bin/sh\necho oops >&2\nexit 3\n")
    script(repo, "jobs/plain.py", "print('hi')\n", executable=False)
    repo.commit("scripts")
    write_config({"name": "ops", "path": str(repo.root)})
    return repo


def automation(*args: str) -> int:
    return cli.main(["automation", *args, "--codebase", "ops"])


def events(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> list[Any]:
    return list(instance.all_logs(run_id, of_type=kind))


def test_registered_scripts_run_with_retries_timeout_dependencies_and_health(
    ops_repo: GitRepo,
    dagster_instance: Any,
    pg_url: str,
    symphony_env: Path,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    webhook: Webhook,
) -> None:
    sched = "*/5 * * * *"
    flaky_args = ["--schedule", sched, "--retries", "2", "--retry-delay", "0", "--timeout", "30"]
    assert automation("register", "jobs/flaky.sh", *flaky_args) == 0
    assert automation("register", "jobs/after.sh", "--after", "flaky") == 0
    assert automation("register", "jobs/slow.sh", "--schedule", "@daily", "--timeout", "1") == 0
    assert automation("register", "jobs/broken.sh", "--schedule", "0 3 * * *") == 0
    # Validation: cron syntax, a runnable script, known dependencies.
    assert automation("register", "jobs/after.sh", "--name", "x", "--schedule", "61 * * * *") == 2
    assert automation("register", "jobs/plain.py", "--schedule", "@daily") == 2  # not executable
    assert (
        automation("register", "jobs/plain.py", "--interpreter", "python3") == 0
    )  # an interpreter starts it
    assert automation("register", "jobs/missing.sh") == 2
    assert automation("register", "jobs/after.sh", "--name", "y", "--after", "nobody") == 2
    assert "jobs/missing.sh does not exist" in capsys.readouterr().err
    # Registered scripts are protected from cleanup: the cleanup rules read the same registry.
    registry = (ops_repo.root / "automation.yaml").read_bytes()
    assert {"jobs/flaky.sh", "jobs/after.sh", "jobs/broken.sh"} <= automation_targets(
        {"automation.yaml": registry}
    )

    built = build_automation(list(load_config().codebases))
    assert not built.errors
    jobs = {j.name: j for j in built.jobs}
    flaky_job = jobs[job_name("ops", "flaky")]
    assert {s.job_name: s.cron_schedule for s in built.schedules} == {
        job_name("ops", "flaky"): sched,
        job_name("ops", "slow"): "0 0 * * *",
        job_name("ops", "broken"): "0 3 * * *",
    }
    assert int(flaky_job.tags["dagster/max_runtime"]) >= 3 * 30
    # In process whatever SYMPHONY_EXECUTOR says: the script runs where the codebase is.
    assert flaky_job.executor_def is dg.in_process_executor
    assert flaky_job.tags["symphony/automation"] == "ops"

    # The schedule's tick asks for a run; that run retries the flaky script until it succeeds.
    schedule = next(s for s in built.schedules if s.job_name == flaky_job.name)
    tick = schedule.evaluate_tick(dg.build_schedule_context(instance=dagster_instance))
    (request,) = tick.run_requests or []
    flaky = flaky_job.execute_in_process(instance=dagster_instance, tags=request.tags, raise_on_error=False)
    assert flaky.success
    assert len(events(dagster_instance, flaky.run_id, dg.DagsterEventType.STEP_RESTARTED)) == 1
    logs = [e.user_message for e in dagster_instance.all_logs(flaky.run_id)]
    assert "attempt 1" in logs and "attempt 2" in logs  # the script's output is in the run's logs

    # The dependent script: its run status sensor asks for a run after the success, which runs in the
    # codebase's directory.
    (sensor,) = built.sensors
    success = next(e for e in dagster_instance.all_logs(flaky.run_id) if e.dagster_event and
                   e.dagster_event.event_type == dg.DagsterEventType.RUN_SUCCESS)  # fmt: skip
    ctx = dg.build_run_status_sensor_context(
        sensor_name=sensor.name, dagster_instance=dagster_instance,
        dagster_run=dagster_instance.get_run_by_id(flaky.run_id), dagster_event=success.dagster_event,
    )  # fmt: skip
    follow = sensor(ctx)
    assert isinstance(follow, dg.RunRequest) and flaky.run_id in (follow.run_key or "")
    after = jobs[job_name("ops", "after")].execute_in_process(instance=dagster_instance)
    assert after.success and (ops_repo.root / "after.out").read_text().strip() == str(ops_repo.root)

    # The timeout stops a script that runs too long; a failing script fails its run and reaches the webhook.
    started = time.monotonic()
    slow = jobs[job_name("ops", "slow")].execute_in_process(instance=dagster_instance, raise_on_error=False)
    assert not slow.success and time.monotonic() - started < 30
    received = webhook.received
    monkeypatch.setenv("SYMPHONY_WEBHOOK_URL", webhook.url)
    broken = jobs[job_name("ops", "broken")].execute_in_process(
        instance=dagster_instance, raise_on_error=False
    )
    assert not broken.success
    failure = next(e for e in dagster_instance.all_logs(broken.run_id)
                   if e.dagster_event and e.dagster_event.is_run_failure)  # fmt: skip
    run_failure_webhook(
        dg.build_run_status_sensor_context(
            sensor_name="run_failure_webhook", dagster_instance=dagster_instance,
            dagster_run=dagster_instance.get_run_by_id(broken.run_id),
            dagster_event=failure.dagster_event,
        ).for_run_failure()
    )  # fmt: skip
    assert [r["run_id"] for r in received] == [broken.run_id]
    assert received[0]["job"] == job_name("ops", "broken")

    result = materialize_days([automation_health], dagster_instance, pg_url, symphony_env, "ops", str(TODAY))
    assert result.success
    health = db.read_frame(
        "SELECT task, runs, succeeded, failed, retries, last_status, last_failure"
        " FROM symphony.automation_health WHERE codebase = %s AND date = %s",
        ("ops", TODAY),
    ).set_index("task")
    assert health.loc["flaky", "succeeded"] == 1 and health.loc["flaky", "retries"] == 1
    assert health.loc["after", "succeeded"] == 1
    assert (
        health.loc["broken", "failed"] == 1 and "exited with status 3" in health.loc["broken", "last_failure"]
    )
    assert "timed out after 1s" in health.loc["slow", "last_failure"]
    assert health.loc["plain", "runs"] == 0  # registered, never run


def test_seed_conductor_config_imports_to_the_same_schedules(
    ops_repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = {
        "tasks": {
            "flaky": {"command": "./jobs/flaky.sh", "schedule": "*/15 * * * *", "dependencies": [],
                      "timeout": 120, "retry_count": 3, "retry_delay": 5, "enabled": True},
            "plain": {"command": "python3 jobs/plain.py --quiet", "schedule": "30 2 * * 1-5",
                      "dependencies": ["flaky"], "timeout": 60, "retry_count": 0, "retry_delay": 60,
                      "enabled": True},
            "after": {"command": "jobs/after.sh", "schedule": None, "dependencies": ["flaky", "plain"],
                      "timeout": 30, "retry_count": 1, "retry_delay": 10, "enabled": False},
        },
        "settings": {"max_concurrent_tasks": 2, "task_history_retention_days": 30,
                     "notification_webhook": "https://hooks.example/abc"},
    }  # fmt: skip
    source = tmp_path / "conductor_config.json"
    source.write_text(json.dumps(seed))
    assert automation("import", str(source)) == 0, capsys.readouterr().out
    doc = yaml.safe_load((ops_repo.root / "automation.yaml").read_text())
    assert doc["settings"]["max_concurrent_tasks"] == 2
    built = build_automation(list(load_config().codebases))
    assert not built.errors
    assert {s.job_name: s.cron_schedule for s in built.schedules} == {
        job_name("ops", name): task["schedule"] for name, task in seed["tasks"].items() if task["schedule"]
    }
    tasks = {t.name: t for t in parse_registry(doc)[0]}
    assert tasks["plain"].command == ("python3", "jobs/plain.py", "--quiet")
    assert (tasks["flaky"].retries, tasks["flaky"].retry_delay_s, tasks["flaky"].timeout_s) == (3, 5, 120)
    assert not tasks["after"].enabled and tasks["after"].after == ("flaky", "plain")
    jobs = {j.name: j for j in built.jobs}
    op = jobs[job_name("ops", "flaky")].graph.node_defs[0]
    assert op.retry_policy is not None and op.retry_policy.max_retries == 3
    sensors = {s.name: s for s in built.sensors}
    assert set(sensors) == {f"{job_name('ops', 'plain')}_after", f"{job_name('ops', 'after')}_after"}
    sensor = sensors[f"{job_name('ops', 'after')}_after"]
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED  # a disabled task stays off
    # A loop in the dependencies is refused, and the scripts in it get no job.
    seed["tasks"]["flaky"]["dependencies"] = ["after"]
    source.write_text(json.dumps(seed))
    assert automation("import", str(source)) == 1
    assert "dependency loop" in capsys.readouterr().out


def test_cron_validation() -> None:
    assert cron_error("0 3 * * *") is None and cron_error("*/5 1-3 * jan-mar mon-fri") is None
    assert cron_error("@weekly") is None
    assert "needs 5 fields" in (cron_error("0 3 * *") or "")
    assert "out of range" in (cron_error("0 24 * * *") or "")
    assert "step" in (cron_error("*/0 * * * *") or "")
    assert "backwards" in (cron_error("0 5-3 * * *") or "")


def test_owner_check_refuses_scripts_others_can_change(
    ops_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    me = os.geteuid()
    assert owner_error("x", "x.sh", me, 0o100755, (me, 0)) is None
    assert "writable by group" in (owner_error("x", "x.sh", me, 0o100775, (me, 0)) or "")
    assert "writable by others" in (owner_error("x", "x.sh", me, 0o100757, (me, 0)) or "")
    assert "owned by uid 4242" in (owner_error("x", "x.sh", 4242, 0o100755, (me, 0)) or "")

    # A real file: writable by everyone, then owned by another user (chown needs root).
    script(ops_repo, "jobs/shared.sh", "#!/bin/sh\necho shared\n")
    shared = ops_repo.root / "jobs/shared.sh"
    shared.chmod(0o777)
    assert automation("register", "jobs/shared.sh", "--schedule", "@daily") == 2
    assert "jobs/shared.sh is writable by group and others (chmod go-w" in capsys.readouterr().err
    shared.chmod(0o755)
    if me == 0:
        os.chown(shared, 4242, 4242)
        assert automation("register", "jobs/shared.sh", "--schedule", "@daily") == 2
        assert "jobs/shared.sh is owned by uid 4242, not by uid 0" in capsys.readouterr().err
        os.chown(shared, 0, 0)
    assert automation("register", "jobs/shared.sh", "--schedule", "@daily") == 0
    # A script that becomes writable by others after registering gets no job when the location loads.
    shared.chmod(0o757)
    built = build_automation(list(load_config().codebases))
    assert job_name("ops", "shared") not in {j.name for j in built.jobs}
    assert any("writable by others" in e for e in built.errors["ops"])
    shared.chmod(0o755)
    assert job_name("ops", "shared") in {j.name for j in build_automation(list(load_config().codebases)).jobs}
    # The registry itself names what runs (and with which arguments): the same rule, or nothing runs.
    (ops_repo.root / "automation.yaml").chmod(0o666)
    built = build_automation(list(load_config().codebases))
    assert not built.jobs and not built.schedules
    assert built.errors["ops"] == [
        "registry: automation.yaml is writable by group and others (chmod go-w automation.yaml): "
        "whoever edits it runs code as us"
    ]
    assert automation("list") == 1 and "registry: automation.yaml is writable" in capsys.readouterr().out


def test_seed_settings_are_applied_on_the_instance(
    ops_repo: GitRepo,
    dagster_instance: Any,
    pg_server_url: str,
    tmp_path: Path,
    webhook: Webhook,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """max_concurrent_tasks becomes the codebase's pool limit, task_history_retention_days purges old
    runs of its scripts, notification_webhook receives their failures (each on the real instance)."""
    seed = {
        "tasks": {
            "broken": {"command": "jobs/broken.sh", "schedule": "0 3 * * *", "timeout": 30},
            "after": {"command": "jobs/after.sh", "timeout": 30},
        },
        "settings": {"max_concurrent_tasks": 1, "task_history_retention_days": 7,
                     "notification_webhook": webhook.url},
    }  # fmt: skip
    source = tmp_path / "conductor_config.json"
    source.write_text(json.dumps(seed))
    assert automation("import", str(source)) == 0, capsys.readouterr().out
    pool = pool_name("ops")
    said = capsys.readouterr().out
    assert f"max_concurrent_tasks 1: limit of the Dagster pool {pool}" in said
    assert "runs older than 7 days are deleted" in said
    built = build_automation(list(load_config().codebases))
    jobs = {j.name: j for j in built.jobs}
    assert {node.pool for j in built.jobs for node in j.graph.node_defs} == {pool}

    def tick() -> str:
        result = automation_settings(dg.build_sensor_context(instance=dagster_instance))
        return str(result.skip_message)

    assert f"{pool}: limit 1" in tick()
    limits = {p.name: p.limit for p in dagster_instance.event_log_storage.get_pool_limits()}
    assert limits[pool] == 1
    assert tick() == "automation settings already applied"

    # Failures of these scripts reach the registry's webhook, with the script's own reason.
    broken = jobs[job_name("ops", "broken")].execute_in_process(
        instance=dagster_instance, raise_on_error=False
    )
    assert not broken.success
    failure = next(e for e in dagster_instance.all_logs(broken.run_id)
                   if e.dagster_event and e.dagster_event.is_run_failure)  # fmt: skip
    context = dg.build_run_status_sensor_context(
        sensor_name="automation_failure_webhook", dagster_instance=dagster_instance,
        dagster_run=dagster_instance.get_run_by_id(broken.run_id), dagster_event=failure.dagster_event,
    ).for_run_failure()  # fmt: skip
    automation_failure_webhook(context)
    (posted,) = webhook.received
    assert posted["run_id"] == broken.run_id and posted["codebase"] == "ops" and posted["task"] == "broken"
    assert "exited with status 3" in posted["error"]
    # The same URL as SYMPHONY_WEBHOOK_URL: run_failure_webhook posts there, this sensor does not again.
    monkeypatch.setenv("SYMPHONY_WEBHOOK_URL", webhook.url)
    automation_failure_webhook(context)
    assert len(webhook.received) == 1
    monkeypatch.delenv("SYMPHONY_WEBHOOK_URL")

    # Retention: a run older than 7 days is deleted on the next tick, a recent one stays.
    after = jobs[job_name("ops", "after")].execute_in_process(instance=dagster_instance)
    assert after.success
    with psycopg2.connect(with_database(pg_server_url, DAGSTER_DB)) as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE runs SET create_timestamp = create_timestamp - interval '8 days' WHERE run_id = %s",
            (after.run_id,),
        )
    assert "ops: 1 script runs older than 7 days deleted" in tick()
    assert dagster_instance.get_run_by_id(after.run_id) is None
    assert dagster_instance.get_run_by_id(broken.run_id) is not None

    # Without a registry the pool goes away.
    (ops_repo.root / "automation.yaml").unlink()
    assert f"{pool}: removed (no registry)" in tick()
    assert pool not in {p.name for p in dagster_instance.event_log_storage.get_pool_limits()}
