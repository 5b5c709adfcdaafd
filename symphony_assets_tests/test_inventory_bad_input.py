"""Bad input for the inventory: each case on a real git repository, never a crash of the whole run."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from symphony_assets.config import Codebase
from symphony_assets.defs.inventory.assets import compute_file_inventory
from symphony_assets.resources.git import CodebaseUnavailable, take_snapshot
from symphony_assets_tests.gitrepo import GitRepo

TODAY = dt.datetime.now(dt.UTC).date()
DAY = dt.date(2024, 6, 1)


def inventory(repo: GitRepo, day: dt.date = TODAY, **kw: object) -> pd.DataFrame:
    snap = take_snapshot(Codebase("t", repo.root, **kw), day, today=TODAY)  # type: ignore[arg-type]
    df, _meta = compute_file_inventory(snap)
    return df.set_index("path")


def test_awkward_file_names_round_trip(git_repo: GitRepo) -> None:
    names = [
        b"with space.py",
        b'quote"s.txt',
        b"{braces}.md",
        b"new\nline.txt",
        b"latin1-\xe9.txt",
        b"tab\t.py",
    ]
    for raw in names:
        git_repo.write(raw, b"x\n")
    git_repo.commit("odd names", when=f"{DAY}T10:00:00+00:00")
    for df in (inventory(git_repo, DAY), inventory(git_repo)):
        assert len(df) == len(names)
        assert "new\nline.txt" in df.index and "with space.py" in df.index and "{braces}.md" in df.index
        assert "latin1-\\xe9.txt" in df.index
        assert not bool(df.loc["latin1-\\xe9.txt", "path_is_utf8"])
        assert bool(df.loc["with space.py", "path_is_utf8"])
        assert (df["read_status"] == "ok").all()


def test_binary_and_huge_files_are_recorded_not_loaded(git_repo: GitRepo) -> None:
    git_repo.write("blob.bin", bytes(range(256)) * 10)
    git_repo.write("huge.dat", b"a" * (50 * 1024 * 1024))
    git_repo.write("small.py", "import os\n")
    git_repo.commit("binary", when=f"{DAY}T10:00:00+00:00")
    for df in (inventory(git_repo, DAY), inventory(git_repo)):
        assert df.loc["blob.bin", "file_type"] == "binary"
        assert df.loc["huge.dat", "read_status"] == "too_large"
        assert df.loc["huge.dat", "size_bytes"] == 50 * 1024 * 1024
        assert df.loc["small.py", "read_status"] == "ok"


def test_symlinks_are_never_followed_out_of_the_root(git_repo: GitRepo, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("outside the codebase: util.py")
    git_repo.write("util.py", "X = 1\n")
    os.symlink("util.py", git_repo.root / "good_link")
    os.symlink("missing.py", git_repo.root / "dangling_link")
    os.symlink(str(outside), git_repo.root / "absolute_link")
    os.symlink("../../secret.txt", git_repo.root / "escaping_link")
    git_repo.commit("links", when=f"{DAY}T10:00:00+00:00")
    for df in (inventory(git_repo, DAY), inventory(git_repo)):
        assert df.loc["good_link", "read_status"] == "ok"
        assert df.loc["good_link", "file_type"] == "symlink"
        assert df.loc["dangling_link", "read_status"] == "dangling"
        assert df.loc["absolute_link", "read_status"] == "outside_root"
        assert df.loc["escaping_link", "read_status"] == "outside_root"
        assert df.loc["absolute_link", "link_target"] == str(outside)
        # The outside file mentions util.py, but it is never read: no reference is counted.
        assert df.loc["util.py", "references"] == 0


def test_submodule_entry_without_gitmodules(git_repo: GitRepo) -> None:
    git_repo.write("a.py", "x = 1\n")
    git_repo.commit("a", when=f"{DAY}T09:00:00+00:00")
    sha = git_repo.head()
    git_repo.git("update-index", "--add", "--cacheinfo", f"160000,{sha},vendor/lib")
    git_repo.commit("gitlink only", when=f"{DAY}T10:00:00+00:00", add_all=False)
    for df in (inventory(git_repo, DAY), inventory(git_repo)):
        assert df.loc["vendor/lib", "file_type"] == "submodule"
        assert "without .gitmodules" in df.loc["vendor/lib", "notes"]


def test_blob_missing_from_the_object_store(git_repo: GitRepo) -> None:
    git_repo.write("kept.py", "x = 1\n")
    lost = git_repo.write("lost.py", "this blob will vanish\n")
    git_repo.commit("two", when=f"{DAY}T10:00:00+00:00")
    oid = git_repo.git("rev-parse", "HEAD:lost.py").strip()
    (git_repo.root / ".git" / "objects" / oid[:2] / oid[2:]).unlink()
    lost.unlink()
    df = inventory(git_repo, DAY)
    assert df.loc["lost.py", "read_status"] == "missing_blob"
    assert "missing from the object store" in df.loc["lost.py", "notes"]
    assert df.loc["kept.py", "read_status"] == "ok"


def test_changes_made_only_in_a_merge_commit_are_attributed_to_it(git_repo: GitRepo) -> None:
    git_repo.write("shared.py", "a = 1\n")
    git_repo.write("other.py", "b = 1\n")
    git_repo.commit("base", when="2024-05-01T10:00:00+00:00", author="Ann <ann@x>")
    git_repo.git("checkout", "-q", "-b", "feature")
    git_repo.write("feature.py", "f = 1\n")
    git_repo.commit("feature work", when="2024-05-02T10:00:00+00:00", author="Fay <fay@x>")
    git_repo.git("checkout", "-q", "main")
    git_repo.write("other.py", "b = 2\n")
    git_repo.commit("main work", when="2024-05-03T10:00:00+00:00", author="Ann <ann@x>")
    env = {"GIT_AUTHOR_DATE": "2024-05-04T10:00:00+00:00", "GIT_COMMITTER_DATE": "2024-05-04T10:00:00+00:00",
           "GIT_AUTHOR_NAME": "Max", "GIT_AUTHOR_EMAIL": "max@x"}  # fmt: skip
    git_repo.git("merge", "-q", "--no-ff", "--no-commit", "feature", env=env)
    git_repo.write(
        "shared.py", "a = 1\nfixed_in_merge = True\n"
    )  # an "evil merge": only the merge changes it
    git_repo.git("add", "shared.py")
    git_repo.git("commit", "-q", "-m", "merge feature", env=env)
    df = inventory(git_repo, dt.date(2024, 5, 4))
    assert df.loc["shared.py", "last_author"] == "Max <max@x>"
    assert df.loc["shared.py", "commit_count"] == 2
    assert df.loc["feature.py", "last_author"] == "Fay <fay@x>"  # not the merge's author
    assert df.loc["feature.py", "commit_count"] == 1
    assert df.loc["other.py", "last_author"] == "Ann <ann@x>"


def test_expiry_marker_and_bad_marker(git_repo: GitRepo) -> None:
    git_repo.write("scratch.py", "# Expires: 2024-07-01\nx = 1\n")
    git_repo.write("bad.py", "# Expires: 2024-13-45\nx = 1\n")
    git_repo.commit("markers", when=f"{DAY}T10:00:00+00:00")
    df = inventory(git_repo, DAY)
    assert df.loc["scratch.py", "expires"] == dt.date(2024, 7, 1)
    assert pd.isna(df.loc["bad.py", "expires"])
    assert "not a valid date" in df.loc["bad.py", "notes"]


def test_codebase_that_is_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(CodebaseUnavailable, match="'nope'.*does not exist"):
        take_snapshot(Codebase("nope", tmp_path / "missing"), TODAY)
    (tmp_path / "plain").mkdir()
    with pytest.raises(CodebaseUnavailable, match="'plain'.*not a git repository"):
        take_snapshot(Codebase("plain", tmp_path / "plain"), TODAY)


def test_exclude_globs_and_skip_dirs(git_repo: GitRepo) -> None:
    git_repo.write("keep.py", "x\n")
    git_repo.write("data/big.csv", "1,2\n")
    git_repo.write("node_modules/x/index.js", "x\n")
    git_repo.commit("c", when=f"{DAY}T10:00:00+00:00", add_all=False)
    git_repo.git("add", "keep.py", "data/big.csv")
    git_repo.commit("c2", when=f"{DAY}T11:00:00+00:00", add_all=False)
    df = inventory(git_repo, exclude=("data/*",))
    assert list(df.index) == ["keep.py"]


UNREADABLE_SCRIPT = """
import datetime as dt, os, sys
from pathlib import Path
from symphony_assets.config import Codebase
from symphony_assets.defs.inventory.assets import compute_file_inventory
from symphony_assets.resources.git import take_snapshot
os.setgid(65534); os.setuid(65534)  # after the imports: the interpreter's own files may be root-only
today = dt.datetime.now(dt.UTC).date()
df, _ = compute_file_inventory(take_snapshot(Codebase("t", Path(sys.argv[1])), today, today=today))
for row in df.itertuples():
    print(row.path, row.read_status, row.notes, sep="|")
"""


def test_unreadable_file_is_recorded() -> None:
    # Root reads everything, so the scan runs as `nobody` over a repo it can traverse,
    # with one file it cannot read.
    if os.geteuid() != 0:
        pytest.fail("this test needs root to drop to another user (CI runs as root)")
    base = Path(tempfile.mkdtemp(prefix="symphony-perm-"))
    base.chmod(0o755)
    repo = GitRepo(base / "repo")
    repo.write("open.py", "x = 1\n")
    secret = repo.write("secret.py", "y = 2\n")
    repo.commit("c")
    subprocess.run(["chmod", "-R", "a+rX", str(base)], check=True)
    secret.chmod(0o600)
    repo.git("config", "--global", "--add", "safe.directory", str(repo.root), env={"HOME": str(base)})
    env = {**os.environ, "HOME": str(base), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run(
        [sys.executable, "-c", UNREADABLE_SCRIPT, str(repo.root)], capture_output=True, env=env, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    rows = dict(line.split("|", 1) for line in out.stdout.splitlines())
    assert rows["open.py"].startswith("ok|")
    assert rows["secret.py"].startswith("unreadable|") and "Permission denied" in rows["secret.py"]


def test_non_utf8_name_is_referenced_by_its_real_bytes_and_ignored_files_do_not_refer(
    git_repo: GitRepo,
) -> None:
    git_repo.write(b"caf\xe9.py", b"x = 1\n")
    git_repo.write("loader.py", b"open('caf\xe9.py')\n")
    git_repo.write(".gitignore", "build/\n")
    git_repo.write("target.py", "y = 1\n")
    git_repo.commit("c")
    git_repo.write("build/out.txt", "target.py target.py\n")  # ignored build output naming target.py
    df = inventory(git_repo)
    assert df.loc["caf\\xe9.py", "references"] == 1
    assert df.loc["build/out.txt", "git_status"] == "ignored"
    assert df.loc["target.py", "references"] == 0


def test_our_own_home_inside_the_codebase_is_not_scanned(git_repo: GitRepo, monkeypatch) -> None:
    git_repo.write(".gitignore", "var/\n")
    git_repo.write("app.py", "x = 1\n")
    git_repo.commit("c")
    git_repo.write("var/pg/base/1/1259", b"\0live database page")
    git_repo.write("var2/notes.txt", "not ours\n")
    monkeypatch.setenv("SYMPHONY_HOME", str(git_repo.root / "var"))
    df = inventory(git_repo)
    assert "var/pg/base/1/1259" not in df.index
    assert "var2/notes.txt" in df.index


@pytest.mark.parametrize("linked", ["home", "codebase"])
def test_our_own_home_reached_through_a_symlink_is_not_scanned(
    git_repo: GitRepo, monkeypatch, tmp_path: Path, linked: str
) -> None:
    """The skip compares folder identity, so a symlinked SYMPHONY_HOME or codebase path still matches."""
    git_repo.write(".gitignore", "var/\n")
    git_repo.write("app.py", "x = 1\n")
    git_repo.commit("c")
    for n in range(30):
        git_repo.write(f"var/pg/base/1/{n}", b"\0live database page")
    link = tmp_path / f"{linked}-link"
    if linked == "home":
        os.symlink(git_repo.root / "var", link)
        monkeypatch.setenv("SYMPHONY_HOME", str(link))
        df = inventory(git_repo)
    else:
        os.symlink(git_repo.root, link)
        monkeypatch.setenv("SYMPHONY_HOME", str(git_repo.root / "var"))
        snap = take_snapshot(Codebase("t", link), TODAY, today=TODAY)
        df = compute_file_inventory(snap)[0].set_index("path")
    assert not [p for p in df.index if p.startswith("var/")]
    assert "app.py" in df.index
