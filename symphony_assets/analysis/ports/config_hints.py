"""Whether a config file's text can hold a port site at all, read from the text alone.

Every site comes from a port or address key (``port``, ``db_port``, ``bind``, ``listen_addr``...), a
URL (``://``) or a ``${VAR}`` expanded to one; a ``KEY=VALUE`` line needs the same. A report of
hundreds of kilobytes of metrics usually has none of these, and walking its tree found nothing: the
walk, and for JSON the tree, are skipped when the text cannot spell any of them. Escapes that could
spell them (``\\u0070ort``, ``http:\\/\\/``, a YAML line joined by a backslash) and YAML anchors (whose
aliases have their own limit) make the file read in full. A test compares both ways on generated
files, limits included.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from symphony_assets.analysis import limits

#: The words of port and address keys. :mod:`.config_values` matches them case-insensitively, where
#: Python's ``re`` also takes these four letters for ASCII ones (``ſ`` for ``s``...): a text holding one
#: is read in full, and any other is searched in lower case, at C speed.
_ASCII_FOLDS = frozenset("\u0130\u0131\u017f\u212a")
_ADDRESS_WORDS = ("addr", "address", "endpoint", "bind", "listen", "hostport")
#: Escapes that can spell a hint (YAML ``\x``, ``\u``, ``\U``, JSON ``\u``, both ``\/``, a backslash
#: before a line break of either), and YAML anchors.
_OPAQUE = re.compile(r"\\[uUx/\r\n\x85\u2028\u2029]|&")
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_INNERMOST = re.compile(r"\[\]|\{\}")
#: Nesting up to which a JSON file is known to be within :data:`limits.MAX_CONFIG_DEPTH`.
_SAFE_DEPTH = limits.MAX_CONFIG_DEPTH // 2
_LOWER_OR_DIGIT = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def may_hold_sites(text: str) -> bool:
    """False only where no walk of this text's tree, or of its lines, can find a site.

    A site needs a URL, a variable, or a key that :func:`.config_values.is_port_key` or
    ``ADDRESS_KEY`` accepts: ``port`` after the key's start or a ``_``, ``-``, ``.``, ``Port`` after a
    lower-case letter or digit, an address word from the key's start or a separator to its end. In the
    text, a key's start and end sit next to a quote, a colon, a space or the like, never a letter or
    digit: so a word with a letter or digit on that side cannot be one (``report``, ``binding``).
    """
    if "$" in text or "://" in text or _OPAQUE.search(text) or not _ASCII_FOLDS.isdisjoint(text):
        return True
    lower = text.lower()  # the same length: the one letter whose lower case is longer is in _ASCII_FOLDS
    for start in _occurrences(lower, "port"):
        before = text[start - 1 : start]
        if not before.isalnum() or (text[start : start + 4] == "Port" and before in _LOWER_OR_DIGIT):
            return True
    for word in _ADDRESS_WORDS:
        for start in _occurrences(lower, word):
            end = start + len(word)
            if not text[start - 1 : start].isalnum() and not text[end : end + 1].isalnum():
                return True
    return False


def _occurrences(text: str, word: str) -> Iterator[int]:
    start = text.find(word)
    while start >= 0:
        yield start
        start = text.find(word, start + 1)


def json_within_limits(text: str) -> bool | None:
    """For JSON, whether the config reader builds it without reaching a limit, so that a text that
    cannot hold sites needs no tree at all; None where the text is not JSON (the reader goes on to
    YAML, whose nodes count differently).

    Decided from C-speed passes: the JSON parser (with hooks that convert nothing), character counts
    bounding the nodes, and the nesting of the brackets outside strings.
    """
    try:
        json.loads(text, parse_int=len, parse_float=len, parse_constant=len)
    except (ValueError, RecursionError):
        return None
    containers = text.count("{") + text.count("[")
    # The reader counts each container once for itself and once as a member, each other value once;
    # a member needs a comma or an opening bracket before it.
    if 3 * containers + text.count(",") + 1 > limits.MAX_CONFIG_NODES:
        return False
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    for _ in range(_SAFE_DEPTH):
        if not brackets:
            return True
        brackets = _INNERMOST.sub("", brackets)
    return not brackets
