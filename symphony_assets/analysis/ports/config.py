"""Ports in config files (YAML, JSON, TOML, compose, ``.env``).

Each file is read into one format-neutral tree (:mod:`.config_tree`), which is walked for port keys,
address keys and URLs; a ``KEY=VALUE`` file, or a config that does not parse, is read line by line.
"""

from __future__ import annotations

import re

import yaml

from symphony_assets.analysis import limits
from symphony_assets.analysis.ports.compose import compose_ports
from symphony_assets.analysis.ports.config_hints import json_within_limits, may_hold_sites
from symphony_assets.analysis.ports.config_json import read_json
from symphony_assets.analysis.ports.config_toml import read_toml
from symphony_assets.analysis.ports.config_tree import ConfigNode
from symphony_assets.analysis.ports.config_values import (
    ADDRESS_KEY,
    VAR_NAME,
    collect_vars,
    config_port,
    config_site,
    is_port_key,
    substitute,
)
from symphony_assets.analysis.ports.config_yaml import read_yaml, yaml_within_limits
from symphony_assets.analysis.ports.endpoints import HOSTPORT, NO_PORT_SCHEMES, URL
from symphony_assets.analysis.ports.sites import FileFormat, PortSite, skipped_site

_ENV_LINE = re.compile(
    r"^\s*(?:export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_.\-]*)\s*(?P<sep>[:=])\s*(?P<value>.*)$"
)


def config_ports(fmt: FileFormat, text: str) -> list[PortSite]:
    if fmt == "env":
        return _line_ports(text)
    # A text that cannot spell a site (most large reports) is not walked; JSON is then not even built,
    # where cheap passes show the reader would not reach a limit (:mod:`.config_hints`).
    hinted = may_hold_sites(text)
    if not hinted and _within_limits(fmt, text):
        return []
    try:
        roots = _load_config(fmt, text)
    except limits.LimitExceeded as exc:
        return [skipped_site(exc.reason)]
    if not hinted:
        return []
    if roots is None:
        return _line_ports(text)
    walk = _Walk(limits.MAX_ALIAS_EXPANSION)
    skipped: str | None = None
    try:
        seen: set[int] = set()
        for root in roots:
            collect_vars(root, walk.variables, seen, 0)
        for root in roots:
            compose = root.kind == "map" and any(k == "services" and v.kind == "map" for k, v in root.items)
            _walk_config(root, "", compose, walk, 0)
    except limits.LimitExceeded as exc:
        skipped = exc.reason
    except RecursionError:
        skipped = limits.depth_reason(limits.MAX_CONFIG_DEPTH)
    if skipped is None and walk.truncated:
        skipped = (
            f"limit: YAML aliases expand to more than {limits.MAX_ALIAS_EXPANSION:,} extra nodes;"
            " later uses of an alias were not followed"
        )
    sites = walk.sites
    sites.sort(key=lambda s: (s.line, s.context, s.port if s.port is not None else -1))
    if skipped is not None:
        sites.insert(0, skipped_site(skipped))
    return sites


def _within_limits(fmt: FileFormat, text: str) -> bool:
    """Whether :func:`_load_config` reads ``text`` without reaching a limit, known without building it
    (JSON, and YAML through libyaml; TOML configs are small and are read)."""
    if fmt == "json":
        known = json_within_limits(text)
        if known is not None:
            return known  # JSON the reader builds as JSON: its YAML events would count other nodes
    return fmt in ("json", "yaml") and yaml_within_limits(text)


def _load_config(fmt: FileFormat, text: str) -> list[ConfigNode] | None:
    """Every document's root, or None when the text does not parse.

    Raises :class:`~symphony_assets.analysis.limits.LimitExceeded` when the file is too deep or holds
    too many nodes. JSON goes through the C JSON parser first (YAML for JSON-like files it rejects);
    YAML through libyaml's event stream, never a full node graph.
    """
    if fmt == "json":
        json_roots = read_json(text)
        if json_roots is not None:
            return json_roots
    if fmt in ("yaml", "json"):
        yaml_roots = read_yaml(text, yaml.CSafeLoader)
        if yaml_roots is None and len(text) <= limits.MAX_PURE_PARSE_CHARS:
            # PyYAML's own reader accepts a little more than libyaml (escaped surrogate pairs, as JSON
            # dumpers write them), and read these files before: give it the small ones libyaml refused.
            yaml_roots = read_yaml(text, yaml.SafeLoader)
        return yaml_roots
    return read_toml(text)


class _Walk:
    """One config walk: the variables a ``${VAR}`` may name, the sites found, what it has visited, and
    how many re-visits through YAML aliases it may still make."""

    __slots__ = ("active", "expansions_left", "sites", "truncated", "variables", "visited")

    def __init__(self, expansions: int) -> None:
        self.variables: dict[str, str] = {}
        self.sites: list[PortSite] = []
        self.visited: set[int] = set()
        #: The nodes on the path being walked: an alias to one of them is a cycle.
        self.active: set[int] = set()
        self.expansions_left = expansions
        self.truncated = False

    def enter(self, node: ConfigNode) -> bool:
        """Whether to walk ``node``: always the first time, again (an alias) only within the budget."""
        if id(node) not in self.visited:
            self.visited.add(id(node))
            return True
        cost = 1 + len(node.items)
        if cost > self.expansions_left:
            self.truncated = True
            return False
        self.expansions_left -= cost
        return True


def _walk_config(node: ConfigNode, path: str, compose: bool, walk: _Walk, depth: int) -> None:
    """Sites under ``node``; an aliased subtree is walked wherever it is used, within ``walk``'s budget."""
    if depth > limits.MAX_CONFIG_DEPTH:
        raise limits.LimitExceeded(limits.depth_reason(depth))
    if id(node) in walk.active or not walk.enter(node):
        return  # a recursive alias (the node is its own ancestor), or the alias budget is spent
    walk.active.add(id(node))
    try:
        _walk_children(node, path, compose, walk, depth)
    finally:
        walk.active.discard(id(node))


def _walk_children(node: ConfigNode, path: str, compose: bool, walk: _Walk, depth: int) -> None:
    variables, sites = walk.variables, walk.sites
    if node.kind == "map":
        host = _sibling_host(node)
        for key, child in node.items:
            child_path = f"{path}.{key}" if path else key
            if compose and key == "ports" and child.kind == "list" and re.fullmatch(r"services\.[^.]+", path):
                compose_ports(child, child_path, variables, sites)
                continue
            if child.kind == "map" and is_port_key(key) and all(not k for k, _ in child.items):
                # ``port: {{ .Values.port }}``: a template that YAML reads as a nested flow mapping.
                sites.append(config_site(child.line, host, None, False, f"{key}: (template)", child_path))
            elif child.kind == "scalar":
                _config_scalar(key, child, child_path, host, variables, sites)
            else:
                _walk_config(child, child_path, compose, walk, depth + 1)
    elif node.kind == "list":
        for index, (_, child) in enumerate(node.items):
            child_path = f"{path}[{index}]"
            if child.kind == "scalar" and isinstance(child.value, str) and "=" in child.value:
                key, _, value = child.value.partition("=")
                scalar = child.with_value(value.strip())
                _config_scalar(key.strip(), scalar, child_path, None, variables, sites)
            elif child.kind == "scalar":
                _config_scalar("", child, child_path, None, variables, sites)
            else:
                _walk_config(child, child_path, compose, walk, depth + 1)


def _sibling_host(node: ConfigNode) -> str | None:
    for key, child in node.items:
        if key.lower() in ("host", "hostname", "bind_host", "listen_host") and child.kind == "scalar":
            return None if child.value is None else str(child.value)
    return None


def _config_scalar(
    key: str,
    node: ConfigNode,
    path: str,
    host: str | None,
    variables: dict[str, str],
    sites: list[PortSite],
) -> None:
    value = node.value
    if key and is_port_key(key):
        port, resolved = config_port(value, variables)
        sites.append(config_site(node.line, host, port, resolved, f"{key}: {value}", path))
        return
    if not isinstance(value, str):
        return
    if "://" not in value and "$" not in value and not (key and ADDRESS_KEY.search(key)):
        return  # no URL, no variable, no address key: nothing below can match (most of a big report)
    expanded, _ = substitute(value, variables)
    text = expanded if expanded is not None else value
    found = False
    for match in URL.finditer(text):
        if match.group("scheme").lower() in NO_PORT_SCHEMES or match.group("port") is None:
            continue
        found = True
        port, resolved = config_port(match.group("port"), variables)
        sites.append(config_site(node.line, match.group("host") or None, port, resolved, value, path))
    if not found and key and ADDRESS_KEY.search(key):
        plain = HOSTPORT.match(text.strip())
        if plain:
            port, resolved = config_port(plain.group("port"), variables)
            sites.append(config_site(node.line, plain.group("host") or None, port, resolved, value, path))


def _line_ports(text: str) -> list[PortSite]:
    """``KEY=VALUE`` files (.env), and the line-by-line fallback for configs that do not parse."""
    variables: dict[str, str] = {}
    entries: list[tuple[int, str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        if match is None:
            if "://" in line:
                entries.append((number, "", line.strip()))
            continue
        value = _strip_value(match.group("value"))
        key = match.group("key").strip("\"'")
        if match.group("sep") == "=" and VAR_NAME.match(key):
            variables.setdefault(key, value)
        entries.append((number, key, value))
    sites: list[PortSite] = []
    for number, key, value in entries:
        _config_scalar(key, ConfigNode("scalar", number, value=value), key, None, variables, sites)
    return sites


def _strip_value(value: str) -> str:
    value = value.strip()
    if value[:1] in ("'", '"'):
        quote = value[0]
        end = value.find(quote, 1)
        return value[1:end] if end > 0 else value[1:]
    return value.split(" #", 1)[0].strip()
