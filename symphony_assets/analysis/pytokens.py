"""The token strings :mod:`tokenize` gives for Python source, at regex speed.

Python 3.11's ``tokenize`` is pure Python: a few microseconds a token, 16 s of CPU for the 5,265
Python blob versions of a two-month range of a real-shaped repository, the largest part of
``duplicate_code`` (``benchmarks/bench_tokens.py``). :func:`token_strings` runs tokenize's own
patterns over the whole text in one ``finditer`` and keeps in Python only the state that decides
whether tokenize fails: open brackets, the indentation of each logical line, a continuation at the end.

It answers for the common case and declines (``None``) what it does not model, so that the caller
asks ``tokenize`` itself: an encoding other than UTF-8, bytes that are not UTF-8, a lone carriage
return, a string continued by a backslash, an unterminated triple-quoted string, or a character
tokenize rejects at the start of a logical line. A test compares it with ``tokenize`` on the standard
library, on broken variants of it and on generated sources.
"""

from __future__ import annotations

import codecs
import io
import re
import tokenize
from typing import Final, Literal

#: :func:`token_strings`' answer where tokenize raises (an unmatched dedent, an unclosed bracket or
#: a line continuation at the end of the file).
FAILS: Final = "fails"

_TAB_SIZE = 8
_SINGLE, _DOUBLE = "'", '"'


def _triple_string(quote: str) -> str:
    """A whole triple-quoted string: tokenize's ``Single3``/``Double3`` tail matched across lines.
    tokenize matches the tail line by line, so a backslash at a line's end escapes nothing: the next
    line starts afresh, which ``\\\\[\\s\\S]`` (an escape that may take the line break) reproduces."""
    q = re.escape(quote)
    return rf"{q}{q}{q}[^{q}\\]*(?:(?:\\[\s\S]|{q}(?!{q}{q}))[^{q}\\]*)*{q}{q}{q}"


def _line_string(quote: str, end: str) -> str:
    """tokenize's ``ContStr`` for one quote, ending with ``end`` (the quote, or a continuation)."""
    q = re.escape(quote)
    return rf"{q}[^\n{q}\\]*(?:\\.[^\n{q}\\]*)*{end}"


_CONTINUATION = r"\\\r?\n"
_PREFIX = tokenize.StringPrefix
# tokenize.PseudoToken's alternatives, each named, in its order but for the strings, grouped behind a
# lookahead: what starts a string (at most two prefix letters, then a quote) starts no number, newline
# or operator, so only the order among the strings matters. The lookaheads only skip what cannot
# match; without them, trying the 80 string prefixes four times before each name cost more than all
# the rest. A triple-quoted string is matched to its end (tokenize gathers its lines); ContStr is
# split into a closed string and one continued by a backslash; any other character is one token,
# tokenize's ERRORTOKEN.
_PATTERN = re.compile(
    tokenize.Whitespace
    + "(?:"
    + "|".join(
        [
            rf"(?P<continuation>{_CONTINUATION})",
            r"(?P<end>\Z)",
            rf"(?P<comment>{tokenize.Comment})",
            r"(?=[bBrRuUfF]{0,2}['\"])(?:"
            + "|".join(
                [
                    rf"(?P<triple>{_PREFIX}(?:{_triple_string(_SINGLE)}|{_triple_string(_DOUBLE)}))",
                    rf"(?P<unclosed>{tokenize.Triple})",
                    rf"(?P<string>{_PREFIX}(?:{_line_string(_SINGLE, _SINGLE)}"
                    rf"|{_line_string(_DOUBLE, _DOUBLE)}))",
                    rf"(?P<continued>{_PREFIX}(?:{_line_string(_SINGLE, _CONTINUATION)}"
                    rf"|{_line_string(_DOUBLE, _CONTINUATION)}))",
                ]
            )
            + ")",
            rf"(?=[0-9.])(?P<number>{tokenize.Number})",
            r"(?P<newline>\r?\n)",
            rf"(?=[^\w\s])(?P<op>{tokenize.Special})",
            rf"(?P<name>{tokenize.Name})",
        ]
    )
    + ")"
    + r"|(?P<error>.)"
)
#: Kinds whose text is a token as it stands (operators also count brackets).
_TOKENS = frozenset({"name", "number", "string", "triple"})
_DECLINED = frozenset({"unclosed", "continued"})
_LINE_HEAD = re.compile(r"[ \f\t]*")


def token_strings(content: bytes) -> list[str] | Literal["fails"] | None:
    """Every token's text but comments and layout, as ``tokenize.tokenize`` yields them;
    :data:`FAILS` where tokenize raises; None where this function does not decide."""
    text = _utf8_text(content)
    if text is None or ("\r" in text and text.count("\r") != text.count("\r\n")):
        return None
    out: list[str] = []
    append = out.append
    parens = 0
    indents = [0]
    logical = 0  # where the current logical line starts (tokenize measures its indentation there)
    if not _indent_line(text, logical, indents):
        return FAILS
    continuation_end = -1
    for match in _PATTERN.finditer(text):
        kind = match.lastgroup
        if kind in _TOKENS:
            append(match.group(kind))
        elif kind == "op":
            token = match.group(kind)
            append(token)
            first = token[0]
            if first in "([{":
                parens += 1
            elif first in ")]}":
                parens -= 1
        elif kind == "newline":
            if parens == 0:
                logical = match.end()
                if not _indent_line(text, logical, indents):
                    return FAILS  # IndentationError: unindent does not match any outer level
        elif kind == "continuation":
            continuation_end = match.end()
        elif kind == "error":
            if match.start() == logical:
                return None  # tokenize skips the indentation before this error token: not modelled
            append(match.group(kind))
        elif kind in _DECLINED:
            return None
    if parens != 0 or continuation_end == len(text):
        return FAILS  # TokenError: EOF in multi-line statement
    return out


def _utf8_text(content: bytes) -> str | None:
    """The text tokenize decodes, where that is UTF-8 (else None): tokenize's own detection decides,
    so a UTF-8 cookie or byte-order mark is read as tokenize reads it."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(content).readline)
    except SyntaxError:
        return None
    if encoding == "utf-8-sig":
        content = content.removeprefix(codecs.BOM_UTF8)
    elif encoding != "utf-8":
        return None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _indent_line(text: str, start: int, indents: list[int]) -> bool:
    """Track tokenize's indentation stack for the logical line at ``start``; False where tokenize
    raises IndentationError. Blank and comment-only lines do not count, as in tokenize."""
    head = _LINE_HEAD.match(text, start)
    end = head.end() if head else start
    if end == len(text) or text[end] in "#\r\n":
        return True
    space = text[start:end]
    if space == " " * len(space):
        column = len(space)
    else:
        column = 0
        for char in space:
            if char == " ":
                column += 1
            elif char == "\t":
                column = (column // _TAB_SIZE + 1) * _TAB_SIZE
            else:  # form feed
                column = 0
    if column > indents[-1]:
        indents.append(column)
    while column < indents[-1]:
        if column not in indents:
            return False
        indents.pop()
    return True
