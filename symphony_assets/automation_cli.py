"""``symphony automation register|import|list``: the conductor's registry from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from symphony_assets.config import ConfigError, load_config


def _register(args: argparse.Namespace) -> int:
    from symphony_assets.analysis.automation import AutomationTask, split_command
    from symphony_assets.resources.automation import AutomationError, register

    try:
        codebase = load_config().named_or_current(args.codebase)
        interpreter, path, extra = split_command(
            [*args.interpreter.split(), args.path] if args.interpreter else [args.path]
        )
        full = Path(args.path)
        if full.is_absolute():
            path = str(full.resolve().relative_to(codebase.path.resolve()))
        task = AutomationTask(
            name=args.name or Path(path).stem,
            path=path,
            args=tuple(args.arg or ()) + extra,
            schedule=args.schedule,
            timeout_s=args.timeout,
            retries=args.retries,
            retry_delay_s=args.retry_delay,
            after=tuple(args.after or ()),
            interpreter=interpreter,
        )
        written = register(codebase, task)
    except (ConfigError, AutomationError, ValueError) as exc:
        sys.stderr.write(f"symphony: automation: {exc}\n")
        return 2
    sys.stdout.write(f"registered {task.name} in {written} (reload the code location to schedule it)\n")
    return 0


def _import(args: argparse.Namespace) -> int:
    from symphony_assets.resources.automation import AutomationError, import_conductor, read_registry

    try:
        codebase = load_config().named_or_current(args.codebase)
        written, problems = import_conductor(codebase, Path(args.source))
        raw = read_registry(codebase)
    except (ConfigError, AutomationError) as exc:
        sys.stderr.write(f"symphony: automation: {exc}\n")
        return 2
    sys.stdout.write(f"wrote {written}\n")
    sys.stdout.write(_settings_text(codebase.name, raw.get("settings")))
    for problem in problems:
        sys.stdout.write(f"  problem: {problem}\n")
    return 1 if problems else 0


def _settings_text(codebase: str, raw: object) -> str:
    """Where each of the registry's settings takes effect, a line each."""
    from symphony_assets.analysis.automation import parse_settings, pool_name

    settings, _ = parse_settings(raw)
    retention = settings.task_history_retention_days
    lines = [
        f"  max_concurrent_tasks {settings.max_concurrent_tasks}: limit of the Dagster pool "
        f"{pool_name(codebase)} (set by the automation_settings sensor)",
        "  notification_webhook: "
        + ("failed runs are posted there (automation_failure_webhook)" if settings.notification_webhook
           else "none (SYMPHONY_WEBHOOK_URL still gets every failed run)"),
        "  task_history_retention_days: "
        + (f"runs older than {retention} days are deleted (automation_settings)" if retention
           else "none (runs are kept)"),
    ]  # fmt: skip
    return "".join(f"{line}\n" for line in lines)


def _list(args: argparse.Namespace) -> int:
    from symphony_assets.analysis.automation import job_name
    from symphony_assets.resources.automation import load_registry

    try:
        config = load_config()
        codebases = [config.codebase(args.codebase)] if args.codebase else list(config.codebases)
    except ConfigError as exc:
        sys.stderr.write(f"symphony: automation: {exc}\n")
        return 2
    bad = 0
    for cb in codebases:
        registry = load_registry(cb)
        for t in registry.tasks:
            when = t.schedule or f"after {', '.join(t.after)}" if (t.schedule or t.after) else "manual"
            sys.stdout.write(f"{cb.name:16} {t.name:20} {when:24} {job_name(cb.name, t.name)}\n")
        for problem in registry.errors:
            bad += 1
            sys.stdout.write(f"{cb.name:16} problem: {problem}\n")
    return 1 if bad else 0


def register_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("automation", help="register automation scripts (each becomes a Dagster job)")
    actions = p.add_subparsers(dest="automation_action", required=True)
    reg = actions.add_parser("register", help="add a script to the codebase's automation.yaml")
    reg.add_argument("path", help="the script, relative to the codebase root (or absolute inside it)")
    reg.add_argument("--codebase", help="codebase name (default: the one we stand in)")
    reg.add_argument("--name", help="script name (default: the file name without suffix)")
    reg.add_argument("--schedule", help="cron expression, UTC (e.g. '0 3 * * *' or @daily)")
    reg.add_argument("--timeout", type=int, default=3600, help="seconds before the script is stopped")
    reg.add_argument("--retries", type=int, default=0)
    reg.add_argument("--retry-delay", type=int, default=60, help="seconds between attempts")
    reg.add_argument("--after", action="append", help="run after each success of this script (repeatable)")
    reg.add_argument("--interpreter", help="start it with this program, e.g. python3")
    reg.add_argument("--arg", action="append", help="an argument for the script (repeatable)")
    reg.set_defaults(handler=_register)
    imp = actions.add_parser("import", help="convert a seed conductor_config.json into automation.yaml")
    imp.add_argument("source")
    imp.add_argument("--codebase")
    imp.set_defaults(handler=_import)
    lst = actions.add_parser("list", help="registered scripts, their jobs and registry problems")
    lst.add_argument("--codebase")
    lst.set_defaults(handler=_list)
