"""Per-codebase cleanup settings: the rules, the quarantine folders and the executor of an audit label.

Shared by the cleanup assets, ``symphony cleanup restore`` and the health and gate checks.
"""

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg

from symphony_assets.analysis.cleanup_rules import CleanupRules
from symphony_assets.config import Codebase, symphony_home
from symphony_assets.resources.postgres import connect_factory
from symphony_assets.resources.quarantine import AuditLog, CleanupBusy, CleanupExecutor

DOMAIN = "cleanup"
TEMP_LABEL = ":temp:"


def rules_for(codebase: Codebase) -> CleanupRules:
    return CleanupRules.from_options(codebase.options.get(DOMAIN))


def quarantine_dir(codebase: Codebase) -> Path:
    configured = codebase.option(DOMAIN, "quarantine_dir")
    return Path(configured) if configured else symphony_home() / "quarantine" / codebase.name


def temp_label(codebase: Codebase, folder: Path) -> str:
    """Audit name of a temp folder's executor: its own lock and rows, separate from the codebase's."""
    return f"{codebase.name}{TEMP_LABEL}{folder}"


def temp_quarantine_dir(codebase: Codebase, folder: Path) -> Path:
    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    return quarantine_dir(codebase) / "temp" / digest


def temp_folders(codebase: Codebase) -> list[Path]:
    """The codebase's ``cleanup.temp_dirs``, absolute (relative ones are inside the codebase)."""
    out = []
    for raw in codebase.option(DOMAIN, "temp_dirs", []) or []:
        folder = Path(str(raw))
        out.append((folder if folder.is_absolute() else codebase.path / folder).absolute())
    return out


def codebase_executor(codebase: Codebase, db_url: str, run_id: str, **kwargs: Any) -> CleanupExecutor:
    """The executor of the codebase's own files, audited under its name."""
    audit = AuditLog(connect_factory(db_url), codebase.name)
    return CleanupExecutor(codebase.path, quarantine_dir(codebase), audit, run_id, **kwargs)


def temp_executor(
    codebase: Codebase, folder: Path, db_url: str, run_id: str, **kwargs: Any
) -> CleanupExecutor:
    """The executor of one of the codebase's temp folders, audited under :func:`temp_label`."""
    audit = AuditLog(connect_factory(db_url), temp_label(codebase, folder))
    return CleanupExecutor(folder, temp_quarantine_dir(codebase, folder), audit, run_id, **kwargs)


def held_after_restore(db_url: str, name: str) -> dict[str, str]:
    """Paths a restore put back, which cleanup keeps its hands off until released: path -> why."""
    audit = AuditLog(connect_factory(db_url), name)
    with audit.session():
        return audit.held()


def executor_for_label(
    label: str, codebases: list[Codebase], db_url: str, run_id: str, **kwargs: Any
) -> CleanupExecutor:
    """The executor that owns an audit ``codebase`` label: a codebase, or one of its temp folders."""
    name, _, folder = label.partition(TEMP_LABEL)
    codebase = next((c for c in codebases if c.name == name), None)
    if codebase is None:
        raise KeyError(f"codebase {name!r} is not in symphony.yaml")
    if folder:
        return temp_executor(codebase, Path(folder), db_url, run_id, **kwargs)
    return codebase_executor(codebase, db_url, run_id, **kwargs)


@contextmanager
def fail_when_busy(what: str) -> Iterator[None]:
    """Another run holds the codebase's cleanup lock: this run fails, naming what it was doing."""
    try:
        yield
    except CleanupBusy as exc:
        raise dg.Failure(description=f"{what}: {exc}") from exc
