"""count_references against the real ``git grep -lwF`` on real repositories with awkward names."""

from __future__ import annotations

import os
import random
import re
import subprocess
from pathlib import Path

import pytest

from symphony_assets.analysis.references import (
    ReferenceCount,
    contains_word,
    count_references,
    module_name,
    word_tokens,
)
from symphony_assets_tests.gitrepo import GitRepo


def git_grep_listed(root: Path, name: str) -> set[str]:
    """The tracked text files ``git grep -I -lwF <name>`` lists (``-I``: binary files never refer)."""
    out = subprocess.run(
        ["git", "grep", "-z", "-I", "-l", "-w", "-F", "-e", name],
        cwd=root,
        capture_output=True,
        check=False,
    )
    assert out.returncode in (0, 1), out.stderr
    return {os.fsdecode(p) for p in out.stdout.split(b"\0") if p}


def git_grep_count(root: Path, path: str) -> int:
    """How many tracked files other than ``path`` mention its basename, per git."""
    return len(git_grep_listed(root, path.rsplit("/", 1)[-1]) - {path})


def snapshot(repo: GitRepo) -> list[tuple[str, bytes | None]]:
    """What the inventory hands in: regular tracked files with their bytes, symlinks as None."""
    files: list[tuple[str, bytes | None]] = []
    for rel in repo.ls_tree():
        full = repo.root / rel
        files.append((rel, None if full.is_symlink() else full.read_bytes()))
    return files


TRICKY: dict[str, bytes] = {
    "a-b.py": b"print('a-b')\n",
    "pkg/__init__.py": b"",
    "pkg/util.py": b"import os\n",
    "pkg/utils.py": b"from pkg import util\n# see xutils.py utils.py for the rest\n",
    "other/utils.py": b"# a second utils.py, shares the basename\n",
    "xutils.py": b"pass\n",
    ".env": b"KEY=1\n",
    ".gitignore": b"*.pyc\n# .env is tracked on purpose\n",
    "x.y.z.txt": b"nothing\n",
    "x.y.txt": b"x.y.z.txt is a longer name; x.yztxt is not a match\n",
    "my file.py": b"pass\n",
    "lonely.py": b"# lonely.py talks about lonely.py only\n",
    "README.md": (
        b"Run a-b.py (not a-b.pyx, not xa-b.py) and read x.y.z.txt.\n"
        b"my file.py is fine; my  file.py is not.\n"
        b"utils.pyc is not utils.py_backup; util.py.\n"
        b"config lives in foo/.env, not x.env; .env.local counts too\n"
    ),
    "docs/notes.rst": b"x.env .env on one line: the retry must find the second\n",
    "latin1.txt": b"caf\xe9 \xff\xfeutils.py\xff and \xe9lonely.py\xe9\n",
    "bad-utf8.md": b"\x80\x81 a-b.py\x80 .gitignore\xff\n",
    "-dash.txt": b"starts with a dash\n",
    "refs-dash.txt": b"see -dash.txt and x-dash.txt\n",
    "+++": b"a name with no word character\n",
    "plus.txt": b"diff header +++ here, and a+++ there\n",
    "prefix.md": b"utils.py_old xutils.py\n",
    "crlf.txt": b"utils.py\r\nx.y.z.txt\r\n",
    "blob.bin": b"\0\0binary mentions utils.py and README.md\n",
    "end.txt": b"no newline at the end: lonely.py",
    "start.txt": b"util.py starts the line",
    "underscore.txt": b"_utils.py and utils.py_ and 9utils.py are not matches\n",
    "app/main.py": b"import pkg\nfrom pkg.utils import thing\nimport util\n",
}


@pytest.fixture(scope="module")
def tricky_repo(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    repo = GitRepo(tmp_path_factory.mktemp("tricky"))
    for rel, content in TRICKY.items():
        repo.write(rel, content)
    os.symlink("README.md", repo.root / "link.md")
    repo.write(b"caf\xe9.txt", b"a file name that is not UTF-8\n")
    repo.write("latin-name-ref.txt", b"see caf\xe9.txt, not xcaf\xe9.txt\n")
    repo.commit("tricky names")
    return repo


def test_counts_equal_git_grep_on_tricky_names(tricky_repo: GitRepo) -> None:
    files = snapshot(tricky_repo)
    assert len(files) == len(TRICKY) + 3
    counts = count_references(files)
    expected = {path: git_grep_count(tricky_repo.root, path) for path, _ in files}
    assert {p: c.references for p, c in counts.items()} == expected
    # The fixture is only useful if it exercises both matches and non-matches.
    assert sum(expected.values()) > 10
    assert any(v == 0 for v in expected.values())


def test_specific_tricky_cases(tricky_repo: GitRepo) -> None:
    counts = count_references(snapshot(tricky_repo))
    # pkg/utils.py's line "xutils.py utils.py" matches only through git's retry after a failed match;
    # both utils.py files name utils.py, so each counts for the other but never for itself.
    assert counts["pkg/utils.py"].references == 3  # other/utils.py, latin1.txt, crlf.txt
    assert counts["other/utils.py"].references == 3  # pkg/utils.py, latin1.txt, crlf.txt
    # util.py is a prefix of utils.py: mentions of utils.py must not count for it.
    assert counts["pkg/util.py"].references == 2  # README.md, start.txt
    # A file that mentions only itself has no references.
    assert counts["lonely.py"].references == 2  # latin1.txt, end.txt
    assert counts["x.y.z.txt"].references == 3  # x.y.txt, README.md, crlf.txt
    assert counts[".env"].references == 3  # .gitignore, README.md, docs/notes.rst
    assert counts["+++"].references == 1  # plus.txt
    assert counts["-dash.txt"].references == 1  # refs-dash.txt; x-dash.txt is not a word match
    # Binary blob.bin is skipped as a referrer; a symlink (content None) still gets counted as a target.
    assert counts["link.md"].references == 0
    assert counts["README.md"].references == 0
    # A non-UTF-8 file name, passed as git's bytes decoded with surrogateescape (os.fsdecode).
    assert counts[os.fsdecode(b"caf\xe9.txt")].references == 1


def test_module_references(tricky_repo: GitRepo) -> None:
    counts = count_references(snapshot(tricky_repo))
    # "import pkg" (app/main.py) and "from pkg import util" (pkg/utils.py) name the package.
    assert counts["pkg/__init__.py"] == ReferenceCount(references=0, module_references=2)
    # "import util" (app/main.py) and "from pkg import util" (pkg/utils.py) name util.
    assert counts["pkg/util.py"].module_references == 4
    # my file.py has no importable name: module references are the basename references.
    assert counts["my file.py"].module_references == counts["my file.py"].references
    assert counts["a-b.py"].module_references == counts["a-b.py"].references


def test_module_name() -> None:
    assert module_name("pkg/utils.py") == "utils"
    assert module_name("pkg/sub/__init__.py") == "sub"
    assert module_name("__init__.py") is None
    assert module_name("stubs/thing.pyi") == "thing"
    assert module_name("a-b.py") is None
    assert module_name("README.md") is None


def test_contains_word_retry_semantics() -> None:
    assert contains_word(b"xutils.py utils.py", b"utils.py")
    assert not contains_word(b"xutils.py utils.pyc", b"utils.py")
    assert contains_word(b"(utils.py)", b"utils.py")
    assert contains_word(b"utils.py", b"utils.py")
    assert not contains_word(b"utils.py_", b"utils.py")
    assert contains_word(b"x.env .env", b".env")
    assert not contains_word(b"x.env", b".env")
    assert contains_word(b"\xe9.env\xff", b".env")  # bytes >= 0x80 are not word characters for git
    assert not contains_word(b"anything", b"")


def test_word_tokens_equal_regex_tokens() -> None:
    rng = random.Random(5)
    for _ in range(200):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(300)))
        assert word_tokens(data) == set(re.findall(rb"[A-Za-z0-9_]+", data))


def test_unreadable_and_empty_inputs() -> None:
    assert count_references([]) == {}
    counts = count_references([("a.py", None), ("b.py", b"a.py"), ("c.txt", b"b.py\0")])
    assert counts["a.py"] == ReferenceCount(1, 1)
    assert counts["b.py"] == ReferenceCount(0, 0)  # c.txt is binary: not a referrer
    assert counts["c.txt"] == ReferenceCount(0, 0)


def test_generated_repo_equals_git_grep(tmp_path: Path) -> None:
    """A few hundred random files mixing names and text: every count must equal git grep's."""
    rng = random.Random(1234)
    repo = GitRepo(tmp_path / "rand")
    stems = ["util", "utils", "a-b", "x.y", "core", "my file", ".env", "io", "_priv", "ö"]
    exts = [".py", ".txt", ".md", "", ".cfg"]
    names = sorted({rng.choice(stems) + rng.choice(exts) for _ in range(200)} - {""})
    seps = [" ", "x", ".", "-", "_", "\n", "/", "(", "9", "\xe9", "\t"]
    paths = [f"d{i % 7}/{name}" for i, name in enumerate(names)] + [f"top{i}.txt" for i in range(150)]
    for path in paths:
        parts = []
        for _ in range(rng.randint(0, 12)):
            parts.append(rng.choice(seps))
            parts.append(rng.choice(names))
        parts.append(rng.choice(seps))
        repo.write(path, "".join(parts).encode("latin-1", "replace"))
    repo.commit("random")
    files = snapshot(repo)
    counts = count_references(files)
    listed = {base: git_grep_listed(repo.root, base) for base in {p.rsplit("/", 1)[-1] for p, _ in files}}
    expected = {path: len(listed[path.rsplit("/", 1)[-1]] - {path}) for path, _ in files}
    assert {p: c.references for p, c in counts.items()} == expected
    assert sum(expected.values()) > 100
