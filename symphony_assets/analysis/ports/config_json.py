"""JSON config: the C parser builds the tree; lines are found afterwards, only for the nodes that become
sites."""

from __future__ import annotations

import bisect
import json
import json.scanner
import re
from collections.abc import Callable

from symphony_assets.analysis import limits
from symphony_assets.analysis.ports.config_tree import MAX_INT_DIGITS, ConfigNode, JsonPath, gc_paused


def _json_int(text: str) -> int | str:
    # As YAML reads JSON: only digit strings are ints (``-5`` stays text, as ``str(node.value)`` did).
    return int(text) if text.isdigit() and len(text) <= MAX_INT_DIGITS else text


_JSON_CONSTANTS: dict[object, str] = {True: "true", False: "false"}


def read_json(text: str) -> list[ConfigNode] | None:
    budget = limits.NodeBudget(limits.MAX_CONFIG_NODES, f"limit: more than {limits.MAX_CONFIG_NODES:,} nodes")
    with gc_paused():
        try:
            data = json.loads(
                text, object_pairs_hook=tuple, parse_int=_json_int, parse_float=str, parse_constant=str
            )
        except (ValueError, RecursionError):
            return None
        return [_from_json(data, _JsonLocator(text), budget, 0, None, -1)]


def _from_json(
    data: object, locator: _JsonLocator, budget: limits.NodeBudget, depth: int, where: JsonPath, index: int
) -> ConfigNode:
    """The config tree of parsed JSON (objects as tuples of pairs); lines are found later, on demand."""
    if type(data) is not tuple and type(data) is not list:
        budget.spend()
        return ConfigNode("scalar", -1, _json_scalar(data), None, locator, where, index)
    if depth >= limits.MAX_CONFIG_DEPTH:
        raise limits.LimitExceeded(limits.depth_reason(depth + 1))
    budget.spend(1 + len(data))
    is_map = type(data) is tuple
    items: list[tuple[str, ConfigNode]] = []
    node = ConfigNode("map" if is_map else "list", -1, None, items, locator, where, index)
    here: JsonPath = None if depth == 0 else (where, index)
    for position, entry in enumerate(data):
        key, value = entry if is_map else ("", entry)
        if type(value) is tuple or type(value) is list:
            child = _from_json(value, locator, budget, depth + 1, here, position)
        else:
            child = ConfigNode("scalar", -1, _json_scalar(value), None, locator, here, position)
        items.append((key, child))
    return node


def _json_scalar(value: object) -> int | str:
    """A JSON scalar as the YAML reader saw it: digit-only ints stay ints, the rest is text."""
    if type(value) is str or type(value) is int:
        return value
    return "null" if value is None else _JSON_CONSTANTS.get(value, str(value))


_JSON_WS = re.compile(r"[ \t\n\r]*")
#: Line breaks as YAML counts them (so JSON lines match what the YAML reader reported before).
_YAML_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")


class _JsonLocator:
    """Offsets, then lines, of JSON nodes, found on demand by re-scanning only the containers on their path.

    Each container on the way is scanned once (its members skipped at C speed by the JSON scanner) and
    its members' offsets kept, so resolving every site of a file costs about one more parse.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        decoder = json.JSONDecoder(
            object_pairs_hook=tuple, parse_int=str, parse_float=str, parse_constant=str
        )
        self._scan: Callable[[str, int], tuple[object, int]] = json.scanner.make_scanner(
            decoder  # type: ignore[arg-type]
        )
        self._members: dict[int, list[int]] = {}
        self._breaks: list[int] | None = None

    def line_of(self, node: ConfigNode) -> int:
        try:
            offset = self._offset(node)
        except (StopIteration, IndexError, ValueError, RecursionError):
            return 1
        if self._breaks is None:
            self._breaks = [m.end() for m in _YAML_BREAK.finditer(self.text)]
        return bisect.bisect_right(self._breaks, offset) + 1

    def _offset(self, node: ConfigNode) -> int:
        if node._parent is None and node._index < 0:
            return _JSON_WS.match(self.text, 0).end()  # type: ignore[union-attr]
        return self._member_offset(node._parent, node._index)

    def _member_offset(self, container: JsonPath, index: int) -> int:
        if container is None:
            start = _JSON_WS.match(self.text, 0).end()  # type: ignore[union-attr]
        else:
            start = self._member_offset(*container)
        members = self._members.get(start)
        if members is None:
            members = self._members[start] = self._member_offsets(start)
        return members[index]

    def _member_offsets(self, start: int) -> list[int]:
        """Offsets of the values inside the object or array that starts at ``start``."""
        text, scan = self.text, self._scan
        closing = "}" if text[start] == "{" else "]"
        out: list[int] = []
        pos = _JSON_WS.match(text, start + 1).end()  # type: ignore[union-attr]
        if text[pos] == closing:
            return out
        while True:
            if closing == "}":
                _, pos = scan(text, pos)  # the key
                pos = _JSON_WS.match(text, pos).end()  # type: ignore[union-attr]
                pos = _JSON_WS.match(text, pos + 1).end()  # type: ignore[union-attr]  # past ':'
            out.append(pos)
            _, pos = scan(text, pos)
            pos = _JSON_WS.match(text, pos).end()  # type: ignore[union-attr]
            if text[pos] != ",":
                return out
            pos = _JSON_WS.match(text, pos + 1).end()  # type: ignore[union-attr]
