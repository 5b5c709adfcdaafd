"""Where things live and which codebases to watch.

Read fresh on every call (no module-level state), so a run launched on another machine or in
another process sees the same configuration as long as it sees the same files and environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

CONFIG_ENV = "SYMPHONY_CONFIG"
HOME_ENV = "SYMPHONY_HOME"
WAREHOUSE_ENV = "SYMPHONY_WAREHOUSE"
DEFAULT_START_DATE = "2024-01-01"

#: Folders never descended into when walking a working tree (configurable per codebase).
DEFAULT_SKIP_DIRS: tuple[str, ...] = (
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    "env",
    ".env",
    "virtualenv",
    "node_modules",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".tox",
    ".nox",
    ".eggs",
    "site-packages",
)


class ConfigError(ValueError):
    """The configuration file is missing something or says something impossible."""


@dataclass(frozen=True)
class Codebase:
    """One git codebase to watch, possibly one of several deployments of the same system."""

    name: str
    path: Path
    machine: str = "local"
    branch: str | None = None
    exclude: tuple[str, ...] = ()
    skip_dirs: tuple[str, ...] = DEFAULT_SKIP_DIRS
    #: Free-form per-domain settings, e.g. ``{"imports": {"source_roots": ["src"]}, "cleanup": {...}}``.
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def option(self, domain: str, key: str, default: Any = None) -> Any:
        return (self.options.get(domain) or {}).get(key, default)


@dataclass(frozen=True)
class SymphonyConfig:
    codebases: tuple[Codebase, ...]
    start_date: str = DEFAULT_START_DATE
    source: Path | None = None

    def codebase(self, name: str) -> Codebase:
        for cb in self.codebases:
            if cb.name == name:
                return cb
        known = ", ".join(cb.name for cb in self.codebases) or "none"
        raise ConfigError(f"unknown codebase {name!r} (configured: {known})")

    @property
    def names(self) -> list[str]:
        return [cb.name for cb in self.codebases]


def symphony_home() -> Path:
    return Path(os.environ.get(HOME_ENV) or "var").absolute()


def warehouse_root() -> str:
    """The Parquet root: a local folder or a URL (``s3://bucket/prefix``) that pyarrow can write to."""
    return os.environ.get(WAREHOUSE_ENV) or str(symphony_home() / "warehouse")


def config_path() -> Path | None:
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    local = Path.cwd() / "symphony.yaml"
    return local if local.exists() else None


def _git_toplevel(start: Path) -> Path:
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return start


def load_config(path: Path | None = None) -> SymphonyConfig:
    """Load ``symphony.yaml``; with none, the repository we run from is the one codebase."""
    path = path or config_path()
    if path is None:
        root = _git_toplevel(Path.cwd())
        return SymphonyConfig(codebases=(Codebase(name=_safe_name(root.name), path=root),))
    if not path.exists():
        raise ConfigError(f"{CONFIG_ENV} points at {path}, which does not exist")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    entries = raw.get("codebases") or []
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: 'codebases' must be a non-empty list")
    codebases = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or "name" not in entry or "path" not in entry:
            raise ConfigError(f"{path}: codebase #{i + 1} needs at least 'name' and 'path'")
        name = str(entry["name"])
        if name != _safe_name(name):
            raise ConfigError(f"{path}: codebase name {name!r} may hold only letters, digits, '-', '_', '.'")
        cb_path = Path(os.path.expanduser(str(entry["path"])))
        if not cb_path.is_absolute():
            cb_path = (path.parent / cb_path).absolute()
        known = {"name", "path", "machine", "branch", "exclude", "skip_dirs"}
        codebases.append(
            Codebase(
                name=name,
                path=cb_path,
                machine=str(entry.get("machine") or "local"),
                branch=entry.get("branch"),
                exclude=tuple(entry.get("exclude") or ()),
                skip_dirs=tuple(entry.get("skip_dirs") or DEFAULT_SKIP_DIRS),
                options={k: v for k, v in entry.items() if k not in known},
            )
        )
    names = [cb.name for cb in codebases]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: codebase names must be unique, got {names}")
    start = str(raw.get("start_date") or DEFAULT_START_DATE)
    date.fromisoformat(start)
    return SymphonyConfig(codebases=tuple(codebases), start_date=start, source=path)


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name) or "codebase"
