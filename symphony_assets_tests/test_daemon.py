"""Issue 14 through the real ``dagster-daemon``: the daemon ticks the sensors and schedules of the code
location (loaded from ``workspace.yaml``, as ``symphony ui`` loads it) on a Postgres-backed instance of
this test's own, and launches their runs the way production does (run queue, run workers).

One daemon, one test, several checks that wait in parallel (the cleanup sensor ticks once a minute, the
scripts' schedule fires at minute boundaries). Each launched run loads the whole code location in a fresh
process, so the wall time follows the machine's load: 3.5 to 4 minutes on two busy shared cores (load
average 11-14), of which the daemon runs 2.2 to 2.7.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg
import psutil
import pytest

from symphony_assets import cli
from symphony_assets.analysis.automation import job_name, pool_name
from symphony_assets.defs.automation.assets import automation_health
from symphony_assets.defs.cleanup.sensors import CLEANUP_DRY_RUN_JOB
from symphony_assets.resources.acting import ACTING_SENSOR, BLOCKED_TAG
from symphony_assets.resources.postgres import Database, ensure_database, sqlalchemy_url, with_database
from symphony_assets.runner import INSTANCE_YAML, PROJECT_ROOT, run_snapshots
from symphony_assets_tests.gitrepo import GitRepo
from symphony_assets_tests.materialize import materialize_days
from symphony_assets_tests.test_acting import junk_repo
from symphony_assets_tests.test_quarantine import tree_hash
from symphony_assets_tests.webhook import Webhook

TODAY = dt.datetime.now(dt.UTC).date()
DAEMON = Path(sys.executable).parent / "dagster-daemon"
#: Carried by the daemon and everything it starts (code server, run workers, the scripts in their own
#: sessions), so the test can end exactly those processes.
MARK = "SYMPHONY_DAEMON_TEST"
CODEBASE = "symphony/codebase"
FINISHED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
T = TypeVar("T")

# Each script logs when it starts and ends, to show the pool lets one run at a time.
FLAKY = (
    '#!/bin/sh\necho "flaky start $(date +%s.%N)" >> runs.log\nsleep 1\n'
    'n=$(cat .attempts 2>/dev/null || echo 0)\nn=$((n+1))\necho "$n" > .attempts\necho "attempt $n"\n'
    'echo "flaky end $(date +%s.%N)" >> runs.log\n[ "$n" -ge 2 ]\n'
)
SLOW = (
    '#!/bin/sh\necho "slow start $(date +%s.%N)" >> runs.log\n'
    "trap 'echo \"slow end $(date +%s.%N)\" >> runs.log; exit 143' TERM\nsleep 30 &\nwait $!\n"
)
AFTER = (
    '#!/bin/sh\necho "after start $(date +%s.%N)" >> runs.log\necho "after end $(date +%s.%N)" >> runs.log\n'
)


@contextlib.contextmanager
def running_daemon(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``dagster-daemon run`` on the project's workspace.yaml; ended (with all it started) on exit."""
    log = open(log_path, "wb")  # noqa: SIM115 - closed in finally, after the process
    proc = subprocess.Popen(
        ["env", "--default-signal=INT,TERM", str(DAEMON), "run", "-w", str(PROJECT_ROOT / "workspace.yaml")],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        end_marked(env[MARK])
        log.close()


def end_marked(mark: str) -> None:
    """Kill what the daemon started in other sessions (a script's own process group), by pid."""
    left = []
    for p in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error):
            if p.environ().get(MARK) == mark:
                p.kill()
                left.append(p)
    psutil.wait_procs(left, timeout=10)


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    proc: subprocess.Popen[bytes],
    log: Path,
    timeout: float,
    tend: Callable[[], None] = lambda: None,
) -> T:
    """Poll ``probe`` each second until it returns something; ``tend`` runs on every poll too."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tend()
        found = probe()
        if found:
            return found
        if proc.poll() is not None:
            break
        time.sleep(1)
    tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
    raise AssertionError(f"{what}: not seen in {timeout:.0f}s (daemon rc {proc.poll()})\n{tail}")


def runs(instance: dg.DagsterInstance, job: str, **tags: str) -> list[dg.DagsterRun]:
    """The job's runs, oldest first."""
    found = instance.get_runs(filters=dg.RunsFilter(job_name=job, tags=tags or None))
    return sorted(found, key=lambda r: instance.get_run_record_by_id(r.run_id).create_timestamp)  # type: ignore[union-attr]


def finished(
    instance: dg.DagsterInstance, job: str, count: int = 1, **tags: str
) -> list[dg.DagsterRun] | None:
    done = [r for r in runs(instance, job, **tags) if r.status in FINISHED]
    return done if len(done) >= count else None


def instigator(instance: dg.DagsterInstance, name: str) -> Any:
    return next((s for s in instance.all_instigator_state() if s.name == name), None)


def log_spans(path: Path) -> list[tuple[str, float, float]]:
    """(script, start, end) of each script attempt from its own log lines."""
    open_: dict[str, float] = {}
    spans = []
    for line in path.read_text().splitlines():
        name, what, stamp = line.split()
        if what == "start":
            open_[name] = float(stamp)
        else:
            spans.append((name, open_.pop(name), float(stamp)))
    return sorted(spans, key=lambda s: s[1])


@pytest.fixture()
def daemon_instance(
    pg_server_url: str, symphony_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dg.DagsterInstance]:
    """A DAGSTER_HOME with the project's dagster.yaml and a Dagster database of this test's own (the
    daemon sees every run and tick in it); the test's instance reads the same configuration."""
    name = f"dagster_daemon_{uuid.uuid4().hex[:8]}"
    ensure_database(pg_server_url, name)
    monkeypatch.setenv("SYMPHONY_DAGSTER_PG_URL", sqlalchemy_url(with_database(pg_server_url, name)))
    for var in ("SYMPHONY_WEBHOOK_URL", "SYMPHONY_ACTING", "SYMPHONY_EXECUTOR"):
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(INSTANCE_YAML, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        yield instance
    finally:
        instance.dispose()


@pytest.mark.slow
@pytest.mark.timeout(480)
def test_the_daemon_acts_by_policy_stops_on_the_kill_switch_and_runs_registered_scripts(
    daemon_instance: dg.DagsterInstance,
    tmp_path: Path,
    write_config: Any,
    symphony_env: Path,
    pg_url: str,
    webhook: Webhook,
    capsys: pytest.CaptureFixture[str],
) -> None:
    instance = daemon_instance
    acting, dry = junk_repo(tmp_path / "acting"), junk_repo(tmp_path / "dry")
    ops = GitRepo(tmp_path / "ops")
    for rel, body in [("jobs/flaky.sh", FLAKY), ("jobs/slow.sh", SLOW), ("jobs/after.sh", AFTER)]:
        ops.write(rel, body).chmod(0o755)
    ops.commit("scripts")
    write_config(
        {"name": "acting", "path": str(acting.root), "cleanup": {"mode": "execute", "max_deletions": 2}},
        {"name": "dry", "path": str(dry.root)},
        {"name": "dops", "path": str(ops.root)},
    )
    # The seed's conductor config: two scripts every minute, one after the other's success; one at a time.
    seed = {
        "tasks": {
            "flaky": {"command": "jobs/flaky.sh", "schedule": "* * * * *", "timeout": 30, "retry_count": 2,
                      "retry_delay": 0},
            "slow": {"command": "jobs/slow.sh", "schedule": "* * * * *", "timeout": 2},
            "after": {"command": "jobs/after.sh", "dependencies": ["flaky"], "timeout": 30},
        },
        "settings": {"max_concurrent_tasks": 1, "notification_webhook": webhook.url},
    }  # fmt: skip
    (tmp_path / "conductor_config.json").write_text(json.dumps(seed))
    assert (
        cli.main(["automation", "import", str(tmp_path / "conductor_config.json"), "--codebase", "dops"]) == 0
    )
    capsys.readouterr()

    # Today's candidates exist before the daemon starts: the cleanup sensor's first tick finds them.
    outcomes = run_snapshots(
        instance, ["acting", "dry"], TODAY, TODAY, assets=["file_inventory", "cleanup_candidates"]
    )
    assert all(o.success for o in outcomes), [o.error for o in outcomes]
    acting_before, dry_before = tree_hash(acting.root), tree_hash(dry.root, raw_index=True)
    # Start early in a minute (waiting at most 21 s), so the daemon's first sensor ticks, which set the
    # pool limit, come before the schedule's first minute boundary.
    second = dt.datetime.now(dt.UTC).second
    if second >= 40:
        time.sleep(60.5 - second)

    log = tmp_path / "daemon.log"
    # Launched runs in process (one process per run, not two): this machine has two cores.
    env = {**os.environ, MARK: uuid.uuid4().hex, "SYMPHONY_EXECUTOR": "in_process",
           "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    with running_daemon(env, log) as proc:
        flaky_job, slow_job, after_job = (job_name("dops", t) for t in ("flaky", "slow", "after"))
        fired: set[str] = set()

        def tend() -> None:
            """One round of the every-minute schedules is enough: stop each once it has fired."""
            for job in {flaky_job, slow_job} - fired:
                if runs(instance, job):
                    sched = instigator(instance, f"{job}_schedule")
                    instance.stop_schedule(sched.instigator_origin_id, sched.selector_id, None)
                    fired.add(job)

        def wait(what: str, probe: Callable[[], T | None], timeout: float) -> T:
            return wait_for(what, probe, proc, log, timeout, tend)

        def cleanup_runs(name: str, count: int = 1) -> list[dg.DagsterRun] | None:
            return finished(instance, CLEANUP_DRY_RUN_JOB, count, **{CODEBASE: name})

        def pool_limit() -> int | None:
            limits = {p.name: p.limit for p in instance.event_log_storage.get_pool_limits()}
            return limits.get(pool_name("dops"))

        # max_concurrent_tasks: the daemon's automation_settings tick sets the codebase's pool limit.
        assert wait("pool limit", pool_limit, 60) == 1

        # The cleanup sensor's first tick: the execute-mode codebase is acted on, within max_deletions.
        act_run = wait("cleanup run of acting", lambda: cleanup_runs("acting"), 120)[0]
        assert act_run.status == dg.DagsterRunStatus.SUCCESS, log.read_text()[-3000:]
        assert act_run.tags["symphony/acting"] == "true"
        quarantine = symphony_env / "quarantine" / "acting" / act_run.run_id / "files"
        for rel in ["tmp_big.csv", "tmp_mid.csv"]:
            assert not (acting.root / rel).exists() and (quarantine / rel).exists(), rel
        assert (acting.root / "scratch.log").exists()
        # Restorable, and released for the next round.
        assert cli.main(["cleanup", "restore", act_run.run_id]) == 0
        assert tree_hash(acting.root) == acting_before
        for rel in ["tmp_big.csv", "tmp_mid.csv"]:
            assert cli.main(["cleanup", "release", "acting", rel]) == 0

        # The kill switch: stop acting_enabled (what the UI's toggle stores) and give the execute-mode
        # codebase new candidates; the sensor's next tick (a minute after its first) starts a dry run.
        state = wait("acting_enabled state", lambda: instigator(instance, ACTING_SENSOR), 30)
        instance.stop_sensor(state.instigator_origin_id, state.selector_id, None)
        outcomes = run_snapshots(
            instance, ["acting"], TODAY, TODAY, assets=["file_inventory", "cleanup_candidates"]
        )
        assert outcomes[0].success, outcomes[0].error

        # Meanwhile the dry-run codebase was only planned.
        dry_run = wait("cleanup run of dry", lambda: cleanup_runs("dry"), 90)[0]
        assert dry_run.status == dg.DagsterRunStatus.SUCCESS and dry_run.tags["symphony/acting"] == "false"
        assert tree_hash(dry.root, raw_index=True) == dry_before

        # The registered scripts, from their schedule: flaky succeeds on its retry, slow is stopped at
        # its timeout, after runs once flaky succeeded (its run status sensor).
        flaky = wait("flaky run", lambda: finished(instance, flaky_job), 120)[0]
        slow = wait("slow run", lambda: finished(instance, slow_job), 90)[0]
        assert flaky.status == dg.DagsterRunStatus.SUCCESS and slow.status == dg.DagsterRunStatus.FAILURE
        assert flaky.tags.get("dagster/schedule_name") == f"{flaky_job}_schedule"
        restarts = instance.all_logs(flaky.run_id, of_type=dg.DagsterEventType.STEP_RESTARTED)
        assert len(restarts) == 1
        logs = [e.user_message for e in instance.all_logs(flaky.run_id)]
        assert "attempt 1" in logs and "attempt 2" in logs
        # notification_webhook: the daemon's automation_failure_webhook posted slow's failure.
        posted = wait("webhook post", lambda: [r for r in webhook.received if r["run_id"] == slow.run_id], 60)
        assert posted[0]["task"] == "slow" and "timed out after 2s" in posted[0]["error"]
        after = wait("after run", lambda: finished(instance, after_job), 90)[0]
        assert after.status == dg.DagsterRunStatus.SUCCESS
        assert after.tags.get("dagster/sensor_name") == f"{after_job}_after"

        blocked = wait("the blocked cleanup run", lambda: cleanup_runs("acting", 2), 120)[1]
        assert blocked.status == dg.DagsterRunStatus.SUCCESS
        assert blocked.tags["symphony/acting"] == "false" and ACTING_SENSOR in blocked.tags[BLOCKED_TAG]
        assert tree_hash(acting.root) == acting_before

    # The pool (max_concurrent_tasks 1) let one script run at a time: each attempt's own log lines.
    spans = log_spans(ops.root / "runs.log")
    assert {s[0] for s in spans} >= {"flaky", "slow", "after"}
    for (a, _, a_end), (b, b_start, _) in zip(spans, spans[1:]):
        assert b_start >= a_end, f"{b} started before {a} ended: {spans}"

    # The failing script shows in automation_health (from the daemon's run records).
    assert materialize_days([automation_health], instance, pg_url, symphony_env, "dops", str(TODAY)).success
    health = (
        Database(pg_url)
        .read_frame(
            "SELECT task, succeeded, failed, retries, last_failure FROM symphony.automation_health"
            " WHERE codebase = %s AND date = %s",
            ("dops", TODAY),
        )
        .set_index("task")
    )
    assert health.loc["flaky", "succeeded"] >= 1 and health.loc["flaky", "retries"] >= 1
    assert health.loc["after", "succeeded"] >= 1
    assert health.loc["slow", "failed"] >= 1 and "timed out after 2s" in health.loc["slow", "last_failure"]
