"""The ``symphony`` command: run the assets, open the UI, manage the embedded Postgres."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from symphony_assets.automation_cli import register_commands as automation_commands
from symphony_assets.config import ConfigError, config_path, load_config, symphony_home
from symphony_assets.gate import register as gate_command
from symphony_assets.status import register as status_commands

Handler = Callable[[argparse.Namespace], int]


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(f"symphony: {text}\n")


def cmd_run(args: argparse.Namespace) -> int:
    """``symphony run``; Ctrl-C or SIGTERM stops it with status 130 (see ``defs/interrupts.py``)."""
    from symphony_assets.defs import interrupts

    # Whatever this process inherited (a shell's background job ignores SIGINT), both signals stop the
    # command: outside a run as KeyboardInterrupt, inside one through Dagster's own handler.
    stops = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, signal.default_int_handler) for sig in stops}
    interrupts.reset()
    try:
        code = _run(args)
    except KeyboardInterrupt:
        interrupts.note_interrupt()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if interrupts.interrupted():
        _err(interrupts.MESSAGE)
        return 130  # as a shell reports a command stopped by Ctrl-C
    return code


def _run(args: argparse.Namespace) -> int:
    import dagster as dg

    from symphony_assets.defs import interrupts
    from symphony_assets.defs.snapshots import utc_today
    from symphony_assets.progress import Progress, display_for
    from symphony_assets.runner import (
        DATABASE_ERRORS,
        POOLED_CONNECTION_ERRORS,
        RunOutcome,
        database_lost,
        database_lost_message,
        prepare_environment,
        run_dry_reconcile,
        run_gpu_hour,
        run_snapshots,
    )
    from symphony_assets.summary import report_run

    try:
        config = load_config()
    except ConfigError as exc:
        _err(str(exc))
        return 2
    today = utc_today()
    first = date.fromisoformat(args.from_date or args.date or str(today))
    last = date.fromisoformat(args.to_date or args.date or str(today))
    if last < first:
        _err(f"--to {last} is before --from {first}")
        return 2
    names = args.codebase or config.names
    unknown = [n for n in names if n not in config.names]
    if unknown:
        _err(f"unknown codebase(s) {unknown}; configured: {config.names}")
        return 2
    try:
        urls = prepare_environment()
    except DATABASE_ERRORS as exc:
        _err(f"PostgreSQL is not reachable: {exc}")
        return 1
    if not (args.quiet or args.json):
        _out(f"Postgres: {'embedded at ' + str(symphony_home() / 'pg') if urls.embedded else 'external'}")
    snapshot_assets = [a for a in args.asset or [] if a not in ("gpu_utilisation", "tracker_issues")]
    display = display_for("quiet" if args.quiet else args.progress)
    outcomes: list[RunOutcome] = []
    runs: list[Any] = []
    try:
        with (
            dg.DagsterInstance.get() as instance,
            Progress(instance, names, first, last, display) as progress,
        ):
            hold_connections(instance)
            runs = progress.runs
            if snapshot_assets or not args.asset:
                outcomes += run_snapshots(
                    instance, names, first, last, assets=snapshot_assets or None, on_run=progress.watch
                )
            # After PostgreSQL was lost or the run was interrupted, nothing more starts.
            stopped = any(o.database_lost for o in outcomes) or interrupts.interrupted()
            if not stopped and last == today and (not args.asset or "tracker_issues" in args.asset):
                outcomes += run_dry_reconcile(instance, names, today)
            if not stopped and last == today and (not args.asset or "gpu_utilisation" in args.asset):
                # GPUs are sampled on the machine we run on: SYMPHONY_MACHINE, else the one label configured.
                labels = sorted({cb.machine for cb in config.codebases})
                machine = os.environ.get("SYMPHONY_MACHINE") or (labels[0] if len(labels) == 1 else "local")
                os.environ["SYMPHONY_MACHINE"] = machine
                outcomes += run_gpu_hour(instance, [machine], datetime.now(UTC))
    except (*DATABASE_ERRORS, *POOLED_CONNECTION_ERRORS) as exc:
        # Lost outside a codebase's run (the instance itself, the tracker or GPU runs): say so, keep what ran.
        if not database_lost(exc):
            raise
        outcomes.append(RunOutcome("(all)", "", False, error=database_lost_message(exc), database_lost=True))
    if any(o.database_lost for o in outcomes):
        runs = []  # no findings summary of a run cut short: its lines say what happened and what to do
    return report_run(args, outcomes, runs, names, first, last)


def hold_connections(instance: Any) -> None:
    """Keep Dagster's storage connections open for the runs of this process.

    Dagster's Postgres storages open a new connection for every statement (no pool, so that many
    short-lived processes do not pile up connections); `symphony run` executes its runs in this one
    process, where that cost ~950 connections and ~3 s of a warm 2,000-file day. The webserver's own
    setting does what we want: one pooled connection per storage (plus overflow), no statement timeout.
    """
    instance.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=8)


def cmd_ui(args: argparse.Namespace) -> int:
    from symphony_assets.runner import prepare_environment

    prepare_environment()
    # The module, not the project's workspace.yaml, and no change of directory: the code server then
    # finds symphony.yaml (and, with none, the default codebase) exactly where `symphony run` does, and
    # an installed wheel works outside the checkout.
    argv = ["dagster", "dev", "-h", args.host, "-p", str(args.port), "-m", "symphony_assets.definitions"]
    found = config_path()
    if found is not None:
        os.environ["SYMPHONY_CONFIG"] = str(found.absolute())
    _out(f"Dagster UI on http://{args.host}:{args.port} (instance in {os.environ['DAGSTER_HOME']})")
    # Default signal handling, so SIGTERM and Ctrl-C stop the webserver and daemon cleanly.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    bindir = os.path.dirname(sys.executable)
    os.execve(os.path.join(bindir, "dagster"), argv, os.environ.copy())


def cmd_pg(args: argparse.Namespace) -> int:
    from symphony_assets.resources.postgres import embedded_status, redact, resolve_urls, stop_embedded
    from symphony_assets.runner import prepare_environment

    if args.action == "start":
        urls = prepare_environment()
        _out(f"running: {redact(urls.data)}")
    elif args.action == "url":
        urls = resolve_urls(start=False)
        _out(urls.data)
    elif args.action == "stop":
        try:
            stopped = stop_embedded()
        except RuntimeError as exc:
            _err(str(exc))
            return 1
        _out(f"stopped ({embedded_status().data_dir})" if stopped else "not running")
    elif args.action == "status":
        status = embedded_status()
        if not status.running:
            _out(f"not running (data dir {status.data_dir})")
            return 3
        _out(f"running: pid {status.pid}, data dir {status.data_dir}, socket {status.socket}, {status.state}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="symphony", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="materialise snapshot assets for every codebase")
    run.add_argument("--date", help="one day (YYYY-MM-DD, UTC); default today")
    run.add_argument("--from", dest="from_date", help="first day of a range (one run per codebase)")
    run.add_argument("--to", dest="to_date", help="last day of a range")
    run.add_argument("--codebase", action="append", help="only this codebase (repeatable)")
    run.add_argument("--asset", action="append", help="only this asset (repeatable)")
    run.add_argument("--quiet", action="store_true", help="no progress and no summary; errors only")
    run.add_argument("--json", action="store_true", help="print outcomes and findings as one JSON document")
    run.add_argument(
        "--progress",
        choices=["auto", "live", "plain"],
        default="auto",
        help="progress on stderr: a live line per codebase (terminal), plain lines (pipe), auto-detected",
    )
    run.set_defaults(handler=cmd_run)

    ui = sub.add_parser("ui", help="the Dagster webserver and daemon on the same instance")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(handler=cmd_ui)

    pg = sub.add_parser("pg", help="the embedded PostgreSQL")
    pg.add_argument("action", choices=["start", "stop", "status", "url"])
    pg.set_defaults(handler=cmd_pg)

    for register in EXTRA_COMMANDS:
        register(sub)
    return parser


#: Domains add subcommands here: each entry takes the subparsers object and registers its commands.
EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []  # type: ignore[type-arg]


def cleanup_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``symphony cleanup restore RUN_ID``: put back, byte for byte, what a cleanup run quarantined."""

    def restore(args: argparse.Namespace) -> int:
        import uuid

        from symphony_assets.defs.cleanup.settings import executor_for_label
        from symphony_assets.resources.postgres import Database
        from symphony_assets.runner import prepare_environment

        try:
            codebases = list(load_config().codebases)
        except ConfigError as exc:
            _err(str(exc))
            return 2
        db = Database(prepare_environment().data)
        labels = db.read_frame(
            "SELECT DISTINCT codebase FROM symphony.cleanup_audit"
            " WHERE run_id = %s AND action = 'quarantine'",
            (args.run_id,),
        )["codebase"].tolist()
        if not labels:
            _err(f"no cleanup run {args.run_id!r} moved anything")
            return 2
        failed = 0
        for label in labels:
            ex = executor_for_label(label, codebases, db.url, f"restore-{uuid.uuid4().hex[:12]}")
            for r in ex.restore(args.run_id):
                failed += r.state != "done"
                _out(f"{r.state:8} {label}: {r.path}" + ("" if r.state == "done" else f" ({r.message})"))
        return 1 if failed else 0

    def holds(args: argparse.Namespace) -> int:
        from symphony_assets.resources.postgres import connect_factory
        from symphony_assets.resources.quarantine import AuditLog
        from symphony_assets.runner import prepare_environment

        audit = AuditLog(connect_factory(prepare_environment().data), args.codebase)
        with audit.session():
            if args.cleanup_command == "release":
                failed = 0
                for path in args.paths:
                    released = audit.release(path)
                    failed += not released
                    _out(f"{'released' if released else 'not held'} {args.codebase}: {path}")
                return 1 if failed else 0
            for path, why in sorted(audit.held().items()):
                _out(f"{args.codebase}: {path}  ({why})")
        return 0

    cleanup = sub.add_parser("cleanup", help="undo what cleanup moved into quarantine")
    actions = cleanup.add_subparsers(dest="cleanup_command", required=True)
    restore_parser = actions.add_parser("restore", help="put back every file a cleanup run moved")
    restore_parser.add_argument("run_id", help="the Dagster run id of the cleanup run")
    restore_parser.set_defaults(handler=restore)
    held_parser = actions.add_parser("holds", help="restored files that cleanup leaves alone")
    held_parser.add_argument("codebase")
    held_parser.set_defaults(handler=holds)
    release_parser = actions.add_parser("release", help="let cleanup judge restored files again")
    release_parser.add_argument("codebase")
    release_parser.add_argument("paths", nargs="+", metavar="PATH")
    release_parser.set_defaults(handler=holds)


EXTRA_COMMANDS.append(cleanup_command)
EXTRA_COMMANDS.append(status_commands)  # `symphony status`, `symphony logs`
EXTRA_COMMANDS.append(gate_command)  # `symphony check`: the CI gate
EXTRA_COMMANDS.append(automation_commands)  # `symphony automation register|import|list`


def worker_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``symphony worker``: a Celery worker that executes the steps of runs sent with
    ``SYMPHONY_EXECUTOR=celery`` (see ``symphony_assets/executors.py``)."""

    def start(args: argparse.Namespace) -> int:
        import socket

        from symphony_assets.executors import BROKER_ENV, QUEUE
        from symphony_assets.runner import DATABASE_ERRORS, prepare_environment

        if args.broker:
            os.environ[BROKER_ENV] = args.broker
        if not os.environ.get(BROKER_ENV):
            _err(f"no broker: set {BROKER_ENV} (e.g. redis://127.0.0.1:6379/0) or pass --broker")
            return 2
        try:
            load_config()
            prepare_environment()
        except ConfigError as exc:
            _err(str(exc))
            return 2
        except DATABASE_ERRORS as exc:
            _err(f"PostgreSQL is not reachable: {exc}")
            return 1
        found = config_path()
        if found is not None:
            os.environ["SYMPHONY_CONFIG"] = str(found.absolute())
        name = f"{args.name or 'symphony'}@{socket.gethostname()}"
        argv = [
            sys.executable, "-m", "celery", "-A", "symphony_assets.celery_app", "worker",
            "-n", name, "-Q", QUEUE, "--pool", args.pool, "--concurrency", str(args.concurrency),
            "--prefetch-multiplier", "1", "--loglevel", args.loglevel, "--without-gossip", "--without-mingle",
        ]  # fmt: skip
        _out(f"Celery worker {name} on {os.environ[BROKER_ENV].split('@')[-1]}, queue {QUEUE}")
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.execve(sys.executable, argv, os.environ.copy())

    worker = sub.add_parser("worker", help="a Celery worker for runs sent with SYMPHONY_EXECUTOR=celery")
    worker.add_argument("--name", help="worker name (the host name is appended); default 'symphony'")
    worker.add_argument("--broker", help="broker URL (default: $SYMPHONY_BROKER_URL)")
    worker.add_argument("--concurrency", type=int, default=os.cpu_count() or 1, help="steps at a time")
    worker.add_argument("--pool", choices=["prefork", "solo", "threads"], default="prefork")
    worker.add_argument("--loglevel", default="INFO")
    worker.set_defaults(handler=start)


EXTRA_COMMANDS.append(worker_command)


def backfill_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``symphony backfill``: hand a backfill to Dagster's daemon (``symphony_assets/backfills.py``)."""

    def start(args: argparse.Namespace) -> int:
        import dagster as dg

        from symphony_assets.backfills import (
            BackfillError,
            snapshot_assets,
            submit_backfill,
            wait_for_backfill,
        )
        from symphony_assets.runner import DATABASE_ERRORS, load_definitions, prepare_environment

        try:
            config = load_config()
            first, last = date.fromisoformat(args.from_date), date.fromisoformat(args.to_date)
        except (ConfigError, ValueError) as exc:
            _err(str(exc))
            return 2
        names = args.codebase or config.names
        unknown = [n for n in names if n not in config.names]
        if unknown or last < first:
            _err(f"unknown codebase(s) {unknown}" if unknown else f"--to {last} is before --from {first}")
            return 2
        try:
            prepare_environment()
        except DATABASE_ERRORS as exc:
            _err(f"PostgreSQL is not reachable: {exc}")
            return 1
        assets = args.asset or snapshot_assets(load_definitions())
        with dg.DagsterInstance.get() as instance:
            try:
                backfill_id = submit_backfill(instance, names, first, last, assets, webserver=args.webserver)
                scope = f"{len(names)} codebase(s) x {first}..{last}, {len(assets)} asset(s)"
                _out(f"backfill {backfill_id}: {scope}")
                if not args.wait:
                    _out("the Dagster daemon runs it (`symphony ui` starts one); see Overview > Backfills")
                    return 0
                state = wait_for_backfill(instance, backfill_id, args.timeout)
            except BackfillError as exc:
                _err(str(exc))
                return 1
        failed = sorted(run for run, status in state.runs.items() if status != "SUCCESS")
        _out(f"backfill {backfill_id}: {state.status}, {len(state.runs)} run(s), failed: {failed or 'none'}")
        return 0 if state.succeeded else 1

    parser = sub.add_parser("backfill", help="a backfill of snapshot assets, run by the Dagster daemon")
    parser.add_argument("--from", dest="from_date", required=True, help="first day (YYYY-MM-DD)")
    parser.add_argument("--to", dest="to_date", required=True, help="last day")
    parser.add_argument("--codebase", action="append", help="only this codebase (repeatable)")
    parser.add_argument(
        "--asset", action="append", help="only this asset (repeatable); default all snapshot assets"
    )
    parser.add_argument(
        "--webserver", help="send it to this Dagster webserver (http://host:3000), not the instance"
    )
    parser.add_argument("--wait", action="store_true", help="wait until the daemon has finished it")
    parser.add_argument("--timeout", type=float, default=24 * 3600, help="seconds --wait waits")
    parser.set_defaults(handler=start)


EXTRA_COMMANDS.append(backfill_command)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
