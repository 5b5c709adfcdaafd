"""Git, read without side effects: a codebase at a given day, and the bytes of its files.

History is read from git objects only (``ls-tree``, ``cat-file --batch``, one ``log`` pass): we never
check out, never write the index, and a dirty tree is no problem. Today's snapshot adds the working
tree (untracked and ignored files included) without descending into ``.git``, virtualenvs and the like.
All git output is read with ``-z`` so any byte may appear in a file name.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import stat
import subprocess
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import dagster as dg
import git as gitpython
from pydantic import PrivateAttr

from symphony_assets.config import Codebase, symphony_home
from symphony_assets.resources.mirrors import MirrorError, refresh_mirror

log = logging.getLogger(__name__)

_GIT_EXECUTABLE = gitpython.Git.GIT_PYTHON_GIT_EXECUTABLE or "git"

#: Files larger than this are listed with their size but not read (a 50 MB file is recorded, not loaded).
DEFAULT_MAX_READ_BYTES = 16 * 1024 * 1024
_GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_OPTIONAL_LOCKS": "0",  # never write the user's index from a read
    "GIT_NO_LAZY_FETCH": "1",  # a partial clone's missing blob stays missing: no network from a scan
    "LC_ALL": "C",
}


class GitError(RuntimeError):
    """A git command failed, or the codebase path is not a git repository."""


class CodebaseUnavailable(GitError):
    """The configured path does not exist or is not a git repository."""


@dataclass(frozen=True)
class FileEntry:
    """One file of a snapshot. ``path`` is for people (undecodable bytes escaped); ``raw_path`` is exact."""

    path: str
    raw_path: bytes
    kind: str  # "file" | "symlink" | "submodule" | "special"
    tracked: bool
    git_status: str  # "clean" | "modified" | "added" | "deleted" | "untracked" | "ignored" | "committed"
    blob_id: str | None = None
    mode: str | None = None
    size: int | None = None
    mtime: datetime | None = None
    link_target: str | None = None
    ignored: bool = False

    @property
    def committed_blob(self) -> str | None:
        """The blob id when it is exact for this row: committed and clean files; a live edit has none yet."""
        return self.blob_id if self.git_status in ("committed", "clean") else None

    @property
    def path_is_utf8(self) -> bool:
        try:
            self.raw_path.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True


@dataclass(frozen=True)
class ReadResult:
    entry: FileEntry
    content: bytes | None
    status: str  # "ok" | "too_large" | "missing_blob" | "unreadable" | "vanished" | "not_a_file" | "deleted"
    blob_id: str | None  # the content's git blob id (computed for working-tree files)
    message: str | None = None


@dataclass(frozen=True)
class FileHistory:
    last_author: str
    last_commit_time: datetime
    commit_count: int


def _committed_entry(raw: bytes, mode: str, blob_id: str | None) -> FileEntry:
    """One file of a commit's tree, as ``ls-tree`` lists it (``blob_id`` None for a submodule)."""
    kind = {"120000": "symlink", "160000": "submodule"}.get(mode, "file")
    return FileEntry(
        path=display_path(raw),
        raw_path=raw,
        kind=kind,
        tracked=True,
        git_status="committed",
        blob_id=blob_id,
        mode=mode,
    )


def display_path(raw: bytes) -> str:
    return raw.decode("utf-8", "backslashreplace")


def git_blob_id(content: bytes) -> str:
    """The id git gives these bytes (SHA-1 object format), so working-tree files share the blob cache."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


def end_of_day_utc(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC) - timedelta(seconds=1)


class Repo:
    """Reads one repository: GitPython finds it (a work tree, or a bare mirror), and git itself, one
    subprocess per question, answers (``ls-tree``, one ``log`` pass, one ``cat-file --batch`` stream per
    read); nothing is kept between runs.

    ``subdir`` makes one folder of the repository the whole codebase: paths are relative to it and
    nothing outside it is listed, read or counted.
    """

    def __init__(self, path: Path, name: str = "", subdir: str = "") -> None:
        self.path = Path(path)
        self.name = name or self.path.name
        if not self.path.exists():
            raise CodebaseUnavailable(f"codebase {self.name!r}: path {self.path} does not exist")
        try:
            found = gitpython.Repo(self.path, search_parent_directories=True)
        except (gitpython.InvalidGitRepositoryError, gitpython.NoSuchPathError) as exc:
            raise CodebaseUnavailable(f"codebase {self.name!r}: {self.path} is not a git repository") from exc
        #: A bare repository (the mirror of a codebase given by URL) has no working tree to scan.
        self.bare = found.bare or found.working_tree_dir is None
        self.root = Path(found.git_dir if self.bare else str(found.working_tree_dir))
        found.close()
        self._git = gitpython.Git(self.root)
        self._git.update_environment(**_GIT_ENV)
        self.subdir = subdir.strip("/")
        self._prefix = os.fsencode(self.subdir) + b"/" if self.subdir else b""

    @property
    def work_dir(self) -> Path:
        """The folder a live snapshot walks: the work tree, or its ``subdir``."""
        return self.root / self.subdir if self.subdir else self.root

    def _inside(self, raw: bytes) -> bytes | None:
        """A repository path relative to ``subdir``; None when it lies outside."""
        if not self._prefix:
            return raw
        return raw[len(self._prefix) :] if raw.startswith(self._prefix) else None

    def run(self, *args: str, input: bytes | None = None, check: bool = True) -> bytes:
        """One git command through GitPython's command layer; stdout as bytes (``-z`` output intact)."""
        command = [_GIT_EXECUTABLE, *args]
        if input is None:
            status, out, err = self._git.execute(
                command,
                with_extended_output=True,
                with_exceptions=False,
                stdout_as_string=False,
                strip_newline_in_stdout=False,
            )
        else:
            # Keep GitPython's handle while the process runs: dropping it kills the process.
            handle = self._git.execute(command, istream=subprocess.PIPE, as_process=True)
            assert handle.proc is not None
            out, err = handle.proc.communicate(input)
            status = handle.proc.returncode
        if check and status != 0:
            text = err.decode("utf-8", "replace") if isinstance(err, bytes) else str(err)
            raise GitError(f"codebase {self.name!r}: git {' '.join(args[:3])} failed: {text.strip()}")
        return out if isinstance(out, bytes) else os.fsencode(out)

    def head(self, branch: str | None = None) -> tuple[str, datetime] | None:
        """The branch's newest commit (a URL codebase's today), or None for a branch with no commits."""
        ref = branch or "HEAD"
        out = self.run("log", "-1", "--format=%H %ct", ref + "^{commit}", "--", check=False).split()
        if len(out) != 2:
            return None
        return out[0].decode(), datetime.fromtimestamp(int(out[1]), tz=UTC)

    # -- commits --------------------------------------------------------------------------------

    def commit_at(self, day: date, branch: str | None = None) -> tuple[str, datetime] | None:
        """The last commit on the branch at or before the end of ``day`` (UTC); None before the first."""
        ref = branch or "HEAD"
        if not self.run("rev-parse", "--verify", "-q", ref + "^{commit}", check=False).strip():
            return None  # empty repository, or a branch with no commits yet
        before = end_of_day_utc(day).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        out = self.run("rev-list", "-1", "--format=%H %ct", f"--before={before}", ref).decode()
        lines = [ln for ln in out.splitlines() if not ln.startswith("commit ")]
        if not lines:
            return None
        sha, ts = lines[0].split()
        return sha, datetime.fromtimestamp(int(ts), tz=UTC)

    def commit_times(self, branch: str | None = None) -> list[tuple[str, int]]:
        """Every commit of the branch with its commit time, in ``rev-list`` order: the first of them at
        or before a time is what :meth:`commit_at` answers (``rev-list -1 --before`` walks the same
        order and skips the later ones), so a range asks git once, not twice per day."""
        ref = branch or "HEAD"
        if not self.run("rev-parse", "--verify", "-q", ref + "^{commit}", check=False).strip():
            return []
        out = self.run("rev-list", "--format=%H %ct", ref).decode()
        pairs = (line.split() for line in out.splitlines() if not line.startswith("commit "))
        return [(sha, int(ts)) for sha, ts in pairs]

    # -- trees ----------------------------------------------------------------------------------

    def tree_entries(self, commit: str) -> list[FileEntry]:
        scope = ["--", self.subdir + "/"] if self.subdir else []
        out = self.run("ls-tree", "-r", "-z", "--full-tree", commit, *scope)
        entries = []
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, _, full = record.partition(b"\t")
            raw = self._inside(full)
            if not raw:
                continue
            mode, otype, oid = meta.decode().split()
            entries.append(_committed_entry(raw, mode, oid if otype == "blob" else None))
        return entries

    def tree_changes(self, old: str, new: str) -> list[tuple[bytes, str | None, str | None]]:
        """Paths whose entry differs from commit ``old`` to ``new`` (``diff-tree -r``, renames as a
        deletion and an addition), relative to ``subdir``: (path, new mode, new object id); mode and
        id are None for a path ``new`` no longer has."""
        scope = ["--", self.subdir + "/"] if self.subdir else []
        out = self.run("diff-tree", "-r", "-z", "--no-renames", "--no-commit-id", old, new, *scope)
        parts = out.split(b"\0")
        changes: list[tuple[bytes, str | None, str | None]] = []
        for meta, full in zip(parts[0::2], parts[1::2], strict=False):
            raw = self._inside(full)
            if not meta.startswith(b":") or not raw:
                continue
            _old_mode, mode, _old_oid, oid, status = meta[1:].decode().split()
            changes.append((raw, None, None) if status == "D" else (raw, mode, oid))
        return changes

    def object_sizes(self, oids: Iterable[str]) -> dict[str, int | None]:
        """Sizes from ``cat-file --batch-check``; None for an object missing from the store."""
        unique = sorted(set(oids))
        if not unique:
            return {}
        out = self.run("cat-file", "--batch-check", input=("\n".join(unique) + "\n").encode())
        sizes: dict[str, int | None] = {}
        for line in out.decode().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1] == "missing":
                sizes[parts[0]] = None
            elif len(parts) == 3:
                sizes[parts[0]] = int(parts[2])
        return sizes

    def read_blobs(self, oids: Sequence[str]) -> Iterator[tuple[str, bytes | None]]:
        """Stream blob contents through one ``cat-file --batch`` process, in the order asked."""
        if not oids:
            return
        # One persistent ``cat-file --batch`` for the whole read (what GitPython's object database runs),
        # fed by a thread so git never waits for us to ask for the next blob.
        handle = self._git.execute(
            [_GIT_EXECUTABLE, "cat-file", "--batch"], istream=subprocess.PIPE, as_process=True
        )
        proc = handle.proc
        assert proc is not None
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        stdin = proc.stdin

        def feed() -> None:
            try:
                for oid in oids:
                    stdin.write(oid.encode() + b"\n")
            except BrokenPipeError:
                pass  # git stopped early; the reader reports what it got
            finally:
                stdin.close()

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        try:
            for oid in oids:
                header = proc.stdout.readline()
                parts = header.split()
                if len(parts) < 3:  # "<oid> missing" (or git died)
                    yield oid, None
                    continue
                size = int(parts[2])
                data = proc.stdout.read(size)
                proc.stdout.read(1)  # the newline after each object
                yield oid, data
        finally:
            proc.stdout.close()
            writer.join(timeout=5)
            proc.wait(timeout=30)
            proc.stderr.close()
            del handle

    # -- the working tree ------------------------------------------------------------------------

    def index_entries(self) -> dict[bytes, tuple[str, str]]:
        out = self.run("ls-files", "-z", "-s")
        entries: dict[bytes, tuple[str, str]] = {}
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, _, full = record.partition(b"\t")
            raw = self._inside(full)
            if not raw:
                continue
            mode, oid, _stage = meta.decode().split()
            entries[raw] = (mode, oid)
        return entries

    def tracked_changes(self) -> dict[bytes, str]:
        """Tracked paths whose working tree differs from HEAD: "modified", "added" or "deleted"."""
        out = self.run("status", "--porcelain=v1", "-z", "--untracked-files=no", "--no-renames")
        changes: dict[bytes, str] = {}
        for record in out.split(b"\0"):
            if len(record) < 4:
                continue
            xy, raw = record[:2].decode(), self._inside(record[3:])
            if not raw:
                continue
            if "D" in xy:
                changes[raw] = "deleted"
            elif "A" in xy:
                changes[raw] = "added"
            else:
                changes[raw] = "modified"
        return changes

    def ignored(self, paths: Sequence[bytes]) -> set[bytes]:
        if not paths:
            return set()
        given = b"\0".join(self._prefix + p for p in paths) + b"\0"
        out = self.run("check-ignore", "-z", "--stdin", input=given, check=False)
        return {inner for p in out.split(b"\0") if p and (inner := self._inside(p))}

    def _relative(self) -> list[str]:
        """``log`` options that keep only paths inside ``subdir``, relative to it."""
        return [f"--relative={self.subdir}/"] if self.subdir else []

    _HISTORY_FORMAT = "--format=%x01%H %P%x1f%an <%ae>%x1f%ct"

    def log_pass(self, commit: str) -> PathHistory:
        """Last author, last commit time and commit count per path, from ONE ``git log`` pass.

        ``--diff-merges=combined`` lists for a merge commit only the files that differ from every
        parent, so a change made only in a merge (a conflict resolution) is attributed to the merge,
        while files merely brought in from a branch keep their branch commits.
        """
        out = self.run(
            "log", "-z", self._HISTORY_FORMAT, "--name-only", "--no-renames", "--diff-merges=combined",
            commit, *self._relative(),
        )  # fmt: skip
        return PathHistory.empty(commit).followed_by(commit, list(_history_commits(out)))

    def log_pass_after(self, base: PathHistory, commit: str) -> PathHistory:
        """:meth:`log_pass` of ``commit``, from ``base`` (an earlier commit's) and the log of the commits
        between them alone, so a backfill's day costs its own commits, not the whole history again.

        ``git log`` walks from the tip, always taking the newest commit whose child it has shown. When
        the new commits are a chain down to ``base.commit`` (no merge), only one of them is ever
        waiting, so they come first, in chain order whatever their dates, and the walk then goes on
        exactly as ``git log base.commit`` does: counts add and the new commits' first touches win.
        Otherwise (a merge among them, history rewritten) this is :meth:`log_pass`.
        """
        if commit == base.commit:
            return base
        out = self.run(
            "log", "-z", self._HISTORY_FORMAT, "--name-only", "--no-renames", "--diff-merges=combined",
            commit, f"^{base.commit}", *self._relative(),
        )  # fmt: skip
        commits = list(_history_commits(out))
        chain = [c.sha for c in commits] + [base.commit]
        if commits and all(c.parents == (chain[i + 1],) for i, c in enumerate(commits)):
            return base.followed_by(commit, commits)
        return self.log_pass(commit)

    def churn(self, commit: str, since: datetime) -> dict[bytes, int]:
        """Commits touching each path between ``since`` and ``commit`` (one ``git log`` pass)."""
        out = self.run(
            "log", "-z", "--format=%x01%H", "--name-only", "--no-renames", "--diff-merges=combined",
            f"--since={since.isoformat()}", commit, *self._relative(),
        )  # fmt: skip
        counts: dict[bytes, int] = {}
        for _header, path in _log_records(out):
            counts[path] = counts.get(path, 0) + 1
        return counts

    def linear_history(self, tip: str, since: datetime) -> LinearHistory | None:
        """The commits from ``since`` to ``tip`` with their paths, from ONE ``git log`` pass.

        A backfill needs 90-day churn for every day; when the history in the range is one chain
        (no merges) with commit times that never go up towards the past, every day's churn is a
        slice of this one log, so a run asks git once instead of once per day. Anything else
        (merges, clock skew) returns None and callers ask :meth:`churn` per day, whose
        ``--since`` walk is then the definition.
        """
        out = self.run(
            "log", "-z", "--format=%x01%H %P%x1f%ct", "--name-only", "--no-renames",
            "--diff-merges=combined", f"--since={since.isoformat()}", tip, *self._relative(),
        )  # fmt: skip
        commits: list[tuple[str, int, list[bytes]]] = []
        parents: list[list[str]] = []
        for header, paths in _log_commits(out):
            ids, _, stamp = header.partition(b"\x1f")
            sha, *rest = ids.decode().split()
            commits.append((sha, int(stamp), paths))
            parents.append(rest)
        for i, (_sha, ts, _paths) in enumerate(commits):
            if len(parents[i]) > 1:
                return None
            if i + 1 < len(commits) and (parents[i] != [commits[i + 1][0]] or commits[i + 1][1] > ts):
                return None
        if commits and commits[0][0] != tip:
            return None
        return LinearHistory(
            since=int(since.timestamp()),
            commits=tuple((sha, ts, tuple(paths)) for sha, ts, paths in commits),
        )


@dataclass(frozen=True)
class LinearHistory:
    """A chain of commits, newest first, each with its commit time and the paths it touched."""

    since: int  # commits before this (UTC seconds) were not read
    commits: tuple[tuple[str, int, tuple[bytes, ...]], ...]

    def churn(self, commit: str, since: datetime) -> dict[bytes, int] | None:
        """What :meth:`Repo.churn` gives for ``(commit, since)``, or None when this log cannot say."""
        floor = int(since.timestamp())
        if floor < self.since:
            return None
        start = next((i for i, c in enumerate(self.commits) if c[0] == commit), None)
        if start is None:
            return None
        counts: dict[bytes, int] = {}
        for _sha, ts, paths in self.commits[start:]:
            if ts < floor:
                break
            for path in paths:
                counts[path] = counts.get(path, 0) + 1
        return counts


@dataclass(frozen=True)
class _LogCommit:
    sha: str
    parents: tuple[str, ...]
    author: str
    time: int  # commit time, UTC seconds
    paths: list[bytes]


def _history_commits(out: bytes) -> Iterator[_LogCommit]:
    """The commits of ``git log -z --format=%x01%H %P%x1f%an <%ae>%x1f%ct --name-only``, newest first."""
    for header, paths in _log_commits(out):
        ids, author, stamp = header.split(b"\x1f")
        sha, *parents = ids.decode().split()
        yield _LogCommit(sha, tuple(parents), author.decode("utf-8", "replace"), int(stamp), paths)


@dataclass(frozen=True)
class PathHistory:
    """Per path, its last author, last commit time and commit count as of ``commit``."""

    commit: str
    files: dict[bytes, FileHistory]

    @classmethod
    def empty(cls, commit: str) -> PathHistory:
        return cls(commit, {})

    def followed_by(self, commit: str, commits: Sequence[_LogCommit]) -> PathHistory:
        """This history plus ``commits`` (newest first), which come before it in ``git log``'s order."""
        first: dict[bytes, _LogCommit] = {}
        counts: dict[bytes, int] = {}
        for c in commits:
            for path in c.paths:
                counts[path] = counts.get(path, 0) + 1
                first.setdefault(path, c)
        files = dict(self.files)
        for path, c in first.items():
            before = self.files.get(path)
            total = counts[path] + (before.commit_count if before else 0)
            files[path] = FileHistory(c.author, datetime.fromtimestamp(c.time, tz=UTC), total)
        return PathHistory(commit, files)


def _log_commits(out: bytes) -> Iterator[tuple[bytes, list[bytes]]]:
    """(commit header, its paths) from ``git log -z --format=%x01... --name-only``, commits with no
    paths (merges) included.

    Each commit is ``\x01<header>\0`` followed by ``\n<path>\0<path>\0...``; only that one
    leading newline is stripped, so a file name that itself starts with a newline survives.
    """
    header: bytes | None = None
    paths: list[bytes] = []
    first = False
    for chunk in out.split(b"\0"):
        if chunk.startswith(b"\x01"):
            if header is not None:
                yield header, paths
            header, paths, first = chunk[1:], [], True
            continue
        if first and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        first = False
        if chunk and header is not None:
            paths.append(chunk)
    if header is not None:
        yield header, paths


def _log_records(out: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(commit header, path) pairs: :func:`_log_commits` flattened."""
    for header, paths in _log_commits(out):
        for path in paths:
            yield header, path


@dataclass
class Snapshot:
    """A codebase as it stood at the end of one day: the commit used and every file."""

    codebase: Codebase
    day: date
    repo: Repo | None
    commit: str | None
    commit_time: datetime | None
    live: bool
    files: list[FileEntry] = field(default_factory=list)
    max_read_bytes: int = DEFAULT_MAX_READ_BYTES

    @property
    def empty_reason(self) -> str | None:
        if self.files:
            return None
        if self.commit is None and not self.live:
            return f"no commit at or before {self.day.isoformat()} (UTC): the partition is empty"
        return "the codebase has no files"

    def history(self) -> dict[bytes, FileHistory]:
        found = self.path_history()
        return found.files if found is not None else {}

    def path_history(self, after: PathHistory | None = None) -> PathHistory | None:
        """Per-path history at this commit (None without one); ``after``, an earlier commit's, lets
        git read only the commits since (:meth:`Repo.log_pass_after`)."""
        if self.repo is None or self.commit is None:
            return None
        if after is None:
            return self.repo.log_pass(self.commit)
        return self.repo.log_pass_after(after, self.commit)

    def churn(self, days: int = 90, history: LinearHistory | None = None) -> dict[str, int]:
        """Commits per path in the ``days`` before the end of the day; ``history`` (see
        :meth:`Repo.linear_history`) answers without running git when it covers the window."""
        if self.repo is None or self.commit is None:
            return {}
        since = end_of_day_utc(self.day) - timedelta(days=days)
        counts = history.churn(self.commit, since) if history is not None else None
        if counts is None:
            counts = self.repo.churn(self.commit, since)
        return {display_path(p): n for p, n in counts.items()}

    def read(self, entries: Sequence[FileEntry] | None = None) -> Iterator[ReadResult]:
        """The bytes of each regular file: from disk for live non-clean files, else from git objects."""
        entries = self.files if entries is None else entries
        from_git: list[FileEntry] = []
        for entry in entries:
            if entry.kind != "file":
                yield ReadResult(entry, None, "not_a_file", entry.blob_id)
            elif entry.git_status == "deleted":
                yield ReadResult(entry, None, "deleted", entry.blob_id)
            elif self.live:
                yield self._read_disk(entry)
            else:
                from_git.append(entry)
        if not from_git or self.repo is None:
            return
        sizes = self.repo.object_sizes(e.blob_id for e in from_git if e.blob_id)
        wanted = []
        for entry in from_git:
            size = sizes.get(entry.blob_id or "")
            if size is None:
                msg = f"blob {entry.blob_id} is missing from the object store (partial clone?)"
                yield ReadResult(entry, None, "missing_blob", entry.blob_id, msg)
            elif size > self.max_read_bytes:
                yield ReadResult(replace(entry, size=size), None, "too_large", entry.blob_id)
            else:
                wanted.append(replace(entry, size=size))
        by_oid: dict[str, list[FileEntry]] = {}
        for entry in wanted:
            by_oid.setdefault(entry.blob_id or "", []).append(entry)
        for oid, data in self.repo.read_blobs(list(by_oid)):
            for entry in by_oid[oid]:
                if data is None:
                    yield ReadResult(entry, None, "missing_blob", oid, f"blob {oid} could not be read")
                else:
                    yield ReadResult(entry, data, "ok", oid)

    def _read_disk(self, entry: FileEntry) -> ReadResult:
        assert self.repo is not None
        full = os.path.join(os.fsencode(self.repo.work_dir), entry.raw_path)
        try:
            fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            return ReadResult(entry, None, "vanished", entry.blob_id, "file disappeared while scanning")
        except OSError as exc:
            return ReadResult(entry, None, "unreadable", entry.blob_id, f"{exc.strerror} ({exc.errno})")
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return ReadResult(entry, None, "not_a_file", None)
            if st.st_size > self.max_read_bytes:
                return ReadResult(replace(entry, size=st.st_size), None, "too_large", entry.blob_id)
            with os.fdopen(fd, "rb", closefd=False) as fh:
                data = fh.read()
        except OSError as exc:
            return ReadResult(entry, None, "unreadable", entry.blob_id, f"{exc.strerror} ({exc.errno})")
        finally:
            os.close(fd)
        blob_id = entry.blob_id if entry.git_status == "clean" and entry.blob_id else git_blob_id(data)
        return ReadResult(replace(entry, size=len(data)), data, "ok", blob_id)


def _excluded(path: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(path, pat) or fnmatch.fnmatch(path.split("/")[-1], pat) for pat in patterns)


def take_snapshot(
    codebase: Codebase, day: date, today: date | None = None, max_read_bytes: int = DEFAULT_MAX_READ_BYTES
) -> Snapshot:
    """The codebase at the end of ``day``; ``day == today`` (UTC) also sees the working tree.

    A codebase with no working tree (given by URL: a bare mirror) has its branch head as today's
    partition, read from git objects like any other day.
    """
    repo = Repo(codebase.path, codebase.name, codebase.root)
    today = today or datetime.now(UTC).date()
    live = day == today and not repo.bare
    at = repo.head(codebase.branch) if day == today and repo.bare else repo.commit_at(day, codebase.branch)
    commit, commit_time = at if at else (None, None)
    if live:
        if codebase.root and not repo.work_dir.is_dir():
            raise CodebaseUnavailable(
                f"codebase {codebase.name!r}: root {codebase.root!r} is not a folder of {repo.root}"
            )
        files = _live_entries(repo, codebase)
    elif commit is not None:
        files = _with_link_targets(
            repo, [e for e in repo.tree_entries(commit) if not _excluded(e.path, codebase.exclude)]
        )
    else:
        files = []
    return Snapshot(codebase, day, repo, commit, commit_time, live, files, max_read_bytes)


def take_snapshots(
    codebase: Codebase,
    days: Iterable[date],
    today: date | None = None,
    max_read_bytes: int = DEFAULT_MAX_READ_BYTES,
) -> dict[date, Snapshot]:
    """:func:`take_snapshot` for each of ``days``, each past day built from the day before.

    A range run lists every day's tree once per asset; ``ls-tree`` of a 2,000-file tree for each of 61
    days cost each asset about a second. Here a day whose commit is the day before's takes its files,
    and another day takes them changed by ``git diff-tree`` between the two commits (tens of paths).
    Equal to :func:`take_snapshot` day by day (``test_git_snapshots.py`` checks it).
    """
    today = today or datetime.now(UTC).date()
    out: dict[date, Snapshot] = {}
    before: Snapshot | None = None
    commits: list[tuple[str, int]] | None = None  # the branch's commits, listed once when needed
    for day in sorted(set(days)):
        snapshot = None
        if (
            before is not None
            and before.repo is not None
            and before.commit
            and not before.live
            and day != today
        ):
            commits = before.repo.commit_times(codebase.branch) if commits is None else commits
            snapshot = _from_the_day_before(before, before.repo, before.commit, day, commits)
        out[day] = before = snapshot or take_snapshot(codebase, day, today, max_read_bytes)
    return out


def _from_the_day_before(
    before: Snapshot, repo: Repo, parent: str, day: date, commits: list[tuple[str, int]]
) -> Snapshot | None:
    """``day``'s snapshot (a past day) from ``before``'s files (a past day at commit ``parent`` of
    ``repo``, the caller checked); None when ``day`` has no commit (then it is listed afresh, and finds
    none)."""
    limit = end_of_day_utc(day).timestamp()
    at = next(((sha, ts) for sha, ts in commits if ts <= limit), None)
    if at is None:
        return None
    codebase = before.codebase
    commit, commit_time = at[0], datetime.fromtimestamp(at[1], tz=UTC)
    files = before.files
    if commit != parent:
        by_path = {e.raw_path: e for e in files}
        added = []
        for raw, mode, oid in repo.tree_changes(parent, commit):
            by_path.pop(raw, None)
            if mode is None or _excluded(display_path(raw), codebase.exclude):
                continue
            entry = _committed_entry(raw, mode, None if mode == "160000" else oid)
            by_path[raw] = entry
            added.append(entry)
        linked = {e.raw_path: e for e in _with_link_targets(repo, added)}
        by_path.update(linked)
        # ``ls-tree -r`` order: git sorts a tree's names with a folder's as ``name/``, which is the
        # byte order of the full paths.
        files = [by_path[raw] for raw in sorted(by_path)]
    return Snapshot(codebase, day, repo, commit, commit_time, False, list(files), before.max_read_bytes)


def _with_link_targets(repo: Repo, entries: list[FileEntry]) -> list[FileEntry]:
    """A committed symlink's blob holds its target: read those few blobs in one batch."""
    oids = [e.blob_id for e in entries if e.kind == "symlink" and e.blob_id]
    targets = {oid: data for oid, data in repo.read_blobs(oids) if data is not None}
    return [
        replace(e, link_target=display_path(targets[e.blob_id]))
        if e.kind == "symlink" and e.blob_id in targets
        else e
        for e in entries
    ]


def _own_home_identity() -> tuple[int, int] | None:
    """Device and inode of our own SYMPHONY_HOME (a live database, the warehouse).

    Compared by identity, not by path: the codebase or the home may be reached through a symlink, and
    a resolved path never equals an unresolved one.
    """
    try:
        st = os.stat(symphony_home())
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _is_same_dir(path: bytes, identity: tuple[int, int] | None) -> bool:
    if identity is None:
        return False
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == identity


def _live_entries(repo: Repo, codebase: Codebase) -> list[FileEntry]:
    index = repo.index_entries()
    changes = repo.tracked_changes()
    root = os.fsencode(repo.work_dir)
    skip = {os.fsencode(d) for d in codebase.skip_dirs} | {b".git"}
    own = _own_home_identity()
    seen: dict[bytes, os.stat_result] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root)
        dirnames[:] = [
            d for d in dirnames if d not in skip and not _is_same_dir(os.path.join(dirpath, d), own)
        ]
        # A symlink to a directory shows up in dirnames; os.walk does not follow it, we list it as a file.
        for name in [*filenames, *(d for d in dirnames if os.path.islink(os.path.join(dirpath, d)))]:
            rel = name if rel_dir == b"." else os.path.join(rel_dir, name)
            try:
                seen[rel] = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue  # vanished between listing and stat: not part of this snapshot
    untracked = [p for p in seen if p not in index]
    ignored = repo.ignored(untracked)
    entries = []
    for raw in sorted(set(index) | set(seen)):
        path = display_path(raw)
        if _excluded(path, codebase.exclude):
            continue
        st = seen.get(raw)
        mode, oid = index.get(raw, (None, None))
        if raw in index:
            status = changes.get(raw, "clean") if st is not None else "deleted"
        else:
            status = "ignored" if raw in ignored else "untracked"
        kind = "file"
        link_target = None
        if mode == "160000":
            kind = "submodule"
        elif st is not None and stat.S_ISLNK(st.st_mode):
            kind = "symlink"
            link_target = display_path(os.readlink(os.path.join(root, raw)))
        elif st is not None and not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
            kind = "special"
        elif mode == "120000":
            kind = "symlink"
        entries.append(
            FileEntry(
                path=path,
                raw_path=raw,
                kind=kind,
                tracked=raw in index,
                git_status=status,
                blob_id=oid,
                mode=mode,
                size=st.st_size if st is not None and kind != "submodule" else None,
                mtime=datetime.fromtimestamp(st.st_mtime, tz=UTC) if st is not None else None,
                link_target=link_target,
                ignored=status == "ignored",
            )
        )
    return entries


class GitResource(dg.ConfigurableResource):
    """Hands out snapshots; configurable read limit for huge files.

    A codebase given by URL is read from its mirror, fetched (with prune) once per run: the run id
    comes from the step the resource is set up for, so the other steps of the run, in this process or
    another one on this machine, reuse that fetch.
    """

    max_read_bytes: int = DEFAULT_MAX_READ_BYTES
    _run_id: str | None = PrivateAttr(default=None)
    _fetched: set[str] = PrivateAttr(default_factory=set)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # ``context.run`` rather than ``context.run_id``, which goes through a deprecated property.
        self._run_id = context.run.run_id if context.run is not None else None

    def snapshot(self, codebase: Codebase, day: date, today: date | None = None) -> Snapshot:
        self._refresh(codebase)
        return take_snapshot(codebase, day, today=today, max_read_bytes=self.max_read_bytes)

    def snapshots(
        self, codebase: Codebase, days: Iterable[date], today: date | None = None
    ) -> dict[date, Snapshot]:
        """Several days' snapshots of one codebase (:func:`take_snapshots`: each from the day before)."""
        self._refresh(codebase)
        return take_snapshots(codebase, days, today=today, max_read_bytes=self.max_read_bytes)

    def _refresh(self, codebase: Codebase) -> None:
        if codebase.url is not None and str(codebase.path) not in self._fetched:
            try:
                refresh_mirror(codebase, self._run_id)
            except MirrorError as exc:
                raise CodebaseUnavailable(str(exc)) from exc
            self._fetched.add(str(codebase.path))
