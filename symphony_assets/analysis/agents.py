"""Agents declared in startup configuration files, and how they compare with the code.

The shapes recognised by default (YAML or JSON): a list of mappings that name an agent and say how it
starts (``name`` plus ``script_path``/``script``/``module``/``path``/``file``/``port``), anywhere in the
document, and a mapping of mappings under a key such as ``agents``/``services``/``processes`` whose
values say how each starts (the key is the name). ``list_keys`` restricts the search to lists and
mappings under the given keys. Every declaration keeps its file and line.

:func:`compare` then joins declarations with the agent files that exist and the ports the code binds:
declared but missing, present but undeclared, declared twice, port in config differs from the code,
dependency on an undeclared agent.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml

from symphony_assets.analysis.limits import MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH

#: Bump when parsing changes what a config file yields (part of the blob-cache key).
ANALYSER_VERSION = "2"
MAX_NODES = 200_000

SCRIPT_KEYS = ("script_path", "script", "path", "file", "entrypoint", "entry_point")
MODULE_KEYS = ("module",)
PORT_KEYS = ("port", "zmq_port", "listen_port", "bind_port")
HOST_KEYS = ("host", "machine", "hostname")
DEPENDENCY_KEYS = ("dependencies", "depends_on", "requires", "after")
DEFAULT_MAP_KEYS = ("agents", "services", "processes", "workers", "components")

KIND_OK = "ok"
KIND_MISSING = "declared_missing"
KIND_UNDECLARED = "undeclared_agent"
KIND_TWICE = "declared_twice"
KIND_PORT = "port_differs"
KIND_DEPENDENCY = "undeclared_dependency"


@dataclass(frozen=True)
class Declaration:
    name: str
    config_path: str
    line: int
    script: str | None  # repository-relative path, as declared (or from a module)
    port: int | None
    host: str | None
    dependencies: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Declaration:
        return cls(**{**raw, "dependencies": tuple(raw.get("dependencies") or ())})


@dataclass(frozen=True)
class RegistryRow:
    agent: str
    kind: str
    config_path: str | None
    config_line: int | None
    script_path: str | None
    declared_port: int | None
    code_ports: str
    host: str | None
    dependencies: str
    detail: str


class _Loader(yaml.CSafeLoader):
    """libyaml's SafeLoader (C speed) whose mappings remember their line (``__line__``)."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def config_kind(path: str) -> str:
    """How :func:`declarations` reads a file: as ``json`` or as ``yaml``, chosen by its name."""
    return "json" if path.lower().endswith(".json") else "yaml"


def _load(path: str, text: str) -> list[Any]:
    # A file nested deeper than the interpreter's stack (the hostile corpus has one) is not a startup
    # configuration: RecursionError means "none here", like a syntax error.
    if config_kind(path) == "json":
        try:
            return [json.loads(text)]
        except (ValueError, RecursionError):
            return []
    try:
        return [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]  # a SafeLoader subclass
    except (yaml.YAMLError, RecursionError):
        return []


def _as_port(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 65536 else None
    if isinstance(value, str) and value.strip().isdigit():
        return _as_port(int(value.strip()))
    return None


def _first(entry: Mapping[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        if key in entry and entry[key] not in (None, ""):
            return entry[key]
    return None


def _script(entry: Mapping[str, Any]) -> str | None:
    script = _first(entry, SCRIPT_KEYS)
    if isinstance(script, str) and script.strip():
        return posixpath.normpath(script.strip().removeprefix("./"))
    module = _first(entry, MODULE_KEYS)
    if isinstance(module, str) and module.strip():
        return module.strip().replace(".", "/") + ".py"
    return None


def _deps(entry: Mapping[str, Any]) -> tuple[str, ...]:
    raw = _first(entry, DEPENDENCY_KEYS)
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, Mapping):
        return tuple(str(k) for k in raw if k != "__line__")
    if isinstance(raw, list):
        return tuple(str(d) for d in raw if isinstance(d, (str, int)))
    return ()


def _looks_like_agent(entry: Mapping[str, Any], named: bool) -> bool:
    starts = _first(entry, SCRIPT_KEYS) is not None or _first(entry, MODULE_KEYS) is not None
    if named:
        return "name" in entry and (starts or _first(entry, PORT_KEYS) is not None)
    return starts


def _declaration(name: str, entry: Mapping[str, Any], config_path: str, line: int) -> Declaration:
    host = _first(entry, HOST_KEYS)
    return Declaration(
        name=name,
        config_path=config_path,
        line=int(entry.get("__line__", line)),
        script=_script(entry),
        port=_as_port(_first(entry, PORT_KEYS)),
        host=str(host) if host is not None else None,
        dependencies=_deps(entry),
    )


#: The keys that make a mapping start an agent (``_looks_like_agent``), besides ``name``.
_START_KEYS = frozenset(SCRIPT_KEYS + MODULE_KEYS + PORT_KEYS)
#: A merge key brings another mapping's keys in: a file with one is always loaded in full.
_MERGE_KEY = "<<"


def _may_declare(text: str, wanted: set[str], map_keys: set[str]) -> bool:
    """Whether a YAML text can declare an agent at all, from libyaml's event stream alone (no nodes, no
    type resolution, no Python objects: about 5x cheaper than loading). Daily YAML reports of 0.2-2 MB
    have no such shape, and loading them was most of ``agent_registry``'s time in a backfill.

    A declaration needs, in ONE mapping, either a key of ``map_keys`` (the mapping form; with
    ``list_keys``, a key of them for either form), or ``name`` and a key that starts an agent (the list
    form). Keys are compared as the parser reads them. Whatever this pass cannot judge that simply (a
    merge key, an alias or a collection as a key, a parse error) says True, and the file is loaded as
    before; so it only ever skips files whose full reading declares nothing.
    """
    frames: list[list[Any] | None] = []  # per open collection: [keys, next is a key], None: a sequence

    def key_of_mapping() -> set[str] | None:
        """Advance the enclosing mapping; its key set when this node is one of its keys."""
        frame = frames[-1] if frames else None
        if frame is None:
            return None
        frame[1] = not frame[1]
        return frame[0] if not frame[1] else None

    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, yaml.ScalarEvent):
                keys = key_of_mapping()
                if keys is not None:
                    keys.add(event.value)
            elif isinstance(event, (yaml.AliasEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if key_of_mapping() is not None:
                    return True  # an alias or a collection as a key
                if not isinstance(event, yaml.AliasEvent):
                    frames.append([set(), True] if isinstance(event, yaml.MappingStartEvent) else None)
            elif isinstance(event, yaml.SequenceEndEvent):
                frames.pop()
            elif isinstance(event, yaml.MappingEndEvent):
                ended = frames.pop()
                keys = ended[0] if ended is not None else set()
                if _MERGE_KEY in keys or keys & (wanted or map_keys):
                    return True
                if not wanted and "name" in keys and keys & _START_KEYS:
                    return True
    except Exception:  # noqa: BLE001 - anything unexpected: load the file as before, which decides
        return True
    return False


def declarations(path: str, content: bytes, list_keys: Sequence[str] = ()) -> list[Declaration]:
    """Agents declared in one YAML/JSON file (none when it is not a startup configuration)."""
    if len(content) > MAX_CONFIG_BYTES:
        return []
    wanted = set(list_keys)
    map_keys = wanted or set(DEFAULT_MAP_KEYS)
    text = content.decode("utf-8", "replace")
    if config_kind(path) == "yaml" and not _may_declare(text, wanted, map_keys):
        return []
    return _declarations(path, text, wanted, map_keys)


def _declarations(path: str, text: str, wanted: set[str], map_keys: set[str]) -> list[Declaration]:
    found: list[Declaration] = []
    budget = [MAX_NODES]  # aliases share nodes; the walk is bounded however often they repeat

    def walk(node: Any, key: str | None, depth: int = 0) -> None:
        budget[0] -= 1
        if budget[0] < 0 or depth > MAX_CONFIG_DEPTH:
            return
        if isinstance(node, list):
            if not wanted or key in wanted:
                maps = [e for e in node if isinstance(e, Mapping)]
                agents = [e for e in maps if _looks_like_agent(e, named=True)]
                if agents and len(agents) * 2 >= len(maps):
                    found.extend(_declaration(str(e["name"]), e, path, 0) for e in agents)
                    return
            for e in node:
                walk(e, None, depth + 1)
        elif isinstance(node, Mapping):
            if key in map_keys:
                values = {k: v for k, v in node.items() if k != "__line__" and isinstance(v, Mapping)}
                starting = {k: v for k, v in values.items() if _looks_like_agent(v, named=False)}
                if starting and len(starting) * 2 >= len(values):
                    found.extend(_declaration(str(e.get("name", k)), e, path, 0) for k, e in starting.items())
                    return
            for k, v in node.items():
                if k != "__line__":
                    walk(v, str(k), depth + 1)

    for doc in _load(path, text):
        walk(doc, None)
    return found


def _resolve(script: str, config_path: str, files: set[str]) -> str | None:
    """The repository path a declared script names: as given from the root, or next to the config."""
    candidates = [script, posixpath.normpath(posixpath.join(posixpath.dirname(config_path), script))]
    for c in candidates:
        if c in files:
            return c
    return None


@dataclass
class _Agent:
    decls: list[Declaration] = field(default_factory=list)


def compare(
    decls: Iterable[Declaration],
    files: Iterable[str],
    agent_files: Iterable[str],
    code_ports: Mapping[str, Sequence[int]],
) -> list[RegistryRow]:
    """Declarations against the files (all, and those that look like agents) and the bound ports."""
    file_set = set(files)
    by_name: dict[str, _Agent] = {}
    for d in decls:
        by_name.setdefault(d.name, _Agent()).decls.append(d)
    rows: list[RegistryRow] = []
    referenced: set[str] = set()

    def row(d: Declaration, kind: str, detail: str, script: str | None, ports: Sequence[int]) -> RegistryRow:
        return RegistryRow(
            agent=d.name,
            kind=kind,
            config_path=d.config_path,
            config_line=d.line,
            script_path=script or d.script,
            declared_port=d.port,
            code_ports=", ".join(str(p) for p in sorted(set(ports))),
            host=d.host,
            dependencies=", ".join(d.dependencies),
            detail=detail,
        )

    for name in sorted(by_name):
        group = by_name[name].decls
        if len(group) > 1:
            places = ", ".join(f"{d.config_path}:{d.line}" for d in group)
            rows.append(row(group[0], KIND_TWICE, f"declared {len(group)} times: {places}", None, []))
        for d in group:
            problems: list[tuple[str, str]] = []
            script = _resolve(d.script, d.config_path, file_set) if d.script else None
            ports = list(code_ports.get(script, ())) if script else []
            if script:
                referenced.add(script)
            elif d.script:
                problems.append((KIND_MISSING, f"{d.script} does not exist"))
            if script and d.port is not None and ports and d.port not in ports:
                problems.append(
                    (KIND_PORT, f"config says {d.port}, the code binds {', '.join(map(str, ports))}")
                )
            for dep in d.dependencies:
                if dep not in by_name:
                    problems.append((KIND_DEPENDENCY, f"depends on {dep!r}, which no configuration declares"))
            for kind, detail in problems:
                rows.append(row(d, kind, detail, script, ports))
            if not problems:
                rows.append(
                    row(d, KIND_OK, "declared, present" + (", port matches" if ports else ""), script, ports)
                )
    if by_name:  # with no startup configuration at all, nothing can be called undeclared
        for path in sorted(set(agent_files) - referenced):
            rows.append(
                RegistryRow(
                    agent=posixpath.splitext(posixpath.basename(path))[0],
                    kind=KIND_UNDECLARED,
                    config_path=None,
                    config_line=None,
                    script_path=path,
                    declared_port=None,
                    code_ports=", ".join(str(p) for p in sorted(set(code_ports.get(path, ())))),
                    host=None,
                    dependencies="",
                    detail="an agent file no startup configuration declares",
                )
            )
    return rows
