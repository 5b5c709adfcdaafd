"""The cleanup executor: moves candidate files into a quarantine it can always undo.

Guarantees, and how they are kept:

* **Dry run by default.** ``execute=False`` records what would happen in the audit table and touches
  nothing on disk. Acting needs ``execute=True``; files tracked by git need ``allow_tracked=True`` too.
* **Nothing is deleted.** A file is *moved* (``os.rename``, which keeps bytes, inode and mtime) to
  ``<quarantine_dir>/<run_id>/files/<path>``. Across file systems it is copied, fsynced, renamed into
  place and only then unlinked at the source.
* **Write-ahead.** Per file: an audit row ``planned`` is committed, then a manifest line
  (``manifest.jsonl``: path, size, sha256, rule, run id, tracked, index entry) is written and fsynced,
  then the file moves, then the row is marked ``done``. :meth:`CleanupExecutor.reconcile` runs at the
  start of every run and settles each ``planned`` row a dead run left: file still in place -> ``failed``
  (abandoned); file in quarantine with the recorded sha256 -> finish (unstage if tracked) and ``done``.
  The protocol never leaves a file in neither place.
* **Tracked files** lose their index entry with ``git update-index --force-remove`` *after* the move:
  the same staged removal ``git rm --cached`` makes, never committed. The entry's mode and blob id are in
  the manifest; restore moves the bytes back and re-creates exactly that entry with
  ``git update-index --add --cacheinfo`` (falling back to ``git add`` if the blob was pruned). The
  index's stat cache for that entry is refreshed by git's next ``status``; its content is identical.
* **Symlinks are refused**, never followed and never moved: a link's meaning depends on where it points,
  and a link leading out of the codebase must not be touched at all. Any path whose parent's real path
  (symlinks resolved) is outside the codebase root is refused as well.
* **Changed files are refused**: a candidate's size, mtime and sha256 (whichever it carries) must still
  match, and the sha256 is checked again on the quarantined copy after the move.
* **One run per codebase at a time**, via a Postgres session advisory lock on the audit connection
  (``pg_try_advisory_lock(hashtext('symphony.cleanup'), hashtext(codebase))``). Chosen over a file lock
  because runs may start on different hosts or containers that share the database but not a lock
  directory, and the lock vanishes with the connection when a run is killed.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from psycopg2 import sql as pgsql

from symphony_assets.analysis.cleanup_rules import unsafe_reason

log = logging.getLogger(__name__)

AUDIT_SCHEMA, AUDIT_NAME, HOLDS_NAME = "symphony", "cleanup_audit", "cleanup_holds"
LOCK_NAMESPACE = "symphony.cleanup"
#: The lock a whole ``cleanup_actions`` step holds (through writing its partition), apart from the
#: executor's own lock so that a restore can still run inside that step's window.
RUN_LOCK_NAMESPACE = "symphony.cleanup.run"
MANIFEST = "manifest.jsonl"
PART_SUFFIX = ".symphony-part"

DRY_RUN = "dry_run"
QUARANTINE = "quarantine"
REFUSE = "refuse"
RESTORE = "restore"
SKIP = "skip"  # over the per-run cap: reported, not audited

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


#: How long a git index operation waits for another process's ``index.lock`` before giving up.
INDEX_LOCK_WAIT_S = 10.0


class CleanupBusy(RuntimeError):
    """Another cleanup run holds this codebase's lock."""


@dataclass(frozen=True)
class Candidate:
    """A file proposed for cleanup, with the facts it had when proposed (any may be None)."""

    path: str
    rule: str = ""
    reason: str = ""
    size: int | None = None
    mtime: float | None = None
    sha256: str | None = None
    ctime_ns: int | None = None
    #: The name as the file system has it (``os.fsdecode`` of its bytes) when ``path`` is only the
    #: escaped display form of a name that is not UTF-8.
    fs_path: str | None = None


@dataclass
class Action:
    path: str
    action: str
    rule: str
    reason: str
    size: int | None = None
    sha256: str | None = None
    mtime_ns: int | None = None
    tracked: bool = False
    index_mode: str | None = None
    index_blob: str | None = None
    fs_path: str | None = None

    @property
    def real_path(self) -> str:
        """The name to use on disk and in git (``path`` is what people and the audit log see)."""
        return self.fs_path or self.path


@dataclass(frozen=True)
class ActionResult:
    run_id: str
    path: str
    action: str
    state: str
    rule: str
    size: int | None
    sha256: str | None
    tracked: bool
    message: str


@dataclass(frozen=True)
class AuditRow:
    id: int
    run_id: str
    path: str
    action: str
    state: str
    size: int | None
    sha256: str | None
    rule: str | None
    tracked: bool
    message: str | None


@dataclass
class RunReport:
    run_id: str
    execute: bool
    results: list[ActionResult] = field(default_factory=list)
    reconciled: list[ActionResult] = field(default_factory=list)

    def count(self, action: str, state: str | None = None) -> int:
        return sum(1 for r in self.results if r.action == action and (state is None or r.state == state))

    @property
    def bytes_moved(self) -> int:
        return sum(r.size or 0 for r in self.results if r.action == QUARANTINE and r.state == "done")


class AuditLog:
    """Rows of ``symphony.cleanup_audit`` for one codebase, over a DB-API (psycopg2) connection factory.

    Each write commits at once (autocommit), so a row written before an action survives a kill.
    """

    def __init__(self, connect: Callable[[], Any], codebase: str) -> None:
        self._connect = connect
        self.codebase = codebase
        self._conn: Any = None

    @contextmanager
    def session(self) -> Iterator[AuditLog]:
        if self._conn is not None:
            yield self
            return
        self._conn = self._connect()
        self._conn.autocommit = True
        try:
            yield self
        finally:
            conn, self._conn = self._conn, None
            conn.close()

    def _execute(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        if self._conn is None:
            raise RuntimeError("AuditLog used outside session()")
        composed = pgsql.SQL(query).format(table=pgsql.Identifier(AUDIT_SCHEMA, AUDIT_NAME))
        with self._conn.cursor() as cur:
            cur.execute(composed, params)
            return list(cur.fetchall()) if cur.description else []

    def try_lock(self, wait_s: float = 0.0) -> bool:
        """Take the codebase's advisory lock, polling up to ``wait_s`` (a killed holder's backend may
        take a moment to notice the dropped connection)."""
        deadline = time.monotonic() + wait_s
        while True:
            got = self._execute(
                "select pg_try_advisory_lock(hashtext(%s), hashtext(%s))", (LOCK_NAMESPACE, self.codebase)
            )[0][0]
            if got or time.monotonic() >= deadline:
                return bool(got)
            time.sleep(0.05)

    def unlock(self) -> None:
        self._execute(
            "select pg_advisory_unlock(hashtext(%s), hashtext(%s))", (LOCK_NAMESPACE, self.codebase)
        )

    def record(
        self,
        run_id: str,
        path: str,
        action: str,
        state: str,
        *,
        size: int | None = None,
        sha256: str | None = None,
        rule: str | None = None,
        tracked: bool = False,
        message: str | None = None,
    ) -> int:
        rows = self._execute(
            "insert into {table} (run_id, codebase, path, action, state, size, sha256, rule,"
            " tracked, message) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning id",
            (run_id, self.codebase, path, action, state, size, sha256, rule, tracked, message),
        )
        return int(rows[0][0])

    def mark(self, row_id: int, state: str, message: str | None = None) -> None:
        self._execute(
            "update {table} set state = %s, message = coalesce(%s, message), updated_at = now()"
            " where id = %s",
            (state, message, row_id),
        )

    def mark_reverted(self, run_id: str, path: str) -> None:
        self._execute(
            "update {table} set state = 'reverted', updated_at = now() where codebase = %s"
            " and run_id = %s and path = %s and action = %s and state = 'done'",
            (self.codebase, run_id, path, QUARANTINE),
        )

    def _holds(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        if self._conn is None:
            raise RuntimeError("AuditLog used outside session()")
        composed = pgsql.SQL(query).format(table=pgsql.Identifier(AUDIT_SCHEMA, HOLDS_NAME))
        with self._conn.cursor() as cur:
            cur.execute(composed, params)
            return list(cur.fetchall()) if cur.description else []

    def hold(self, path: str, run_id: str, reason: str) -> None:
        """Keep ``path`` out of cleanup until :meth:`release` (a restored file must not go straight back)."""
        self._holds(
            "insert into {table} (codebase, path, run_id, reason) values (%s, %s, %s, %s)"
            " on conflict (codebase, path) where released_at is null do nothing",
            (self.codebase, path, run_id, reason),
        )

    def release(self, path: str) -> int:
        return len(
            self._holds(
                "update {table} set released_at = now() where codebase = %s and path = %s"
                " and released_at is null returning id",
                (self.codebase, path),
            )
        )

    def held(self) -> dict[str, str]:
        """Active holds: path -> why."""
        rows = self._holds(
            "select path, reason, held_at from {table} where codebase = %s and released_at is null",
            (self.codebase,),
        )
        return {str(p): f"{reason} on {held_at:%Y-%m-%d %H:%M} UTC" for p, reason, held_at in rows}

    def day_rows(self, day: date, exclude_run: str | None = None) -> list[AuditRow]:
        """Rows written on ``day`` (UTC) by other runs, for a partition that shows every run of that day."""
        rows = self._execute(
            "select id, run_id, path, action, state, size, sha256, rule, tracked, message from {table}"
            " where codebase = %s and at >= %s and at < %s + interval '1 day' and run_id <> %s order by id",
            (self.codebase, day, day, exclude_run or ""),
        )
        return [AuditRow(*r) for r in rows]

    def rows(self, run_id: str | None = None, state: str | None = None) -> list[AuditRow]:
        rows = self._execute(
            "select id, run_id, path, action, state, size, sha256, rule, tracked, message"
            " from {table} where codebase = %s"
            " and (%s::text is null or run_id = %s) and (%s::text is null or state = %s) order by id",
            (self.codebase, run_id, run_id, state, state),
        )
        return [AuditRow(*r) for r in rows]


@contextmanager
def cleanup_run_lock(connect: Callable[[], Any], label: str, wait_s: float) -> Iterator[None]:
    """Hold the codebase's run-level lock on a connection of its own until the block ends.

    ``cleanup_actions`` holds it from planning until its partition is written, so two runs of one
    codebase (launched through the queue or not) never interleave and never overwrite each other's rows.
    Polls for up to ``wait_s``, then raises :class:`CleanupBusy`.
    """
    conn = connect()
    conn.autocommit = True
    try:
        deadline = time.monotonic() + wait_s
        with conn.cursor() as cur:
            while True:
                cur.execute(
                    "select pg_try_advisory_lock(hashtext(%s), hashtext(%s))", (RUN_LOCK_NAMESPACE, label)
                )
                row = cur.fetchone()
                if row is not None and row[0]:
                    break
                if time.monotonic() >= deadline:
                    raise CleanupBusy(f"another cleanup_actions run of {label!r} is still in progress")
                time.sleep(0.2)
        yield
    finally:
        conn.close()  # ends the session, which releases its advisory locks


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


#: Candidates larger than this carry no content hash (hashing a multi-GB checkpoint on every snapshot
#: costs too much); their change time still catches a rewrite.
HASH_LIMIT_BYTES = 256 * 1024 * 1024


def file_identity(root: Path, raw_path: bytes) -> tuple[str | None, int | None]:
    """(sha256, ctime_ns) of a regular file as it is now, for a candidate to carry to the executor.

    The change time cannot be put back by a user (``utime`` itself sets it), so a same-size rewrite whose
    mtime was restored is still seen as a change. (None, None) for anything that is not a regular file.
    """
    full = os.path.join(os.fsencode(root), raw_path)
    try:
        st = os.lstat(full)
        if not stat.S_ISREG(st.st_mode):
            return None, None
        digest = sha256_file(Path(os.fsdecode(full))) if st.st_size <= HASH_LIMIT_BYTES else None
    except OSError:
        return None, None
    return digest, st.st_ctime_ns


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _within(child: str, parent: str) -> bool:
    return child == parent or child.startswith(parent.rstrip(os.sep) + os.sep)


def move_file(src: Path, dst: Path) -> None:
    """Move one regular file keeping its bytes and mtime; never leaves it in neither place."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, "destination exists", str(dst))
    try:
        os.rename(src, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        part = dst.with_name(dst.name + PART_SUFFIX)
        shutil.copy2(src, part)
        with open(part, "rb") as fh:
            os.fsync(fh.fileno())
        os.rename(part, dst)
        _fsync_dir(dst.parent)
        os.unlink(src)
    _fsync_dir(dst.parent)


class OutsideRoot(OSError):
    """A folder on the way to a restore target is a symlink or not a folder: writing there could
    land outside the codebase root, so nothing is written."""


def _open_dir_nofollow(root: str, relative_dir: str, create: bool) -> int:
    """A descriptor of ``root/relative_dir`` reached one component at a time with ``O_NOFOLLOW``.

    Each component is opened relative to its parent's descriptor, so a folder swapped for a symlink at
    any step (before or during the walk) fails with :class:`OutsideRoot` instead of being followed;
    missing folders are created the same way (``mkdir`` relative to the parent descriptor, never through
    a link). The caller closes the descriptor.
    """
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(root, flags)
    handed_over = False
    try:
        for part in Path(relative_dir).parts:
            if part in ("", "."):
                continue
            if part == ".." or os.sep in part:
                raise OutsideRoot(errno.EPERM, "path climbs out of the root", relative_dir)
            if create:
                with suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
            try:
                child = os.open(part, flags, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise OutsideRoot(exc.errno, "a folder on the way is a symlink or a file", part) from exc
                raise
            os.close(fd)
            fd = child
        handed_over = True
        return fd
    finally:
        if not handed_over:
            os.close(fd)


def move_into_root(src: Path, root: str, relative: str) -> None:
    """Move the regular file ``src`` to ``root/relative`` without following any symlink under ``root``.

    Used by restore, the one place where we write into a codebase: the target folders are created (and
    the rename done) through directory descriptors opened with ``O_NOFOLLOW``, so neither a symlink in
    the path nor one swapped in mid-way can make the bytes land outside the root.
    """
    folder, name = os.path.split(relative)
    dir_fd = _open_dir_nofollow(root, folder, create=True)
    try:
        try:
            os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            pass
        else:
            raise FileExistsError(errno.EEXIST, "destination exists", relative)
        try:
            os.rename(src, name, dst_dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            part = name + PART_SUFFIX
            st = os.stat(src)
            out = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dir_fd)
            try:
                with open(src, "rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        os.write(out, chunk)
                os.fchmod(out, stat.S_IMODE(st.st_mode))
                os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns))
                os.fsync(out)
            finally:
                os.close(out)
            os.rename(part, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            os.unlink(src)
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_manifest(path: Path) -> list[dict[str, Any]]:
    """Manifest entries; a torn last line (run killed mid-write) is skipped, since its file never moved."""
    if not path.exists():
        return []
    out: list[dict[str, Any]] = []
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            log.warning("%s:%d: unreadable manifest line skipped", path, n)
            continue
        if isinstance(entry, dict):
            out.append(entry)
    return out


class CleanupExecutor:
    """Plans and performs (or pretends to perform) one cleanup run for one codebase."""

    def __init__(
        self,
        root: Path | str,
        quarantine_dir: Path | str,
        audit: AuditLog,
        run_id: str,
        max_deletions: int = 50,
        execute: bool = False,
        allow_tracked: bool = False,
        *,
        mtime_tolerance_s: float = 0.001,
        lock_wait_s: float = 10.0,
        fault_hook: Callable[[str], None] | None = None,
    ) -> None:
        if not _RUN_ID.fullmatch(run_id) or run_id in {".", ".."}:
            raise ValueError(f"run id {run_id!r} is not usable as a folder name")
        self.root = Path(root).absolute()
        self.root_real = os.path.realpath(self.root)
        self.quarantine_dir = Path(quarantine_dir).absolute()
        self.audit = audit
        self.run_id = run_id
        self.max_deletions = max_deletions
        self.execute = execute
        self.allow_tracked = allow_tracked
        self.mtime_tolerance_s = mtime_tolerance_s
        self.lock_wait_s = lock_wait_s
        self._hook = fault_hook
        self._manifests: dict[str, list[dict[str, Any]]] = {}

    # ----------------------------------------------------------------- helpers
    def _step(self, name: str) -> None:
        if self._hook is not None:
            self._hook(name)

    def run_dir(self, run_id: str) -> Path:
        return self.quarantine_dir / run_id

    def quarantined_path(self, run_id: str, path: str) -> Path:
        return self.run_dir(run_id) / "files" / path

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        """Run git in the codebase. When another git process holds ``index.lock`` (the user's, or one
        a killed run of ours left running) wait for it, with backoff, instead of failing at once."""
        delay = 0.05
        deadline = time.monotonic() + INDEX_LOCK_WAIT_S
        while True:
            proc = subprocess.run(
                ["git", "-C", str(self.root), "--literal-pathspecs", *args], capture_output=True, check=False
            )
            locked = proc.returncode != 0 and b"index.lock" in proc.stderr
            if not locked or time.monotonic() + delay > deadline:
                break
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        if check and proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, proc.args, proc.stdout, proc.stderr)
        return proc

    def _index_entries(self, paths: Sequence[str]) -> dict[str, tuple[str, str, int]]:
        """path -> (mode, blob, stage) from the git index, for the given paths."""
        out: dict[str, tuple[str, str, int]] = {}
        if not (self.root / ".git").exists():
            return out
        for i in range(0, len(paths), 500):
            proc = self._git("ls-files", "-s", "-z", "--", *paths[i : i + 500])
            for rec in proc.stdout.split(b"\0"):
                if not rec:
                    continue
                meta, _, name = rec.partition(b"\t")
                mode, blob, stage = meta.decode().split()
                out[os.fsdecode(name)] = (mode, blob, int(stage))
        return out

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self.audit.session():
            if not self.audit.try_lock(self.lock_wait_s):
                raise CleanupBusy(f"another cleanup run holds the lock for codebase {self.audit.codebase!r}")
            try:
                yield
            finally:
                self.audit.unlock()

    def _manifest(self, run_id: str) -> list[dict[str, Any]]:
        if run_id not in self._manifests:
            self._manifests[run_id] = read_manifest(self.run_dir(run_id) / MANIFEST)
        return self._manifests[run_id]

    def _manifest_entry(self, run_id: str, path: str) -> dict[str, Any] | None:
        found = [e for e in self._manifest(run_id) if e.get("path") == path]
        return found[-1] if found else None

    def _real_path(self, run_id: str, path: str) -> str:
        """The on-disk name of an audited path: the manifest keeps it when the name is not UTF-8."""
        entry = self._manifest_entry(run_id, path)
        fs_path = (entry or {}).get("fs_path")
        return fs_path if isinstance(fs_path, str) and fs_path else path

    def _append_manifest(self, entry: dict[str, Any]) -> None:
        run_dir = self.run_dir(self.run_id)
        created = not run_dir.exists()
        run_dir.mkdir(parents=True, exist_ok=True)
        manifest = run_dir / MANIFEST
        with open(manifest, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        if created:
            _fsync_dir(run_dir)
            _fsync_dir(run_dir.parent)
        self._manifests.pop(self.run_id, None)

    # -------------------------------------------------------------------- plan
    def _refusal(
        self, cand: Candidate, index: dict[str, tuple[str, str, int]], held: Mapping[str, str]
    ) -> tuple[str | None, Action]:
        act = Action(
            path=cand.path, action=QUARANTINE, rule=cand.rule, reason=cand.reason, fs_path=cand.fs_path
        )
        unsafe = unsafe_reason(cand.path) or unsafe_reason(act.real_path)
        if unsafe:
            return unsafe, act
        if cand.path in held:
            return f"kept out of cleanup: {held[cand.path]} (symphony cleanup release to allow it)", act
        full = self.root / act.real_path
        if ".git" in Path(act.real_path).parts:
            return "inside .git", act
        parent_real = os.path.realpath(full.parent)
        if not _within(parent_real, self.root_real):
            return f"real path is outside the codebase root ({parent_real})", act
        if _within(os.path.join(parent_real, full.name), os.path.realpath(self.quarantine_dir)):
            return "inside the quarantine folder", act
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            return "no longer exists", act
        if stat.S_ISLNK(st.st_mode):
            return "symlink: never followed or moved", act
        if not stat.S_ISREG(st.st_mode):
            return "not a regular file", act
        act.size, act.mtime_ns = st.st_size, st.st_mtime_ns
        if cand.size is not None and cand.size != st.st_size:
            return f"changed since the candidates were computed (size {cand.size} -> {st.st_size})", act
        if cand.mtime is not None and abs(cand.mtime - st.st_mtime) > self.mtime_tolerance_s:
            return "changed since the candidates were computed (mtime differs)", act
        if cand.ctime_ns is not None and cand.ctime_ns != st.st_ctime_ns:
            return "changed since the candidates were computed (ctime differs: rewritten or touched)", act
        act.sha256 = sha256_file(full)
        if cand.sha256 is not None and cand.sha256 != act.sha256:
            return "changed since the candidates were computed (sha256 differs)", act
        entry = index.get(act.real_path)
        if entry is not None:
            act.tracked = True
            act.index_mode, act.index_blob, stage = entry
            if stage != 0:
                return "unmerged in the git index", act
            if not self.allow_tracked:
                return "tracked by git: needs allow_tracked=True as well as execute=True", act
        return None, act

    def plan(self, candidates: Iterable[Candidate]) -> list[Action]:
        """What a run would do with each candidate: quarantine, refuse (with why), or skip (over the cap)."""
        cands = list(candidates)
        index = self._index_entries([c.fs_path or c.path for c in cands if unsafe_reason(c.path) is None])
        with self.audit.session():
            held = self.audit.held()
        actions: list[Action] = []
        taken = 0
        seen: set[str] = set()
        for cand in cands:
            if cand.path in seen:
                continue
            seen.add(cand.path)
            why, act = self._refusal(cand, index, held)
            if why is not None:
                act.action, act.reason = REFUSE, why
            elif taken >= self.max_deletions:
                act.action, act.reason = SKIP, f"over the per-run cap of {self.max_deletions} files"
            else:
                taken += 1
            actions.append(act)
        return actions

    # --------------------------------------------------------------------- run
    def run(self, candidates: Iterable[Candidate]) -> RunReport:
        report = RunReport(run_id=self.run_id, execute=self.execute)
        with self._locked():
            report.reconciled = self.reconcile()
            for act in self.plan(candidates):
                report.results.append(self._perform(act))
        return report

    def _result(
        self, act: Action, action: str, state: str, message: str, run_id: str | None = None
    ) -> ActionResult:
        return ActionResult(
            run_id=run_id or self.run_id,
            path=act.path,
            action=action,
            state=state,
            rule=act.rule,
            size=act.size,
            sha256=act.sha256,
            tracked=act.tracked,
            message=message,
        )

    def _perform(self, act: Action) -> ActionResult:
        common: dict[str, Any] = {
            "size": act.size,
            "sha256": act.sha256,
            "rule": act.rule,
            "tracked": act.tracked,
        }
        if act.action == SKIP:
            return self._result(act, SKIP, "done", act.reason)
        if act.action == REFUSE:
            self.audit.record(self.run_id, act.path, REFUSE, "done", message=act.reason, **common)
            return self._result(act, REFUSE, "done", act.reason)
        if not self.execute:
            msg = "dry run: would move into quarantine" + (" and unstage" if act.tracked else "")
            self.audit.record(self.run_id, act.path, DRY_RUN, "done", message=msg, **common)
            return self._result(act, DRY_RUN, "done", msg)
        return self._quarantine(act)

    def _quarantine(self, act: Action) -> ActionResult:
        src = self.root / act.real_path
        dst = self.quarantined_path(self.run_id, act.path)
        row = self.audit.record(
            self.run_id, act.path, QUARANTINE, "planned",
            size=act.size, sha256=act.sha256, rule=act.rule, tracked=act.tracked,
        )  # fmt: skip
        self._step("planned")
        entry = {**asdict(act), "run_id": self.run_id, "codebase": self.audit.codebase, "audit_id": row}
        entry.pop("action")
        self._append_manifest(entry)
        self._step("manifest")
        st = os.lstat(src)
        if not stat.S_ISREG(st.st_mode) or st.st_size != act.size or st.st_mtime_ns != act.mtime_ns:
            self.audit.mark(row, "failed", "changed while the run was planning")
            return self._result(act, QUARANTINE, "failed", "changed while the run was planning")
        try:
            move_file(src, dst)
        except OSError as exc:
            self.audit.mark(row, "failed", f"move failed: {exc}")
            return self._result(act, QUARANTINE, "failed", f"move failed: {exc}")
        self._step("moved")
        if sha256_file(dst) != act.sha256:
            move_file(dst, src)
            self.audit.mark(row, "failed", "changed during the move; put back")
            return self._result(act, QUARANTINE, "failed", "changed during the move; put back")
        if act.tracked:
            proc = self._git("update-index", "--force-remove", "--", act.real_path, check=False)
            if proc.returncode != 0:
                err = proc.stderr.decode("utf-8", "replace").strip()
                move_file(dst, src)
                self.audit.mark(row, "failed", f"git update-index failed: {err}; put back")
                return self._result(act, QUARANTINE, "failed", f"git update-index failed: {err}")
            self._step("unstaged")
        self.audit.mark(row, "done")
        self._step("done")
        return self._result(act, QUARANTINE, "done", f"moved to {dst}")

    # --------------------------------------------------------------- reconcile
    def reconcile(self) -> list[ActionResult]:
        """Settle the ``planned`` rows a killed run left behind (needs the lock; run() holds it)."""
        results: list[ActionResult] = []
        for row in self.audit.rows(state="planned"):
            if row.action == QUARANTINE:
                state, msg = self._reconcile_quarantine(row)
            elif row.action == RESTORE:
                state, msg = self._reconcile_restore(row)
            else:
                state, msg = "failed", "unknown planned action abandoned"
            if state != "planned":
                self.audit.mark(row.id, state, msg)
            log.info("reconciled %s %s of run %s: %s (%s)", row.action, row.path, row.run_id, state, msg)
            results.append(
                ActionResult(row.run_id, row.path, row.action, state, row.rule or "", row.size, row.sha256,
                             row.tracked, msg)
            )  # fmt: skip
        return results

    def _unstage(self, path: str) -> str | None:
        proc = self._git("update-index", "--force-remove", "--", path, check=False)
        return None if proc.returncode == 0 else proc.stderr.decode("utf-8", "replace").strip()

    def _restage(self, entry: dict[str, Any] | None, path: str) -> str | None:
        """Put the index entry back as the manifest recorded it."""
        mode, blob = (entry or {}).get("index_mode"), (entry or {}).get("index_blob")
        if mode and blob and self._git("cat-file", "-e", blob, check=False).returncode == 0:
            proc = self._git("update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}", check=False)
        else:
            log.warning("index entry for %s not recorded or blob pruned; staging the file as it is", path)
            proc = self._git("add", "-f", "--", path, check=False)
        return None if proc.returncode == 0 else proc.stderr.decode("utf-8", "replace").strip()

    def _reconcile_quarantine(self, row: AuditRow) -> tuple[str, str]:
        src = self.root / self._real_path(row.run_id, row.path)
        dst = self.quarantined_path(row.run_id, row.path)
        part = dst.with_name(dst.name + PART_SUFFIX)
        in_place, in_quarantine = os.path.lexists(src), os.path.lexists(dst)
        if in_quarantine and not in_place:
            if row.sha256 and sha256_file(dst) != row.sha256:
                move_file(dst, src)
                return "failed", "changed during the move; put back by reconcile"
            if row.tracked:
                err = self._unstage(self._real_path(row.run_id, row.path))
                if err:
                    return "planned", f"could not unstage yet: {err}"
            return "done", "completed by reconcile (file was in quarantine)"
        if in_place:
            if part.exists():
                part.unlink()
            if in_quarantine and row.sha256 and sha256_file(src) == row.sha256:
                dst.unlink()  # an interrupted cross-device copy; the original is intact
            return "failed", "abandoned: the run stopped before moving the file; it is still in place"
        log.error("cleanup: %s (run %s) is neither in place nor in quarantine", row.path, row.run_id)
        return "failed", "LOST: neither in place nor in quarantine"

    def _reconcile_restore(self, row: AuditRow) -> tuple[str, str]:
        real = self._real_path(row.run_id, row.path)
        src = self.root / real
        dst = self.quarantined_path(row.run_id, row.path)
        part = src.with_name(src.name + PART_SUFFIX)
        in_place, in_quarantine = os.path.lexists(src), os.path.lexists(dst)
        if in_place and not in_quarantine:
            if row.tracked:
                err = self._restage(self._manifest_entry(row.run_id, row.path), real)
                if err:
                    return "planned", f"could not restage yet: {err}"
            self.audit.mark_reverted(row.run_id, row.path)
            self.audit.hold(row.path, row.run_id, f"restored from cleanup run {row.run_id}")
            return "done", "restore completed by reconcile"
        if part.exists():
            part.unlink()
        if in_quarantine:
            return "failed", "abandoned: the restore stopped before moving the file back"
        log.error("cleanup: %s (run %s) is neither in place nor in quarantine", row.path, row.run_id)
        return "failed", "LOST: neither in place nor in quarantine"

    # ----------------------------------------------------------------- restore
    def restore(self, run_id: str) -> list[ActionResult]:
        """Put back every file run ``run_id`` moved, byte for byte; never overwrite a different file."""
        if not _RUN_ID.fullmatch(run_id):
            raise ValueError(f"bad run id {run_id!r}")
        results: list[ActionResult] = []
        with self._locked():
            self.reconcile()
            self._manifests.pop(run_id, None)
            for row in self.audit.rows(run_id=run_id, state="done"):
                if row.action != QUARANTINE:
                    continue
                results.append(self._restore_one(run_id, row))
        return results

    def _restore_one(self, run_id: str, row: AuditRow) -> ActionResult:
        entry = self._manifest_entry(run_id, row.path)
        act = Action(path=row.path, action=RESTORE, rule=row.rule or "", reason="", size=row.size,
                     sha256=row.sha256, tracked=row.tracked)  # fmt: skip
        real = self._real_path(run_id, row.path)
        src = self.root / real
        dst = self.quarantined_path(run_id, row.path)
        if unsafe_reason(row.path) or unsafe_reason(real):
            return self._result(act, RESTORE, "failed", "unsafe path in the audit log", run_id)
        if not os.path.lexists(dst):
            back = os.path.isfile(src) and not os.path.islink(src) and sha256_file(src) == row.sha256
            if not back:
                return self._result(act, RESTORE, "failed", f"not in quarantine ({dst})", run_id)
            # An earlier restore moved the bytes back but stopped before the index or the audit:
            # finish it rather than report a failure.
            if row.tracked:
                err = self._restage(entry, real)
                if err:
                    return self._result(act, RESTORE, "failed", f"git index not restored: {err}", run_id)
            self.audit.record(run_id, row.path, RESTORE, "done", size=row.size, sha256=row.sha256,
                              rule=row.rule, tracked=row.tracked,
                              message="bytes were already back; restore completed")  # fmt: skip
            self.audit.mark_reverted(run_id, row.path)
            self.audit.hold(row.path, run_id, f"restored from cleanup run {run_id}")
            return self._result(act, RESTORE, "done", "already in place; restore completed", run_id)
        if sha256_file(dst) != row.sha256:
            self.audit.record(run_id, row.path, RESTORE, "failed", sha256=row.sha256, tracked=row.tracked,
                              message="quarantined copy does not match its sha256; left alone")  # fmt: skip
            return self._result(act, RESTORE, "failed", "quarantined copy does not match its sha256", run_id)
        if not _within(os.path.realpath(src.parent), self.root_real):
            return self._result(act, RESTORE, "failed", "target folder now leads outside the root", run_id)
        if os.path.lexists(src):
            same = os.path.isfile(src) and not os.path.islink(src) and sha256_file(src) == row.sha256
            if not same:
                msg = "a different file is now at this path; not overwritten"
                self.audit.record(run_id, row.path, RESTORE, "failed", size=row.size, sha256=row.sha256,
                                  rule=row.rule, tracked=row.tracked, message=msg)  # fmt: skip
                return self._result(act, RESTORE, "failed", msg, run_id)
        rid = self.audit.record(run_id, row.path, RESTORE, "planned", size=row.size, sha256=row.sha256,
                                rule=row.rule, tracked=row.tracked,
                                message=f"restore by run {self.run_id}")  # fmt: skip
        self._step("restore_planned")
        if os.path.lexists(src):
            dst.unlink()  # identical bytes are already back in place
        else:
            try:
                move_into_root(dst, self.root_real, real)
            except OutsideRoot as exc:
                msg = f"target folder leads outside the root ({exc.filename}); left in quarantine"
                self.audit.mark(rid, "failed", msg)
                return self._result(act, RESTORE, "failed", msg, run_id)
        self._step("restored")
        if row.tracked:
            err = self._restage(entry, real)
            if err:
                # Left 'planned': the next run's reconcile restages it.
                self.audit.mark(rid, "planned", f"bytes restored, git index not yet: {err}")
                return self._result(act, RESTORE, "failed", f"git index not restored: {err}", run_id)
        # Revert the quarantine row first: dying between the two leaves the restore row 'planned',
        # which reconcile completes. The other order could leave the quarantine row 'done' for a file
        # that is back in place (and may be quarantined again by a later run).
        self.audit.mark_reverted(run_id, row.path)
        self.audit.hold(row.path, run_id, f"restored from cleanup run {run_id}")
        self.audit.mark(rid, "done")
        self._step("restore_done")
        return self._result(act, RESTORE, "done", "restored", run_id)

    def quarantined_runs(self) -> list[str]:
        if not self.quarantine_dir.exists():
            return []
        return sorted(p.name for p in self.quarantine_dir.iterdir() if (p / MANIFEST).exists())
