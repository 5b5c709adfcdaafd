"""What one port site is, and which files can hold one.

Resolution rules (what ``resolved`` means):

* A port written as a literal, or as an expression over module constants, class attributes, default
  arguments and single-assigned locals that folds to an integer, is ``resolved=True``.
* A port read from the environment with a default (``os.environ.get("P", 5555)``,
  ``${P:-5555}`` in config when ``P`` is not defined in the same file) keeps the default as ``port`` but
  is ``resolved=False``: the deployment may override it, so it never counts as a conflict.
* Anything else keeps ``port=None``, ``resolved=False`` and the source expression in ``raw``.
* A random port (``bind_to_random_port``, port ``0``, ZMQ ``tcp://*:*``, a compose entry with no
  published port) is ``port=0``, ``resolved=True``: known to be random, never a conflict.
"""

from __future__ import annotations

import functools
import posixpath
from dataclasses import dataclass
from typing import Literal

#: ``skipped``: the file, or the rest of it, was not analysed; ``raw`` says which limit it hit.
Role = Literal["bind", "connect", "listen", "config", "unknown", "skipped"]
Via = Literal["ast", "fallback", "config", "skipped"]
FileFormat = Literal["python", "yaml", "json", "toml", "env"]

#: Longest ``raw`` text kept per site; enough to recognise the expression, bounded for storage.
RAW_LIMIT = 300
MAX_PORT = 65535


@dataclass(frozen=True)
class PortSite:
    """One place a port is used: a call in code, or a value in a config file."""

    line: int
    role: Role
    host: str | None
    port: int | None
    raw: str
    resolved: bool
    socket_type: str | None
    via: Via
    #: Enclosing ``Class.method`` for code, the key path (``services.web.ports[0]``) for config.
    context: str


@functools.lru_cache(maxsize=1 << 16)  # a range asks again for every file of every day
def file_format(path: str) -> FileFormat | None:
    """The format to read ``path`` as, or None when the file cannot hold ports we look for."""
    name = posixpath.basename(path).lower()
    _, ext = posixpath.splitext(name)
    if ext in (".py", ".pyw"):
        return "python"
    if ext in (".yml", ".yaml"):
        return "yaml"
    if ext == ".json":
        return "json"
    if ext == ".toml":
        return "toml"
    if name == ".env" or name.startswith(".env.") or ext == ".env":
        return "env"
    return None


def skipped_site(reason: str, via: Via = "skipped") -> PortSite:
    """The row that records a file (or the rest of one) left unanalysed at a limit, and why."""
    return PortSite(
        line=1,
        role="skipped",
        host=None,
        port=None,
        raw=reason[:RAW_LIMIT],
        resolved=False,
        socket_type=None,
        via=via,
        context="",
    )
