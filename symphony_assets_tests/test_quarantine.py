"""The cleanup executor on real git repositories, with its audit log in the real embedded Postgres."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import uuid
from pathlib import Path

import psycopg2
import pytest

from symphony_assets.resources.quarantine import (
    MANIFEST,
    AuditLog,
    Candidate,
    CleanupBusy,
    CleanupExecutor,
    read_manifest,
    sha256_file,
)
from symphony_assets_tests.gitrepo import GitRepo


def tree_hash(root: Path, raw_index: bool = False) -> str:
    """Everything a user could notice: each path's kind, mode, mtime and bytes, plus the git index.

    ``raw_index`` hashes the index file's bytes (stat cache included); otherwise its entries as
    ``git ls-files -s`` lists them (mode, blob, stage, path).
    """
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not (Path(dirpath) == root and d == ".git"))
        for name in sorted(dirnames + filenames):
            full = Path(dirpath) / name
            st = os.lstat(full)
            rel = full.relative_to(root).as_posix()
            if os.path.islink(full):
                h.update(f"L {rel} {os.readlink(full)}\n".encode())
            elif full.is_dir():
                h.update(f"D {rel}\n".encode())
            else:
                h.update(f"F {rel} {st.st_mode:o} {st.st_mtime_ns} {sha256_file(full)}\n".encode())
    if raw_index:
        h.update((root / ".git" / "index").read_bytes())
    else:
        h.update(subprocess.run(["git", "ls-files", "-s"], cwd=root, capture_output=True, check=True).stdout)
    return h.hexdigest()


def candidates_for(root: Path, paths: list[str], rule: str = "temp_untracked") -> list[Candidate]:
    out = []
    for p in paths:
        full = root / p
        st = os.lstat(full)
        out.append(Candidate(p, rule, "test", st.st_size, st.st_mtime, sha256_file(full)))
    return out


@pytest.fixture()
def audit(cleanup_audit: AuditLog) -> AuditLog:
    return cleanup_audit


@pytest.fixture()
def repo(quarantine_repo: GitRepo) -> GitRepo:
    return quarantine_repo


def executor(
    repo: GitRepo, audit: AuditLog, tmp_path: Path, run_id: str | None = None, **kw
) -> CleanupExecutor:
    return CleanupExecutor(repo.root, tmp_path / "quarantine", audit, run_id or uuid.uuid4().hex, **kw)


UNTRACKED = ["tmp_out.csv", "logs/run.log", "nested/deep/x.bak"]


def test_dry_run_changes_nothing_on_disk(repo: GitRepo, audit: AuditLog, tmp_path: Path) -> None:
    cands = candidates_for(repo.root, [*UNTRACKED, "scripts/debug_old.py"])
    before = tree_hash(repo.root, raw_index=True)
    ex = executor(repo, audit, tmp_path, allow_tracked=True)
    report = ex.run(cands)
    assert tree_hash(repo.root, raw_index=True) == before
    assert not (tmp_path / "quarantine").exists()
    assert report.count("dry_run") == 4 and report.bytes_moved == 0
    with audit.session():
        rows = audit.rows(run_id=ex.run_id)
    assert {(r.path, r.action, r.state) for r in rows} == {
        (p, "dry_run", "done") for p in [*UNTRACKED, "scripts/debug_old.py"]
    }
    tracked = [r for r in rows if r.path == "scripts/debug_old.py"][0]
    assert tracked.tracked and tracked.sha256 == sha256_file(repo.root / "scripts/debug_old.py")


def test_execute_then_restore_round_trip(repo: GitRepo, audit: AuditLog, tmp_path: Path) -> None:
    before = tree_hash(repo.root)
    cands = candidates_for(repo.root, UNTRACKED)
    ex = executor(repo, audit, tmp_path, execute=True)
    report = ex.run(cands)
    assert report.count("quarantine", "done") == 3, report.results
    for p in UNTRACKED:
        assert not os.path.lexists(repo.root / p)
        q = ex.quarantined_path(ex.run_id, p)
        assert sha256_file(q) == [c.sha256 for c in cands if c.path == p][0]
    manifest = read_manifest(tmp_path / "quarantine" / ex.run_id / MANIFEST)
    assert {e["path"] for e in manifest} == set(UNTRACKED)
    assert all({"size", "sha256", "rule", "run_id", "tracked"} <= set(e) for e in manifest)
    with audit.session():
        assert {r.state for r in audit.rows(run_id=ex.run_id)} == {"done"}
    assert tree_hash(repo.root) != before

    restorer = executor(repo, audit, tmp_path)
    results = restorer.restore(ex.run_id)
    assert [r.state for r in results] == ["done"] * 3
    assert tree_hash(repo.root) == before
    with audit.session():
        rows = audit.rows(run_id=ex.run_id)
    assert {r.state for r in rows if r.action == "quarantine"} == {"reverted"}
    assert {r.state for r in rows if r.action == "restore"} == {"done"}


def test_tracked_file_needs_the_second_key(repo: GitRepo, audit: AuditLog, tmp_path: Path) -> None:
    cands = candidates_for(repo.root, ["scripts/debug_old.py"], rule="temp_tracked_stale")
    before = tree_hash(repo.root, raw_index=True)
    report = executor(repo, audit, tmp_path, execute=True).run(cands)
    assert report.results[0].action == "refuse"
    assert "allow_tracked" in report.results[0].message
    assert tree_hash(repo.root, raw_index=True) == before

    head = repo.head()
    before = tree_hash(repo.root)
    ex = executor(repo, audit, tmp_path, execute=True, allow_tracked=True)
    report = ex.run(cands)
    assert report.results[0].state == "done", report.results
    status = repo.git("status", "--porcelain")
    assert "D  scripts/debug_old.py" in status  # staged removal, not committed
    assert repo.head() == head
    restore = executor(repo, audit, tmp_path).restore(ex.run_id)
    assert restore[0].state == "done"
    assert tree_hash(repo.root) == before
    assert repo.git("status", "--porcelain", "--untracked-files=no") == ""


def test_symlinks_and_escaping_paths_are_refused(repo: GitRepo, audit: AuditLog, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "tmp_secret.txt"
    secret.write_text("do not touch")
    (repo.root / "tmp_link.txt").symlink_to(secret)
    (repo.root / "linked_dir").symlink_to(outside)
    (tmp_path / "tmp_above.txt").write_text("above")
    cands = [
        Candidate("tmp_link.txt", "r"),
        Candidate("linked_dir/tmp_secret.txt", "r"),
        Candidate("../tmp_above.txt", "r"),
        Candidate(str(tmp_path / "tmp_above.txt"), "r"),
        Candidate("logs", "r"),
        Candidate(".git/config", "r"),
        Candidate("missing.tmp", "r"),
    ]
    before = tree_hash(repo.root, raw_index=True)
    report = executor(repo, audit, tmp_path, execute=True, allow_tracked=True).run(cands)
    reasons = {r.path: r.message for r in report.results}
    assert all(r.action == "refuse" for r in report.results), report.results
    assert "symlink" in reasons["tmp_link.txt"]
    assert "outside the codebase root" in reasons["linked_dir/tmp_secret.txt"]
    assert "'..'" in reasons["../tmp_above.txt"]
    assert "absolute" in reasons[str(tmp_path / "tmp_above.txt")]
    assert "regular file" in reasons["logs"]
    assert ".git" in reasons[".git/config"]
    assert "no longer exists" in reasons["missing.tmp"]
    assert secret.read_text() == "do not touch" and (tmp_path / "tmp_above.txt").exists()
    assert tree_hash(repo.root, raw_index=True) == before


def test_file_changed_since_candidates_is_refused(repo: GitRepo, audit: AuditLog, tmp_path: Path) -> None:
    cands = candidates_for(repo.root, UNTRACKED)
    # Size change.
    (repo.root / "tmp_out.csv").write_text("a,b\n1,2\n3,4\n")
    # Same size, same mtime, different bytes: only the sha256 can tell.
    bak = repo.root / "nested/deep/x.bak"
    st = os.stat(bak)
    bak.write_bytes(b"\x00\x01BINARY")
    os.utime(bak, ns=(st.st_atime_ns, st.st_mtime_ns))
    # mtime change only.
    log = repo.root / "logs/run.log"
    os.utime(log, (st.st_atime + 100, st.st_mtime + 100))
    report = executor(repo, audit, tmp_path, execute=True).run(cands)
    by_path = {r.path: r for r in report.results}
    assert by_path["tmp_out.csv"].action == "refuse" and "size" in by_path["tmp_out.csv"].message
    assert (
        by_path["nested/deep/x.bak"].action == "refuse" and "sha256" in by_path["nested/deep/x.bak"].message
    )
    assert by_path["logs/run.log"].action == "refuse" and "mtime" in by_path["logs/run.log"].message
    assert all(os.path.exists(repo.root / p) for p in UNTRACKED)


def test_at_most_max_deletions_per_run(repo: GitRepo, audit: AuditLog, tmp_path: Path) -> None:
    paths = [f"out/tmp_{i:03}.txt" for i in range(60)]
    for p in paths:
        repo.write(p, p)
    ex = executor(repo, audit, tmp_path, execute=True)
    report = ex.run(candidates_for(repo.root, paths))
    assert report.count("quarantine", "done") == 50
    assert report.count("skip") == 10
    assert sum(os.path.exists(repo.root / p) for p in paths) == 10
    assert all("cap of 50" in r.message for r in report.results if r.action == "skip")
    small = executor(repo, audit, tmp_path, execute=True, max_deletions=3).run(
        candidates_for(repo.root, [p for p in paths if os.path.exists(repo.root / p)])
    )
    assert small.count("quarantine", "done") == 3


def test_restore_refuses_to_overwrite_a_different_file(
    repo: GitRepo, audit: AuditLog, tmp_path: Path
) -> None:
    ex = executor(repo, audit, tmp_path, execute=True)
    ex.run(candidates_for(repo.root, ["tmp_out.csv", "logs/run.log"]))
    repo.write("tmp_out.csv", "someone else's new file\n")
    q_log = ex.quarantined_path(ex.run_id, "logs/run.log")
    q_log.write_text("tampered")
    results = {r.path: r for r in executor(repo, audit, tmp_path).restore(ex.run_id)}
    assert results["tmp_out.csv"].state == "failed" and "different file" in results["tmp_out.csv"].message
    assert results["logs/run.log"].state == "failed" and "sha256" in results["logs/run.log"].message
    assert (repo.root / "tmp_out.csv").read_text() == "someone else's new file\n"
    assert ex.quarantined_path(ex.run_id, "tmp_out.csv").exists()
    assert not (repo.root / "logs/run.log").exists()


def test_one_run_per_codebase(repo: GitRepo, audit: AuditLog, tmp_path: Path, pg_url: str) -> None:
    holder = AuditLog(lambda: psycopg2.connect(pg_url), audit.codebase)
    with holder.session():
        assert holder.try_lock()
        with pytest.raises(CleanupBusy):
            executor(repo, audit, tmp_path, lock_wait_s=0).run([])
        other = AuditLog(lambda: psycopg2.connect(pg_url), audit.codebase + "-other")
        executor(repo, other, tmp_path, lock_wait_s=0).run([])  # another codebase is not blocked
    executor(repo, audit, tmp_path, lock_wait_s=0).run([])


class Crash(BaseException):
    """Stands in for the process dying at a step (the fault test kills real processes)."""


def crash_at(step: str):
    def hook(name: str) -> None:
        if name == step:
            raise Crash(name)

    return hook


def test_reconcile_settles_what_a_dead_run_left(repo: GitRepo, audit: AuditLog, tmp_path: Path) -> None:
    before = tree_hash(repo.root)
    # Died after the manifest line, before the move: file still in place -> failed (abandoned).
    dead1 = executor(repo, audit, tmp_path, execute=True, fault_hook=crash_at("manifest"))
    with pytest.raises(Crash):
        dead1.run(candidates_for(repo.root, ["tmp_out.csv"]))
    with audit.session():
        assert [(r.path, r.state) for r in audit.rows(state="planned")] == [("tmp_out.csv", "planned")]
    # Died after moving a tracked file, before unstaging it: reconcile must finish the unstaging.
    dead2 = executor(repo, audit, tmp_path, execute=True, allow_tracked=True, fault_hook=crash_at("moved"))
    with pytest.raises(Crash):
        dead2.run(candidates_for(repo.root, ["scripts/debug_old.py"]))
    assert " D scripts/debug_old.py" in repo.git("status", "--porcelain")
    with audit.session():
        # dead2's run began by reconciling dead1's leftover.
        (row1,) = audit.rows(run_id=dead1.run_id)
        assert row1.state == "failed" and "still in place" in (row1.message or "")

    report = executor(repo, audit, tmp_path).run([])
    settled = {(r.run_id, r.path): r.state for r in report.reconciled}
    assert settled == {(dead2.run_id, "scripts/debug_old.py"): "done"}
    assert (repo.root / "tmp_out.csv").exists()
    assert "D  scripts/debug_old.py" in repo.git("status", "--porcelain")
    with audit.session():
        assert audit.rows(state="planned") == []

    executor(repo, audit, tmp_path).restore(dead2.run_id)
    assert tree_hash(repo.root) == before


def test_interrupted_restore_is_completed(repo: GitRepo, audit: AuditLog, tmp_path: Path) -> None:
    before = tree_hash(repo.root)
    ex = executor(repo, audit, tmp_path, execute=True, allow_tracked=True)
    ex.run(candidates_for(repo.root, ["scripts/debug_old.py", "tmp_out.csv"]))
    with pytest.raises(Crash):
        executor(repo, audit, tmp_path, fault_hook=crash_at("restored")).restore(ex.run_id)
    executor(repo, audit, tmp_path).restore(ex.run_id)
    assert tree_hash(repo.root) == before
    with audit.session():
        states = {(r.path, r.action): r.state for r in audit.rows(run_id=ex.run_id)}
    assert states[("scripts/debug_old.py", "quarantine")] == "reverted"
    assert states[("tmp_out.csv", "quarantine")] == "reverted"


def test_manifest_is_written_before_the_move(repo: GitRepo, audit: AuditLog, tmp_path: Path) -> None:
    seen: dict[str, object] = {}
    ex: CleanupExecutor

    def hook(step: str) -> None:
        if step == "manifest":
            lines = (tmp_path / "quarantine" / ex.run_id / MANIFEST).read_text().splitlines()
            seen["manifest"] = json.loads(lines[-1])
            seen["in_place"] = (repo.root / "tmp_out.csv").exists()
            with audit.session():
                seen["rows"] = [(r.action, r.state) for r in audit.rows(run_id=ex.run_id)]

    ex = executor(repo, audit, tmp_path, execute=True, fault_hook=hook)
    ex.run(candidates_for(repo.root, ["tmp_out.csv"]))
    assert seen["in_place"] is True
    assert seen["rows"] == [("quarantine", "planned")]
    manifest = seen["manifest"]
    assert isinstance(manifest, dict) and manifest["sha256"] == hashlib.sha256(b"a,b\n1,2\n").hexdigest()


def test_restore_waits_for_another_gits_index_lock(repo: GitRepo, audit: AuditLog, tmp_path: Path) -> None:
    """A git process of someone else (or one a killed run left behind) holds index.lock for a moment:
    restoring a tracked file waits for it instead of leaving the bytes back but the index not."""
    import threading

    before = tree_hash(repo.root)
    ex = executor(repo, audit, tmp_path, execute=True, allow_tracked=True)
    ex.run(candidates_for(repo.root, ["scripts/debug_old.py"], rule="temp_tracked_stale"))
    lock = repo.root / ".git" / "index.lock"
    lock.write_bytes(b"")
    release = threading.Timer(0.8, lock.unlink)
    release.start()
    try:
        results = executor(repo, audit, tmp_path).restore(ex.run_id)
    finally:
        release.join()
    assert [r.state for r in results] == ["done"], results
    assert tree_hash(repo.root) == before


def test_restore_finishes_when_the_bytes_are_already_back(
    repo: GitRepo, audit: AuditLog, tmp_path: Path
) -> None:
    """A restore that died after moving the bytes back, before the index and the audit: the next
    restore completes it instead of reporting the file as not in quarantine."""
    before = tree_hash(repo.root)
    ex = executor(repo, audit, tmp_path, execute=True, allow_tracked=True)
    ex.run(candidates_for(repo.root, ["scripts/debug_old.py", "tmp_out.csv"]))
    for path in ("scripts/debug_old.py", "tmp_out.csv"):
        os.rename(ex.quarantined_path(ex.run_id, path), repo.root / path)  # what the dead restore did
    results = executor(repo, audit, tmp_path).restore(ex.run_id)
    assert sorted(r.state for r in results) == ["done", "done"], results
    assert tree_hash(repo.root) == before
    with audit.session():
        states = {(r.path, r.action): r.state for r in audit.rows(run_id=ex.run_id)}
    assert states[("scripts/debug_old.py", "quarantine")] == "reverted"
