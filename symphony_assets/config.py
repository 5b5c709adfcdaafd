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

from symphony_assets.core.git_urls import is_git_url, mirror_path

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
    """The configuration file is missing something or says something impossible.

    ``str()`` gives ``file:line: reason`` when the place is known, so the sensor tick, the asset check and
    ``symphony run`` all show the same one-line message.
    """

    def __init__(self, reason: str, path: Path | None = None, line: int | None = None) -> None:
        self.reason, self.path, self.line = reason, path, line
        where = f"{path}:{line}: " if path is not None and line else f"{path}: " if path is not None else ""
        super().__init__(where + reason)


class _ChoiceMeta(type):
    """``isinstance(value, choice)`` holds only for the allowed texts: the type check checks the value."""

    allowed: tuple[str, ...] = ()

    def __instancecheck__(cls, value: Any) -> bool:
        return isinstance(value, str) and value in cls.allowed


def _choice(*allowed: str) -> type:
    """A DOMAIN_OPTIONS 'type' that accepts one of the given texts; its name reads well in the error."""
    return _ChoiceMeta(" or ".join(repr(a) for a in allowed), (), {"allowed": allowed})


#: The per-domain options a codebase may set, with their types. An unknown key is an error that names
#: it, so a typo never silently falls back to a default.
_LIST, _STR, _INT, _BOOL, _DICT, _NUM = list, str, int, bool, dict, (int, float)
DOMAIN_OPTIONS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "imports": {"source_roots": _LIST, "external_names": _LIST, "use_installed_names": _BOOL},
    "ports": {"components": _DICT},
    "code": {"max_complexity_bytes": _INT},
    "gpu": {"hosts": _LIST},
    "upkeep": {"git_maintenance": _BOOL, "git_command": _choice("maintenance", "gc")},
    "tracker": {"sources": _LIST, "github_repo": _STR,
                # Acting policy: the sensor applies the plan only with mode "apply", within these caps.
                "mode": _choice("dry-run", "apply"), "max_create": _INT, "max_close": _INT,
                "closing_enabled": _BOOL},
    "cleanup": {
        **{name: _LIST for name in ("critical_dirs", "protected_patterns", "temp_patterns",
                                    "automation_registry_files")},
        **{f"extra_{name}": _LIST for name in ("critical_dirs", "protected_patterns", "temp_patterns",
                                               "automation_registry_files")},
        "untracked_min_age_days": _INT,
        "tracked_min_age_days": _INT,
        "tracked_max_references": _INT,
        "quarantine_dir": _STR,
        "stale_process_patterns": _LIST,
        "stale_process_hours": _NUM,
        "stale_file_hours": _NUM,
        "temp_dirs": _LIST,
        "weekly_execute": _BOOL,
        "expired_execute": _BOOL,
        # Acting policy: the sensor quarantines only with mode "execute", at most max_deletions files a run.
        "mode": _choice("dry-run", "execute"),
        "max_deletions": _INT,
        "allow_tracked": _BOOL,
    },
    "security": {"skip_rules": _LIST, "min_severity": _STR},
    "new_findings": {"severity": _STR, "assets": _DICT},
    "dependency_usage": {"module_map": _DICT, "ignore_modules": _LIST, "ignore_packages": _LIST},
    "duplicates": {"threshold": _NUM, "shingle_size": _INT, "min_tokens": _INT, "num_perm": _INT},
    "agents": {"config_globs": _LIST, "agent_globs": _LIST, "list_keys": _LIST},
}  # fmt: skip
_CODEBASE_KEYS = {"name": _STR, "path": _STR, "machine": _STR, "branch": _STR, "exclude": _LIST,
                  "skip_dirs": _LIST, "owners": _LIST, "root": _STR}  # fmt: skip


@dataclass(frozen=True)
class Codebase:
    """One git codebase to watch, possibly one of several deployments of the same system."""

    name: str
    path: Path
    machine: str = "local"
    branch: str | None = None
    exclude: tuple[str, ...] = ()
    skip_dirs: tuple[str, ...] = DEFAULT_SKIP_DIRS
    #: Who looks after this codebase (emails or ``team:name``), shown on each of its partitions in the UI.
    owners: tuple[str, ...] = ()
    #: The remote a codebase given by git URL is mirrored from; ``path`` is then its bare mirror under
    #: ``$SYMPHONY_HOME/mirrors`` and every partition, today's included, is read from git objects.
    url: str | None = None
    #: A sub-folder of the repository that is the whole codebase (``main_pc_code``); "" for all of it.
    #: For a local codebase ``path`` already ends in it; for a URL codebase ``path`` is the mirror.
    root: str = ""
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

    def named_or_current(self, name: str | None) -> Codebase:
        """The codebase ``name``; with none, the one the current directory is in, else the first."""
        if name:
            return self.codebase(name)
        here = Path.cwd().resolve()
        for cb in self.codebases:
            if here == cb.path.resolve() or cb.path.resolve() in here.parents:
                return cb
        return self.codebases[0]


def symphony_home() -> Path:
    return Path(os.environ.get(HOME_ENV) or "var").absolute()


def mirrors_root() -> Path:
    """Where the bare mirrors of codebases given by URL live (a cache: any worker can rebuild it)."""
    return symphony_home() / "mirrors"


def warehouse_root() -> str:
    """The Parquet root: a local folder or an fsspec URL (``s3://bucket/prefix``, see storage/warehouse)."""
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
    """Load ``symphony.yaml``; with none, the repository we run from is the one codebase.

    Every problem (unreadable file, YAML syntax, a wrong type, an unknown key, a bad date) is a
    :class:`ConfigError` naming the file and, where it has one, the line.
    """
    path = path or config_path()
    if path is None:
        root = _git_toplevel(Path.cwd())
        return SymphonyConfig(codebases=(Codebase(name=_safe_name(root.name), path=root),))
    if not path.exists():
        raise ConfigError(f"{CONFIG_ENV} points at {path}, which does not exist")
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.load(text, Loader=_ConfigLoader) or {}
    except yaml.MarkedYAMLError as exc:
        content_end = len(text.rstrip())
        marks = [m for m in (exc.problem_mark, exc.context_mark) if m is not None]
        inside = [m for m in marks if m.index < content_end]
        # At the end of the file ("found <stream end>"), point at what was left open, else the last line.
        line = inside[0].line + 1 if inside else (text[:content_end].count("\n") + 1 if marks else None)
        reason = f"not valid YAML: {exc.problem or exc}" + (f" ({exc.context})" if exc.context else "")
        raise ConfigError(reason, path, line) from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read it: {exc}", path) from exc
    lines = _Lines(path, node)
    if not isinstance(raw, dict):
        raise lines.error("expected a mapping at the top level")
    unknown_top = sorted(set(raw) - {"codebases", "start_date"})
    if unknown_top:
        raise lines.error(f"unknown key {unknown_top[0]!r} (known: codebases, start_date)", unknown_top[0])
    entries = raw.get("codebases") or []
    if not isinstance(entries, list) or not entries:
        raise lines.error("'codebases' must be a non-empty list", "codebases")
    codebases = [_codebase(entry, i, path, lines) for i, entry in enumerate(entries)]
    names = [cb.name for cb in codebases]
    if len(set(names)) != len(names):
        raise lines.error(f"codebase names must be unique, got {names}", "codebases")
    start = str(raw.get("start_date") or DEFAULT_START_DATE)
    try:
        date.fromisoformat(start)
    except ValueError as exc:
        raise lines.error(f"start_date {start!r} is not a date (YYYY-MM-DD)", "start_date") from exc
    return SymphonyConfig(codebases=tuple(codebases), start_date=start, source=path)


class _ConfigLoader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text, so a bad ``start_date`` is our error with its line, not
    PyYAML's ``ValueError`` from deep inside its timestamp constructor."""


_ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Lines:
    """Line numbers of the top-level keys and of each codebase entry, from the composed YAML."""

    def __init__(self, path: Path, node: yaml.Node | None) -> None:
        self.path = path
        self.keys: dict[str, int] = {}
        self.entries: list[dict[str, int]] = []
        if not isinstance(node, yaml.MappingNode):
            return
        for key, value in node.value:
            self.keys[str(key.value)] = key.start_mark.line + 1
            if key.value == "codebases" and isinstance(value, yaml.SequenceNode):
                for item in value.value:
                    where = {"": item.start_mark.line + 1}
                    if isinstance(item, yaml.MappingNode):
                        where |= {str(k.value): k.start_mark.line + 1 for k, _ in item.value}
                    self.entries.append(where)

    def error(self, reason: str, key: str | None = None, entry: int | None = None) -> ConfigError:
        if entry is not None and entry < len(self.entries):
            where = self.entries[entry]
            return ConfigError(reason, self.path, where.get(key or "", where[""]))
        return ConfigError(reason, self.path, self.keys.get(key or ""))


def _codebase(entry: Any, i: int, path: Path, lines: _Lines) -> Codebase:
    if not isinstance(entry, dict) or "name" not in entry or "path" not in entry:
        raise lines.error(f"codebase #{i + 1} needs at least 'name' and 'path'", entry=i)
    name = str(entry["name"])
    if name != _safe_name(name):
        raise lines.error(f"codebase name {name!r} may hold only letters, digits, '-', '_', '.'", "name", i)
    for key, value in entry.items():
        key = str(key)
        if key in _CODEBASE_KEYS:
            _check_type(lines, i, key, value, _CODEBASE_KEYS[key], f"codebase {name!r}: {key!r}")
            continue
        if key not in DOMAIN_OPTIONS:
            known = ", ".join(sorted([*_CODEBASE_KEYS, *DOMAIN_OPTIONS]))
            raise lines.error(f"codebase {name!r}: unknown key {key!r} (known: {known})", key, i)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise lines.error(f"codebase {name!r}: {key!r} must be a mapping of options", key, i)
        for option, option_value in value.items():
            allowed = DOMAIN_OPTIONS[key].get(str(option))
            if allowed is None:
                known = ", ".join(sorted(DOMAIN_OPTIONS[key]))
                raise lines.error(
                    f"codebase {name!r}: unknown {key} option {option!r} (known: {known})", key, i
                )
            _check_type(lines, i, key, option_value, allowed, f"codebase {name!r}: {key}.{option}")
    raw_path = str(entry["path"])
    url = raw_path if is_git_url(raw_path) else None
    if url is not None:
        cb_path = mirror_path(url, mirrors_root())
    else:
        cb_path = Path(os.path.expanduser(raw_path))
        if not cb_path.is_absolute():
            cb_path = (path.parent / cb_path).absolute()
    sub = str(entry.get("root") or "").strip("/")
    if sub and (Path(sub).is_absolute() or ".." in Path(sub).parts or "\\" in sub):
        raise lines.error(
            f"codebase {name!r}: 'root' must be a folder inside the repository, not {sub!r}", "root", i
        )
    if sub and url is None:
        # A local codebase's path is its own folder (cleanup acts there); git still reads the repository.
        cb_path = cb_path / sub
    return Codebase(
        name=name,
        path=cb_path,
        machine=str(entry.get("machine") or "local"),
        branch=entry.get("branch"),
        exclude=tuple(entry.get("exclude") or ()),
        skip_dirs=tuple(entry.get("skip_dirs") or DEFAULT_SKIP_DIRS),
        owners=tuple(str(o) for o in entry.get("owners") or ()),
        url=url,
        root=sub,
        options={k: v for k, v in entry.items() if k in DOMAIN_OPTIONS},
    )


def _check_type(
    lines: _Lines, i: int, key: str, value: Any, allowed: type | tuple[type, ...], what: str
) -> None:
    if value is None:
        return
    types = allowed if isinstance(allowed, tuple) else (allowed,)
    if isinstance(value, bool) and bool not in types:
        ok = False
    else:
        ok = isinstance(value, types)
    if not ok:
        names = {"str": "text", "int": "whole number", "float": "number", "bool": "true/false"}
        names["dict"] = "mapping"
        wanted = " or ".join(dict.fromkeys(names.get(t.__name__, t.__name__) for t in types))
        raise lines.error(f"{what} must be {wanted}, not {value!r}", key, i)


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name) or "codebase"
