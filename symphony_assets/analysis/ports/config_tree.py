"""Config files as one format-neutral tree that the port walk reads, whichever parser built it."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Sequence
from typing import Literal, Protocol

#: Where a JSON container sits: None for the root, else (its container's place, its index there).
#: Plain tuples, not parent pointers, so a parsed tree has no reference cycles and is freed at once.
JsonPath = tuple["JsonPath", int] | None


class LineLocator(Protocol):
    """Finds the line of a node that was built without one (JSON nodes know only their place)."""

    def line_of(self, node: ConfigNode) -> int: ...


class ConfigNode:
    """A format-neutral config tree node: mapping, list or scalar, with its 1-based line.

    YAML aliases make the tree a graph: an alias is the anchored node itself, so an anchored subtree is
    built once however often it is referred to, and walks bound the re-visits (:data:`MAX_ALIAS_EXPANSION`).
    JSON nodes learn their line only when asked (``_locator``): a 5 MB report is parsed by the C parser,
    and only the few nodes that become sites pay for finding their offset.
    """

    __slots__ = ("_index", "_line", "_locator", "_parent", "items", "kind", "value")

    def __init__(
        self,
        kind: Literal["map", "list", "scalar"],
        line: int,
        value: int | float | str | bool | None = None,
        items: list[tuple[str, ConfigNode]] | None = None,
        locator: LineLocator | None = None,
        parent: JsonPath = None,
        index: int = 0,
    ) -> None:
        self.kind = kind
        self._line = line
        self.value = value
        self.items: Sequence[tuple[str, ConfigNode]] = () if items is None else items
        self._locator = locator
        self._parent = parent
        self._index = index

    @property
    def line(self) -> int:
        if self._line < 0 and self._locator is not None:
            self._line = self._locator.line_of(self)
        return self._line

    def with_value(self, value: str) -> ConfigNode:
        """A scalar at this node's place (same line, found the same lazy way) holding ``value``."""
        return ConfigNode("scalar", self._line, value, None, self._locator, self._parent, self._index)


#: Longer digit strings stay text: ``int()`` refuses more than 4,300 digits, and no port has them.
MAX_INT_DIGITS = 4000


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a big tree is built (it makes no cycles, and the collector,
    re-run every few hundred allocations over an ever larger heap, cost 80% of building a 5 MB report).
    Memory stays bounded by the node limit; the previous state is restored."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
