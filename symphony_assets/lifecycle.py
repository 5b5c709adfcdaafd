"""Mark files your code creates as transient, so Symphony's cleanup can remove them once they expire.

Use in your own scripts (no Dagster needed)::

    from symphony_assets.lifecycle import transient_file, transient_files

    @transient_file(lifetime_hours=24)
    def write_report() -> Path:
        ...; return path

    with transient_files(lifetime_hours=2) as register:
        register(write_scratch())

Each created path is recorded in the codebase's ``.cleanup_registry.json`` (the codebase root is the
nearest ancestor holding ``.git``, or pass ``root=``). Writes take a file lock and replace the file
atomically, so concurrent writers never lose entries; a registry that does not parse is reported with
:class:`RegistryCorrupt` and never overwritten, since it may hold the only record of other files.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, overload

from filelock import FileLock

from symphony_assets.analysis.cleanup_rules import RegistryEntry

log = logging.getLogger(__name__)

REGISTRY_NAME = ".cleanup_registry.json"
LOCK_SUFFIX = ".lock"
DEFAULT_LIFETIME_HOURS = 24.0
FORMAT_VERSION = 1

P = ParamSpec("P")
R = TypeVar("R")
PathLike = str | os.PathLike[str]


class RegistryCorrupt(RuntimeError):
    """The registry file exists but is not a registry we wrote; fix or move it by hand."""

    def __init__(self, path: Path, error: str) -> None:
        super().__init__(f"{path}: cleanup registry is corrupt ({error}); not overwriting it")
        self.path = path
        self.error = error


def find_root(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` holding ``.git``."""
    start = start.absolute()
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def registry_path(root: Path) -> Path:
    return Path(root) / REGISTRY_NAME


def _read_raw(path: Path) -> dict[str, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError as exc:
        raise RegistryCorrupt(path, f"not UTF-8: {exc}") from exc
    if not text.strip():
        raise RegistryCorrupt(path, "empty file")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RegistryCorrupt(path, str(exc)) from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("files"), dict):
        raise RegistryCorrupt(path, "expected an object with a 'files' object")
    files: dict[str, dict[str, Any]] = raw["files"]
    for key, value in files.items():
        if not isinstance(value, dict):
            raise RegistryCorrupt(path, f"entry {key!r} is not an object")
    return files


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def load_registry(root: Path) -> dict[str, RegistryEntry]:
    """All entries of a codebase's registry, by path; an absent registry is empty."""
    files = _read_raw(registry_path(root))
    out: dict[str, RegistryEntry] = {}
    for path, value in files.items():
        pid = value.get("pid")
        out[path] = RegistryEntry(
            path=path,
            created=_parse_time(value.get("created")),
            expires=_parse_time(value.get("expires")),
            creator=str(value.get("creator") or ""),
            pid=pid if isinstance(pid, int) else None,
        )
    return out


def _write_atomic(path: Path, files: dict[str, dict[str, Any]]) -> None:
    data = json.dumps({"version": FORMAT_VERSION, "files": files}, indent=1, sort_keys=True) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:  # whatever stopped the write, remove the temp file, then re-raise
        Path(tmp).unlink(missing_ok=True)
        raise


def update_registry(root: Path, entries: dict[str, dict[str, Any]]) -> None:
    """Merge entries (path -> fields) into the registry under its lock; later entries replace earlier."""
    path = registry_path(root)
    with FileLock(str(path) + LOCK_SUFFIX, timeout=60):
        files = _read_raw(path)
        files.update(entries)
        _write_atomic(path, files)


def remove_entries(root: Path, paths: Iterable[str]) -> int:
    """Drop entries (after cleanup removed their files); returns how many were present."""
    path = registry_path(root)
    with FileLock(str(path) + LOCK_SUFFIX, timeout=60):
        files = _read_raw(path)
        gone = [p for p in paths if p in files]
        if not gone:
            return 0
        for p in gone:
            del files[p]
        _write_atomic(path, files)
        return len(gone)


def _relative(path: PathLike, root: Path | None) -> tuple[Path, str] | None:
    """(root, path relative to root) or None when the path is outside any codebase we can find."""
    full = Path(os.path.abspath(os.fspath(path)))
    base = Path(root).absolute() if root is not None else find_root(full.parent)
    if base is None:
        log.warning("transient file %s is not inside a git codebase; not registered", full)
        return None
    try:
        rel = full.relative_to(base)
    except ValueError:
        log.warning("transient file %s is outside the codebase root %s; not registered", full, base)
        return None
    return base, rel.as_posix()


def _record(paths: Iterable[PathLike], lifetime_hours: float, creator: str, root: Path | None) -> list[str]:
    created = datetime.now(UTC)
    expires = created + timedelta(hours=lifetime_hours)
    by_root: dict[Path, dict[str, dict[str, Any]]] = {}
    for p in paths:
        rel = _relative(p, root)
        if rel is None:
            continue
        base, relpath = rel
        by_root.setdefault(base, {})[relpath] = {
            "created": created.isoformat(),
            "expires": expires.isoformat(),
            "creator": creator,
            "pid": os.getpid(),
        }
    for base, entries in by_root.items():
        update_registry(base, entries)
    return [p for entries in by_root.values() for p in entries]


def _as_paths(result: Any) -> list[PathLike]:
    if result is None:
        return []
    if isinstance(result, str | os.PathLike):
        return [result]
    if isinstance(result, Iterable):
        return [r for r in result if isinstance(r, str | os.PathLike)]
    return []


@overload
def transient_file(func: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def transient_file(
    *, lifetime_hours: float = DEFAULT_LIFETIME_HOURS, root: PathLike | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def transient_file(
    func: Callable[P, R] | None = None,
    /,
    *,
    lifetime_hours: float = DEFAULT_LIFETIME_HOURS,
    root: PathLike | None = None,
) -> Any:
    """Register the path (or iterable of paths) the decorated function returns as transient.

    A path outside any codebase is logged and skipped rather than raised: the function's work is done
    and its caller should still get the result.
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        creator = f"{fn.__module__}:{fn.__qualname__}"

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            result = fn(*args, **kwargs)
            _record(_as_paths(result), lifetime_hours, creator, Path(root) if root is not None else None)
            return result

        return wrapper

    return decorate(func) if func is not None else decorate


@contextmanager
def transient_files(
    lifetime_hours: float = DEFAULT_LIFETIME_HOURS, root: PathLike | None = None
) -> Iterator[Callable[[PathLike], str | None]]:
    """Yield ``register(path)``; each call records the path at once, so a later crash loses nothing."""
    # This generator's frame -> contextlib's __enter__ -> the ``with`` statement's frame.
    frame = inspect.currentframe()
    caller = frame.f_back.f_back if frame is not None and frame.f_back is not None else None
    creator = "unknown"
    if caller is not None:
        creator = f"{caller.f_globals.get('__name__', '?')}:{caller.f_code.co_name}"
    del frame, caller
    base = Path(root) if root is not None else None

    def register(path: PathLike) -> str | None:
        recorded = _record([path], lifetime_hours, creator, base)
        return recorded[0] if recorded else None

    yield register
