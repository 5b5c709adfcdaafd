"""A day of ``file_inventory`` built from the day before equals the day built alone (issue 11).

Each part is checked on its own: who-mentions-whom updated file by file against counting afresh, over
random sequences of trees; the per-path history read from the commits since against the whole
``git log`` (and the fall back to it for merges and clock skew); and the whole day's rows over a real
repository with churn of every kind, where the day-over-day build must read fewer files.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from symphony_assets.analysis.references import ReferenceIndex, count_references
from symphony_assets.config import Codebase
from symphony_assets.resources import git as git_module
from symphony_assets.resources import inventory as inventory_module
from symphony_assets.resources.git import Repo, take_snapshot
from symphony_assets.resources.inventory import inventory_day
from symphony_assets_tests.gitrepo import GitRepo

FAR_FUTURE = dt.date(2100, 1, 1)

NAMES = [
    "app/util.py", "lib/util.py", "app/__init__.py", "lib/__init__.py", "run.sh", "README.md",
    "cfg/agents.yaml", "notes.txt", "data.bin", "a-b.c", "x.py", "tools/x.py", "caf\udce9.py",
    "deep/er/mod_2.py", "odd name.txt", "v1.2.3.tar.gz",
]  # fmt: skip
WORDS = [
    b"util", b"util.py", b"x", b"x.py", b"run.sh", b"README", b"README.md", b"agents.yaml", b"app",
    b"lib", b"mod_2", b"a-b.c", b"caf\xe9.py", b"1.2", b"v1.2.3.tar.gz", b"tar", b"gz", b"_util",
    b"utility", b"notes.txt", b"odd name.txt", b"name",
]  # fmt: skip


def _content(rng: random.Random) -> bytes | None:
    roll = rng.random()
    if roll < 0.08:
        return None  # unreadable or too large: a target, never a referrer
    if roll < 0.14:
        return b"\0binary " + rng.choice(WORDS)  # binary: never a referrer
    seps = [b" ", b"\n", b".", b"/", b"-", b"(", b"", b"_", b"\xe9"]
    return b"".join(rng.choice(WORDS) + rng.choice(seps) for _ in range(rng.randint(0, 12)))


def test_reference_index_updated_day_by_day_equals_counting_afresh() -> None:
    rng = random.Random(11)
    for _sequence in range(40):
        tree = {name: _content(rng) for name in rng.sample(NAMES, rng.randint(1, len(NAMES)))}
        index = ReferenceIndex.build(list(tree.items()))
        assert index.counts(list(tree)) == count_references(list(tree.items()))
        for _day in range(8):
            before = dict(tree)
            for name in rng.sample(NAMES, rng.randint(0, 5)):
                if name in tree and rng.random() < 0.4:
                    del tree[name]
                else:
                    tree[name] = _content(rng)
            changed = [(p, c) for p, c in tree.items() if p not in before or before[p] != c]
            asked: list[set[str]] = []

            def read_others(
                paths: set[str], tree: dict[str, bytes | None] = tree, asked: list[set[str]] = asked
            ) -> list[tuple[str, bytes]]:
                asked.append(paths)
                return [(p, c) for p in sorted(paths) if (c := tree[p]) is not None]

            index.update(list(tree), changed, read_others)
            assert index.counts(list(tree)) == count_references(list(tree.items())), (before, tree)
            if set(tree) <= set(before):  # the others are read only when the tree has a new name
                assert not asked


def _history_repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "repo")
    repo.write("a.py", "1\n")
    repo.write("sub/b.py", "1\n")
    repo.commit("one", when="2024-06-01T10:00:00+00:00", author="Ann <ann@example.com>")
    repo.write("a.py", "2\n")
    repo.commit("two", when="2024-06-02T10:00:00+00:00", author="Bob <bob@example.com>")
    return repo


def _merge_a_side_branch(repo: GitRepo, path: str, day: str) -> str:
    """A branch adding ``path``, a commit on main meanwhile, and their merge, all on ``day``."""
    repo.git("checkout", "-q", "-b", "side")
    repo.write(path, "s\n")
    repo.commit("side", when=f"{day}T11:00:00+00:00", author="Eve <eve@example.com>")
    repo.git("checkout", "-q", "main")
    repo.write("a.py", "main\n")
    repo.commit("main", when=f"{day}T12:00:00+00:00")
    env = {"GIT_COMMITTER_DATE": f"{day}T13:00:00+00:00", "GIT_AUTHOR_DATE": f"{day}T13:00:00+00:00"}
    repo.git("merge", "-q", "--no-ff", "-m", "merge", "side", env=env)
    return repo.head()


def _spy_full_passes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = Repo.log_pass

    def spy(self: Repo, commit: str) -> git_module.PathHistory:
        calls.append(commit)
        return real(self, commit)

    monkeypatch.setattr(Repo, "log_pass", spy)
    return calls


@pytest.mark.parametrize("subdir", ["", "sub"])
def test_history_from_the_commits_since_equals_the_whole_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, subdir: str
) -> None:
    """A chain of new commits on top of a history with a merge in it, one of them dated before
    everything else (a skewed clock), an empty one, a deletion: only the new commits are read."""
    repo = _history_repo(tmp_path)
    base_commit = _merge_a_side_branch(repo, "sub/side.py", "2024-06-02")
    repo.write("sub/b.py", "2\n")
    repo.write("c.py", "new\n")
    repo.commit("three", when="2024-06-03T10:00:00+00:00", author="Cy <cy@example.com>")
    repo.write("sub/side.py", "skewed\n")
    repo.commit("skewed", when="2024-05-01T10:00:00+00:00", author="Old <old@example.com>")
    repo.commit("empty", when="2024-06-03T11:00:00+00:00")
    repo.write("a.py", "3\n")
    repo.write("sub/b.py", "3\n")
    repo.remove("c.py")
    tip = repo.commit("four", when="2024-06-04T10:00:00+00:00", author="Di <di@example.com>")
    git = Repo(repo.root, "t", subdir)
    base = git.log_pass(base_commit)
    full = git.log_pass(tip)
    calls = _spy_full_passes(monkeypatch)
    after = git.log_pass_after(base, tip)
    assert calls == []  # a chain of new commits: only they were read
    assert (after.commit, after.files) == (tip, full.files)
    assert git.log_pass_after(after, tip) is after
    assert full.files[b"sub/side.py" if not subdir else b"side.py"].last_author == "Old <old@example.com>"


def test_history_after_a_merge_reads_the_whole_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _history_repo(tmp_path)
    base_commit = repo.head()
    git = Repo(repo.root, "t")
    base = git.log_pass(base_commit)
    merged = _merge_a_side_branch(repo, "side.py", "2024-06-03")
    full = git.log_pass(merged)
    calls = _spy_full_passes(monkeypatch)
    after = git.log_pass_after(base, merged)
    assert calls == [merged]  # a merge among the new commits: the whole log
    assert after.files == full.files


def _inventory_repo(tmp_path: Path) -> tuple[GitRepo, list[dt.date]]:
    """Five days: names that appear after the files naming them, same basenames, a rename, a deletion,
    a symlink retargeted, a binary file, one too large to read, an odd byte in a name, an expiry marker."""
    repo = GitRepo(tmp_path / "repo")
    day = dt.date(2024, 7, 1)
    days = []

    def commit(n: int) -> None:
        days.append(day + dt.timedelta(days=n))
        repo.commit(f"day {n}", when=f"{days[-1]}T12:00:00+00:00")

    repo.write("app/main.py", "import helper\nfrom app import later_mod\n# see notes.txt and run.sh\n")
    repo.write("app/util.py", "def f():\n    return 1\n")
    repo.write("lib/util.py", "# util.py twin\n")
    repo.write("notes.txt", "Expires: 2024-09-01\nmentions util.py and big.json\n")
    repo.write("big.json", b"[" + b"1," * 40_000 + b"1]")
    repo.write("blob.bin", b"\0\1 helper.py later_mod")
    repo.write(b"odd\xff.txt", b"names notes.txt")
    (repo.root / "link").symlink_to("notes.txt")
    commit(0)
    repo.write("app/helper.py", "X = 1  # named by app/main.py before it existed\n")
    commit(1)
    repo.write("app/later_mod.py", "Y = 2\n")
    repo.remove("lib/util.py")
    (repo.root / "link").unlink()
    (repo.root / "link").symlink_to("missing.txt")
    commit(2)
    repo.git("mv", "app/util.py", "app/renamed.py")
    repo.write("run.sh", "#!/bin/sh\npython app/renamed.py\n")
    repo.write("notes.txt", "Expires: someday\nmentions renamed.py and added_late.py\n")
    commit(3)
    repo.commit("nothing changed", when=f"{days[-1]}T13:00:00+00:00")
    days.append(days[-1] + dt.timedelta(days=1))
    repo.write("blob.bin", b"\0\2 run.sh")
    repo.write("tools/added_late.py", "Z = 3  # named only by notes.txt as it was changed on day 3\n")
    commit(5)
    return repo, days


@pytest.mark.parametrize("carried_bytes", [inventory_module.CARRIED_TEXT_BYTES, 40, 0])
def test_a_day_built_from_the_day_before_equals_the_day_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, carried_bytes: int
) -> None:
    """With every referrer's text carried to the next day, some (the rest read from git), or none."""
    monkeypatch.setattr(inventory_module, "CARRIED_TEXT_BYTES", carried_bytes)
    repo, days = _inventory_repo(tmp_path)
    codebase = Codebase("t", repo.root)
    carry = None
    total_read = total_files = 0
    for day in days:
        snapshot = take_snapshot(codebase, day, today=FAR_FUTURE, max_read_bytes=50_000)
        alone = inventory_day(snapshot)
        chained = inventory_day(take_snapshot(codebase, day, today=FAR_FUTURE, max_read_bytes=50_000), carry)
        assert chained.rows == alone.rows, day
        assert alone.files_read == len(alone.rows)
        total_read += chained.files_read
        total_files += len(chained.rows)
        carry = chained.carry
    assert total_read < total_files / 2  # the later days read only what changed
    last = {r["path"]: r for r in alone.rows}
    # Named by app/main.py, unchanged since day 0, before they existed (and by a binary: not counted).
    assert last["app/helper.py"]["module_references"] == 1
    assert last["app/later_mod.py"]["module_references"] == 1
    assert last["run.sh"]["references"] == 1
    assert last["tools/added_late.py"]["references"] == 1
    assert last["big.json"]["read_status"] == "too_large"
    assert last["link"]["read_status"] == "dangling"
    assert last["notes.txt"]["expires"] is None and "someday" in str(last["notes.txt"]["notes"])
