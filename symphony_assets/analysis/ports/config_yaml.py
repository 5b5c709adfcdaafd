"""YAML config: libyaml's event stream into a config tree; each alias is its anchored node (never a copy)."""

from __future__ import annotations

from typing import Literal

import yaml

from symphony_assets.analysis import limits
from symphony_assets.analysis.ports.config_tree import MAX_INT_DIGITS, ConfigNode, gc_paused


def read_yaml(
    text: str, loader_class: type[yaml.CSafeLoader] | type[yaml.SafeLoader]
) -> list[ConfigNode] | None:
    budget = limits.NodeBudget(limits.MAX_CONFIG_NODES, f"limit: more than {limits.MAX_CONFIG_NODES:,} nodes")
    roots: list[ConfigNode] = []
    try:
        loader = loader_class(text)  # PyYAML's own reader checks the characters here already
    except (yaml.YAMLError, ValueError):
        return None
    try:
        with gc_paused():
            _yaml_events(loader, budget, roots)
    except (yaml.YAMLError, RecursionError, ValueError, _YamlRefused):
        return None
    finally:
        loader.dispose()
    return roots


def yaml_within_limits(text: str) -> bool:
    """True where libyaml reads the whole text and :func:`read_yaml` would reach no limit: its events
    are counted, not built into a tree (for a text that cannot hold sites, see ``config_hints``).
    False where it fails or reaches one, so that the full read says which."""
    try:
        loader = yaml.CSafeLoader(text)
    except (yaml.YAMLError, ValueError):
        return False
    nodes = depth = 0
    try:
        while True:
            kind = type(loader.get_event())
            if kind is yaml.ScalarEvent:
                nodes += 1
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                nodes += 1
                depth += 1
                if depth >= limits.MAX_CONFIG_DEPTH:
                    return False
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                depth -= 1
            elif kind is yaml.StreamEndEvent or kind is type(None):
                return nodes < limits.MAX_CONFIG_NODES
    except (yaml.YAMLError, RecursionError, ValueError):
        return False
    finally:
        loader.dispose()


class _YamlRefused(Exception):
    """Text PyYAML's composer refuses although libyaml parses it (an undefined or duplicate anchor)."""


def _yaml_events(
    loader: yaml.CSafeLoader | yaml.SafeLoader, budget: limits.NodeBudget, roots: list[ConfigNode]
) -> None:
    """Build config trees from the event stream: what ``yaml.compose_all`` would, without its nodes."""
    anchors: dict[str, ConfigNode] = {}
    # Open containers with their item lists; for a mapping, the key read for the next value (None: none yet).
    stack: list[tuple[ConfigNode, list[tuple[str, ConfigNode]]]] = []
    pending: list[str | None] = []
    while True:
        event = loader.get_event()
        if event is None or isinstance(event, yaml.StreamEndEvent):
            return
        if isinstance(event, yaml.DocumentStartEvent):
            anchors = {}
            continue
        if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            stack.pop()
            pending.pop()
            continue
        node: ConfigNode
        key_text = ""
        items: list[tuple[str, ConfigNode]] | None = None
        if isinstance(event, yaml.AliasEvent):
            if event.anchor is None or event.anchor not in anchors:
                raise _YamlRefused("found undefined alias")
            node = anchors[event.anchor]
            if node.kind == "scalar":
                key_text = str(node.value)
        elif isinstance(event, yaml.ScalarEvent):
            budget.spend()
            node = ConfigNode("scalar", _mark_line(event), _yaml_scalar(loader, event))
            key_text = event.value
        elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            budget.spend()
            if len(stack) >= limits.MAX_CONFIG_DEPTH:
                raise limits.LimitExceeded(limits.depth_reason(len(stack) + 1))
            items = []
            kind: Literal["map", "list"] = "map" if isinstance(event, yaml.MappingStartEvent) else "list"
            node = ConfigNode(kind, _mark_line(event), None, items)
        else:
            continue
        anchor = None if isinstance(event, yaml.AliasEvent) else getattr(event, "anchor", None)
        if anchor is not None:
            if anchor in anchors:
                raise _YamlRefused("found duplicate anchor")
            anchors[anchor] = node
        if not stack:
            roots.append(node)
        elif stack[-1][0].kind == "list":
            stack[-1][1].append(("", node))
        elif pending[-1] is None:
            pending[-1] = key_text
        else:
            stack[-1][1].append((pending[-1], node))
            pending[-1] = None
        if items is not None:
            stack.append((node, items))
            pending.append(None)


def _mark_line(event: yaml.Event) -> int:
    return 1 if event.start_mark is None else event.start_mark.line + 1


def _yaml_scalar(loader: yaml.CSafeLoader | yaml.SafeLoader, event: yaml.ScalarEvent) -> int | str:
    """The scalar as PyYAML's composer saw it: a plain (or ``!!int``) digit string is an int."""
    value: str = event.value
    if not value.isdigit() or len(value) > MAX_INT_DIGITS:
        return value
    tag = event.tag
    if tag is None or tag == "!":
        tag = str(loader.resolve(yaml.ScalarNode, value, event.implicit))  # type: ignore[no-untyped-call]
    return int(value) if tag.endswith(":int") else value
