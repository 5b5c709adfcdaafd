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
from collections.abc import Sequence
from dataclasses import dataclass

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


@dataclass(slots=True)
class _Needle:
    """One name to look for: its bytes, its word tokens, and whether it is a single whole word."""

    text: bytes
    tokens: tuple[bytes, ...]
    #: A single whole word: present iff it is one of the referrer's tokens, no search needed.
    is_word: bool
    #: Referrer indices found so far (the one mutable part, local to one count_references call).
    hits: set[int]


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
    paths = [p for p, _ in files]
    base_of = [path_bytes(posixpath.basename(p)) for p in paths]
    mod_of = [_encode_opt(module_name(p)) for p in paths]

    needles: dict[bytes, _Needle] = {}
    for name in [*base_of, *(m for m in mod_of if m is not None)]:
        if name not in needles and b"\n" not in name and name:
            parts = tuple(word_tokens_in_order(name))
            needles[name] = _Needle(name, parts, parts == (name,), set())

    by_first_token: dict[bytes, list[_Needle]] = {}
    tokenless: list[_Needle] = []
    for needle in needles.values():
        if needle.tokens:
            by_first_token.setdefault(needle.tokens[0], []).append(needle)
        else:
            tokenless.append(needle)
    index_keys = frozenset(by_first_token)

    for i, (_, content) in enumerate(files):
        if content is None or is_binary(content):
            continue
        tokens = word_tokens(content)
        for token in index_keys.intersection(tokens):
            for needle in by_first_token[token]:
                if needle.is_word or (
                    tokens.issuperset(needle.tokens) and contains_word(content, needle.text)
                ):
                    needle.hits.add(i)
        for needle in tokenless:
            if contains_word(content, needle.text):
                needle.hits.add(i)

    empty: set[int] = set()
    result: dict[str, ReferenceCount] = {}
    for i, path in enumerate(paths):
        base_needle = needles.get(base_of[i])
        by_base = base_needle.hits if base_needle is not None else empty
        mod = mod_of[i]
        mod_needle = needles.get(mod) if mod is not None else None
        by_either = by_base | mod_needle.hits if mod_needle is not None else by_base
        result[path] = ReferenceCount(
            references=len(by_base) - (i in by_base),
            module_references=len(by_either) - (i in by_either),
        )
    return result


def path_bytes(name: str) -> bytes:
    """Path text back to the bytes git stores (UTF-8, undecodable bytes kept via surrogateescape)."""
    return name.encode("utf-8", "surrogateescape")


def _encode_opt(name: str | None) -> bytes | None:
    return None if name is None else path_bytes(name)
