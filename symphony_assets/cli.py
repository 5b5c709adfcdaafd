"""The ``symphony`` command: run the assets, open the UI, manage the embedded Postgres."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import date

from symphony_assets.config import ConfigError, load_config, symphony_home, warehouse_root

Handler = Callable[[argparse.Namespace], int]


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(f"symphony: {text}\n")


def cmd_run(args: argparse.Namespace) -> int:
    import dagster as dg

    from symphony_assets.runner import prepare_environment, run_snapshots
    from symphony_assets.defs.snapshots import utc_today

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
    urls = prepare_environment()
    _out(f"Postgres: {'embedded at ' + str(symphony_home() / 'pg') if urls.embedded else 'external'}")
    failed = 0
    with dg.DagsterInstance.get() as instance:
        outcomes = run_snapshots(instance, names, first, last, assets=args.asset or None)
    for outcome in outcomes:
        status = "ok" if outcome.success else "FAILED"
        _out(f"{outcome.codebase} {outcome.partitions}: {status} (run {outcome.run_id})")
        for asset, rows in sorted(outcome.rows.items()):
            _out(f"    {asset:<24} {rows:>8} rows")
        if outcome.error:
            failed += 1
            _out(f"    error: {outcome.error}")
    _out(f"Parquet:  {warehouse_root()}")
    _out("Postgres: schema 'symphony' (`symphony pg url` prints the URL); UI: `symphony ui`")
    return 1 if failed else 0


def cmd_ui(args: argparse.Namespace) -> int:
    from symphony_assets.runner import PROJECT_ROOT, prepare_environment

    prepare_environment()
    argv = ["dagster", "dev", "-h", args.host, "-p", str(args.port), "-w", str(PROJECT_ROOT / "workspace.yaml")]
    _out(f"Dagster UI on http://{args.host}:{args.port} (instance in {os.environ['DAGSTER_HOME']})")
    # Default signal handling, so SIGTERM and Ctrl-C stop the webserver and daemon cleanly.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.chdir(PROJECT_ROOT)
    bindir = os.path.dirname(sys.executable)
    os.execve(os.path.join(bindir, "dagster"), argv, os.environ.copy())


def cmd_pg(args: argparse.Namespace) -> int:
    from symphony_assets.resources.postgres import redact, resolve_urls, stop_embedded
    from symphony_assets.runner import prepare_environment

    if args.action == "start":
        urls = prepare_environment()
        _out(f"running: {redact(urls.data)}")
    elif args.action == "url":
        urls = resolve_urls(start=False)
        _out(urls.data)
    elif args.action == "stop":
        _out("stopped" if stop_embedded() else "not running")
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
    run.set_defaults(handler=cmd_run)

    ui = sub.add_parser("ui", help="the Dagster webserver and daemon on the same instance")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(handler=cmd_ui)

    pg = sub.add_parser("pg", help="the embedded PostgreSQL")
    pg.add_argument("action", choices=["start", "stop", "url"])
    pg.set_defaults(handler=cmd_pg)

    for register in EXTRA_COMMANDS:
        register(sub)
    return parser


#: Domains add subcommands here: each entry takes the subparsers object and registers its commands.
EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []  # type: ignore[type-arg]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
