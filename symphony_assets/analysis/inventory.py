"""The file inventory: one row per file, from facts about the file, its bytes and its git history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from symphony_assets.analysis.filetypes import classify_file, parse_expiry, purpose
from symphony_assets.analysis.references import count_references


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


def build_inventory(
    files: Sequence[InventoryFile], history: Mapping[str, HistoryFacts], *, live: bool
) -> list[dict[str, object]]:
    """Rows for ``file_inventory``; references come from ONE tokenising pass over all readable text.

    Names are matched as their real bytes (a non-UTF-8 name is never its escaped display form), and
    ignored files (build output, logs) are counted as targets but not as referrers, as ``git grep``
    searches only what the codebase holds.
    """
    exact = [f.raw_path.decode("utf-8", "surrogateescape") for f in files]
    refs = count_references(
        [(name, None if f.ignored else f.content) for name, f in zip(exact, files, strict=True)]
    )
    names = frozenset(f.path for f in files)
    dirs = _parent_dirs([f.path for f in files])
    rows: list[dict[str, object]] = []
    for f, name in zip(files, exact, strict=True):
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
        file_type = classify_file(
            f.path,
            f.content if f.read_status == "ok" else None,
            is_symlink=f.kind == "symlink",
            is_submodule=f.kind == "submodule",
        )
        marker = parse_expiry(f.content) if f.content is not None else None
        if marker is not None and marker.error:
            notes.append(marker.error)
        hist = history.get(f.path)
        modified = f.mtime if live and f.mtime is not None else (hist.last_commit_time if hist else None)
        ref = refs.get(name)
        rows.append(
            {
                "path": f.path,
                "path_is_utf8": f.path_is_utf8,
                "file_type": file_type,
                "purpose": purpose(f.path, file_type, f.content),
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
                "expires": marker.date if marker is not None else None,
                "read_status": status,
                "link_target": f.link_target,
                "notes": "; ".join(notes) or None,
            }
        )
    return rows
