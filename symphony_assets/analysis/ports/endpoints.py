"""Endpoint text: ``scheme://host:port`` and ``host:port``, and the markers a folded string carries.

Constant folding (:mod:`.folding`) renders an expression it only partly knows with markers around the
unknown parts and around the parts the environment may override; the port found in such text is
unresolved or only a default.
"""

from __future__ import annotations

import re

from symphony_assets.analysis.ports.sites import MAX_PORT, RAW_LIMIT

# Markers embedded in folded strings: an unknown part, and a part that the environment may override.
UNK_OPEN, UNK_CLOSE = "\x00", "\x01"
SOFT_OPEN, SOFT_CLOSE = "\x02", "\x03"


def wrap_soft(text: str, soft: bool) -> str:
    if not soft or SOFT_OPEN in text or UNK_OPEN in text:
        return text
    return SOFT_OPEN + text + SOFT_CLOSE


#: ``scheme://host:port`` in any string; the port part may hold markers for unknown/overridable pieces.
URL = re.compile(
    # The lookbehind makes a long run of letters cost one attempt, not one per position (quadratic).
    r"(?<![A-Za-z0-9+.\-])(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://"
    r"(?:[^@/\s'\"]*@)?"
    r"(?P<host>\[[^\]\s]*\]|[^:/\s'\"?#]*)"
    r"(?::(?P<port>[^/\s'\"?#]*))?"
)
HOSTPORT = re.compile(r"^(?P<host>\[[^\]]*\]|[^:/\s]*):(?P<port>[^:/\s]+)$")
NO_PORT_SCHEMES = frozenset({"ipc", "inproc", "file", "unix"})


def parse_endpoint(text: str) -> tuple[str | None, str | None, str | None]:
    """(scheme, host, port text) of ``tcp://host:port`` or ``host:port``; parts None when absent."""
    match = URL.match(text)
    if match:
        return match.group("scheme").lower(), match.group("host"), match.group("port")
    plain = HOSTPORT.match(text)
    if plain:
        return None, plain.group("host"), plain.group("port")
    return None, None, None


def port_value(text: str, zmq_wildcard: bool) -> tuple[int | None, bool]:
    """Port number and whether it is resolved, from text that may hold unknown/overridable markers."""
    if UNK_OPEN in text:
        return None, False
    soft = SOFT_OPEN in text
    plain = text.replace(SOFT_OPEN, "").replace(SOFT_CLOSE, "").strip()
    if zmq_wildcard and plain == "*":
        return 0, True
    if not plain.isdigit():
        return None, False
    number = int(plain)
    if number > MAX_PORT:
        return None, False
    return number, not soft or number == 0


def render(text: str | None) -> str | None:
    """Marker-free display text: unknown parts shown as ``{expr}``."""
    if text is None:
        return None
    return (
        text.replace(UNK_OPEN, "{")
        .replace(UNK_CLOSE, "}")
        .replace(SOFT_OPEN, "")
        .replace(SOFT_CLOSE, "")[:RAW_LIMIT]
    )
