"""Tolerant reading of Python source: decode, parse, and find comments in files that may not parse.

Real codebases hold many ``.py`` files that ``ast.parse`` rejects (Python 2 syntax, merge markers,
half-done refactors). Every analysis still has to extract facts from them, so this module pairs
``ast`` with a fallback that is a real parser with error recovery (tree-sitter): a syntax error
becomes a local ``ERROR`` node and the rest of the tree stays usable, and strings/docstrings stay
strings (a ``# not a comment`` inside a docstring is never a comment).

Nothing here raises on bad input: every entry point returns a value describing what went wrong.
"""

from __future__ import annotations

import ast
import codecs
import functools
import io
import re
import tokenize
from collections.abc import Collection, Iterator
from dataclasses import dataclass

import tree_sitter
import tree_sitter_python

from symphony_assets.analysis import limits

__all__ = [
    "Comment",
    "ParseOutcome",
    "comments",
    "decode_source",
    "enclosing_qualname",
    "in_error",
    "iter_nodes",
    "looks_like_python2",
    "node_line",
    "node_text",
    "parse_python",
    "ts_tree",
]

#: Node types that open a new name scope for :func:`enclosing_qualname`.
_SCOPE_TYPES = ("function_definition", "class_definition")

_OCTAL_PY2 = re.compile(r"0[0-7]+[lL]?")
_LONG_PY2 = re.compile(r"(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[0-9]+)[lL]")


def decode_source(source: bytes) -> str:
    """Decode like the interpreter would (BOM, PEP 263 cookie), falling back to lossy UTF-8.

    Never raises: an unknown or lying cookie, or bytes that are not in the declared encoding,
    give UTF-8 with replacement characters, so line numbers stay right even when text does not.
    """
    if source.startswith(codecs.BOM_UTF8):
        return source[len(codecs.BOM_UTF8) :].decode("utf-8", "replace")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    except (SyntaxError, LookupError, ValueError):
        encoding = "utf-8"
    try:
        return source.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return source.decode("utf-8", "replace")


@dataclass(frozen=True)
class ParseOutcome:
    """Result of :func:`parse_python`: a tree, or why there is none."""

    tree: ast.Module | None
    error: str | None
    error_line: int | None
    #: Only meaningful when parsing failed: the file looks like Python 2 rather than broken Python 3.
    python2: bool

    @property
    def ok(self) -> bool:
        return self.tree is not None


def parse_python(source: bytes) -> ParseOutcome:
    """``ast.parse`` with every failure turned into a value (syntax, NUL bytes, nesting depth, memory)."""
    too_large = limits.python_too_large(source)
    if too_large:
        return ParseOutcome(tree=None, error=too_large, error_line=None, python2=False)
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        message = exc.msg or "invalid syntax"
        line = exc.lineno
    except ValueError as exc:  # NUL bytes on some 3.11 patch releases
        message, line = str(exc) or "invalid source", None
    except RecursionError:
        message, line = "too deeply nested to parse", None
    except MemoryError:
        message, line = "out of memory while parsing", None
    else:
        return ParseOutcome(tree=tree, error=None, error_line=None, python2=False)
    python2 = "Missing parentheses in call to 'print'" in message or looks_like_python2(source)
    return ParseOutcome(tree=None, error=message, error_line=line, python2=python2)


@functools.lru_cache(maxsize=1)
def _language() -> tree_sitter.Language:
    """The grammar is immutable and costly to load, so load it once per process."""
    return tree_sitter.Language(tree_sitter_python.language())


def ts_tree(source: bytes) -> tree_sitter.Tree:
    """Parse with tree-sitter; never fails, syntax errors become ``ERROR`` nodes.

    The tree is built over the source re-encoded as UTF-8 (after :func:`decode_source`), so
    ``node.text`` is always UTF-8 even for Latin-1 files; use node text, not offsets into ``source``.
    A fresh ``Parser`` per call keeps this safe to call from several threads.
    """
    return tree_sitter.Parser(_language()).parse(_ts_input(source))


def _ts_input(source: bytes) -> bytes:
    """The bytes tree-sitter sees: UTF-8 without BOM, transcoded when the file declares another encoding."""
    try:
        source.decode("utf-8")
    except UnicodeDecodeError:
        return decode_source(source).encode("utf-8", "surrogatepass")
    if source.startswith(codecs.BOM_UTF8):
        return source[len(codecs.BOM_UTF8) :]
    if _declares_other_encoding(source):
        return decode_source(source).encode("utf-8", "surrogatepass")
    return source


def _declares_other_encoding(source: bytes) -> bool:
    """A valid-UTF-8 file can still declare e.g. Latin-1, where non-ASCII bytes mean other characters."""
    if source.isascii():
        return False
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    except (SyntaxError, LookupError, ValueError):
        return False
    return codecs.lookup(encoding).name != "utf-8"


def iter_nodes(
    root: tree_sitter.Tree | tree_sitter.Node, types: Collection[str] | None = None
) -> Iterator[tree_sitter.Node]:
    """Nodes of the given types (all nodes when ``types`` is None), in source order.

    Iterative, so deeply nested code cannot hit the recursion limit.
    """
    start = root.root_node if isinstance(root, tree_sitter.Tree) else root
    wanted = None if types is None else frozenset(types)
    stack = [start]
    while stack:
        node = stack.pop()
        if wanted is None or node.type in wanted:
            yield node
        stack.extend(reversed(node.children))


def node_line(node: tree_sitter.Node) -> int:
    """1-based line of the node's start, as ``ast`` counts lines."""
    return int(node.start_point[0]) + 1


def node_text(node: tree_sitter.Node) -> str:
    raw = node.text
    return raw.decode("utf-8", "replace") if raw is not None else ""


def in_error(node: tree_sitter.Node) -> bool:
    """Whether the node lies inside an ``ERROR`` subtree, where tree-sitter's reading is a guess."""
    current: tree_sitter.Node | None = node
    while current is not None:
        if current.type == "ERROR":
            return True
        current = current.parent
    return False


def enclosing_qualname(node: tree_sitter.Node) -> str:
    """Dotted name of the classes/functions around ``node`` (``"Cls.method"``), ``""`` at module level.

    The node itself counts when it is a definition, so the qualname of a ``function_definition`` is
    its own name within its parents.
    """
    names: list[str] = []
    current: tree_sitter.Node | None = node
    while current is not None:
        if current.type in _SCOPE_TYPES:
            name = current.child_by_field_name("name")
            if name is not None:
                names.append(node_text(name))
        current = current.parent
    return ".".join(reversed(names))


def looks_like_python2(source: bytes) -> bool:
    """Python 2 only constructs, found by tree-sitter (whose grammar still knows them)."""
    tree = ts_tree(source)
    types = (
        "print_statement",
        "exec_statement",
        "except_clause",
        "string",
        "integer",
        "raise_statement",
        "comparison_operator",
    )
    for node in iter_nodes(tree, types):
        kind = node.type
        if kind in ("print_statement", "exec_statement"):
            return True
        if kind == "except_clause":
            if any(child.type == "," for child in node.children):
                return True
        elif kind == "string":
            if (node.text or b"").startswith(b"`"):
                return True
        elif kind == "integer":
            literal = node_text(node)
            if _OCTAL_PY2.fullmatch(literal) or _LONG_PY2.fullmatch(literal):
                return True
        elif kind == "raise_statement":
            if any(child.type == "expression_list" for child in node.named_children):
                return True
        elif kind == "comparison_operator" and any(child.type == "<>" for child in node.children):
            return True
    return False


@dataclass(frozen=True)
class Comment:
    line: int
    col: int
    #: The text after ``#``, trailing whitespace removed.
    text: str


def comments(source: bytes) -> list[Comment]:
    """Every ``#`` comment: by ``tokenize`` when it can read the file, else from tree-sitter.

    Columns count characters (as ``tokenize`` does), not bytes.
    """
    found: list[Comment] = []
    try:
        for tok in tokenize.tokenize(io.BytesIO(source).readline):
            if tok.type == tokenize.COMMENT:
                found.append(Comment(line=tok.start[0], col=tok.start[1], text=tok.string[1:].rstrip()))
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError, LookupError, ValueError, RecursionError):
        return _ts_comments(source)
    return found


def _ts_comments(source: bytes) -> list[Comment]:
    data = _ts_input(source)
    tree = tree_sitter.Parser(_language()).parse(data)
    found = []
    for node in iter_nodes(tree, ("comment",)):
        row, byte_col = node.start_point
        line_start = node.start_byte - byte_col
        col = len(data[line_start : node.start_byte].decode("utf-8", "replace"))
        text = node_text(node)
        found.append(Comment(line=row + 1, col=col, text=text[1:].rstrip() if text.startswith("#") else text))
    return found
