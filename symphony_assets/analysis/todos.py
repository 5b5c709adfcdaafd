"""Work markers (the tags in :data:`DEFAULT_TAGS`) found in comments, with a fingerprint that survives edits.

Markers count only inside comments: a tag inside a string literal, a docstring or an identifier
(``todo_list``) is not a marker. Python goes through ``tokenize`` (exactly the interpreter's idea of
a comment), falling back to the recovering lexer of ``pysource`` for files ``tokenize`` rejects; other
languages go through a small comment-syntax lexer chosen by file suffix.

Results depend only on the bytes and the suffix, so callers cache them by git blob id.
"""

from __future__ import annotations

import ast
import bisect
import hashlib
import io
import re
import tokenize
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from symphony_assets.analysis import limits
from symphony_assets.analysis.pysource import (
    blank_merge_markers,
    decode_source,
    enclosing_qualname,
    recovered_comments,
    ts_tree,
)

#: Bump when the output for the same bytes changes, so cached results are recomputed.
ANALYSER_VERSION = "2"

# Spelled in pieces so that this module's own source holds no marker for the assets to report.
DEFAULT_TAGS: tuple[str, ...] = ("TO" + "DO", "FIX" + "ME", "HA" + "CK", "X" + "XX")

MODULE_SCOPE = "<module>"

VIA_TOKENIZE = "tokenize"
#: Found by the recovering lexer (:func:`~symphony_assets.analysis.pysource.recovered_comments`) in a
#: file ``tokenize`` rejects.
VIA_RECOVERED = "recovered"
VIA_LEXER = "lexer"

#: Trailing closers of block comments that are not part of a marker's text.
_CLOSERS = ("*/", "-->", "]]")


@dataclass(frozen=True)
class TodoItem:
    tag: str
    text: str
    line: int
    #: Dotted qualname of the enclosing function/class (``Cls.method``), or ``<module>``.
    scope: str
    fingerprint: str
    #: How the comment was found: ``tokenize``, ``recovered`` (fallback) or ``lexer`` (other languages).
    via: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "text": self.text,
            "line": self.line,
            "scope": self.scope,
            "fingerprint": self.fingerprint,
            "via": self.via,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TodoItem:
        return cls(
            tag=str(d["tag"]),
            text=str(d["text"]),
            line=int(d["line"]),
            scope=str(d["scope"]),
            fingerprint=str(d["fingerprint"]),
            via=str(d["via"]),
        )


def fingerprint(tag: str, text: str, scope: str, occurrence: int) -> str:
    """A stable identity for one marker, so its age and history can be followed across commits.

    Built from what a marker *is*, never from where it sits: no line number (it moves whenever code
    above it changes) and no path (files get renamed and moved). The scope keeps two identical
    texts in different functions apart; the occurrence index (0, 1, ...) among identical
    (tag, text, scope) in one file keeps repeats within one function apart. Whitespace is
    normalised so re-indenting or re-wrapping spaces does not make a new marker.
    """
    normalised = " ".join(text.split())
    payload = "\x1f".join((tag, normalised, scope, str(occurrence)))
    return hashlib.sha1(payload.encode("utf-8")).hexdigest()[:20]


def extract_todos(
    path_suffix: str,
    source: bytes,
    tags: Sequence[str] = DEFAULT_TAGS,
    tree: ast.Module | None = None,
    statements: Sequence[tuple[int, int]] | None = None,
) -> list[TodoItem]:
    """Markers in the comments of one file; ``path_suffix`` (``.py``, ``Dockerfile``) picks the syntax.

    Files of unknown type yield nothing rather than a guess: a marker word in prose or data is not
    a comment. ``tree`` (the file's ``ast``, when the caller parsed it) lets Python files tokenize
    only the top-level statements that hold a marker word instead of the whole file; the result is
    the same. ``statements`` (:func:`statement_spans`) stands in for ``tree`` when the caller has
    the top-level statement lines but no tree.
    """
    if not any(tag.encode("utf-8") in source for tag in tags):
        return []  # most files: no marker word anywhere, so nothing to lex or parse
    pattern = _tag_pattern(tuple(tags))
    style = comment_style(path_suffix)
    if style == "python" and limits.python_too_large(source):
        return []  # not tokenized or parsed at all: the code assets record the file as too_large
    raw: list[tuple[int, str, str, str]] = []  # line, comment text, scope, via
    if style == "python":
        spans = statement_spans(tree) if tree is not None else statements
        raw = _python_comments(source, pattern, spans)
    elif style is not None:
        text = source.decode("utf-8", "replace")
        raw = [(line, body, MODULE_SCOPE, VIA_LEXER) for line, body in _lex_comments(text, _SYNTAX[style])]
    found: list[tuple[str, str, int, str, str]] = []
    for line, body, scope, via in raw:
        match = _marker(body, pattern)
        if match is None:
            continue
        found.append((match.group(1), _marker_text(body[match.end() :]), line, scope, via))
    found.sort(key=lambda item: item[2])
    seen: dict[tuple[str, str, str], int] = {}
    items = []
    for tag, text, line, scope, via in found:
        key = (tag, " ".join(text.split()), scope)
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        items.append(TodoItem(tag, text, line, scope, fingerprint(tag, text, scope, occurrence), via))
    # Text every store accepts: a NUL or lone surrogate in a comment would fail a Postgres write.
    return [replace(i, text=limits.safe_text(i.text), scope=limits.safe_text(i.scope)) for i in items]


def _tag_pattern(tags: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(t) for t in sorted(tags, key=len, reverse=True))
    return re.compile(rf"(?<![\w])({alternatives})(?![\w])")


#: What may come before a marker that starts its comment: blanks and comment punctuation (``## X``).
_LEAD = re.compile(r"[\s#*/;!<>-]*")
#: A marker in the middle of a comment counts only when one of these follows it at once.
_MARKER_FOLLOWERS = frozenset(":(-!")


def _marker(body: str, pattern: re.Pattern[str]) -> re.Match[str] | None:
    """The first tag in a comment that is a work marker rather than prose.

    A marker starts the comment (after ``#`` and blanks) or is followed at once by ``:``, ``(``,
    ``-`` or ``!``: ``Mark <tag> as done`` is prose about markers, ``call it here (<tag>: ...)`` is
    one, and so is ``<tag>-<tag2> - ...``, which pylint's checker misses.
    """
    for match in pattern.finditer(body):
        lead = _LEAD.match(body)
        starts = lead is not None and lead.end() == match.start()
        follower = body[match.end() : match.end() + 1]
        if starts or follower in _MARKER_FOLLOWERS:
            return match
    return None


def _marker_text(rest: str) -> str:
    text = rest.strip()
    for closer in _CLOSERS:
        if text.endswith(closer):
            text = text[: -len(closer)].rstrip()
    return text.lstrip(":-! \t").strip()


# ---------------------------------------------------------------------------------------------- Python


def _python_comments(
    source: bytes, pattern: re.Pattern[str], spans: Sequence[tuple[int, int]] | None = None
) -> list[tuple[int, str, str, str]]:
    """Comments holding a marker, with their scope; scope always comes from tree-sitter.

    ``ast`` end lines stop at a function's last statement, so a trailing comment inside a function
    would land at module level; tree-sitter's blocks include it. Using one scope source for the
    tokenize path and the fallback keeps a fingerprint unchanged when an edit elsewhere makes the
    file stop (or start) parsing. Only comments that hold a marker are looked up in the tree.
    """
    tokens = _comments_near_markers(source, spans, pattern) if spans is not None else None
    if tokens is None:
        tokens = _tokenize_comments(source)
    via = VIA_TOKENIZE
    if tokens is None:
        tokens = [(c.line, c.col, c.text) for c in recovered_comments(source)]
        via = VIA_RECOVERED
    hits = [(line, col, text) for line, col, text in tokens if pattern.search(text)]
    if not hits:
        return []
    tree = ts_tree(blank_merge_markers(source))
    lines = decode_source(source).splitlines()
    out = []
    for line, col, text in hits:
        prefix = lines[line - 1][:col] if line <= len(lines) else ""
        point = (line - 1, len(prefix.encode("utf-8", "surrogatepass")))
        node = tree.root_node.descendant_for_point_range(point, point)
        scope = (enclosing_qualname(node) if node is not None else "") or MODULE_SCOPE
        out.append((line, text, scope, via))
    return out


def _tokenize_comments(source: bytes) -> list[tuple[int, int, str]] | None:
    try:
        return [
            (tok.start[0], tok.start[1], tok.string[1:].rstrip())
            for tok in tokenize.tokenize(io.BytesIO(source).readline)
            if tok.type == tokenize.COMMENT
        ]
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError, LookupError, ValueError, RecursionError):
        return None


def _comments_near_markers(
    source: bytes, spans: Sequence[tuple[int, int]], pattern: re.Pattern[str]
) -> list[tuple[int, int, str]] | None:
    """The comments :func:`_tokenize_comments` finds on lines that hold a marker word, tokenizing
    from the nearest top-level statement boundary before each such line instead of from line 1.

    At such a boundary the tokenizer is in its starting state (no open bracket, string or line
    continuation, indentation 0), so the tokens from there on are the whole-file tokens. None
    (tokenize the whole file) for lone carriage returns, where ``ast`` and ``tokenize`` count lines
    differently, and for anything the chunk tokenizer rejects.
    """
    if b"\r" in source:
        return None
    parts = decode_source(source).split("\n")
    lines = [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    wanted = [i + 1 for i, line in enumerate(lines) if pattern.search(line)]
    if not wanted:
        return []
    starts = _restart_lines(spans, lines)
    found: list[tuple[int, int, str]] = []
    i = 0
    while i < len(wanted):
        start = starts[bisect.bisect_right(starts, wanted[i]) - 1]
        while i + 1 < len(wanted) and starts[bisect.bisect_right(starts, wanted[i + 1]) - 1] == start:
            i += 1
        last = wanted[i]
        i += 1
        try:
            for tok in tokenize.generate_tokens(iter(lines[start - 1 :]).__next__):
                line = tok.start[0] + start - 1
                if line > last:
                    break
                if tok.type == tokenize.COMMENT:
                    found.append((line, tok.start[1], tok.string[1:].rstrip()))
        except (tokenize.TokenError, SyntaxError, ValueError, RecursionError):
            return None
    return found


def statement_spans(tree: ast.Module) -> list[tuple[int, int]]:
    """(first line with decorators, last line) of each top-level statement, in order."""
    spans = []
    for stmt in tree.body:
        decorators = getattr(stmt, "decorator_list", [])
        spans.append((min([stmt.lineno, *(d.lineno for d in decorators)]), stmt.end_lineno or stmt.lineno))
    return spans


def _restart_lines(spans: Sequence[tuple[int, int]], lines: Sequence[str]) -> list[int]:
    """Lines (1-based, sorted) where a logical line starts at module level: each top-level
    statement's first line (decorators included) and the line after each statement's last line,
    unless the line before ends in a backslash continuation or another statement shares it."""
    starts = [1]
    prev_end = 0
    for first, end in spans:
        if first > prev_end:
            for line in (prev_end + 1, first):
                if line > starts[-1] and not lines[line - 2].rstrip("\n").endswith("\\"):
                    starts.append(line)
        prev_end = max(prev_end, end)
    if (
        prev_end + 1 > starts[-1]
        and prev_end < len(lines)
        and not lines[prev_end - 1].rstrip("\n").endswith("\\")
    ):
        starts.append(prev_end + 1)
    return starts


# ----------------------------------------------------------------------------------- other languages


@dataclass(frozen=True)
class _Syntax:
    line: tuple[str, ...] = ()
    block: tuple[tuple[str, str], ...] = ()
    #: String delimiters, longest first; their content is never a comment.
    quotes: tuple[str, ...] = ()
    #: Delimiters whose strings may span lines (others end at the newline, which limits damage).
    multiline: tuple[str, ...] = ()
    #: ``'`` is a short character literal (C, Rust, Go): only a string when it closes within a few chars.
    char_quote: bool = False
    #: A line comment opener counts only at line start or after whitespace (``$#`` in shell, ``a#b`` in YAML).
    word_start: bool = False


_C_LIKE = _Syntax(line=("//",), block=(("/*", "*/"),), quotes=('"', "'"), char_quote=True)
_SYNTAX: dict[str, _Syntax] = {
    "hash": _Syntax(line=("#",), quotes=('"""', "'''", '"', "'"), multiline=('"""', "'''"), word_start=True),
    "ini": _Syntax(line=("#", ";"), word_start=True),
    "c": _C_LIKE,
    "js": _Syntax(
        line=("//",), block=(("/*", "*/"),), quotes=('"', "'", "`"), multiline=("`",), char_quote=False
    ),
    "go": _Syntax(
        line=("//",), block=(("/*", "*/"),), quotes=('"', "'", "`"), multiline=("`",), char_quote=True
    ),
    "css": _Syntax(block=(("/*", "*/"),), quotes=('"', "'")),
    "sql": _Syntax(line=("--",), block=(("/*", "*/"),), quotes=("'", '"')),
    "lua": _Syntax(line=("--",), block=(("--[[", "]]"),), quotes=('"', "'")),
    "markup": _Syntax(block=(("<!--", "-->"),)),
}

_SUFFIX_STYLE: dict[str, str] = {
    **dict.fromkeys((".py", ".pyw", ".pyi"), "python"),
    **dict.fromkeys(
        (
            ".sh",
            ".bash",
            ".zsh",
            ".ksh",
            ".yaml",
            ".yml",
            ".toml",
            ".dockerfile",
            ".r",
            ".rb",
            ".pl",
            ".mk",
            ".tf",
            ".cmake",
            ".conf",
            ".env",
            ".gitignore",
            ".pyx",
        ),
        "hash",
    ),
    **dict.fromkeys((".ini", ".cfg", ".properties"), "ini"),
    **dict.fromkeys(
        (
            ".c",
            ".h",
            ".cc",
            ".cpp",
            ".cxx",
            ".hpp",
            ".hh",
            ".cu",
            ".cuh",
            ".rs",
            ".java",
            ".kt",
            ".kts",
            ".scala",
            ".swift",
            ".cs",
            ".proto",
            ".groovy",
            ".dart",
        ),
        "c",
    ),
    **dict.fromkeys((".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts"), "js"),
    ".go": "go",
    **dict.fromkeys((".css", ".scss", ".less"), "css"),
    ".sql": "sql",
    ".lua": "lua",
    **dict.fromkeys((".html", ".htm", ".xml", ".md", ".markdown", ".svg", ".vue"), "markup"),
}

_HASH_NAMES = ("dockerfile", "containerfile", "makefile", "gnumakefile", "procfile", "gemfile", "rakefile")


def comment_style(path_suffix: str) -> str | None:
    """The comment syntax for a suffix (``.py``) or bare file name (``Dockerfile``, ``x.Dockerfile``)."""
    name = path_suffix.rsplit("/", 1)[-1].lower()
    if name in _HASH_NAMES or name.startswith(("dockerfile.", "containerfile.")):
        return "hash"
    suffix = "." + name.rsplit(".", 1)[-1]
    return _SUFFIX_STYLE.get(suffix)


def _lex_comments(text: str, syntax: _Syntax) -> Iterator[tuple[int, str]]:
    """(line, text) of each comment line, skipping strings; block comments give one entry per line."""
    openers: dict[str, str | None] = {o: None for o in syntax.line}
    openers.update({o: c for o, c in syntax.block})
    tokens = sorted([*openers, *syntax.quotes], key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(t) for t in tokens) + "|\n")
    line = 1
    i = 0
    n = len(text)
    while True:
        match = pattern.search(text, i)
        if match is None:
            return
        token, i = match.group(), match.start()
        if token == "\n":
            line += 1
            i += 1
            continue
        if token in syntax.quotes:
            end = _string_end(text, i, token, syntax)
            if end is None:
                i += 1
            else:
                line += text.count("\n", i, end)
                i = end
            continue
        close = openers[token]
        if (
            close is None
            and syntax.word_start
            and i > 0
            and not (text[i - 1].isspace() or text[i - 1] == ";")
        ):
            i += 1
            continue
        start = i + len(token)
        if close is None:
            end = text.find("\n", start)
            end = n if end == -1 else end
            yield line, text[start:end].rstrip()
            i = end
            continue
        found = text.find(close, start)
        end = n if found == -1 else found
        for offset, part in enumerate(text[start:end].split("\n")):
            yield line + offset, part.strip().lstrip("*").rstrip()
        line += text.count("\n", start, end)
        i = n if found == -1 else found + len(close)


def _string_end(text: str, start: int, quote: str, syntax: _Syntax) -> int | None:
    """Index just past the closing quote, or None when this quote does not open a string.

    A single-line quote that does not close on its line is taken as a plain character (an
    apostrophe in YAML prose, a Rust lifetime), so it cannot swallow the comments after it.
    """
    i = start + len(quote)
    multiline = quote in syntax.multiline
    limit = len(text)
    if quote == "'" and syntax.char_quote:
        limit = min(limit, i + 12)  # 'a', '\n', '\u1234': anything longer is a lifetime or prose
    while i < limit:
        ch = text[i]
        if ch == "\\" and len(quote) == 1:
            i += 2
            continue
        if text.startswith(quote, i):
            return i + len(quote)
        if ch == "\n" and not multiline:
            return None
        i += 1
    return len(text) if multiline else None
