"""Codebases given by git URL: bare mirrors under SYMPHONY_HOME, fetched per run, read from git objects."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import pytest
from filelock import FileLock

from symphony_assets.config import ConfigError, load_config
from symphony_assets.defs.partitions import snapshot_key
from symphony_assets.resources.git import take_snapshot
from symphony_assets.resources.mirrors import MirrorError, is_git_url, redact_url, refresh_mirror
from symphony_assets.runner import run_snapshots
from symphony_assets.storage.warehouse import Warehouse
from symphony_assets_tests.gitrepo import GitRepo

TODAY = dt.datetime.now(dt.UTC).date()


def _paths(codebase: str, day: dt.date) -> list[str]:
    df = Warehouse().read("file_inventory", {"codebase": codebase, "date": str(day)})
    assert df is not None, f"{codebase} {day} was not written"
    return sorted(df["path"])


def _git(path: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=path, capture_output=True, check=True)
    return out.stdout.decode().strip()


def test_url_forms_and_redaction() -> None:
    for url in ("https://h/o/r.git", "ssh://git@h/o/r", "git@github.com:org/repo.git", "file:///srv/r"):
        assert is_git_url(url), url
    for path in ("/srv/agents", "relative/dir", "C:/x", "~/code"):
        assert not is_git_url(path), path
    assert redact_url("https://bot:s3cret@h.example/o/r.git") == "https://bot@h.example/o/r.git"


def test_an_unreachable_url_with_a_token_never_shows_the_token(write_config, symphony_env: Path) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://bot:s3cret@127.0.0.1:{sock.getsockname()[1]}/org/repo.git"
    sock.close()  # nothing listens there: git fails at once, and quotes the URL in its message
    write_config({"name": "private", "path": url})
    with pytest.raises(MirrorError) as info:
        refresh_mirror(load_config().codebase("private"))
    text = str(info.value)
    assert text.startswith("codebase 'private': cannot fetch http://bot@127.0.0.1:")
    assert "s3cret" not in text and "s3cret" not in repr(info.value.__cause__)


def test_file_url_codebase_runs_through_the_assets_from_a_bare_mirror(
    dagster_instance, git_repo: GitRepo, write_config, symphony_env: Path
) -> None:
    git_repo.write("a.py", "import b\n")
    first = git_repo.commit("a", when="2024-03-02T10:00:00+00:00")
    git_repo.write("b.py", "X = 1\n")
    git_repo.commit("b", when="2024-03-04T10:00:00+00:00")
    git_repo.write("uncommitted.py", "Y = 2\n")  # in the source's working tree only: never seen by URL
    write_config({"name": "remote", "path": git_repo.root.as_uri()})

    outcomes = run_snapshots(
        dagster_instance, ["remote"], dt.date(2024, 3, 1), dt.date(2024, 3, 5), assets=["file_inventory"]
    )
    assert [o.success for o in outcomes] == [True], outcomes[0].error
    assert _paths("remote", dt.date(2024, 3, 1)) == []
    assert _paths("remote", dt.date(2024, 3, 3)) == git_repo.ls_tree(first) == ["a.py"]
    assert _paths("remote", dt.date(2024, 3, 5)) == ["a.py", "b.py"]

    mirrors = list((symphony_env / "mirrors").glob("*.git"))
    assert len(mirrors) == 1 and _git(mirrors[0], "rev-parse", "--is-bare-repository") == "true"

    # Today's partition of a URL codebase is its branch head: a new commit, fetched by the next run.
    git_repo.git("add", "uncommitted.py")
    head = git_repo.commit("c", when="2024-03-06T10:00:00+00:00")
    today = run_snapshots(dagster_instance, ["remote"], TODAY, TODAY, assets=["file_inventory"])
    assert today[0].success, today[0].error
    assert _paths("remote", TODAY) == ["a.py", "b.py", "uncommitted.py"]
    event = dagster_instance.get_latest_materialization_event(dg.AssetKey("file_inventory"))
    meta = event.asset_materialization.metadata
    assert meta["commit"].value == head
    assert meta["live_working_tree"].value is False


def test_two_processes_fetch_the_same_mirror_one_at_a_time(
    git_repo: GitRepo, write_config, symphony_env: Path
) -> None:
    git_repo.write("a.py", "A = 1\n")
    git_repo.commit("a")
    write_config({"name": "shared", "path": git_repo.root.as_uri()})
    codebase = load_config().codebase("shared")
    refresh_mirror(codebase)
    git_repo.commit("b", when="2024-06-02T12:00:00+00:00")

    script = textwrap.dedent(
        """
        import sys, time
        from symphony_assets.config import load_config
        from symphony_assets.resources.mirrors import refresh_mirror
        start = float(sys.argv[1])
        while time.time() < start:
            time.sleep(0.01)
        refresh_mirror(load_config().codebase("shared"))
        print(time.time())
        """
    )
    # While another holder keeps the mirror's lock, a fetch waits for it.
    lock = FileLock(str(codebase.path) + ".lock")
    with lock:
        waiting = subprocess.Popen([sys.executable, "-c", script, "0"], stdout=subprocess.PIPE)
        time.sleep(3)
        assert waiting.poll() is None, "the fetch ran while another process held the mirror's lock"
        released = time.time()
    out, _ = waiting.communicate(timeout=60)
    assert waiting.returncode == 0 and float(out) >= released

    # Two processes started at the same instant both succeed, and the mirror is whole.
    git_repo.write("c.py", "C = 1\n")
    head = git_repo.commit("c", when="2024-06-03T12:00:00+00:00")
    start = str(time.time() + 2)
    procs = [subprocess.Popen([sys.executable, "-c", script, start]) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert _git(codebase.path, "rev-parse", "refs/heads/main") == head
    subprocess.run(["git", "fsck", "--no-progress"], cwd=codebase.path, check=True, capture_output=True)


def test_force_pushed_branch_moves_the_mirror(git_repo: GitRepo, write_config, symphony_env: Path) -> None:
    git_repo.write("keep.py", "K = 1\n")
    base = git_repo.commit("base", when="2024-06-01T12:00:00+00:00")
    git_repo.write("gone.py", "G = 1\n")
    rewritten = git_repo.commit("to be rewritten", when="2024-06-02T12:00:00+00:00")
    write_config({"name": "forced", "path": git_repo.root.as_uri(), "branch": "main"})
    codebase = load_config().codebase("forced")
    refresh_mirror(codebase)
    assert take_snapshot(codebase, dt.date(2024, 6, 2)).commit == rewritten

    git_repo.git("reset", "-q", "--hard", base)
    git_repo.write("new.py", "N = 1\n")
    replaced = git_repo.commit("replacement", when="2024-06-02T13:00:00+00:00")
    refresh_mirror(codebase)
    snap = take_snapshot(codebase, dt.date(2024, 6, 2))
    assert snap.commit == replaced
    assert sorted(f.path for f in snap.files) == ["keep.py", "new.py"]
    assert _git(codebase.path, "rev-parse", "refs/heads/main") == replaced


def test_unreachable_url_fails_only_its_codebase_with_one_clear_error(
    dagster_instance, git_repo: GitRepo, write_config, tmp_path: Path
) -> None:
    git_repo.write("a.py", "A = 1\n")
    git_repo.commit("a", when="2024-03-02T10:00:00+00:00")
    missing = (tmp_path / "no-such-repo.git").as_uri()
    write_config(
        {"name": "lost", "path": missing},
        {"name": "fine", "path": git_repo.root.as_uri()},
    )
    day = dt.date(2024, 3, 3)
    outcomes = run_snapshots(dagster_instance, ["lost", "fine"], day, day, assets=["file_inventory"])
    lost, fine = outcomes
    assert not lost.success and fine.success, fine.error
    assert lost.error is not None and lost.error.startswith("codebase 'lost': cannot fetch " + missing)
    assert "\n" not in lost.error
    assert _paths("fine", day) == ["a.py"]
    with pytest.raises(MirrorError, match="codebase 'lost'"):
        refresh_mirror(load_config().codebase("lost"))


def test_sub_folder_codebases_of_one_repository(
    dagster_instance, git_repo: GitRepo, write_config, symphony_env: Path
) -> None:
    git_repo.write("main_pc_code/agent.py", "import helper\n")
    git_repo.write("main_pc_code/helper.py", "H = 1\n")
    git_repo.write("pc2_code/worker.py", "W = 1\n")
    git_repo.write("README.md", "both machines\n")
    git_repo.commit("both", when="2024-03-02T10:00:00+00:00")
    git_repo.write("pc2_code/extra.py", "E = 1\n")
    git_repo.commit("pc2 only", when="2024-03-03T10:00:00+00:00")
    url = git_repo.root.as_uri()
    write_config(
        {"name": "main-pc", "path": url, "root": "main_pc_code", "machine": "main-pc"},
        {"name": "pc2", "path": url, "root": "pc2_code/", "machine": "pc2"},
        {"name": "pc2-local", "path": str(git_repo.root), "root": "pc2_code"},
    )
    day = dt.date(2024, 3, 4)
    names = ["main-pc", "pc2", "pc2-local"]
    outcomes = run_snapshots(dagster_instance, names, day, day, assets=["file_inventory"])
    assert all(o.success for o in outcomes), [o.error for o in outcomes]
    assert _paths("main-pc", day) == ["agent.py", "helper.py"]
    assert _paths("pc2", day) == _paths("pc2-local", day) == ["extra.py", "worker.py"]
    assert len(list((symphony_env / "mirrors").glob("*.git"))) == 1  # one mirror for one URL

    # Commit counts and churn see only the sub-folder; a live snapshot walks only it.
    pc2 = load_config().codebase("pc2")
    history = take_snapshot(pc2, day).history()
    assert sorted(p.decode() for p in history) == ["extra.py", "worker.py"]
    git_repo.write("pc2_code/untracked.py", "U = 1\n")
    live = take_snapshot(load_config().codebase("pc2-local"), TODAY, today=TODAY)
    assert live.live and sorted(f.path for f in live.files) == ["extra.py", "untracked.py", "worker.py"]
    assert {r.entry.path: r.status for r in live.read()}["untracked.py"] == "ok"


def test_root_must_stay_inside_the_repository(write_config, tmp_path: Path) -> None:
    path = write_config({"name": "x", "path": str(tmp_path), "root": "../elsewhere"})
    with pytest.raises(ConfigError, match="'root' must be a folder inside the repository"):
        load_config(path)


def test_cleanup_never_acts_on_a_url_codebases_mirror(
    dagster_instance, git_repo: GitRepo, write_config, symphony_env: Path
) -> None:
    """A URL codebase's path is our bare mirror: an execute run of cleanup_actions moves nothing there."""
    from symphony_assets_tests.test_cleanup_assets import cleanup_definitions, run_job

    git_repo.write("tmp_old.csv", "a,b\n" * 20)
    git_repo.write("config", "looks like the mirror's own config file\n")
    git_repo.commit("junk", when="2024-03-02T10:00:00+00:00")
    write_config({"name": "remote", "path": git_repo.root.as_uri()})
    defs = cleanup_definitions()
    (outcome,) = run_snapshots(
        dagster_instance, ["remote"], TODAY, TODAY, assets=["file_inventory", "cleanup_candidates"],
        definitions=defs,
    )  # fmt: skip
    assert outcome.success, outcome.error
    (mirror,) = (symphony_env / "mirrors").glob("*.git")
    before = sorted(p.relative_to(mirror).as_posix() for p in mirror.rglob("*"))
    config = {"ops": {"cleanup_actions": {"config": {"execute": True, "allow_tracked": True}}}}
    done = run_job(defs, dagster_instance, "cleanup_dry_run_job", str(snapshot_key("remote", TODAY)), config)
    assert sorted(p.relative_to(mirror).as_posix() for p in mirror.rglob("*")) == before
    assert not (symphony_env / "quarantine" / "remote").exists()
    (mat,) = [e.materialization for e in done.get_asset_materialization_events()]
    assert "cleanup acts only on local codebases" in str(mat.metadata["note"].value)
    assert mat.metadata["dagster/row_count"].value == 0  # not even a planned or refused action
