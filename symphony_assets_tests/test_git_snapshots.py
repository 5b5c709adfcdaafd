"""A range's snapshots, each built from the day before by ``git diff-tree``, equal every day listed alone
(``take_snapshot``): the same commit, the same files in the same order, symlink targets, exclusions and
a sub-folder codebase included."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from symphony_assets.config import Codebase
from symphony_assets.resources import git
from symphony_assets.resources.git import Snapshot, take_snapshot, take_snapshots
from symphony_assets_tests.gitrepo import GitRepo

FIRST = dt.date(2024, 6, 3)
DAYS = [FIRST + dt.timedelta(days=n) for n in range(-2, 12)]  # two days before the first commit


def _at(day: int) -> str:
    return f"{FIRST + dt.timedelta(days=day)}T12:00:00+00:00"


def _history(root: Path) -> GitRepo:
    """Adds, edits, deletions, a rename, symlinks (added, retargeted, replacing a file), a submodule,
    names whose byte order tests git's tree order, and names with odd bytes; days without commits."""
    repo = GitRepo(root)
    names = ["a-b", "a.py", "a/x.py", "a0", "pkg/mod.py", "pkg.py", "pkg-old/z.py", "sub dir/t.txt"]
    for name in names:
        repo.write(name, f"# {name}\n")
    repo.write(b"odd/caf\xe9.py", b"x = 1\n")
    repo.write("-lead.py", "y = 2\n")
    repo.write("tab\tname.py", "z = 3\n")
    repo.write("build/generated.py", "skip = 1\n")
    repo.commit("day 0", _at(0))
    # day 1: no commit
    repo.write("a.py", "# edited\n")
    repo.remove("a0")
    os.symlink("a.py", repo.root / "link.py")
    repo.commit("day 2", _at(2))
    repo.git("mv", "pkg/mod.py", "pkg/renamed.py")
    repo.write("pkg/new/deep.py", "import os\n")
    (repo.root / "link.py").unlink()
    os.symlink("pkg.py", repo.root / "link.py")
    repo.write("build/generated.py", "skip = 2\n")
    repo.commit("day 3", _at(3))
    repo.commit("day 3, again", _at(3).replace("12:00", "15:00"))  # an empty commit the same day
    repo.remove("a-b")
    os.symlink("a.py", repo.root / "a-b")  # a file replaced by a symlink (a type change)
    sub = repo.head()
    repo.git("add", "-A")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{sub},vendor/lib")
    repo.commit("day 5", _at(5), add_all=False)
    # a commit dated before its parent (a machine's clock behind): git's walk order decides the day
    repo.write("skewed.py", "s = 1\n")
    repo.git("add", "-A", "--", ":!vendor")  # the submodule has no work tree here: keep its entry
    repo.commit("skewed", _at(4), add_all=False)
    repo.write(b"odd/caf\xe9.py", b"x = 2\n")
    repo.remove("pkg-old/z.py")
    repo.write("a/x.py", "# moved on\n")
    repo.git("add", "-A", "--", ":!vendor")  # the submodule has no work tree here: keep its entry
    repo.commit("day 8", _at(8), add_all=False)
    # the working tree differs from the last commit: only a live day (today) may see it
    repo.write("uncommitted.py", "w = 1\n")
    return repo


def _fields(snapshot: Snapshot) -> tuple[object, ...]:
    return (
        snapshot.day,
        snapshot.commit,
        snapshot.commit_time,
        snapshot.live,
        snapshot.files,
        snapshot.max_read_bytes,
    )


@pytest.mark.parametrize("root", ["", "pkg"])
def test_each_day_built_from_the_day_before_equals_the_day_listed_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, root: str
) -> None:
    repo = _history(tmp_path / "repo")
    path = repo.root / root if root else repo.root
    codebase = Codebase("t", path, exclude=("build/*",), root=root)
    today = DAYS[-1]  # the last day is live: it reads the working tree
    listed: list[str] = []
    real = git.Repo.tree_entries

    def spy(self: git.Repo, commit: str) -> list[git.FileEntry]:
        listed.append(commit)
        return real(self, commit)

    monkeypatch.setattr(git.Repo, "tree_entries", spy)
    ranged = take_snapshots(codebase, reversed(DAYS), today=today)
    assert len(listed) == 1  # the first day with a commit; every later past day came from its diff
    skewed = "skewed.py" in [e.path for e in ranged[FIRST + dt.timedelta(4)].files]
    assert skewed == (not root)  # day 4 sees the commit dated day 4, although it came after day 5
    assert list(ranged) == DAYS
    alone = {day: take_snapshot(codebase, day, today=today) for day in DAYS}
    for day in DAYS:
        assert _fields(ranged[day]) == _fields(alone[day]), day
    files = {day: [e.path for e in alone[day].files] for day in DAYS}
    assert files[DAYS[0]] == [] and ranged[DAYS[0]].commit is None
    if not root:
        assert any(
            e.kind == "symlink" and e.link_target == "pkg.py" for e in ranged[FIRST + dt.timedelta(3)].files
        )
        assert any(e.kind == "submodule" for e in ranged[FIRST + dt.timedelta(5)].files)
        assert "odd/caf\\xe9.py" in files[FIRST] and "build/generated.py" not in files[FIRST]
        assert "uncommitted.py" in files[today] and "uncommitted.py" not in files[today - dt.timedelta(1)]
    else:
        assert files[FIRST + dt.timedelta(3)] == ["new/deep.py", "renamed.py"]
