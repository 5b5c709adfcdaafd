"""TOML config: ``tomllib`` builds the data; lines are found by searching for the keys."""

from __future__ import annotations

import re
import tomllib

from symphony_assets.analysis import limits
from symphony_assets.analysis.ports.config_tree import ConfigNode


def read_toml(text: str) -> list[ConfigNode] | None:
    """The document's root, or None when the text does not parse.

    Raises :class:`~symphony_assets.analysis.limits.LimitExceeded` when the file is too large or holds
    too many nodes.
    """
    if len(text) > limits.MAX_PURE_PARSE_CHARS:
        raise limits.LimitExceeded(
            f"too_large: {len(text):,} characters is over the {limits.MAX_PURE_PARSE_CHARS:,}"
            " limit for TOML files"
        )
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError, ValueError):
        return None
    budget = limits.NodeBudget(limits.MAX_CONFIG_NODES, f"limit: more than {limits.MAX_CONFIG_NODES:,} nodes")
    return [_from_python(data, _LineFinder(text), 1, budget)]


class _LineFinder:
    """Approximate lines for formats whose parser gives none: the next line naming the key.

    A key that is never found (written with escapes, ``"k\\u0041"``) scans to the end of the file, so
    the lines searched in all are bounded (:data:`_LINE_SEARCH_BUDGET`); past it keys get the line of
    their table. Without the bound a 440 KB TOML file of such keys took 190 s.
    """

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.cursor = 0
        self.budget = _LINE_SEARCH_BUDGET

    def find(self, key: str, fallback: int) -> int:
        if self.budget <= 0:
            return fallback
        needle = re.compile(r"(?:^|[\s\"'{,.\[])" + re.escape(key) + r"(?:[\"'\s]*[:=\]]|$)")
        end = min(len(self.lines), self.cursor + self.budget)
        for index in range(self.cursor, end):
            if needle.search(self.lines[index]):
                self.budget -= index - self.cursor + 1
                self.cursor = index
                return index + 1
        self.budget -= end - self.cursor
        return fallback


#: Lines :class:`_LineFinder` may search in one file, over all keys (a few per key in a normal file).
_LINE_SEARCH_BUDGET = 1_000_000


def _from_python(
    data: object, finder: _LineFinder, line: int, budget: limits.NodeBudget, depth: int = 0
) -> ConfigNode:
    budget.spend()
    if isinstance(data, dict | list) and depth >= limits.MAX_CONFIG_DEPTH:
        raise limits.LimitExceeded(limits.depth_reason(depth + 1))
    if isinstance(data, dict):
        items = []
        for key, value in data.items():
            key_line = finder.find(str(key), line)
            items.append((str(key), _from_python(value, finder, key_line, budget, depth + 1)))
        return ConfigNode("map", line, items=items)
    if isinstance(data, list):
        return ConfigNode(
            "list", line, items=[("", _from_python(v, finder, line, budget, depth + 1)) for v in data]
        )
    if isinstance(data, bool | int | float | str) or data is None:
        return ConfigNode("scalar", line, value=data)
    return ConfigNode("scalar", line, value=str(data))
