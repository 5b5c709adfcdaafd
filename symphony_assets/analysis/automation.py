"""The automation registry (the conductor's scripts): parse, validate, convert (pure, no I/O).

A codebase lists its scripts in ``automation.yaml``::

    scripts:
      - name: nightly
        path: jobs/nightly.sh          # from the codebase root; the cleanup rules protect it
        args: ["--full"]               # optional
        schedule: "0 3 * * *"          # cron (UTC); omit for a script that only runs after others
        timeout: 600                   # seconds
        retries: 2
        retry_delay: 30                # seconds
        after: [fetch]                 # run after each success of these scripts
        enabled: true
    settings:
      max_concurrent_tasks: 2          # scripts of this codebase running at once (a Dagster pool)
      notification_webhook: https://... # each failed run of these scripts is posted here
      task_history_retention_days: 30  # runs of these scripts older than this are purged

A seed-format ``conductor_config.json`` (tasks with command, schedule, dependencies, timeout,
retry_count, retry_delay, enabled; settings) converts to the same structure.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

REGISTRY_FILE = "automation.yaml"
DEFAULT_TIMEOUT_S = 3600
INTERPRETERS = frozenset({"python", "python3", "bash", "sh", "zsh", "node", "perl", "ruby", "uv", "env"})
_MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
#: (name, lowest, highest, names) per cron field.
_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
_SAFE = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True)
class AutomationTask:
    name: str
    path: str
    args: tuple[str, ...] = ()
    schedule: str | None = None
    timeout_s: int = DEFAULT_TIMEOUT_S
    retries: int = 0
    retry_delay_s: int = 60
    after: tuple[str, ...] = ()
    enabled: bool = True
    #: How the script is started: the interpreter named in the registry's command, if any.
    interpreter: tuple[str, ...] = field(default=())

    @property
    def command(self) -> tuple[str, ...]:
        return (*self.interpreter, self.path, *self.args)

    def to_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "path": self.path}
        if self.interpreter:
            entry["interpreter"] = list(self.interpreter)
        if self.args:
            entry["args"] = list(self.args)
        if self.schedule:
            entry["schedule"] = self.schedule
        entry |= {"timeout": self.timeout_s, "retries": self.retries, "retry_delay": self.retry_delay_s}
        if self.after:
            entry["after"] = list(self.after)
        if not self.enabled:
            entry["enabled"] = False
        return entry


def normalise_cron(expr: str) -> str:
    return _MACROS.get(expr.strip().lower(), " ".join(expr.split()))


def cron_error(expr: str) -> str | None:
    """Why ``expr`` is not a five-field cron expression (or a macro such as ``@daily``); None if it is."""
    parts = normalise_cron(expr).split(" ")
    if len(parts) != 5:
        return f"cron {expr!r} needs 5 fields (minute hour day month weekday), has {len(parts)}"
    for text, (what, low, high, names) in zip(parts, _FIELDS):
        for item in text.split(","):
            problem = _item_error(item.lower(), low, high, names)
            if problem:
                return f"cron {expr!r}: {what} {item!r}: {problem}"
    return None


def _item_error(item: str, low: int, high: int, names: Sequence[str]) -> str | None:
    base, _, step = item.partition("/")
    if step and (not step.isdigit() or int(step) == 0):
        return "step must be a positive whole number"
    if base == "*":
        return None
    bounds = base.split("-")
    if len(bounds) > 2 or not all(bounds):
        return "expected a number, a range a-b or *"
    values = []
    for b in bounds:
        if b.isdigit():
            values.append(int(b))
        elif b in names:
            values.append(list(names).index(b) + (1 if names is _MONTHS else 0))
        else:
            return "not a number"
    if any(v < low or v > high for v in values):
        return f"out of range {low}-{high}"
    if len(values) == 2 and values[0] > values[1]:
        return "range runs backwards"
    return None


def _int(value: Any, default: int) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def split_command(command: str | Sequence[str]) -> tuple[tuple[str, ...], str, tuple[str, ...]]:
    """(interpreter, script path, arguments) of a command line such as ``python3 jobs/x.py --all``."""
    tokens = shlex.split(command) if isinstance(command, str) else [str(t) for t in command]
    if not tokens:
        raise ValueError("empty command")
    i = 0
    while i < len(tokens) - 1 and (tokens[i].rsplit("/", 1)[-1] in INTERPRETERS or tokens[i].startswith("-")):
        i += 1
    path = tokens[i][2:] if tokens[i].startswith("./") else tokens[i]
    return tuple(tokens[:i]), path, tuple(tokens[i + 1 :])


def parse_registry(raw: Any) -> tuple[list[AutomationTask], list[str]]:
    """Tasks of an ``automation.yaml`` document and every problem found (as text, one per problem)."""
    errors: list[str] = []
    tasks: list[AutomationTask] = []
    if raw is None:
        return tasks, errors
    items = raw.get("scripts") if isinstance(raw, Mapping) else None
    if not isinstance(items, list):
        return tasks, ["expected a mapping with a 'scripts' list"]
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or not isinstance(item.get("path") or item.get("script"), str):
            errors.append(f"script #{i + 1}: needs a 'path'")
            continue
        path = str(item.get("path") or item.get("script"))
        path = path[2:] if path.startswith("./") else path
        name = str(item.get("name") or path.rsplit("/", 1)[-1].rsplit(".", 1)[0])
        schedule = item.get("schedule")
        if schedule is not None:
            problem = cron_error(str(schedule))
            if problem:
                errors.append(f"{name}: {problem}")
                continue
        after = item.get("after") or []
        tasks.append(
            AutomationTask(
                name=name,
                path=path,
                args=tuple(str(a) for a in item.get("args") or ()),
                schedule=normalise_cron(str(schedule)) if schedule else None,
                timeout_s=max(1, _int(item.get("timeout"), DEFAULT_TIMEOUT_S)),
                retries=max(0, _int(item.get("retries"), 0)),
                retry_delay_s=max(0, _int(item.get("retry_delay"), 60)),
                after=tuple(str(a) for a in (after if isinstance(after, list) else [after])),
                enabled=item.get("enabled", True) is not False,
                interpreter=tuple(str(a) for a in item.get("interpreter") or ()),
            )
        )
    errors += dependency_errors(tasks)
    errors += parse_settings(raw.get("settings"))[1]
    return tasks, errors


def dependency_errors(tasks: Sequence[AutomationTask]) -> list[str]:
    """Duplicate names, ``after`` naming an unknown script, and dependency loops."""
    errors = []
    names = [t.name for t in tasks]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        errors.append(f"{dup}: the name is used twice")
    known = set(names)
    for t in tasks:
        errors += [f"{t.name}: runs after unknown script {a!r}" for a in t.after if a not in known]
    after = {t.name: [a for a in t.after if a in known] for t in tasks}
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> str | None:
        if state.get(name) == 1:
            return " -> ".join([*trail[trail.index(name) :], name])
        if state.get(name) == 2:
            return None
        state[name] = 1
        for up in after.get(name, []):
            loop = visit(up, [*trail, name])
            if loop:
                return loop
        state[name] = 2
        return None

    for t in tasks:
        loop = visit(t.name, [])
        if loop:
            errors.append(f"dependency loop: {loop}")
            break
    return errors


#: Scripts of one codebase running at once when ``max_concurrent_tasks`` is not set.
DEFAULT_MAX_CONCURRENT = 2


@dataclass(frozen=True)
class AutomationSettings:
    """The registry's ``settings`` (the seed conductor's), as Dagster applies them:
    ``max_concurrent_tasks`` is the limit of the codebase's pool (every script's op is in it),
    ``notification_webhook`` receives each failed run of the codebase's scripts, and
    ``task_history_retention_days`` bounds how long their runs stay in Dagster's run history."""

    max_concurrent_tasks: int = DEFAULT_MAX_CONCURRENT
    notification_webhook: str | None = None
    task_history_retention_days: int | None = None


def parse_settings(raw: Any) -> tuple[AutomationSettings, list[str]]:
    """The registry's settings and a problem per bad value (a bad value falls back to its default)."""
    if raw is None:
        return AutomationSettings(), []
    if not isinstance(raw, Mapping):
        return AutomationSettings(), ["settings: expected a mapping"]
    errors: list[str] = []

    def whole(key: str, default: int | None) -> int | None:
        value = raw.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            errors.append(f"settings: {key} must be a whole number of at least 1, not {value!r}")
            return default
        return value

    limit = whole("max_concurrent_tasks", DEFAULT_MAX_CONCURRENT)
    retention = whole("task_history_retention_days", None)
    hook = raw.get("notification_webhook")
    if hook is not None and not (isinstance(hook, str) and hook.startswith(("http://", "https://"))):
        errors.append(f"settings: notification_webhook must be an http(s) URL, not {hook!r}")
        hook = None
    return AutomationSettings(limit or DEFAULT_MAX_CONCURRENT, hook or None, retention), errors


def owner_error(name: str, path: str, uid: int, mode: int, allowed_uids: Sequence[int]) -> str | None:
    """Why a script with this owner ``uid`` and ``mode`` (``os.stat``) must not be registered; None if it may.

    A registered script runs with the rights of whoever runs Symphony (the daemon's user), on a schedule,
    unattended. A script owned by another user, or writable by the group or by everyone, can be changed
    by someone else into anything, and would then run with our rights: so it must belong to us (or to
    root) and be writable by its owner only."""
    if uid not in allowed_uids:
        owners = " or ".join(f"uid {u}" for u in allowed_uids)
        return f"{name}: {path} is owned by uid {uid}, not by {owners} (chown it, or run as its owner)"
    if mode & 0o022:
        who = "group and others" if mode & 0o022 == 0o022 else ("group" if mode & 0o020 else "others")
        return f"{name}: {path} is writable by {who} (chmod go-w {path}): whoever edits it runs code as us"
    return None


def pool_name(codebase: str) -> str:
    """The Dagster concurrency pool of one codebase's scripts (its limit is ``max_concurrent_tasks``)."""
    return f"symphony_automation__{_SAFE.sub('_', codebase)}"


def from_conductor(raw: Any) -> dict[str, Any]:
    """A seed ``conductor_config.json`` as an ``automation.yaml`` document (same schedules and rules)."""
    if not isinstance(raw, Mapping):
        raise ValueError("conductor config: expected a JSON object")
    tasks = raw.get("tasks") or {}
    items = (
        [{"name": k, **v} for k, v in tasks.items() if isinstance(v, Mapping)]
        if isinstance(tasks, Mapping)
        else [t for t in tasks if isinstance(t, Mapping)]
    )
    scripts = []
    for item in items:
        interpreter, path, args = split_command(item.get("command") or item.get("script") or "")
        deps = item.get("dependencies") or []
        task = AutomationTask(
            name=str(item.get("name") or path),
            path=path,
            args=args,
            schedule=normalise_cron(str(item["schedule"])) if item.get("schedule") else None,
            timeout_s=max(1, _int(item.get("timeout"), DEFAULT_TIMEOUT_S)),
            retries=max(0, _int(item.get("retry_count"), 0)),
            retry_delay_s=max(0, _int(item.get("retry_delay"), 60)),
            after=tuple(str(d) for d in (deps if isinstance(deps, list) else [deps])),
            enabled=item.get("enabled", True) is not False,
            interpreter=interpreter,
        )
        scripts.append(task.to_entry())
    settings = raw.get("settings") if isinstance(raw.get("settings"), Mapping) else {}
    return {"scripts": scripts, "settings": dict(settings or {})}


def job_name(codebase: str, task: str) -> str:
    """A Dagster job name for one codebase's script (letters, digits and underscores only)."""
    return f"automation__{_SAFE.sub('_', codebase)}__{_SAFE.sub('_', task)}"


@dataclass(frozen=True)
class RunFact:
    """One run of a registered script, as the health summary needs it."""

    task: str
    run_id: str
    status: str  # SUCCESS, FAILURE, CANCELED, STARTED, QUEUED, ...
    start: float | None
    end: float | None
    attempts: int = 1
    failure: str | None = None


def summarise_runs(facts: Sequence[RunFact], tasks: Sequence[str] = ()) -> list[dict[str, Any]]:
    """One row per script: runs, successes, failures, success rate, durations, the last run and the
    last failure's message. Registered scripts without runs get a row of zeros."""
    by_task: dict[str, list[RunFact]] = {t: [] for t in tasks}
    for f in facts:
        by_task.setdefault(f.task, []).append(f)
    rows = []
    for task, runs in sorted(by_task.items()):
        runs = sorted(runs, key=lambda f: f.start or 0.0)
        done = [f for f in runs if f.status in ("SUCCESS", "FAILURE", "CANCELED")]
        ok = [f for f in done if f.status == "SUCCESS"]
        failed = [f for f in done if f.status != "SUCCESS"]
        durations = [f.end - f.start for f in done if f.start is not None and f.end is not None]
        last, last_failed = (runs[-1] if runs else None), (failed[-1] if failed else None)
        rows.append(
            {
                "task": task,
                "runs": len(runs),
                "succeeded": len(ok),
                "failed": len(failed),
                "success_rate": round(len(ok) / len(done), 4) if done else None,
                "mean_duration_s": round(sum(durations) / len(durations), 3) if durations else None,
                "max_duration_s": round(max(durations), 3) if durations else None,
                "retries": sum(max(0, f.attempts - 1) for f in runs),
                "last_status": last.status if last else None,
                "last_run_id": last.run_id if last else None,
                "last_failure": (last_failed.failure or last_failed.status) if last_failed else None,
                "last_failed_run_id": last_failed.run_id if last_failed else None,
            }
        )
    return rows
