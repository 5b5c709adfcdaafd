"""What a file is (its type), what it is for (its purpose), and whether it says when it expires.

Pure functions over a repo-relative path and the bytes the caller read: the inventory asset needs
these answers for every tracked file, so they must be cheap (look at the name first, and at most
the first line or first few lines of content) and must never raise on odd input.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from datetime import date

#: Like git (``buffer_is_binary``): a NUL byte in the first 8000 bytes means binary.
BINARY_SNIFF_BYTES = 8000

#: How many leading lines may hold an ``Expires: YYYY-MM-DD`` marker.
EXPIRY_MARKER_LINES = 5
#: The leading lines looked at are cut to this many bytes (a minified one-line file stays cheap).
_HEAD_BYTES = 4096

FILE_TYPES: tuple[str, ...] = (
    "python_module",
    "python_script",
    "shell_script",
    "text",
    "doc",
    "data",
    "config",
    "binary",
    "symlink",
    "submodule",
    "unknown",
)

#: Purposes in the order the rules are tried: the first rule that matches wins (see :func:`purpose`).
PURPOSES: tuple[str, ...] = (
    "temporary_or_backup",
    "log",
    "generated_or_draft",
    "test",
    "utility_script",
    "config",
    "docs",
    "data",
    "source",
    "other",
)

_PYTHON_EXTS = frozenset({".py", ".pyw", ".pyi"})
_SHELL_EXTS = frozenset({".sh", ".bash", ".zsh", ".ksh", ".dash"})
_DOC_EXTS = frozenset({".md", ".markdown", ".rst", ".txt", ".adoc", ".asciidoc", ".org", ".textile"})
_DATA_EXTS = frozenset(
    {
        ".csv",
        ".tsv",
        ".json",
        ".jsonl",
        ".ndjson",
        ".geojson",
        ".parquet",
        ".feather",
        ".arrow",
        ".avro",
        ".orc",
        ".npy",
        ".npz",
        ".pkl",
        ".pickle",
        ".joblib",
        ".db",
        ".sqlite",
        ".sqlite3",
        ".duckdb",
        ".h5",
        ".hdf5",
        ".xlsx",
        ".xls",
        ".pt",
        ".pth",
        ".ckpt",
        ".safetensors",
        ".onnx",
    }
)
_CONFIG_EXTS = frozenset(
    {".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf", ".env", ".properties", ".service", ".editorconfig"}
)
#: Whole basenames (lower case) that are configuration whatever their extension.
_CONFIG_NAMES = frozenset(
    {
        "dockerfile",
        "containerfile",
        "makefile",
        "gnumakefile",
        "procfile",
        "pipfile",
        "vagrantfile",
        "jenkinsfile",
        ".gitignore",
        ".gitattributes",
        ".gitmodules",
        ".dockerignore",
        ".editorconfig",
        ".flake8",
        ".pylintrc",
        ".coveragerc",
        ".npmrc",
        ".env",
        "manifest.in",
        "requirements.txt",
        "constraints.txt",
    }
)
#: Basename prefixes (lower case) of well-known documentation files, with or without extension.
_DOC_PREFIXES = (
    "readme",
    "license",
    "licence",
    "copying",
    "changelog",
    "changes",
    "history",
    "contributing",
    "authors",
    "notice",
    "code_of_conduct",
    "security",
)
_BINARY_EXTS = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".bmp",
        ".ico",
        ".webp",
        ".tif",
        ".tiff",
        ".pdf",
        ".zip",
        ".gz",
        ".tgz",
        ".bz2",
        ".xz",
        ".7z",
        ".tar",
        ".whl",
        ".egg",
        ".jar",
        ".so",
        ".dll",
        ".dylib",
        ".o",
        ".a",
        ".exe",
        ".bin",
        ".pyc",
        ".pyo",
        ".woff",
        ".woff2",
        ".ttf",
        ".otf",
        ".mp3",
        ".mp4",
        ".wav",
        ".mov",
    }
)
_SOURCE_EXTS = frozenset(
    {
        ".c",
        ".h",
        ".cc",
        ".cpp",
        ".hpp",
        ".cu",
        ".cuh",
        ".go",
        ".rs",
        ".java",
        ".kt",
        ".scala",
        ".js",
        ".jsx",
        ".mjs",
        ".ts",
        ".tsx",
        ".rb",
        ".php",
        ".pl",
        ".lua",
        ".r",
        ".jl",
        ".swift",
        ".sql",
        ".html",
        ".htm",
        ".css",
        ".scss",
        ".vue",
        ".pyx",
        ".pxd",
        ".proto",
        ".ipynb",
    }
)

_MAIN_GUARD = re.compile(
    rb"^[ \t]*if[ \t]+(?:__name__[ \t]*==[ \t]*['\"]__main__['\"]|['\"]__main__['\"][ \t]*==[ \t]*__name__)",
    re.MULTILINE,
)
_PYTHON_INTERP = re.compile(r"^(?:i|c)?python[0-9.]*$|^pypy[0-9.]*$")
_SHELL_INTERP = re.compile(r"^(?:ba|z|da|k|a|mk)?sh$")

# Purpose rules, on the lower-cased basename unless noted.
_TEMP_SUFFIXES = (".bak", ".tmp", ".temp", ".swp", ".swo", ".orig", ".rej", ".old", "~", ".deprecated")
_TEMP_PREFIXES = ("tmp_", "temp_", "~$", ".#")
_TEMP_INFIX = re.compile(r"(?:backup|_temp\.|_tmp\.|_old\.|[ _]copy\.|[ _]copy \(\d+\)|\(\d+\)\.)")
#: A copy with an epoch timestamp after its extension: ``x.py.backup_1753227699``, ``x.py.1753227699``,
#: ``x.py_1753227699000``. Epoch seconds (10 digits, 2001-2286) or milliseconds (13 digits).
_EPOCH_COPY = re.compile(r"\.[a-z0-9]+[._-](?:[a-z]+[._-]?)?1\d{9}(?:\d{3})?$")
_TEMP_DIR = re.compile(r"^(?:_trash.*|\.?trash|.*backup.*|bak|backups?|old|tmp|temp|\.tmp)$")
_LOG_FILE = re.compile(r"\.log(?:\.\d+)?$|\.log\.(?:gz|old)$")
_LOG_DIRS = frozenset({"log", "logs"})
_GENERATED_PREFIXES = ("ai_generated_", "draft_", "debug_", "test_output_")
_GENERATED_INFIX = re.compile(r"_draft|\.generated\.|_pb2(?:_grpc)?\.pyi?$")
_GENERATED_DIRS = frozenset({"output", "outputs", "generated", "__generated__"})
_GENERATED_MARKER = re.compile(rb"@generated\b|\bDO NOT EDIT\b|\b[Aa]uto-?generated\b")
_TEST_DIRS = frozenset({"test", "tests", "testing", "__tests__"})
_UTILITY_DIRS = frozenset({"scripts", "script", "tools", "tool", "bin"})
_DOCS_DIRS = frozenset({"doc", "docs", "documentation"})

_EXPIRES = re.compile(rb"^[^A-Za-z0-9_\r\n]*expires[ \t]*:[ \t]*([^\s]*)", re.IGNORECASE)
_ISO_DATE = re.compile(rb"^(\d{4})-(\d{2})-(\d{2})")


def is_binary(content: bytes) -> bool:
    """Git's rule (``buffer_is_binary``), so "binary" here agrees with ``git grep`` and ``git diff``."""
    return content.find(b"\0", 0, BINARY_SNIFF_BYTES) != -1


def _split_ext(basename: str) -> str:
    """The lower-cased extension; a leading-dot name (``.env``) is its own extension as in ``.env``."""
    lower = basename.lower()
    if lower.startswith(".") and lower.count(".") == 1:
        return lower
    return posixpath.splitext(lower)[1]


def _shebang_interpreter(content: bytes | None) -> str | None:
    """The interpreter a ``#!`` line names (``python3`` for ``#!/usr/bin/env -S python3 -u``)."""
    if not content or not content.startswith(b"#!"):
        return None
    first = content[2:].split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    words = first.split()
    if not words:
        return None
    interp = posixpath.basename(words[0])
    if interp == "env":
        rest = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        if not rest:
            return None
        interp = posixpath.basename(rest[0])
    return interp


def classify_file(
    path: str, content: bytes | None, *, is_symlink: bool = False, is_submodule: bool = False
) -> str:
    """One of :data:`FILE_TYPES`.

    The kind of git entry decides first (submodule, symlink), then the name (special names, then the
    extension), and only a file the name says nothing about is judged by content (NUL byte, shebang).
    ``content`` is ``None`` when the caller could not read the file: a known name still gets its type,
    anything else is ``unknown``.
    """
    if is_submodule:
        return "submodule"
    if is_symlink:
        return "symlink"
    basename = posixpath.basename(path)
    lower = basename.lower()
    ext = _split_ext(basename)
    if ext in _PYTHON_EXTS:
        if content is not None and (
            _MAIN_GUARD.search(content) or _is_python_interp(_shebang_interpreter(content))
        ):
            return "python_script"
        return "python_module"
    if ext in _SHELL_EXTS:
        return "shell_script"
    if _is_config_name(lower, ext):
        return "config"
    if ext in _DATA_EXTS:
        return "data"
    if ext in _DOC_EXTS or lower.startswith(_DOC_PREFIXES):
        return "doc"
    if ext in _BINARY_EXTS:
        return "binary"
    if content is None:
        return "unknown"
    if is_binary(content):
        return "binary"
    interp = _shebang_interpreter(content)
    if _is_python_interp(interp):
        return "python_script"
    if interp is not None and _SHELL_INTERP.match(interp):
        return "shell_script"
    return "text"


def _is_config_name(lower: str, ext: str) -> bool:
    """Configuration by name: ``Dockerfile.dev``, ``.env.local``, ``requirements-dev.txt``, ``*.toml``..."""
    if lower in _CONFIG_NAMES or ext in _CONFIG_EXTS:
        return True
    if lower.startswith(("dockerfile.", "dockerfile-", ".env.")):
        return True
    return lower.startswith(("requirements", "constraints")) and ext in {".txt", ".in"}


def _is_python_interp(interp: str | None) -> bool:
    return interp is not None and _PYTHON_INTERP.match(interp) is not None


def purpose(path: str, file_type: str, content: bytes | None) -> str:
    """One of :data:`PURPOSES`, by the first rule that matches, most specific first.

    Order (and why):

    1. ``temporary_or_backup``: ``*.bak *.tmp *.swp *.orig *~ *.DEPRECATED``, ``*backup*``, ``tmp_*``,
       ``temp_*``, ``*_temp.*``, copies (``x copy.py``, ``x (1).py``), epoch-suffixed copies
       (``x.py.backup_1753227699``), anything under ``_trash_*/``, ``backup*/``, ``old/``, ``tmp/``.
       A backup of a test or a log is still a backup: this is what cleanup wants to know first.
    2. ``log``: ``*.log``, rotated ``*.log.1``, anything under ``log/`` or ``logs/``.
    3. ``generated_or_draft``: ``ai_generated_*``, ``draft_*``, ``*_draft*``, ``debug_*``,
       ``test_output_*``, ``*.generated.*``, ``*_pb2.py``, under ``output(s)/`` or ``generated/``, or an
       ``@generated`` / ``DO NOT EDIT`` marker in the first 5 lines. Before ``test`` so that
       ``test_output_x.txt`` is output, not a test.
    4. ``test``: ``test_*.py``, ``*_test.py``, ``tests.py``, ``conftest.py``, or under ``test(s)/``. Before
       ``utility_script`` because a test name is more specific than a ``scripts/`` folder.
    5. ``utility_script``: under ``scripts/ tools/ bin/``, or a ``python_script`` / ``shell_script``.
    6. ``config``, 7. ``docs`` (doc type or under ``docs/``), 8. ``data``: by file type.
    9. ``source``: Python modules and text files with a source-code extension.
    10. ``other``: everything else (binaries, symlinks, submodules, unknown).
    """
    norm = path.strip("/")  # git paths use "/"; a backslash is part of a name (or an escape)
    parts = norm.split("/")
    dirs = [d.lower() for d in parts[:-1]]
    base = parts[-1].lower()
    ext = _split_ext(base)

    if (
        base.endswith(_TEMP_SUFFIXES)
        or base.startswith(_TEMP_PREFIXES)
        or _TEMP_INFIX.search(base)
        or _EPOCH_COPY.search(base)
        or (dirs and any(_TEMP_DIR.match(d) for d in dirs))
    ):
        return "temporary_or_backup"
    if _LOG_FILE.search(base) or not _LOG_DIRS.isdisjoint(dirs):
        return "log"
    if (
        base.startswith(_GENERATED_PREFIXES)
        or _GENERATED_INFIX.search(base)
        or not _GENERATED_DIRS.isdisjoint(dirs)
        or (file_type not in {"binary", "data"} and _GENERATED_MARKER.search(_head_lines(content, 5)))
    ):
        return "generated_or_draft"
    if (
        (ext in _PYTHON_EXTS and (base.startswith("test_") or base[: -len(ext)].endswith("_test")))
        or base in {"conftest.py", "tests.py"}
        or not _TEST_DIRS.isdisjoint(dirs)
    ):
        return "test"
    if not _UTILITY_DIRS.isdisjoint(dirs) or file_type in {"python_script", "shell_script"}:
        return "utility_script"
    if file_type == "config":
        return "config"
    in_docs = not _DOCS_DIRS.isdisjoint(dirs)
    if file_type == "doc" or (in_docs and file_type == "text"):
        return "docs"
    if file_type == "data":
        return "data"
    if file_type == "python_module" or (file_type == "text" and ext in _SOURCE_EXTS):
        return "source"
    if in_docs:
        return "docs"
    return "other"


def _head_lines(content: bytes | None, n: int) -> bytes:
    if not content:
        return b""
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    return b"\n".join(content[:_HEAD_BYTES].split(b"\n", n)[:n])


@dataclass(frozen=True)
class ExpiryMarker:
    """An ``Expires:`` marker found near the top of a file: its date, or why it is not one."""

    raw: str
    date: date | None
    error: str | None


def parse_expiry(content: bytes | None) -> ExpiryMarker | None:
    """The first ``Expires: YYYY-MM-DD`` marker in the first 5 lines, valid or not; ``None`` when absent.

    The key is case-insensitive and may follow any comment prefix (``#``, ``//``, ``--``, ``<!--``,
    ``/*``, ``;``, a docstring quote): anything that is not a word character. A marker whose value is
    not an ISO date is returned with ``error`` set, so the asset can report "bad expiry marker" instead
    of silently ignoring a deadline someone meant to set.
    """
    if not content or b"xpires" not in content[:_HEAD_BYTES].lower():
        return None  # the common case, decided without splitting lines
    for line in _head_lines(content, EXPIRY_MARKER_LINES).split(b"\n"):
        m = _EXPIRES.match(line)
        if not m:
            continue
        raw = m.group(1).decode("utf-8", "replace")
        d = _ISO_DATE.match(m.group(1))
        if d is None or (len(m.group(1)) > 10 and m.group(1)[10:11].isdigit()):
            return ExpiryMarker(raw=raw, date=None, error=f"expiry marker {raw!r} is not a YYYY-MM-DD date")
        try:
            value = date(int(d.group(1)), int(d.group(2)), int(d.group(3)))
        except ValueError as exc:
            return ExpiryMarker(raw=raw, date=None, error=f"expiry marker {raw!r} is not a valid date: {exc}")
        return ExpiryMarker(raw=raw, date=value, error=None)
    return None


def expiry_date(content: bytes | None) -> date | None:
    """The date of a valid ``Expires:`` marker in the first 5 lines, else ``None``."""
    marker = parse_expiry(content)
    return marker.date if marker is not None else None


def expiry_marker_error(content: bytes | None) -> str | None:
    """Why the ``Expires:`` marker is unusable, or ``None`` when it is valid or absent."""
    marker = parse_expiry(content)
    return marker.error if marker is not None else None
