"""How many other files mention each file by name, with ``git grep -lwF <basename>`` semantics, in one pass.

The seed ran one ``git grep -lw <basename>`` per file: O(files^2) reads and a subprocess each. Here each
file's text is tokenised once (``[A-Za-z0-9_]+`` runs via ``bytes.translate`` + ``split``, in C), every
name to look for is indexed by its first word token, and a referrer is checked only against the names
whose first token it contains (and whose other tokens it also contains); names that are a single word
need no further check, others are confirmed with ``bytes.find`` plus a boundary test per occurrence.

Why that is exact: git's ``-w`` accepts an occurrence when the byte before it is not a word character
(or it starts the line) and the byte after it is not one either (or it ends the line); word characters
are ASCII ``[A-Za-z0-9_]`` (git's ``sane_ctype``). When the first occurrence on a line fails, git
retries from the next position that follows a non-word byte (grep.c ``headerless_match_one_pattern``),
which skips only starts that could not pass anyway, so a line matches iff *some* occurrence has both
boundaries. Such an occurrence makes each word token of the name a whole token of the text, hence the
token prefilter never drops a real match. A name holds no newline, so searching the whole buffer
(``\\n`` is a non-word byte) equals git's line-by-line search.

Deliberate limits: binary content (a NUL byte in the first 8000 bytes, git's rule) and ``None``
content are never referrers (``git grep`` would list binary files; compare with ``git grep -I``); a
basename containing a newline never matches (git would split it into several patterns).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from symphony_assets.analysis.filetypes import is_binary

#: git's word characters (``sane_ctype``: ASCII only), as byte values.
WORD_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
#: ``bytes.translate`` table turning every non-word byte into a space, so ``split()`` yields the tokens.
_NON_WORD_TO_SPACE = bytes(b if b in WORD_BYTES else 0x20 for b in range(256))
_PYTHON_MODULE_EXTS = (".py", ".pyi")


@dataclass(frozen=True)
class ReferenceCount:
    """``references``: other files naming the basename; ``module_references``: basename or module name."""

    references: int
    module_references: int


@dataclass(frozen=True, slots=True)
class _Needle:
    """One name to look for: its bytes, its word tokens, and whether it is a single whole word."""

    text: bytes
    tokens: tuple[bytes, ...]
    #: A single whole word: present iff it is one of the referrer's tokens, no search needed.
    is_word: bool


class _NeedleTable:
    """Names to look for, indexed by their first word token, so a referrer is checked only against the
    names whose first token it contains."""

    def __init__(self, names: Iterable[bytes]) -> None:
        self.by_first_token: dict[bytes, list[_Needle]] = {}
        self.tokenless: list[_Needle] = []
        for name in names:
            parts = tuple(word_tokens_in_order(name))
            needle = _Needle(name, parts, parts == (name,))
            if parts:
                self.by_first_token.setdefault(parts[0], []).append(needle)
            else:
                self.tokenless.append(needle)
        self.index_keys = frozenset(self.by_first_token)

    def named_in(self, content: bytes) -> set[bytes]:
        """The names ``content`` mentions as ``git grep -wF`` would find them."""
        found: set[bytes] = set()
        tokens = word_tokens(content)
        for token in self.index_keys.intersection(tokens):
            for needle in self.by_first_token[token]:
                if needle.is_word or (
                    tokens.issuperset(needle.tokens) and contains_word(content, needle.text)
                ):
                    found.add(needle.text)
        found.update(n.text for n in self.tokenless if contains_word(content, n.text))
        return found


#: Up to this many new names, an unchanged referrer is searched for each with ``bytes.find`` (in C)
#: rather than tokenised again.
_FIND_EACH_MAX = 32


@dataclass
class ReferenceIndex:
    """Which files mention which names, kept so that a day differing from the one before in a few files
    is counted from those files (and, for names new that day, a search of the others) alone.

    :func:`count_references` is :meth:`build` then :meth:`counts`. A range run (issue 11) builds it once
    and updates it day by day, with the same counts as building each day afresh (a test checks this
    over random sequences of trees).
    """

    #: Every name looked for (basenames and module names of the files), found or not.
    names: set[bytes] = field(default_factory=set)
    #: Name -> referrers (paths) whose text mentions it.
    hits: dict[bytes, set[str]] = field(default_factory=dict)
    #: Referrer -> the names it mentions; every referrer (readable, not binary) has an entry.
    mentions: dict[str, set[bytes]] = field(default_factory=dict)

    @classmethod
    def build(cls, files: Sequence[tuple[str, bytes | None]]) -> ReferenceIndex:
        index = cls(names=_names([p for p, _ in files]))
        table = _NeedleTable(index.names)
        for path, content in files:
            index._scan(path, content, table)
        return index

    def update(
        self,
        paths: Sequence[str],
        changed: Iterable[tuple[str, bytes | None]],
        read_others: Callable[[set[str]], Iterable[tuple[str, bytes]]],
    ) -> None:
        """Move to a tree of ``paths`` that differs from the last in ``changed`` (each path added or
        modified, with its new content, or ``None`` when it is not a referrer: unreadable, ignored) and
        in the paths it no longer has. ``read_others(paths)`` yields the content of those unchanged
        referrers; it is called only when the tree has names the last one did not, and unchanged
        referrers to search for them."""
        names = _names(paths)
        for name in self.names - names:
            for path in self.hits.pop(name, ()):
                self.mentions[path].discard(name)
        present = set(paths)
        changed = list(changed)
        for path in [p for p in self.mentions if p not in present] + [p for p, _ in changed]:
            self._forget(path)
        added = names - self.names
        self.names = names
        table = _NeedleTable(names)
        for path, content in changed:
            self._scan(path, content, table)
        fresh = {p for p, _ in changed}
        unchanged = {p for p in self.mentions if p not in fresh}
        if not added or not unchanged:
            return
        others = read_others(unchanged)
        if len(added) <= _FIND_EACH_MAX:
            for path, content in others:
                for name in added:
                    if contains_word(content, name):  # the same test as the table's: see _NeedleTable
                        self._record(path, name)
        else:
            new_table = _NeedleTable(added)
            for path, content in others:
                for name in new_table.named_in(content):
                    self._record(path, name)

    def counts(self, paths: Sequence[str]) -> dict[str, ReferenceCount]:
        """For each of ``paths`` (the tree last built or updated), the other files that mention it."""
        empty: set[str] = set()
        result: dict[str, ReferenceCount] = {}
        for path in paths:
            by_base = self.hits.get(path_bytes(posixpath.basename(path)), empty)
            mod = _encode_opt(module_name(path))
            by_mod = self.hits.get(mod, empty) if mod is not None else empty
            by_either = by_base | by_mod if by_mod else by_base
            result[path] = ReferenceCount(
                references=len(by_base) - (path in by_base),
                module_references=len(by_either) - (path in by_either),
            )
        return result

    def _scan(self, path: str, content: bytes | None, table: _NeedleTable) -> None:
        if content is None or is_binary(content):
            return
        self.mentions[path] = set()
        for name in table.named_in(content):
            self._record(path, name)

    def _record(self, path: str, name: bytes) -> None:
        self.hits.setdefault(name, set()).add(path)
        self.mentions[path].add(name)

    def _forget(self, path: str) -> None:
        for name in self.mentions.pop(path, ()):
            self.hits[name].discard(path)


def _names(paths: Iterable[str]) -> set[bytes]:
    """The names files are looked for by: each basename and each Python module name (a name holding a
    newline never matches: git would split it into several patterns)."""
    names: set[bytes] = set()
    for path in paths:
        names.add(path_bytes(posixpath.basename(path)))
        mod = module_name(path)
        if mod is not None:
            names.add(path_bytes(mod))
    return {n for n in names if n and b"\n" not in n}


def module_name(path: str) -> str | None:
    """The name ``import`` would use for a Python file: ``utils`` for ``pkg/utils.py``, ``pkg`` for
    ``pkg/__init__.py``; ``None`` for other files and for stems that are not identifiers."""
    base = posixpath.basename(path)
    for ext in _PYTHON_MODULE_EXTS:
        if base.endswith(ext):
            stem = base[: -len(ext)]
            if stem == "__init__":
                stem = posixpath.basename(posixpath.dirname(path))
            return stem if stem.isidentifier() else None
    return None


def word_tokens(content: bytes) -> set[bytes]:
    """The distinct ``[A-Za-z0-9_]+`` runs of ``content``: translate + split, both in C, no regex."""
    return set(content.translate(_NON_WORD_TO_SPACE).split())


def word_tokens_in_order(name: bytes) -> list[bytes]:
    """The word tokens of a name, in order (the first one is its index key)."""
    return name.translate(_NON_WORD_TO_SPACE).split()


def contains_word(content: bytes, name: bytes) -> bool:
    """True exactly where ``git grep -wF name`` would match ``content`` (see the module docstring)."""
    if not name:
        return False
    n, end = len(name), len(content)
    i = content.find(name)
    while i != -1:
        if (i == 0 or content[i - 1] not in WORD_BYTES) and (
            i + n == end or content[i + n] not in WORD_BYTES
        ):
            return True
        i = content.find(name, i + 1)
    return False


def count_references(files: Sequence[tuple[str, bytes | None]]) -> dict[str, ReferenceCount]:
    """For each path, how many *other* files mention it (see :class:`ReferenceCount`).

    ``files`` are (repo-relative path, content) pairs; content is ``None`` when the caller could not
    or would not read it (unreadable, too large): such a file is still counted as a target. Files that
    share a basename count for each other but never for themselves.
    """
    return ReferenceIndex.build(files).counts([p for p, _ in files])


def path_bytes(name: str) -> bytes:
    """Path text back to the bytes git stores (UTF-8, undecodable bytes kept via surrogateescape)."""
    return name.encode("utf-8", "surrogateescape")


def _encode_opt(name: str | None) -> bytes | None:
    return None if name is None else path_bytes(name)
