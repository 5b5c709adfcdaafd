"""``symphony status`` and ``symphony logs``: where things stand, read from what the runs left behind.

``status`` shows, per codebase, the newest day of each asset in the Parquet warehouse, the last runs
with their outcome and duration, the checks whose latest evaluation failed, the sensors and schedules
and whether the daemon is ticking them, the state of the (embedded) PostgreSQL and the disk the
warehouse takes. It never starts anything: with Postgres down it says so and shows the warehouse.

``logs RUN_ID`` prints a run's event log (``--last-failed``: the newest failed run's).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2
import pyarrow.fs as pafs

from symphony_assets.config import ConfigError, load_config
from symphony_assets.progress import fmt_duration

log = logging.getLogger(__name__)

#: A daemon whose last heartbeat is older than this is taken as not running.
DAEMON_STALE_S = 120
RECENT_RUNS = 10
_PARTITION_FILE = re.compile(
    r"^(?P<asset>[^/]+)/(?P<dim>\w+)=(?P<label>[^/]+)/(?P<tdim>\w+)=(?P<when>[^/]+)\.parquet$"
)


def _write(lines: Sequence[str]) -> None:
    sys.stdout.write("\n".join(lines) + "\n")


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


# ---------------------------------------------------------------------------------------------
# Postgres and the warehouse: no Dagster needed
# ---------------------------------------------------------------------------------------------


def postgres_state() -> dict[str, Any]:
    """Embedded or external; for the embedded server its data dir and postmaster pid; reachable or not."""
    from symphony_assets.resources.postgres import embedded_pgdata, libpq_url, redact, resolve_urls

    urls = resolve_urls(start=False)
    state: dict[str, Any] = {"embedded": urls.embedded, "url": redact(urls.data)}
    if urls.embedded:
        pgdata = embedded_pgdata()
        pidfile = pgdata / "postmaster.pid"
        state["data_dir"] = str(pgdata)
        state["pid"] = int(pidfile.read_text().split()[0]) if pidfile.exists() else None
    try:
        conn = psycopg2.connect(libpq_url(urls.data), connect_timeout=3)
    except psycopg2.Error as exc:
        state["state"] = "stopped" if urls.embedded and state.get("pid") is None else "unreachable"
        state["error"] = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return state
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW server_version")
            row = cur.fetchone()
            state["version"] = row[0] if row else None
    finally:
        conn.close()
    state["state"] = "running"
    return state


def warehouse_state() -> dict[str, Any]:
    """Files and bytes under the warehouse root, and the newest partition of each asset per label."""
    from symphony_assets.storage.warehouse import Warehouse

    wh = Warehouse()
    selector = pafs.FileSelector(wh.base, recursive=True, allow_not_found=True)
    files = 0
    size = 0
    newest: dict[str, dict[str, str]] = {}
    for info in wh.fs.get_file_info(selector):
        if info.type != pafs.FileType.File or not info.path.endswith(".parquet"):
            continue
        files += 1
        size += info.size or 0
        match = _PARTITION_FILE.match(info.path[len(wh.base) :].lstrip("/"))
        if match is None or Path(info.path).name.startswith(".tmp-"):
            continue
        per_label = newest.setdefault(match["label"], {})
        when = match["when"]
        if when > per_label.get(match["asset"], ""):
            per_label[match["asset"]] = when
    return {"root": wh.root, "files": files, "bytes": size, "newest": newest}


# ---------------------------------------------------------------------------------------------
# Dagster: runs, checks, sensors and schedules
# ---------------------------------------------------------------------------------------------


def _run_row(record: Any) -> dict[str, Any]:
    run = record.dagster_run
    tags = run.tags
    start, end = record.start_time, record.end_time
    if "dagster/asset_partition_range_start" in tags:
        start_key = tags["dagster/asset_partition_range_start"]
        end_key = tags.get("dagster/asset_partition_range_end", "")
        partitions = f"{start_key}...{end_key.rpartition('|')[2]}"
    else:
        partitions = tags.get("dagster/partition", "")
    return {
        "run_id": run.run_id,
        "job": run.job_name,
        "status": run.status.value,
        "codebase": tags.get("symphony/codebase") or tags.get("symphony/label") or "",
        "partitions": partitions,
        "started": _when(start),
        "duration_s": round(end - start, 1) if start and end else None,
    }


def recent_runs(instance: Any, limit: int = RECENT_RUNS) -> list[dict[str, Any]]:
    return [_run_row(r) for r in instance.get_run_records(limit=limit)]


def failing_checks(instance: Any, definitions: Any) -> list[dict[str, Any]]:
    """Checks whose newest evaluation for a codebase did not pass (one row per check and codebase)."""
    out = []
    for check_key in sorted(definitions.resolve_asset_graph().asset_check_keys, key=str):
        latest: dict[str, Any] = {}
        for record in instance.event_log_storage.get_asset_check_execution_history(check_key, limit=200):
            event = record.event
            data = event.dagster_event.event_specific_data if event and event.dagster_event else None
            if data is None or not hasattr(data, "passed"):
                continue
            meta = {k: v.value for k, v in (data.metadata or {}).items()}
            partition = str(meta.get("partition") or record.partition or "")
            label = partition.partition("|")[0] if partition else ""
            if label not in latest:  # newest first: the first seen per label is its latest
                latest[label] = (record, data, partition)
        for label, (record, data, partition) in sorted(latest.items()):
            if data.passed:
                continue
            out.append(
                {
                    "check": f"{check_key.asset_key.to_user_string()}:{check_key.name}",
                    "codebase": label,
                    "partition": partition,
                    "severity": getattr(data.severity, "value", str(data.severity)),
                    "run_id": record.run_id,
                    "when": _when(record.event.timestamp if record.event else record.create_timestamp),
                    "description": data.description or "",
                }
            )
    return out


def instigators(instance: Any, definitions: Any) -> dict[str, Any]:
    """Each sensor and schedule: on or off (stored state, else its default), and whether a daemon ticks."""
    stored = {s.instigator_name: s.status.value for s in instance.all_instigator_state()}
    now = time.time()
    heartbeats = {k: v.timestamp for k, v in instance.get_daemon_heartbeats().items()}
    ticking = {k: now - ts < DAEMON_STALE_S for k, ts in heartbeats.items()}
    rows = []
    for kind, items, daemon in (
        ("sensor", definitions.sensors or [], "SENSOR"),
        ("schedule", definitions.schedules or [], "SCHEDULER"),
    ):
        for item in sorted(items, key=lambda i: i.name):
            default = getattr(item.default_status, "value", str(item.default_status))
            status = stored.get(item.name, default)
            on = status in ("RUNNING", "DECLARED_IN_CODE") and (item.name in stored or default == "RUNNING")
            rows.append(
                {
                    "kind": kind,
                    "name": item.name,
                    "on": on,
                    "running": on and ticking.get(daemon, False),
                }
            )
    return {
        "daemon_running": any(ticking.values()),
        "daemon_heartbeats": {k: _when(v) for k, v in heartbeats.items()},
        "items": rows,
    }


@dataclass
class Status:
    codebases: list[str]
    postgres: dict[str, Any]
    warehouse: dict[str, Any]
    runs: list[dict[str, Any]] = field(default_factory=list)
    failing_checks: list[dict[str, Any]] = field(default_factory=list)
    instigators: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def gather(limit_runs: int = RECENT_RUNS) -> Status:
    from symphony_assets.runner import load_definitions, prepare_environment

    problems = []
    try:
        names = load_config().names
    except ConfigError as exc:
        names, problems = [], [f"symphony.yaml: {exc}"]
    urls = prepare_environment(start_postgres=False)
    del urls
    status = Status(names, postgres_state(), warehouse_state(), problems=problems)
    if status.postgres["state"] != "running":
        hint = "`symphony pg start`" if status.postgres["embedded"] else "check SYMPHONY_POSTGRES_URL"
        status.problems.append(f"Postgres is {status.postgres['state']}: runs and checks unknown ({hint})")
        return status
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        definitions = load_definitions()
        status.runs = recent_runs(instance, limit_runs)
        status.failing_checks = failing_checks(instance, definitions)
        status.instigators = instigators(instance, definitions)
    return status


def render(status: Status) -> list[str]:
    lines = []
    pg = status.postgres
    where = f"embedded in {pg['data_dir']}" if pg["embedded"] else f"external {pg['url']}"
    pid = f", pid {pg['pid']}" if pg.get("pid") else ""
    version = f", PostgreSQL {pg['version']}" if pg.get("version") else ""
    lines.append(f"Postgres: {pg['state']} ({where}{pid}{version})")
    wh = status.warehouse
    lines.append(f"Warehouse: {wh['root']}: {wh['files']} Parquet files, {_size(wh['bytes'])}")
    lines.append("")
    lines.append("Newest materialised day per asset:")
    labels = list(dict.fromkeys([*status.codebases, *sorted(wh["newest"])]))
    if not labels:
        lines.append("  (no codebase configured and nothing in the warehouse)")
    for label in labels:
        assets = wh["newest"].get(label, {})
        runs = [r for r in status.runs if r["codebase"] == label]
        last = f"; last run {_run_words(runs[0])}" if runs else ""
        if not assets:
            lines.append(f"  {label}: nothing materialised yet{last}")
            continue
        lines.append(f"  {label}{last}:" if last else f"  {label}:")
        width = max(len(a) for a in assets)
        for asset, when in sorted(assets.items()):
            lines.append(f"    {asset:<{width}}  {when}")
    if status.postgres["state"] == "running":
        lines.append("")
        lines.append(f"Last {len(status.runs)} runs:")
        for run in status.runs:
            took = fmt_duration(run["duration_s"]) if run["duration_s"] is not None else "-"
            lines.append(
                f"  {run['run_id'][:8]}  {run['started']}  {run['status']:<9} {took:>7}  {run['job']:<13} "
                f"{run['partitions']}"
            )
        lines.append("")
        if status.failing_checks:
            lines.append("Failing checks:")
            width = max(len(c["check"]) for c in status.failing_checks)
            for chk in status.failing_checks:
                lines.append(
                    f"  {chk['check']:<{width}}  {chk['partition'] or chk['codebase']}  {chk['severity']:<5}"
                    f"  run {chk['run_id'][:8]} at {chk['when']}"
                )
        else:
            lines.append("Failing checks: none")
        lines.append("")
        inst = status.instigators
        daemon = (
            "running" if inst["daemon_running"] else "not running, nothing ticks (`symphony ui` starts it)"
        )
        lines.append(f"Sensors and schedules, daemon {daemon}:")
        for item in inst["items"]:
            state = "running" if item["running"] else ("on, not ticking" if item["on"] else "off")
            lines.append(f"  {item['kind']:<8}  {item['name']:<28}  {state}")
    if status.problems:
        lines.append("")
        lines += [f"! {p}" for p in status.problems]
    return lines


def _run_words(run: dict[str, Any]) -> str:
    took = f" in {fmt_duration(run['duration_s'])}" if run["duration_s"] is not None else ""
    return f"{run['status']}{took} at {run['started']} ({run['job']}, run {run['run_id'][:8]})"


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{int(n)} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def cmd_status(args: argparse.Namespace) -> int:
    status = gather(args.runs)
    if args.json:
        sys.stdout.write(json.dumps(asdict(status), indent=2, default=str) + "\n")
    else:
        _write(render(status))
    return 0 if status.postgres["state"] == "running" else 1


# ---------------------------------------------------------------------------------------------
# logs
# ---------------------------------------------------------------------------------------------

_LEVELS = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}


def _error_text(error: Any) -> list[str]:
    """An error and its causes, one line each, without stack traces."""
    lines = []
    while error is not None:
        lines.append(f"{error.cls_name or 'Error'}: {error.message.strip()}")
        error = error.cause
    return lines


_PLANNED = ("ASSET_MATERIALIZATION_PLANNED", "ASSET_CHECK_EVALUATION_PLANNED")


def event_lines(entries: Sequence[Any], everything: bool = False) -> list[str]:
    """One line per event, errors with their causes; repeats in a row (a range's materialisations) are
    folded into one line with a count, and "planned" events are left out unless ``everything``."""
    rows: list[tuple[str, list[str], int]] = []  # (line, error lines, repeats)
    last_key: tuple[Any, ...] | None = None
    for entry in entries:
        event = entry.dagster_event
        kind = event.event_type_value if event is not None else "LOG"
        if kind in _PLANNED and not everything:
            continue
        level = _LEVELS.get(entry.level, str(entry.level))
        message = (entry.user_message or (event.message if event else "") or "").strip()
        data = event.event_specific_data if event is not None else None
        error = getattr(data, "error", None)
        errors = [f"{'':>9}  {text}" for text in _error_text(error)] if hasattr(error, "cls_name") else []
        key = (entry.step_key, kind, message)
        if key == last_key and not errors and rows:
            line, errs, count = rows[-1]
            rows[-1] = (line, errs, count + 1)
            continue
        last_key = key
        when = datetime.fromtimestamp(entry.timestamp, UTC).strftime("%H:%M:%S")
        rows.append((f"{when} {level:<7} {entry.step_key or '-':<24} {kind:<22} {message}", errors, 1))
    lines = []
    for line, errors, count in rows:
        lines.append(line + (f" (x{count})" if count > 1 else ""))
        lines += errors
    return lines


def _find_run(instance: Any, run_id: str | None, last_failed: bool) -> Any:
    import dagster as dg

    if last_failed:
        runs = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]), limit=1)
        return runs[0] if runs else None
    assert run_id is not None
    run = instance.get_run_by_id(run_id)
    if run is not None:
        return run
    matches = [
        r.dagster_run for r in instance.get_run_records(limit=1000) if r.dagster_run.run_id.startswith(run_id)
    ]
    return matches[0] if len(matches) == 1 else None


def cmd_logs(args: argparse.Namespace) -> int:
    import dagster as dg

    from symphony_assets.runner import prepare_environment

    if bool(args.run_id) == bool(args.last_failed):
        sys.stderr.write("symphony: give a RUN_ID or --last-failed\n")
        return 2
    prepare_environment(start_postgres=False)
    pg = postgres_state()
    if pg["state"] != "running":
        sys.stderr.write(
            f"symphony: Postgres is {pg['state']} ({pg.get('error', '')}); run logs live there\n"
        )
        return 2
    with dg.DagsterInstance.get() as instance:
        run = _find_run(instance, args.run_id, args.last_failed)
        if run is None:
            what = "no failed run" if args.last_failed else f"no run {args.run_id!r} (or more than one match)"
            sys.stderr.write(f"symphony: {what}\n")
            return 2
        tags = ", ".join(f"{k}={v}" for k, v in sorted(run.tags.items()) if not k.startswith("dagster/max"))
        header = [f"Run {run.run_id} of {run.job_name}: {run.status.value}", f"tags: {tags}", ""]
        _write(header + event_lines(instance.all_logs(run.run_id), everything=args.all))
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Adds ``status`` and ``logs`` to the ``symphony`` command."""
    status = sub.add_parser(
        "status", help="newest day per asset, last runs, failing checks, sensors, Postgres"
    )
    status.add_argument("--json", action="store_true", help="one JSON document for scripts")
    status.add_argument("--runs", type=int, default=RECENT_RUNS, help="how many recent runs to list")
    status.set_defaults(handler=cmd_status)

    logs = sub.add_parser("logs", help="a run's event log")
    logs.add_argument("run_id", nargs="?", help="the Dagster run id (a unique prefix is enough)")
    logs.add_argument("--last-failed", action="store_true", help="the newest failed run's log")
    logs.add_argument("--all", action="store_true", help="also the 'planned' events")
    logs.set_defaults(handler=cmd_logs)
