"""The automation registry on disk and the running of one registered script.

``automation.yaml`` lives in the codebase's root; the cleanup rules read it too, so every script it
names is protected from cleanup.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from symphony_assets.analysis.automation import (
    REGISTRY_FILE,
    AutomationTask,
    cron_error,
    dependency_errors,
    from_conductor,
    normalise_cron,
    owner_error,
    parse_registry,
)
from symphony_assets.config import Codebase

log = logging.getLogger(__name__)


class AutomationError(ValueError):
    """The registry is unreadable or names something impossible."""


def registry_path(codebase: Codebase) -> Path:
    return codebase.path / REGISTRY_FILE


def allowed_owners() -> tuple[int, ...]:
    """Who may own a registered script: the user running Symphony, and root."""
    return tuple(sorted({os.geteuid(), 0}))


def script_errors(root: Path, task: AutomationTask) -> list[str]:
    """The script must exist inside the codebase, be executable unless an interpreter starts it, and
    belong to us (or root) with no write access for group or others (``analysis.automation.owner_error``
    says why)."""
    full = (root / task.path).resolve()
    if root.resolve() not in full.parents:
        return [f"{task.name}: {task.path} is outside the codebase"]
    if not full.is_file():
        return [f"{task.name}: {task.path} does not exist"]
    if not task.interpreter and not os.access(full, os.X_OK):
        return [f"{task.name}: {task.path} is not executable (chmod +x, or give an interpreter)"]
    st = full.stat()
    problem = owner_error(task.name, task.path, st.st_uid, st.st_mode, allowed_owners())
    return [problem] if problem else []


def read_registry(codebase: Codebase) -> dict[str, Any]:
    path = registry_path(codebase)
    if not path.exists():
        return {"scripts": []}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {"scripts": []}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise AutomationError(f"{path}: cannot read it: {exc}") from exc
    if not isinstance(raw, dict):
        raise AutomationError(f"{path}: expected a mapping with a 'scripts' list")
    return raw


@dataclass(frozen=True)
class Registry:
    codebase: Codebase
    tasks: list[AutomationTask]
    errors: list[str]
    settings: dict[str, Any]


def load_registry(codebase: Codebase) -> Registry:
    """The codebase's scripts, each validated (cron, script present and runnable, owner, dependencies).
    A registry file that others may change (owner, or group/other write) yields no scripts at all: it
    names what runs, with which arguments and interpreter."""
    try:
        raw = read_registry(codebase)
    except AutomationError as exc:
        return Registry(codebase, [], [str(exc)], {})
    path = registry_path(codebase)
    if path.is_file():
        st = path.stat()
        problem = owner_error("registry", REGISTRY_FILE, st.st_uid, st.st_mode, allowed_owners())
        if problem:
            return Registry(codebase, [], [problem], {})
    tasks, errors = parse_registry(raw)
    for task in tasks:
        errors += script_errors(codebase.path, task)
    settings = raw.get("settings") if isinstance(raw.get("settings"), dict) else {}
    return Registry(codebase, tasks, errors, dict(settings or {}))


def write_registry(codebase: Codebase, raw: dict[str, Any]) -> Path:
    path = registry_path(codebase)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    os.replace(tmp, path)
    return path


def register(codebase: Codebase, task: AutomationTask) -> Path:
    """Add (or replace, by name) one script after validating it with the rest of the registry."""
    if task.schedule:
        problem = cron_error(task.schedule)
        if problem:
            raise AutomationError(problem)
        task = replace(task, schedule=normalise_cron(task.schedule))
    raw = read_registry(codebase)
    tasks, _ = parse_registry(raw)
    tasks = [t for t in tasks if t.name != task.name] + [task]
    problems = script_errors(codebase.path, task) + dependency_errors(tasks)
    if problems:
        raise AutomationError("; ".join(problems))
    kept = [e for e in raw.get("scripts") or [] if isinstance(e, dict) and e.get("name") != task.name]
    raw["scripts"] = [*kept, task.to_entry()]
    return write_registry(codebase, raw)


def import_conductor(codebase: Codebase, source: Path) -> tuple[Path, list[str]]:
    """Convert a seed ``conductor_config.json`` into the codebase's automation.yaml; returns the
    problems the converted registry has (scripts missing, bad cron) without refusing to write it."""
    try:
        raw = json.loads(source.read_text(encoding="utf-8"))
        doc = from_conductor(raw)
    except (OSError, ValueError) as exc:
        raise AutomationError(f"{source}: {exc}") from exc
    path = write_registry(codebase, doc)
    return path, load_registry(codebase).errors


@dataclass(frozen=True)
class ScriptResult:
    returncode: int | None
    timed_out: bool
    duration_s: float
    lines: int


def run_script(task: AutomationTask, cwd: Path, emit: Callable[[str], None]) -> ScriptResult:
    """Run the script in ``cwd``; each output line goes to ``emit``; past the timeout its whole
    process group gets SIGTERM, then SIGKILL after 10 s."""
    start = time.monotonic()
    proc = subprocess.Popen(
        list(task.command),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buffer, lines, timed_out = b"", 0, False
    deadline = start + task.timeout_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        if not sel.select(timeout=min(left, 1.0)):
            if proc.poll() is not None:
                break
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            lines += 1
            emit(line.decode("utf-8", "replace"))
    if timed_out:
        _stop_group(proc)
    if buffer:
        lines += 1
        emit(buffer.decode("utf-8", "replace"))
    sel.close()
    proc.stdout.close()
    rc = proc.wait()
    return ScriptResult(None if timed_out else rc, timed_out, time.monotonic() - start, lines)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
