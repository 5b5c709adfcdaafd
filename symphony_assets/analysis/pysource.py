"""Tolerant reading of Python source: decode, parse, and find comments in files that may not parse.

Real codebases hold many ``.py`` files that ``ast.parse`` rejects (Python 2 syntax, merge markers,
half-done refactors). Every analysis still has to extract facts from them. :func:`recover_python` is
the one recovering parser they share: it gives an ``ast`` tree of every statement that parses, with
the file's own line numbers, re-synchronising after an error at the next statement of the same or a
lower indentation (so an early unclosed bracket or string no longer hides the rest of the file);
:func:`recovered_comments` gives the comments of such a file from the same lexer. Tree-sitter (a real
parser with error recovery) stays for what needs a concrete syntax tree of any file: the scope of a
comment, and telling Python 2 from broken Python 3.

Nothing here raises on bad input: every entry point returns a value describing what went wrong.
"""

from __future__ import annotations

import ast
import codecs
import contextlib
import dataclasses
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
    "recovered_comments",
    "decode_source",
    "enclosing_qualname",
    "in_error",
    "iter_nodes",
    "looks_like_python2",
    "node_line",
    "node_text",
    "parse_python",
    "qualname_at",
    "recover_python",
    "Recovered",
    "blank_merge_markers",
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


def parse_python(source: bytes, detect_python2: bool = True) -> ParseOutcome:
    """``ast.parse`` with every failure turned into a value (syntax, NUL bytes, nesting depth, memory).

    ``detect_python2=False`` leaves ``python2`` False on failure: telling Python 2 apart costs a
    tree-sitter parse of the file, wasted on a caller that never reads it."""
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
    python2 = detect_python2 and (
        "Missing parentheses in call to 'print'" in message or looks_like_python2(source)
    )
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
    """Every ``#`` comment: by ``tokenize`` when it can read the file, else by :func:`recovered_comments`.

    Columns count characters (as ``tokenize`` does), not bytes.
    """
    found: list[Comment] = []
    try:
        for tok in tokenize.tokenize(io.BytesIO(source).readline):
            if tok.type == tokenize.COMMENT:
                found.append(Comment(line=tok.start[0], col=tok.start[1], text=tok.string[1:].rstrip()))
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError, LookupError, ValueError, RecursionError):
        return recovered_comments(source)
    return found


def recovered_comments(source: bytes) -> list[Comment]:
    """Comments of a file ``tokenize`` rejects, by the lexer of :func:`recover_python`.

    Strings (docstrings included) are never comments; a string or bracket left open re-synchronises
    as the recovering parser does, so an early error does not turn the rest of the file into a string.
    """
    lines = _split_lines(decode_source(blank_merge_markers(source)).replace("\x00", ""))
    found = []
    for number, info in enumerate(_lex(lines), start=1):
        if info.comment >= 0:
            text = lines[number - 1][info.comment + 1 :].rstrip()
            found.append(Comment(line=number, col=info.comment, text=text))
    return found


# -------------------------------------------------------------------------------------------------
# Recovery: an ``ast.Module`` for a file that does not parse


_MERGE_MARKER = re.compile(rb"^(?:<{7}|\|{7}|>{7})(?: [^\n]*)?$|^={7}[ \t]*$", re.MULTILINE)


def blank_merge_markers(source: bytes) -> bytes:
    """Merge-conflict marker lines replaced by empty lines, so line numbers stay and both sides parse.

    A marker between a ``try`` body and its ``except`` would otherwise cut the handler off its
    ``try``; without the marker lines both sides read as ordinary code.
    """
    return _MERGE_MARKER.sub(b"", source)


@dataclass(frozen=True)
class Recovered:
    """What :func:`recover_python` read: a tree of every statement it could, with the file's lines.

    ``tree`` is the real ``ast`` tree when the file parses (``outcome.ok``). Otherwise it is the tree
    of a repaired copy of the file: each statement that does not parse, and each compound header that
    does not, is replaced in place (same line count) by ``pass`` or a neutral header of the same
    keyword, so the blocks, handlers and definitions around and after it keep their real lines.
    """

    tree: ast.Module
    outcome: ParseOutcome
    #: 1-based inclusive line ranges replaced because they could not be read.
    skipped: tuple[tuple[int, int], ...]

    @property
    def recovered(self) -> bool:
        return self.outcome.tree is None


@dataclass(frozen=True)
class _LineInfo:
    indent: int
    #: The line holds code that starts outside any string (not blank, not only a comment).
    code: bool
    #: Bracket depth at the start of the line (after re-synchronisation).
    depth: int
    #: The previous line ends in a backslash continuation (outside strings).
    cont: bool
    #: The first word of the line when it starts outside a string and bracket.
    word: str
    #: The last character of code on the line, outside strings and comments (``""`` if none).
    last: str
    #: Column where a comment starts, or -1.
    comment: int
    #: The line starts inside a multi-line string.
    in_string: bool = False


#: Keywords that start a statement: after a bracket left open, a line at the opener's indentation or
#: less that starts with one of these is a new statement (the bracket was never closed).
_RESYNC_WORDS = frozenset(
    {
        "def",
        "class",
        "try",
        "except",
        "finally",
        "import",
        "from",
        "if",
        "elif",
        "else",
        "for",
        "while",
        "with",
        "return",
        "raise",
        "async",
        "pass",
        "break",
        "continue",
        "global",
        "nonlocal",
        "del",
        "assert",
        "print",
        "exec",
    }
)
#: Words that continue an expression when a line starts with them inside brackets.
_OPERATOR_WORDS = frozenset({"and", "or", "not", "in", "is", "if", "else", "for", "async", "lambda", "from"})
_CLAUSE_WORDS = frozenset({"except", "else", "elif", "finally"})
#: A code line that ends with one of these continues on the next line (inside brackets).
_CONTINUING_ENDS = frozenset(",([{\\+-*/%=<>|&^~.:@")
_TOKEN = re.compile(r"""[rRbBuUfF]{0,2}(?:\"\"\"|'''|"|')|#|[()\[\]{}]|\\$""")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|@")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
#: An assignment or call that starts a line: a statement, even after a line ending in ``,`` (a keyword
#: argument or dict entry inside the brackets would end in ``,`` itself).
_STATEMENT_LIKE = re.compile(r"[A-Za-z_][\w.]*[ \t]*(?:=(?!=)|[-+*/%&|^@]=|\()")
#: A definition line: inside a multi-line string at the opener's indentation or less, it means the
#: string was never closed (docstrings indent their examples deeper than their opening quotes).
_CODE_LINE = re.compile(r"^[ \t]*(?:async[ \t]+)?(?:def[ \t]+\w+[ \t]*\(|class[ \t]+\w+[ \t]*[(:])")


def _split_lines(text: str) -> list[str]:
    """Lines as ``ast`` counts them (``\\n``, ``\\r\\n`` and ``\\r`` end one), without their endings."""
    return [line.rstrip("\r\n") for line in _LINE.findall(text)]


def _expand_indent(line: str) -> str:
    """The line with tabs in its indentation expanded to multiples of 8 (as Python 2 read them)."""
    stripped = line.lstrip(" \t\f")
    return line[: len(line) - len(stripped)].replace("\f", "").expandtabs(8) + stripped


def _scan(
    lines: list[str], ignore: frozenset[tuple[int, int]] = frozenset()
) -> tuple[list[_LineInfo], tuple[int, int] | None]:
    """Per-line lexer state, and where a triple-quoted string opens that never closes (if one does).

    Brackets left open re-synchronise at a line that starts a statement at the opener's indentation
    or less (see :data:`_RESYNC_WORDS`, and a line starting with a name after a line that cannot
    continue); single-quoted strings end at their line's end.
    """
    infos: list[_LineInfo] = []
    quote: str | None = None
    quote_at: tuple[int, int] | None = None
    quote_indent = 0
    depth = 0
    open_indent = 0
    cont = False
    prev_last = ""
    for number, line in enumerate(lines):
        indent = len(line) - len(line.lstrip(" \t\f"))
        starts_in_string = quote is not None
        word = ""
        if not starts_in_string:
            match = _WORD.match(line, indent)
            word = match.group(0) if match else ""
            if (
                depth > 0
                and indent <= open_indent
                and indent < len(line)
                and line[indent] != "#"
                and (
                    word in _RESYNC_WORDS
                    or (word and word not in _OPERATOR_WORDS and prev_last not in _CONTINUING_ENDS)
                    or (_STATEMENT_LIKE.match(line, indent) and not line.rstrip().endswith((",", "(")))
                )
            ):
                depth = 0
        line_depth = depth
        line_cont = cont
        cont = False
        last = ""
        comment = -1
        code = not starts_in_string and indent < len(line) and line[indent] != "#"
        i = 0
        if quote is not None:
            i = _string_close(line, 0, quote)
            if i < 0:
                if quote_at is not None and indent <= quote_indent and _CODE_LINE.match(line):
                    return infos, quote_at  # code at the opener's level: the opener never closed
                infos.append(_LineInfo(indent, False, line_depth, line_cont, "", "", -1, True))
                continue
            if (
                quote_at is not None
                and len(quote) == 3
                and i < len(line)
                and (line[i].isalnum() or line[i] == "_")
            ):
                return infos, quote_at  # a closer cannot touch a name: this is the next docstring's opener
            quote = None
            last = "'"
        while True:
            match = _TOKEN.search(line, i)
            if match is None:
                tail = line[i:].rstrip()
                last = tail[-1] if tail else last
                break
            between = line[i : match.start()].rstrip()
            if between:
                last = between[-1]
            token = match.group(0)
            if token == "#":
                comment = match.start()
                break
            if token == "\\":
                cont = True
                break
            if token in "([{":
                if depth == 0:
                    open_indent = indent
                depth += 1
                last = token
                i = match.end()
                continue
            if token in ")]}":
                depth = max(0, depth - 1)
                last = token
                i = match.end()
                continue
            delimiter = token.lstrip("rRbBuUfF")
            if (number, match.start()) in ignore:
                i = match.end()
                continue
            close = _string_close(line, match.end(), delimiter)
            last = "'"
            if close >= 0:
                i = close
                continue
            if len(delimiter) == 3 or line.rstrip().endswith("\\"):
                quote, quote_at, quote_indent = delimiter, (number, match.start()), indent
            break
        prev_last = last if (code or last) else prev_last
        infos.append(_LineInfo(indent, code, line_depth, line_cont, word, last, comment, starts_in_string))
    return infos, (quote_at if quote is not None and quote_at is not None and len(quote) == 3 else None)


def _string_close(line: str, start: int, delimiter: str) -> int:
    """Index just past the string's closing delimiter on this line, or -1 when it goes on."""
    i = start
    while True:
        j = line.find(delimiter, i)
        k = line.find("\\", i)
        if j < 0:
            return -1
        if 0 <= k < j:
            i = k + 2
            continue
        return j + len(delimiter)


def _lex(lines: list[str]) -> list[_LineInfo]:
    """:func:`_scan`, re-run while a triple-quoted string never closes, with that opener ignored."""
    ignore: set[tuple[int, int]] = set()
    for _ in range(64):
        infos, open_at = _scan(lines, frozenset(ignore))
        if open_at is None:
            return infos
        ignore.add(open_at)
    return infos


class _Repair:
    """Rewrites lines in place until every statement parses; see :func:`recover_python`."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.info = _lex(lines)
        self.skipped: list[tuple[int, int]] = []

    # -- probing ---------------------------------------------------------------------------------------

    def _parses(self, text: str, indent: int) -> bool:
        if indent > 0:
            text = "if 1:\n" + text
        try:
            ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
            return False
        return True

    def _text(self, start: int, end: int) -> str:
        return "".join(line + "\n" for line in self.lines[start:end])

    # -- structure -------------------------------------------------------------------------------------

    def _chunks(self, start: int, end: int) -> list[tuple[int, int]]:
        """Statements between lines ``start`` and ``end`` (0-based, end excluded) at this block's level."""
        starts: list[int] = []
        level: int | None = None
        head_indent = 0
        previous_word = ""
        for i in range(start, end):
            info = self.info[i]
            if not info.code:
                continue
            if level is None:
                level = info.indent
            new = info.depth == 0 and not info.cont and info.indent <= level
            if new and starts:
                if info.word in _CLAUSE_WORDS and info.indent == head_indent:
                    new = False  # except/else/elif/finally belong to the statement above
                elif previous_word == "@" and info.indent == head_indent:
                    new = False  # a decorated definition
            if new or not starts:
                starts.append(i)
                head_indent = info.indent
                previous_word = info.word
            elif info.indent == head_indent and info.depth == 0:
                previous_word = info.word
        return [(s, starts[n + 1] if n + 1 < len(starts) else end) for n, s in enumerate(starts)]

    def _logical_end(self, start: int, end: int) -> int:
        """Last line (0-based) of the logical line that starts at ``start``."""
        last = start
        for i in range(start + 1, end):
            info = self.info[i]
            if not (info.cont or info.depth > 0 or info.in_string):
                break
            last = i
        return last

    def _has_body_after(self, line: int, end: int, indent: int) -> int | None:
        """First line after ``line`` (and before ``end``) with code deeper than ``indent``."""
        for i in range(line + 1, end):
            info = self.info[i]
            if info.code:
                return i if info.indent > indent else None
        return None

    # -- repair ----------------------------------------------------------------------------------------

    def block(self, start: int, end: int) -> None:
        """Make the statements of one block parse (the block's lines may be at any indentation)."""
        first = next((i for i in range(start, end) if self.info[i].code), None)
        if first is None:
            return
        indent = self.info[first].indent
        if self._parses(self._text(start, end), indent):
            return
        chunks = self._chunks(start, end)
        n = 0
        while n < len(chunks):
            a, b = chunks[n]
            n += 1
            # A stray statement between a compound statement and its next clause (``print x`` between
            # an ``if`` body and its ``elif``): drop it, and the clause is the compound's again.
            while n < len(chunks) and self.info[a].word in _NEUTRAL_HEADERS:
                c, d = chunks[n]
                clause = self._first_clause(c, d)
                if clause is None or self.info[c].word in _NEUTRAL_HEADERS:
                    break
                for i in range(c, clause):
                    self.lines[i] = ""
                self.skipped.append((c + 1, clause))
                b = d
                n += 1
            if not self._parses(self._text(a, b), self.info[a].indent):
                self.statement(a, b)

    def _first_clause(self, start: int, end: int) -> int | None:
        """First ``except``/``else``/``elif``/``finally`` line of the statement at its own indentation."""
        indent = self.info[start].indent
        for i in range(start + 1, end):
            info = self.info[i]
            if info.code and info.indent == indent and info.depth == 0 and info.word in _CLAUSE_WORDS:
                return i
        return None

    def statement(self, start: int, end: int) -> None:
        indent = self.info[start].indent
        clauses = self._clauses(start, end, indent)
        if clauses is None:
            self.simple(start, end, indent)
        else:
            for head, head_end, body_end, inline in clauses:
                if inline:
                    self.one_liner(head, indent)
                    continue
                self.header(head, head_end, indent)
                self.block(head_end + 1, body_end)
                if not any(self.info[i].code for i in range(head_end + 1, body_end)):
                    self._inline_pass(head_end)
        if not self._parses(self._text(start, end), indent):
            self.blank(start, end, indent)

    def _clauses(self, start: int, end: int, indent: int) -> list[tuple[int, int, int, bool]] | None:
        """(header start, header end, body end, one-liner) of each clause of a compound statement
        (``try: x`` / ``except E: pass`` are one-liners), else None."""
        heads: list[int] = [start]
        for i in range(start + 1, end):
            info = self.info[i]
            if info.code and info.indent == indent and info.depth == 0 and info.word in _CLAUSE_WORDS:
                heads.append(i)
        out = []
        for n, head in enumerate(heads):
            stop = heads[n + 1] if n + 1 < len(heads) else end
            head_end = self._header_end(head, stop, indent)
            if head_end is not None:
                out.append((head, head_end, stop, False))
            elif self.info[head].word in _NEUTRAL_HEADERS and _top_colon(self._code(head)) is not None:
                out.append((head, head, stop, True))
            else:
                return None
        return out

    def _header_end(self, head: int, stop: int, indent: int) -> int | None:
        """The line that ends a compound header (``...:``) followed by a deeper body, else None."""
        logical = self._logical_end(head, stop)
        if self.info[logical].last == ":" and self._has_body_after(logical, stop, indent) is not None:
            return logical
        for i in range(head, stop):
            if self.info[i].last == ":" and self._has_body_after(i, stop, indent) is not None:
                return i
            if i > head and self.info[i].code and self.info[i].indent > indent and self.info[i].depth == 0:
                break
        word = self.info[head].word
        if word in ("def", "class", "if", "elif", "else", "for", "while", "with", "try", "except", "finally"):
            body = self._has_body_after(head, stop, indent)
            if body is not None:
                return body - 1 if body - 1 >= head else head
        return None

    def header(self, head: int, head_end: int, indent: int) -> None:
        code = [self._code(i) for i in range(head, head_end + 1)]
        word = self.info[head].word
        pad = " " * indent
        candidates = ["\n".join(code)]
        if word == "except":
            candidates.append(_py2_except(code[0]) if len(code) == 1 else "")
        joined = " ".join(c.strip() for c in code)
        if not joined.endswith(":"):
            candidates.append(pad + joined + ":")
        candidates.append(pad + _NEUTRAL_HEADERS.get(word, "if _:"))
        for candidate in candidates:
            if candidate and self._header_parses(candidate, word, indent):
                if candidate != candidates[0]:
                    parts = candidate.split("\n")
                    for offset, i in enumerate(range(head, head_end + 1)):
                        self.lines[i] = parts[offset] if offset < len(parts) else ""
                        self.info[i] = dataclasses.replace(self.info[i], comment=-1)
                    self.skipped.append((head + 1, head_end + 1))
                return

    def one_liner(self, line: int, indent: int) -> None:
        """``except E, e: print e``: the header repaired as :meth:`header` does, the body kept when
        it parses after it, else ``pass``."""
        code = self._code(line)
        colon = _top_colon(code)
        if colon is None:
            return
        head, body = code[: colon + 1], code[colon + 1 :].strip()
        word = self.info[line].word
        pad = " " * indent
        candidates = [
            head,
            _py2_except(head) if word == "except" else "",
            pad + _NEUTRAL_HEADERS.get(word, "if _:"),
        ]
        for candidate in candidates:
            if not candidate or not self._header_parses(candidate, word, indent):
                continue
            for rest in (body, "pass"):
                text = f"{candidate} {rest}"
                if rest and self._header_parses(text, word, indent, body=False):
                    if text != code:
                        self.lines[line] = text
                        self.info[line] = dataclasses.replace(self.info[line], comment=-1)
                        self.skipped.append((line + 1, line + 1))
                    return

    def _header_parses(self, header: str, word: str, indent: int, body: bool = True) -> bool:
        pad = " " * indent
        body_text = f"\n{pad} pass\n" if body else "\n"
        if word in ("except", "finally"):
            text = f"{pad}try:\n{pad} pass\n{header}{body_text}"
        elif word in ("else", "elif"):
            text = f"{pad}if 1:\n{pad} pass\n{header}{body_text}"
        elif word == "try":
            text = f"{header}{body_text}{pad}finally:\n{pad} pass\n"
        else:
            text = header + body_text
        return self._parses(text, indent)

    def _code(self, line: int) -> str:
        info = self.info[line]
        text = self.lines[line]
        return text[: info.comment].rstrip() if info.comment >= 0 else text.rstrip()

    def _inline_pass(self, line: int) -> None:
        self.lines[line] = self._code(line) + " pass"

    def simple(self, start: int, end: int, indent: int) -> None:
        """A statement that does not parse: ``pass``; lines deeper than it after it are read as a block."""
        logical = self._logical_end(start, end)
        body = self._has_body_after(logical, end, indent)
        if body is None:
            self.blank(start, end, indent)
            return
        self.lines[start] = " " * indent + "if _:"
        for i in range(start + 1, body):
            self.lines[i] = ""
        self.skipped.append((start + 1, body))
        self.block(body, end)

    def blank(self, start: int, end: int, indent: int) -> None:
        self.lines[start] = " " * indent + "pass"
        for i in range(start + 1, end):
            self.lines[i] = ""
        self.skipped.append((start + 1, end))


_NEUTRAL_HEADERS = {
    "def": "def _():",
    "async": "async def _():",
    "class": "class _:",
    "if": "if _:",
    "elif": "elif _:",
    "else": "else:",
    "for": "for _ in _:",
    "while": "while _:",
    "with": "with _:",
    "try": "try:",
    "except": "except _:",
    "finally": "finally:",
}


def _top_colon(code: str) -> int | None:
    """Index of the ``:`` that ends a compound header on this line (outside brackets and strings)."""
    depth = 0
    quote = ""
    i = 0
    while i < len(code):
        ch = code[i]
        if quote:
            if ch == "\\":
                i += 1
            elif code.startswith(quote, i):
                i += len(quote) - 1
                quote = ""
        elif ch in "\"'":
            quote = code[i : i + 3] if code[i : i + 3] in ('"""', "'''") else ch
            i += len(quote) - 1
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif (
            ch == ":"
            and depth == 0
            and not code.startswith(":=", i)
            and not code.lstrip().startswith("lambda")
        ):
            return i
        i += 1
    return None


def _py2_except(code: str) -> str:
    """``except E, e:`` (Python 2) as ``except E as e:``; ``""`` when the header is not of that form."""
    match = re.match(r"^(\s*except\b\s*)(.*):\s*$", code)
    if match is None:
        return ""
    body = match.group(2)
    depth = 0
    comma = -1
    for i, ch in enumerate(body):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            comma = i
    if comma < 0:
        return ""
    name = body[comma + 1 :].strip()
    if not name.isidentifier():
        return ""
    return f"{match.group(1)}{body[:comma].strip()} as {name}:"


def recover_python(source: bytes, outcome: ParseOutcome | None = None) -> Recovered:
    """An ``ast`` tree for any file: the real one when it parses, else one of every statement that does.

    Recovery works block by block: a block that parses is kept whole; otherwise each of its
    statements is tried alone, and one that fails keeps its compound structure (a ``try`` keeps its
    handlers, a ``def`` its body) while only the header or statement that fails is replaced. A bracket
    or string left open re-synchronises at the next line that starts a statement at the same or a
    lower indentation, so one early error no longer hides the rest of the file. Merge-conflict marker
    lines are blanked, tabs in indentation count as Python 2 counted them. Never raises.
    """
    outcome = outcome or parse_python(source)
    if outcome.tree is not None:
        return Recovered(tree=outcome.tree, outcome=outcome, skipped=())
    text = decode_source(blank_merge_markers(source)).replace("\x00", "")
    lines = [_expand_indent(line) for line in _split_lines(text)]
    repair = _Repair(lines)
    with contextlib.suppress(RecursionError):  # absurd nesting: what is repaired so far stands
        repair.block(0, len(lines))
    tree = _final_parse(repair)
    skipped = _merge_ranges(repair.skipped)
    return Recovered(tree=tree, outcome=outcome, skipped=skipped)


def _final_parse(repair: _Repair) -> ast.Module:
    """The repaired text's tree; a top-level statement that still fails is blanked (bounded tries)."""
    for _ in range(32):
        try:
            return ast.parse(repair._text(0, len(repair.lines)))
        except SyntaxError as exc:
            line = (exc.lineno or 1) - 1
        except (ValueError, RecursionError, MemoryError, OverflowError):
            break
        chunks = repair._chunks(0, len(repair.lines))
        hit = next(((a, b) for a, b in chunks if a <= line < b), None)
        if hit is None:
            break
        repair.blank(hit[0], hit[1], repair.info[hit[0]].indent)
    return ast.Module(body=[], type_ignores=[])


def _merge_ranges(ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for first, last in sorted(r for r in ranges if r[1] >= r[0]):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return tuple(merged)


def qualname_at(tree: ast.Module, line: int) -> str:
    """Dotted name of the classes/functions whose lines hold ``line`` (``"Cls.method"``), else ``""``."""
    names: list[str] = []
    body: list[ast.stmt] = tree.body
    while True:
        inner = None
        for stmt in body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                if stmt.lineno <= line <= (stmt.end_lineno or stmt.lineno):
                    inner = stmt
                    break
            elif stmt.lineno <= line <= (stmt.end_lineno or stmt.lineno):
                nested = [
                    s
                    for field in ("body", "orelse", "finalbody")
                    for s in getattr(stmt, field, [])
                    if isinstance(s, ast.stmt)
                ]
                for handler in getattr(stmt, "handlers", []):
                    nested.extend(handler.body)
                body = nested
                break
        else:
            return ".".join(names)
        if inner is None:
            continue
        names.append(inner.name)
        body = inner.body
