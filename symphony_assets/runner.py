"""Set up the environment a run needs and run snapshot jobs in process.

Used by the ``symphony`` command and by tests, so both exercise the same path: the same Definitions,
the same Postgres-backed Dagster instance, the same IO manager.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg2
import sqlalchemy.exc
from dagster_postgres.utils import DagsterPostgresException

from symphony_assets.config import ConfigError, load_config, symphony_home
from symphony_assets.core.names import RANGE_END_TAG as ASSET_PARTITION_RANGE_END_TAG
from symphony_assets.core.names import RANGE_START_TAG as ASSET_PARTITION_RANGE_START_TAG
from symphony_assets.core.partition_keys import CODEBASE as CODEBASE_DIM
from symphony_assets.core.partition_keys import DATE as DATE_DIM
from symphony_assets.defs import interrupts
from symphony_assets.defs.partitions import HOST, HOUR, snapshot_key
from symphony_assets.orchestration import (
    CROSS_JOB,
    FLEET_JOB,
    GPU_JOB,
    SNAPSHOT_JOB,
    TRACKER_JOB,
    phase_keys,
    sync_codebases,
)
from symphony_assets.resources.mirrors import MirrorError, refresh_mirror
from symphony_assets.resources.postgres import (
    DAGSTER_URL_ENV,
    POSTGRES_URL_ENV,
    Database,
    DatabaseUnavailable,
    PostgresUrls,
    resolve_urls,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: The instance configuration, shipped inside the package (the project root's dagster.yaml links to it).
INSTANCE_YAML = Path(__file__).resolve().parent / "dagster.yaml"


def prepare_environment(start_postgres: bool = True) -> PostgresUrls:
    """SYMPHONY_HOME, DAGSTER_HOME (with our dagster.yaml), Postgres URLs and migrations."""
    home = symphony_home()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["SYMPHONY_HOME"] = str(home)
    if not os.environ.get("DAGSTER_HOME"):
        # We manage this instance: our dagster.yaml, storage in Postgres.
        dagster_home = home / "dagster"
        dagster_home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(INSTANCE_YAML, dagster_home / "dagster.yaml")
        os.environ["DAGSTER_HOME"] = str(dagster_home)
    urls = resolve_urls(start=start_postgres)
    os.environ.setdefault(DAGSTER_URL_ENV, urls.dagster)
    if not urls.embedded:
        os.environ.setdefault(POSTGRES_URL_ENV, urls.data)
    if start_postgres:
        Database(urls.data).migrate()
    return urls


#: What a lost PostgreSQL looks like from here: our own wrapper, psycopg2, SQLAlchemy (Dagster's run and
#: event storage) and dagster-postgres' retry wrapper around them.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    DatabaseUnavailable,
    psycopg2.OperationalError,
    psycopg2.InterfaceError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    DagsterPostgresException,
)

#: What a lost server looks like through a POOLED connection (``symphony run`` keeps Dagster's storage
#: connections open): psycopg2's bare ``DatabaseError`` ("server closed the connection unexpectedly"),
#: possibly wrapped by SQLAlchemy. Caught with :data:`DATABASE_ERRORS`, then told apart from a bad
#: statement by :func:`database_lost`.
POOLED_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    psycopg2.DatabaseError,
    sqlalchemy.exc.DatabaseError,
)


def database_lost(exc: BaseException) -> bool:
    """A lost server, not a statement the server refused: the connection-level errors, or psycopg2's
    bare ``DatabaseError`` with no SQLSTATE (the server never answered). SQL errors carry a SQLSTATE or
    are a subclass (``ProgrammingError``, ``IntegrityError``, ...), and are not swallowed."""
    if isinstance(exc, DATABASE_ERRORS):
        return True
    orig = getattr(exc, "orig", exc)
    return type(orig) is psycopg2.DatabaseError and getattr(orig, "pgcode", None) is None


LOST_DATABASE = (
    "PostgreSQL became unreachable during the run ({error}). Parquet partitions written before that are "
    "kept; rerun the same `symphony run` once the server is back (`symphony pg start` for the embedded one) "
    "to finish and mirror them."
)


def database_lost_message(exc: BaseException) -> str:
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return LOST_DATABASE.format(error=f"{type(exc).__name__}: {first_line}")


def load_definitions() -> dg.Definitions:
    from symphony_assets.definitions import defs

    return defs()


@dataclass
class RunOutcome:
    codebase: str
    partitions: str
    success: bool
    run_id: str | None = None
    error: str | None = None
    rows: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    database_lost: bool = False


#: The label of a fleet-wide run's outcome, where a codebase's name would be.
FLEET_LABEL = "(fleet)"


def _quiet(log_level: str) -> dict[str, Any]:
    return {"loggers": {"console": {"config": {"log_level": log_level}}}}


def _span(first: date, last: date) -> str:
    return str(first) if first == last else f"{first}...{last}"


def run_snapshots(
    instance: dg.DagsterInstance,
    codebases: Sequence[str],
    first: date,
    last: date,
    assets: Sequence[str] | None = None,
    run_config: dict[str, Any] | None = None,
    definitions: dg.Definitions | None = None,
    log_level: str = "WARNING",
    on_run: Callable[[str, str], None] | None = None,
) -> list[RunOutcome]:
    """The snapshot of ``first..last`` (a single-run backfill for a range) in three phases, as the daemon
    orders them: one in-process run per codebase of its own assets; then one run of the fleet-wide
    assets over every codebase's partitions; then, per codebase, the assets that compare it with the
    others. A phase none of ``assets`` belongs to is skipped.

    ``on_run(label, run_id)`` is called just before each run starts (``symphony run`` watches the
    run's event log with it to show progress)."""
    definitions = definitions or load_definitions()
    sync_codebases(instance)
    interrupts.reset()
    run = _InProcess(instance, definitions, log_level, run_config, on_run, assets)
    outcomes: list[RunOutcome] = []
    own = run.selection("codebase")
    for name in codebases if own != [] else []:
        if outcomes and outcomes[-1].database_lost:
            outcomes.append(RunOutcome(name, _span(first, last), False, error="not run: PostgreSQL is down"))
            continue
        if interrupts.interrupted():
            break
        outcomes.append(run.codebase(SNAPSHOT_JOB, name, first, last))
    if interrupts.interrupted():
        return outcomes
    return outcomes + run.comparisons(codebases, first, last, outcomes)


@dataclass
class _InProcess:
    """One in-process run of a snapshot phase's job."""

    instance: dg.DagsterInstance
    definitions: dg.Definitions
    log_level: str
    run_config: dict[str, Any] | None
    on_run: Callable[[str, str], None] | None
    assets: Sequence[str] | None = None

    def selection(self, phase: str) -> list[dg.AssetKey] | None:
        """The phase's assets among those asked for; None: all of them (the job's own selection)."""
        if not self.assets:
            return None
        keys = phase_keys(self.definitions.resolve_all_asset_specs(), phase)
        return [k for k in keys if k.to_user_string() in set(self.assets)]

    def comparisons(
        self, codebases: Sequence[str], first: date, last: date, before: Sequence[RunOutcome]
    ) -> list[RunOutcome]:
        """The fleet-wide run, then each codebase's cross-codebase run, once every codebase's own
        assets ran (``before``); none when PostgreSQL was lost, no cross run for a failed codebase."""
        if any(o.database_lost for o in before):
            return []
        outcomes = []
        if self.selection("fleet") != []:
            outcomes.append(self.fleet(first, last))
        failed = {o.codebase for o in before if not o.success}
        for name in codebases if self.selection("cross") != [] else []:
            if interrupts.interrupted():
                break
            if name not in failed and not any(o.database_lost for o in outcomes):
                outcomes.append(self.codebase(CROSS_JOB, name, first, last))
        return outcomes

    def codebase(self, job_name: str, name: str, first: date, last: date) -> RunOutcome:
        phase = "cross" if job_name == CROSS_JOB else "codebase"
        span = _span(first, last)
        tags: dict[str, str] = {"symphony/codebase": name}
        run_id = str(uuid.uuid4())
        # A codebase's own run fetches its mirror; its cross-codebase run, after every codebase's own,
        # reads the same fetch.
        unreachable = _fetch_mirror(name, run_id) if phase == "codebase" else None
        if unreachable is not None:
            return RunOutcome(name, span, False, error=unreachable)
        return self._execute(job_name, name, span, snapshot_key(name, first), snapshot_key(name, last),
                             tags, self.selection(phase), run_id)  # fmt: skip

    def fleet(self, first: date, last: date) -> RunOutcome:
        return self._execute(FLEET_JOB, FLEET_LABEL, _span(first, last), str(first), str(last), {},
                             self.selection("fleet"), str(uuid.uuid4()))  # fmt: skip

    def _execute(
        self,
        job_name: str,
        label: str,
        span: str,
        start_key: str,
        end_key: str,
        tags: dict[str, str],
        selection: list[dg.AssetKey] | None,
        run_id: str,
    ) -> RunOutcome:
        kwargs: dict[str, Any] = {"run_id": run_id}
        if start_key == end_key:
            kwargs["partition_key"] = start_key
        else:
            tags = {
                **tags,
                ASSET_PARTITION_RANGE_START_TAG: str(start_key),
                ASSET_PARTITION_RANGE_END_TAG: str(end_key),
            }
        if self.on_run is not None:
            self.on_run(label, run_id)
        job = self.definitions.resolve_job_def(job_name)
        try:
            result = job.execute_in_process(
                instance=self.instance,
                asset_selection=selection,
                tags=tags,
                run_config={**_quiet(self.log_level), **(self.run_config or {})},
                raise_on_error=False,
                **kwargs,
            )
        except (*DATABASE_ERRORS, *POOLED_CONNECTION_ERRORS) as exc:
            # Dagster's own run and event storage lives in Postgres: when the server dies the run cannot
            # even record its failure, so the error surfaces here instead of as a failed step.
            if not database_lost(exc):
                raise
            return RunOutcome(
                label, span, False, run_id, error=database_lost_message(exc), database_lost=True
            )
        outcome = RunOutcome(label, span, result.success, result.run_id)
        _collect(outcome, result)
        return outcome


def backfill_chunks(
    codebases: Sequence[str], first: date, last: date, days: int
) -> list[tuple[str, date, date]]:
    """(codebase, first day, last day) of each run of a backfill: one codebase per run, at most ``days``
    days each (the snapshot assets' backfill policy), so each run keeps its blob reuse across its days."""
    chunks = []
    for name in codebases:
        start = first
        while start <= last:
            end = min(last, start + timedelta(days=days - 1))
            chunks.append((name, start, end))
            start = end + timedelta(days=1)
    return chunks


def run_backfill(
    instance: dg.DagsterInstance,
    codebases: Sequence[str],
    first: date,
    last: date,
    assets: Sequence[str] | None = None,
    days_per_run: int | None = None,
    parallel_runs: int = 1,
    log_level: str = "WARNING",
    timeout_s: float | None = None,
    run_processes: bool | None = None,
) -> list[RunOutcome]:
    """A backfill as the run queue would launch it: one run per chunk (:func:`backfill_chunks`), each
    executed by the code location's executor (``SYMPHONY_EXECUTOR``: multiprocess, or Celery workers).

    One run at a time executes in this process; with ``parallel_runs`` > 1 (or ``run_processes``) each
    run gets its own process, as the daemon's run launcher does (dagster-celery's result polling is not
    safe across threads of one process). Past ``timeout_s`` the runs still going are killed and
    :class:`TimeoutError` names them.
    """
    chunks = backfill_chunks(codebases, first, last, days_per_run or _policy_days())
    sync_codebases(instance)
    # What compares the codebases runs once every codebase's own runs are done, here in process.
    run = _InProcess(instance, load_definitions(), log_level, None, None, assets)
    own_assets = run.selection("codebase")
    own = []
    if own_assets != []:
        names = [k.to_user_string() for k in own_assets] if own_assets is not None else None
        own = _backfill_own(instance, chunks, names, log_level, timeout_s, parallel_runs, run_processes)
    return own + run.comparisons(codebases, first, last, own)


def _backfill_own(
    instance: dg.DagsterInstance,
    chunks: list[tuple[str, date, date]],
    assets: Sequence[str] | None,
    log_level: str,
    timeout_s: float | None,
    parallel_runs: int,
    run_processes: bool | None,
) -> list[RunOutcome]:
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    if not (parallel_runs > 1 if run_processes is None else run_processes):
        return [_run_chunk(instance, chunk, assets, log_level) for chunk in chunks]
    ref = dg.serialize_value(instance.get_ref())
    pending = list(enumerate(chunks))
    running: dict[int, subprocess.Popen[bytes]] = {}
    results: dict[int, RunOutcome] = {}
    try:
        while pending or running:
            while pending and len(running) < max(1, parallel_runs):
                index, (name, start, end) = pending.pop(0)
                spec = json.dumps({"instance": ref, "codebase": name, "first": str(start), "last": str(end),
                                   "assets": list(assets or []), "log_level": log_level})  # fmt: skip
                running[index] = subprocess.Popen(
                    [sys.executable, "-m", "symphony_assets.runner", spec], stdout=subprocess.PIPE
                )
            for index, proc in list(running.items()):
                if proc.poll() is None:
                    continue
                del running[index]
                results[index] = _chunk_result(chunks[index], proc)
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(
                    f"backfill runs not finished after {timeout_s} s: {[chunks[i] for i in running]}"
                )
            time.sleep(0.2)
    finally:
        for proc in running.values():
            proc.kill()
            proc.wait(timeout=30)
    return [results[i] for i in range(len(chunks))]


def _policy_days() -> int:
    from symphony_assets.defs.snapshots import days_per_run

    return days_per_run()


def _chunk_result(chunk: tuple[str, date, date], proc: subprocess.Popen[bytes]) -> RunOutcome:
    name, start, end = chunk
    out = proc.stdout.read() if proc.stdout is not None else b""
    if proc.stdout is not None:
        proc.stdout.close()
    lines = out.decode("utf-8", "replace").strip().splitlines()
    try:
        data = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        return RunOutcome(name, _span(start, end), False, error=f"run process exited {proc.returncode}")
    return RunOutcome(name, _span(start, end), bool(data["success"]), data.get("run_id"), data.get("error"))


def snapshot_job_definition() -> dg.JobDefinition:
    """The snapshot job, as ``dg.reconstructable`` rebuilds it in each step process."""
    return load_definitions().resolve_job_def(SNAPSHOT_JOB)


def _run_chunk(
    instance: dg.DagsterInstance,
    chunk: tuple[str, date, date],
    assets: Sequence[str] | None,
    log_level: str,
) -> RunOutcome:
    """One run of a backfill, executed here with the code location's executor."""
    name, start, end = chunk
    span = _span(start, end)
    tags: dict[str, str] = {"symphony/codebase": name}
    if start == end:
        tags["dagster/partition"] = str(snapshot_key(name, start))
        for dim, value in ((CODEBASE_DIM, name), (DATE_DIM, str(start))):
            tags[f"dagster/partition/{dim}"] = value
    else:
        tags[ASSET_PARTITION_RANGE_START_TAG] = str(snapshot_key(name, start))
        tags[ASSET_PARTITION_RANGE_END_TAG] = str(snapshot_key(name, end))
    unreachable = _fetch_mirror(name, str(uuid.uuid4()))
    if unreachable is not None:
        return RunOutcome(name, span, False, error=unreachable)
    with dg.execute_job(
        dg.reconstructable(snapshot_job_definition),
        instance=instance,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        tags=tags,
        asset_selection=[dg.AssetKey(a) for a in assets] if assets else None,
    ) as result:
        outcome = RunOutcome(name, span, result.success, result.run_id)
        if not result.success:
            outcome.error = "the run failed (see `symphony logs` or the Dagster UI)"
    return outcome


def _run_chunk_main(spec_json: str) -> int:
    """``python -m symphony_assets.runner SPEC``: one backfill run in its own process; prints its outcome
    as one JSON line."""
    spec = json.loads(spec_json)
    ref: Any = dg.deserialize_value(spec["instance"])  # an InstanceRef, serialised by run_backfill
    chunk = (spec["codebase"], date.fromisoformat(spec["first"]), date.fromisoformat(spec["last"]))
    with dg.DagsterInstance.from_ref(ref) as instance:
        outcome = _run_chunk(instance, chunk, spec["assets"] or None, spec["log_level"])
    sys.stdout.write(json.dumps({"success": outcome.success, "run_id": outcome.run_id,
                                 "error": outcome.error}) + "\n")  # fmt: skip
    return 0 if outcome.success else 1


def _fetch_mirror(name: str, run_id: str) -> str | None:
    """Fetch the mirror of a codebase given by URL before its run (the run's steps then reuse the fetch);
    the error, naming the codebase, when it cannot be reached. Local codebases need nothing."""
    try:
        codebase = load_config().codebase(name)
    except ConfigError:
        return None  # the run itself reports a codebase it cannot find, with the file and line
    if codebase.url is None:
        return None
    try:
        refresh_mirror(codebase, run_id)
    except MirrorError as exc:
        return str(exc)
    return None


def run_partitions_of_job(
    instance: dg.DagsterInstance,
    job_name: str,
    partitions: Sequence[tuple[str, dg.MultiPartitionKey]],
    definitions: dg.Definitions | None = None,
    log_level: str = "WARNING",
) -> list[RunOutcome]:
    """One in-process run of ``job_name`` per (label, partition key), each with the job's default config."""
    definitions = definitions or load_definitions()
    job = definitions.resolve_job_def(job_name)
    outcomes = []
    for label, key in partitions:
        result = job.execute_in_process(
            instance=instance,
            partition_key=key,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
            tags={"symphony/label": label},
            raise_on_error=False,
        )
        outcome = RunOutcome(label, str(key), result.success, result.run_id)
        _collect(outcome, result)
        outcomes.append(outcome)
    return outcomes


def run_gpu_hour(
    instance: dg.DagsterInstance, hosts: Sequence[str], hour: datetime, **kwargs: Any
) -> list[RunOutcome]:
    """The ``gpu_utilisation`` partition of one hour for each host (empty, with a reason, without a GPU)."""
    sync_codebases(instance)
    known = set(instance.get_dynamic_partitions(HOST))
    instance.add_dynamic_partitions(HOST, [h for h in hosts if h not in known])
    keys = [(h, dg.MultiPartitionKey({HOST: h, HOUR: hour.strftime("%Y-%m-%d-%H:00")})) for h in hosts]
    return run_partitions_of_job(instance, GPU_JOB, keys, **kwargs)


def run_dry_reconcile(
    instance: dg.DagsterInstance, codebases: Sequence[str], day: date, **kwargs: Any
) -> list[RunOutcome]:
    """``tracker_issues`` for the day: a dry run, so its metadata lists what would be created."""
    keys = [(name, snapshot_key(name, day)) for name in codebases]
    return run_partitions_of_job(instance, TRACKER_JOB, keys, **kwargs)


def _collect(outcome: RunOutcome, result: dg.ExecuteInProcessResult) -> None:
    if any(_interrupted_step(event) for event in result.all_events):
        interrupts.note_interrupt(result.run_id)  # between steps: Dagster stopped the run itself
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        rows = mat.metadata.get("dagster/row_count")
        key = mat.asset_key.to_user_string()
        outcome.rows[key] = outcome.rows.get(key, 0) + int(rows.value if rows else 0)  # type: ignore[arg-type]
        reason = mat.metadata.get("empty_reason")
        if reason is not None:
            outcome.notes.append(f"{key}: {reason.value}")
    if not result.success:
        outcome.error = interrupts.MESSAGE if interrupts.interrupted() else _first_failure(result)


def _interrupted_step(event: dg.DagsterEvent) -> bool:
    data = event.step_failure_data if event.is_step_failure else None
    error = data.error if data is not None else None
    return error is not None and error.cls_name in ("KeyboardInterrupt", "DagsterExecutionInterruptedError")


def _first_failure(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            err = event.step_failure_data.error
            if err is not None:
                text = err.message.strip()
                cause = err.cause
                while cause is not None and "Failure" not in text:
                    text = cause.message.strip()
                    cause = cause.cause
                return f"{event.step_key}: {text}"
    return "the run failed (see the Dagster UI for its logs)"


def date_range(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


if __name__ == "__main__":
    sys.exit(_run_chunk_main(sys.argv[1]))
