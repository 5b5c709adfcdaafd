"""Git URLs of codebases mirrored from a remote: recognising them, naming their mirror, redacting them.

Pure string work, at the bottom layer, so ``config`` can tell a URL from a path without importing git.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

_SCP_LIKE = re.compile(r"^[\w.~-]+@[\w.-]+:(?!//)")
_SCHEMES = ("https://", "http://", "ssh://", "git://", "file://", "git+ssh://", "ssh+git://")


def is_git_url(text: str) -> bool:
    """A remote a codebase may be mirrored from (as opposed to a local path)."""
    return text.lower().startswith(_SCHEMES) or bool(_SCP_LIKE.match(text))


def redact_url(url: str) -> str:
    """The URL without a password or token (``https://user:token@host/...`` -> ``https://user@host/...``)."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def mirror_path(url: str, root: Path) -> Path:
    """Where the mirror of ``url`` lives under ``root`` (``$SYMPHONY_HOME/mirrors``): one per URL, shared
    by every codebase that names it (two sub-folders of one repository)."""
    tail = re.sub(r"[^A-Za-z0-9._-]+", "-", url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1])
    tail = tail.removesuffix(".git").strip("-.") or "repo"
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:12]
    return root / f"{tail[:60]}-{digest}.git"
