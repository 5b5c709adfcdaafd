"""The file inventory: one row per file, from facts about the file, its bytes and its git history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from symphony_assets.analysis.filetypes import classify_file, parse_expiry, purpose
from symphony_assets.analysis.references import ReferenceCount, count_references


@dataclass(frozen=True)
class InventoryFile:
    """What the git layer knows about one file, plus its bytes when they could be read."""

    path: str
    raw_path: bytes
    path_is_utf8: bool
    kind: str  # "file" | "symlink" | "submodule" | "special"
    tracked: bool
    ignored: bool
    git_status: str
    blob_id: str | None
    size: int | None
    mtime: datetime | None
    link_target: str | None
    content: bytes | None
    read_status: str
    read_message: str | None = None


@dataclass(frozen=True)
class HistoryFacts:
    last_author: str
    last_commit_time: datetime
    commit_count: int


def link_status(path: str, target: str, names: frozenset[str], dirs: frozenset[str]) -> str:
    """Where a symlink points, resolved lexically inside the codebase: it is never followed."""
    if target.startswith("/"):
        return "outside_root"
    parts = path.split("/")[:-1]
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return "outside_root"
            parts.pop()
        else:
            parts.append(part)
    resolved = "/".join(parts)
    return "ok" if resolved in names or resolved in dirs else "dangling"


def _parent_dirs(paths: Sequence[str]) -> frozenset[str]:
    dirs: set[str] = set()
    for p in paths:
        parts = p.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    return frozenset(dirs)


@dataclass(frozen=True)
class ContentFacts:
    """What a file's path, kind and bytes say on their own: the part of its row a day reuses from the
    day before when the file did not change."""

    file_type: str
    purpose: str
    expires: date | None
    expiry_error: str | None


def content_facts(f: InventoryFile) -> ContentFacts:
    file_type = classify_file(
        f.path,
        f.content if f.read_status == "ok" else None,
        is_symlink=f.kind == "symlink",
        is_submodule=f.kind == "submodule",
    )
    marker = parse_expiry(f.content) if f.content is not None else None
    return ContentFacts(
        file_type=file_type,
        purpose=purpose(f.path, file_type, f.content),
        expires=marker.date if marker is not None else None,
        expiry_error=marker.error if marker is not None else None,
    )


def reference_name(f: InventoryFile) -> str:
    """The name a file is searched for by, as its real bytes (never its escaped display form)."""
    return f.raw_path.decode("utf-8", "surrogateescape")


def referrer_text(f: InventoryFile) -> bytes | None:
    """What a file contributes as a referrer: ignored files (build output, logs) are counted as targets
    but not as referrers, as ``git grep`` searches only what the codebase holds."""
    return None if f.ignored else f.content


def build_inventory(
    files: Sequence[InventoryFile],
    history: Mapping[str, HistoryFacts],
    *,
    live: bool,
    facts: Sequence[ContentFacts] | None = None,
    references: Mapping[str, ReferenceCount] | None = None,
) -> list[dict[str, object]]:
    """Rows for ``file_inventory``; references come from ONE tokenising pass over all readable text.

    A day built from the day before passes the ``facts`` of each file (reused where the file did not
    change) and the ``references`` by :func:`reference_name` (from an updated
    :class:`~symphony_assets.analysis.references.ReferenceIndex`); the files' bytes are then not needed.
    """
    exact = [reference_name(f) for f in files]
    if references is None:
        references = count_references([(n, referrer_text(f)) for n, f in zip(exact, files, strict=True)])
    if facts is None:
        facts = [content_facts(f) for f in files]
    names = frozenset(f.path for f in files)
    dirs = _parent_dirs([f.path for f in files])
    rows: list[dict[str, object]] = []
    for f, name, fact in zip(files, exact, facts, strict=True):
        notes: list[str] = []
        if f.read_message:
            notes.append(f.read_message)
        status = f.read_status
        if f.kind == "symlink" and f.link_target is not None:
            status = link_status(f.path, f.link_target, names, dirs)
            if status != "ok":
                notes.append(f"symlink to {f.link_target!r} is {status.replace('_', ' ')}; not followed")
        elif f.kind == "submodule":
            status = "submodule"
            if ".gitmodules" not in names:
                notes.append("submodule entry without .gitmodules")
        if fact.expiry_error:
            notes.append(fact.expiry_error)
        hist = history.get(f.path)
        modified = f.mtime if live and f.mtime is not None else (hist.last_commit_time if hist else None)
        ref = references.get(name)
        rows.append(
            {
                "path": f.path,
                "path_is_utf8": f.path_is_utf8,
                "file_type": fact.file_type,
                "purpose": fact.purpose,
                "size_bytes": f.size,
                "modified": modified,
                "tracked": f.tracked,
                "ignored": f.ignored,
                "git_status": f.git_status,
                "blob_id": f.blob_id,
                "last_author": hist.last_author if hist else None,
                "commit_count": hist.commit_count if hist else 0,
                "references": ref.references if ref else 0,
                "module_references": ref.module_references if ref else 0,
                "expires": fact.expires,
                "read_status": status,
                "link_target": f.link_target,
                "notes": "; ".join(notes) or None,
            }
        )
    return rows
