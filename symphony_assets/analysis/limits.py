"""Bounds on the work one file's contents may cost any analysis, and the reasons recorded when hit.

Every parser of file contents (YAML, JSON, TOML, ``.env``, compose, requirements, Python, shell)
runs under these limits, so a hostile or pathological file (a YAML alias bomb, nesting thousands of
levels deep, a multi-megabyte report) costs bounded time and memory. A file that hits a limit is
never dropped silently and never crashes a run: the analysis records it (a row or a status) with
the reason from :func:`too_large_reason` or :class:`LimitExceeded`.

The limits count work (bytes, nodes, nesting levels, alias expansions), not wall-clock time:
results are cached by git blob id, so they must not depend on how busy the machine was.

Pure: constants and tiny helpers, no state.
"""

from __future__ import annotations

__all__ = [
    "MAX_ALIAS_EXPANSION",
    "MAX_CONFIG_BYTES",
    "MAX_CONFIG_DEPTH",
    "MAX_CONFIG_NODES",
    "MAX_LINE_CHARS",
    "MAX_NAME_CHARS",
    "MAX_PURE_PARSE_CHARS",
    "MAX_PYTHON_TOKENS",
    "MAX_TEXT_BYTES",
    "LimitExceeded",
    "NodeBudget",
    "depth_reason",
    "python_too_large",
    "python_weight",
    "safe_text",
    "too_large_reason",
]

#: Config files (YAML, JSON, TOML, ``.env``, compose) larger than this are data, not configuration:
#: recorded as skipped. libyaml and the C JSON parser read a 5 MB report in well under a second.
MAX_CONFIG_BYTES = 8_000_000
#: Pure-Python parsers (``tomllib``; PyYAML's own reader, the retry for YAML that libyaml refuses)
#: read about 1 MB/s: they get a lower bound, in characters.
MAX_PURE_PARSE_CHARS = 1_000_000
#: Deepest nesting of mappings/lists a config walk follows (libyaml itself stops at 1,000).
MAX_CONFIG_DEPTH = 200
#: Most nodes (mappings, lists, scalars) one config file may hold once parsed.
MAX_CONFIG_NODES = 2_000_000
#: Most extra node visits that YAML aliases may add to a walk (each alias re-walks its anchor's
#: subtree). A nine-level alias bomb would need 9**9 visits; ordinary anchors need a few hundred.
MAX_ALIAS_EXPANSION = 100_000
#: Python sources are not parsed at all past this many syntax tokens (roughly: line breaks and the
#: punctuation bytes ``,([{=.:+-*/%<>``, counted by :func:`python_weight`). ``ast.parse`` needs 250 to
#: 1,100 bytes of memory per such token (a 13 MB generated file: 2.9 GB, 13 s), whatever the size in bytes
#: (a 5 MB string literal is one token). Ports, imports, handlers, GPU sites and markers of such a file
#: are not looked for; the file is recorded as ``too_large`` with the reason.
MAX_PYTHON_TOKENS = 500_000
#: Line-oriented text files (requirements, crontabs, systemd units, shell) larger than this are not read.
MAX_TEXT_BYTES = 2_000_000

#: A requirements line longer than this is an ``error`` row, not a declaration.
MAX_LINE_CHARS = 4096
#: Names (packages, modules) longer than this are refused: no real one is, and Postgres cannot index
#: a value over ~2,700 bytes (one such name fails the whole partition's write).
MAX_NAME_CHARS = 1000


class LimitExceeded(Exception):
    """A parse stopped at a limit; ``reason`` says which, in words fit for a status/reason column."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def too_large_reason(size: int, limit: int, what: str) -> str | None:
    """The skip reason for ``size`` bytes of a ``what`` file, or None when within ``limit``."""
    if size <= limit:
        return None
    return f"too_large: {size:,} bytes is over the {limit:,}-byte limit for {what} files"


class NodeBudget:
    """Counts nodes built or visited during one file's parse; raises :class:`LimitExceeded` past ``limit``."""

    __slots__ = ("limit", "reason", "used")

    def __init__(self, limit: int, reason: str) -> None:
        self.limit = limit
        self.reason = reason
        self.used = 0

    def spend(self, count: int = 1) -> None:
        self.used += count
        if self.used > self.limit:
            raise LimitExceeded(self.reason)


_PUNCTUATION = b"\n,([{=.:+-*/%<>"
_NOT_PUNCTUATION = bytes(b for b in range(256) if b not in _PUNCTUATION)


def python_weight(source: bytes) -> int:
    """A cheap (C-speed) upper estimate of a Python source's syntax tokens (:data:`MAX_PYTHON_TOKENS`)."""
    return len(source.translate(None, _NOT_PUNCTUATION))


def python_too_large(source: bytes) -> str | None:
    """The ``too_large`` reason for a Python source too big to parse, or None."""
    weight = python_weight(source)
    if weight <= MAX_PYTHON_TOKENS:
        return None
    return (
        f"too_large: about {weight:,} syntax tokens ({len(source):,} bytes) is over the"
        f" {MAX_PYTHON_TOKENS:,}-token limit for Python files"
    )


def safe_text(text: str) -> str:
    """``text`` as every store accepts it: NUL (which no Postgres text or JSON value may hold) and lone
    surrogates (from a ``\\udc80`` escape in a JSON or YAML string, or a Python literal) become
    visible escapes (``\\x00``, ``\\udc80``) instead of failing the write of a whole partition."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def depth_reason(depth: int, limit: int = MAX_CONFIG_DEPTH) -> str:
    """The reason recorded for nesting deeper than ``limit``."""
    return f"limit: nested deeper than {limit} levels (at least {depth})"
