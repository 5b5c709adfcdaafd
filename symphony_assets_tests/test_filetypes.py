"""File type, purpose and expiry rules, checked on real files read back from a real git repository."""

from __future__ import annotations

import os
import subprocess
from datetime import date
from pathlib import Path

import pytest

from symphony_assets.analysis.filetypes import (
    FILE_TYPES,
    PURPOSES,
    ExpiryMarker,
    classify_file,
    expiry_date,
    expiry_marker_error,
    is_binary,
    parse_expiry,
    purpose,
)
from symphony_assets_tests.gitrepo import GitRepo

MAIN_GUARD = b'def main():\n    pass\n\n\nif __name__ == "__main__":\n    main()\n'

# (path, content, expected type, expected purpose)
CASES: list[tuple[str, bytes, str, str]] = [
    ("pkg/core.py", b"import os\n", "python_module", "source"),
    ("pkg/cli.py", MAIN_GUARD, "python_script", "utility_script"),
    ("pkg/reversed.py", b"if '__main__' == __name__:\n    pass\n", "python_script", "utility_script"),
    ("pkg/shebang.py", b"#!/usr/bin/env python3\nprint(1)\n", "python_script", "utility_script"),
    ("pkg/commented.py", b"# if __name__ == '__main__':\nx = 1\n", "python_module", "source"),
    ("run", b"#!/usr/bin/env -S python3 -u\nprint(1)\n", "python_script", "utility_script"),
    ("run3", b"#!/usr/bin/python3.11\nprint(1)\n", "python_script", "utility_script"),
    ("deploy", b"#!/bin/bash\nset -e\n", "shell_script", "utility_script"),
    ("deploy-sh", b"#!/usr/bin/env sh\necho hi\n", "shell_script", "utility_script"),
    ("setup.sh", b"echo no shebang\n", "shell_script", "utility_script"),
    ("prompt.zsh", b"echo\n", "shell_script", "utility_script"),
    ("install.bash", b"echo\n", "shell_script", "utility_script"),
    ("notes", b"just words\n", "text", "other"),
    ("web/app.js", b"console.log(1)\n", "text", "source"),
    ("README", b"hello\n", "doc", "docs"),
    ("README.md", b"# Title\n", "doc", "docs"),
    ("LICENSE", b"MIT\n", "doc", "docs"),
    ("CHANGELOG.rst", b"v1\n", "doc", "docs"),
    ("guide.txt", b"read me\n", "doc", "docs"),
    ("docs/diagram.puml", b"@startuml\n", "text", "docs"),
    ("data/points.csv", b"a,b\n1,2\n", "data", "data"),
    ("data/rows.jsonl", b"{}\n", "data", "data"),
    ("data/table.parquet", b"PAR1\0\0\0PAR1", "data", "data"),
    ("arrays.npy", b"\x93NUMPY\0\0", "data", "data"),
    ("model.pkl", b"\x80\x04\0", "data", "data"),
    ("state.db", b"SQLite format 3\0", "data", "data"),
    ("local.sqlite", b"SQLite format 3\0", "data", "data"),
    ("package.json", b"{}\n", "data", "data"),
    ("settings.yaml", b"a: 1\n", "config", "config"),
    ("ci.yml", b"on: push\n", "config", "config"),
    ("pyproject.toml", b"[project]\n", "config", "config"),
    ("tox.ini", b"[tox]\n", "config", "config"),
    ("setup.cfg", b"[metadata]\n", "config", "config"),
    ("nginx.conf", b"server {}\n", "config", "config"),
    (".env", b"KEY=1\n", "config", "config"),
    (".env.local", b"KEY=2\n", "config", "config"),
    ("prod.env", b"KEY=3\n", "config", "config"),
    ("Dockerfile", b"FROM python\n", "config", "config"),
    ("Dockerfile.dev", b"FROM python\n", "config", "config"),
    ("Makefile", b"all:\n", "config", "config"),
    ("requirements-dev.txt", b"pytest\n", "config", "config"),
    (".gitignore", b"*.pyc\n", "config", "config"),
    ("logo.png", b"\x89PNG\r\n\x1a\n\0", "binary", "other"),
    ("blob", b"ELF\0\0\0", "binary", "other"),
    ("empty", b"", "text", "other"),
    # temporary_or_backup
    ("pkg/core.py.bak", b"x", "text", "temporary_or_backup"),
    ("scratch.tmp", b"x", "text", "temporary_or_backup"),
    (".core.py.swp", b"b0VIM\0", "binary", "temporary_or_backup"),
    ("core.py.orig", b"x", "text", "temporary_or_backup"),
    ("core.py~", b"x", "text", "temporary_or_backup"),
    ("db_backup.sql", b"x", "text", "temporary_or_backup"),
    ("tmp_fix.py", b"x = 1\n", "python_module", "temporary_or_backup"),
    ("temp_check.py", b"x = 1\n", "python_module", "temporary_or_backup"),
    ("loader_temp.py", b"x = 1\n", "python_module", "temporary_or_backup"),
    ("old_api.py.DEPRECATED", b"x", "text", "temporary_or_backup"),
    ("x.py.backup_1753227699", b"x = 1\n", "text", "temporary_or_backup"),
    ("x.py.1753227699", b"x = 1\n", "text", "temporary_or_backup"),
    ("report copy.md", b"x", "doc", "temporary_or_backup"),
    ("_trash_2024/core.py", b"x = 1\n", "python_module", "temporary_or_backup"),
    ("backups/settings.yaml", b"a: 1\n", "config", "temporary_or_backup"),
    ("tests/test_core.py.bak", b"x", "text", "temporary_or_backup"),
    # log
    ("server.log", b"started\n", "text", "log"),
    ("server.log.1", b"started\n", "text", "log"),
    ("logs/run.txt", b"x\n", "doc", "log"),
    # generated_or_draft
    ("ai_generated_parser.py", b"x = 1\n", "python_module", "generated_or_draft"),
    ("draft_plan.md", b"x\n", "doc", "generated_or_draft"),
    ("plan_draft_v2.md", b"x\n", "doc", "generated_or_draft"),
    ("debug_loader.py", b"x = 1\n", "python_module", "generated_or_draft"),
    ("test_output_run1.txt", b"x\n", "doc", "generated_or_draft"),
    ("output/result.csv", b"a\n", "data", "generated_or_draft"),
    ("api.generated.ts", b"x\n", "text", "generated_or_draft"),
    ("proto/msg_pb2.py", b"x = 1\n", "python_module", "generated_or_draft"),
    (
        "pkg/schema.py",
        b"# Code generated by tool. DO NOT EDIT.\nx = 1\n",
        "python_module",
        "generated_or_draft",
    ),
    # test
    ("tests/test_core.py", b"def test_x(): pass\n", "python_module", "test"),
    ("pkg/core_test.py", b"def test_x(): pass\n", "python_module", "test"),
    ("conftest.py", b"import pytest\n", "python_module", "test"),
    ("tests/fixtures/data.json", b"{}\n", "data", "test"),
    ("scripts/test_deploy.py", b"x = 1\n", "python_module", "test"),
    # utility_script by folder
    ("scripts/migrate.py", b"x = 1\n", "python_module", "utility_script"),
    ("tools/lint.cfg", b"[x]\n", "config", "utility_script"),
    ("bin/helper", b"text\n", "text", "utility_script"),
]


@pytest.fixture(scope="module")
def cases_repo(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    repo = GitRepo(tmp_path_factory.mktemp("types"))
    for path, content, _, _ in CASES:
        repo.write(path, content)
    os.symlink("README.md", repo.root / "readme-link")
    repo.commit("cases")
    return repo


@pytest.mark.parametrize(("path", "content", "file_type", "why"), CASES, ids=[c[0] for c in CASES])
def test_type_and_purpose_on_committed_files(
    cases_repo: GitRepo, path: str, content: bytes, file_type: str, why: str
) -> None:
    # Read the blob back from git, as the inventory does, so the bytes are what git stores.
    blob = subprocess.run(
        ["git", "cat-file", "blob", f"HEAD:{path}"], cwd=cases_repo.root, capture_output=True, check=True
    ).stdout
    assert blob == content
    got_type = classify_file(path, blob)
    assert got_type == file_type
    assert purpose(path, got_type, blob) == why


def test_every_type_and_purpose_is_exercised() -> None:
    types = {c[2] for c in CASES} | {"symlink", "submodule", "unknown"}
    assert types == set(FILE_TYPES)
    assert {c[3] for c in CASES} == set(PURPOSES)


def test_symlink_submodule_unknown(cases_repo: GitRepo) -> None:
    assert (cases_repo.root / "readme-link").is_symlink()
    assert classify_file("readme-link", None, is_symlink=True) == "symlink"
    assert classify_file("vendor/lib", None, is_submodule=True) == "submodule"
    # Entry kind beats the name.
    assert classify_file("vendor/lib.py", b"x", is_submodule=True) == "submodule"
    # Unreadable: the name still decides when it can, otherwise unknown.
    assert classify_file("mystery", None) == "unknown"
    assert classify_file("pkg/a.py", None) == "python_module"
    assert classify_file("a.yaml", None) == "config"
    assert purpose("mystery", "unknown", None) == "other"
    assert purpose("readme-link", "symlink", None) == "other"


def test_is_binary_like_git(tmp_path: Path) -> None:
    assert is_binary(b"a\0b")
    assert not is_binary(b"plain \xff\xfe text")
    assert not is_binary(b"x" * 8000 + b"\0")  # NUL after the first 8000 bytes: text, as in git
    assert is_binary(b"x" * 7999 + b"\0")
    repo = GitRepo(tmp_path / "bin")
    repo.write("late.dat", b"x" * 8000 + b"\0")
    repo.write("early.dat", b"x" * 7999 + b"\0")
    repo.commit("nul")
    numstat = repo.git("diff", "--numstat", "4b825dc642cb6eb9a060e54bf8d69288fbee4904", "HEAD")
    git_binary = {line.split("\t")[2] for line in numstat.splitlines() if line.startswith("-\t-\t")}
    assert git_binary == {"early.dat"}


def test_non_utf8_and_odd_content_never_raises() -> None:
    for content in (b"\xff\xfe\x00\x01", b"#!\n", b"#!   \n", b"#!/usr/bin/env\n", b"\x80" * 100, b""):
        file_type = classify_file("weird", content)
        assert file_type in FILE_TYPES
        assert purpose("weird", file_type, content) in PURPOSES
        assert expiry_date(content) is None
    assert classify_file("weird", b"#!/usr/bin/env\n") == "text"


EXPIRES = "Exp" + "ires"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (f"# {EXPIRES}: 2025-03-01\nx = 1\n", date(2025, 3, 1)),
        (f"// {EXPIRES.lower()}: 2025-03-01\n", date(2025, 3, 1)),
        (f"<!-- {EXPIRES.upper()}:2030-12-31 -->\n", date(2030, 12, 31)),
        (f"-- {EXPIRES}:   2026-01-15 (remove after the migration)\n", date(2026, 1, 15)),
        (f'"""{EXPIRES}: 2026-02-28"""\n', date(2026, 2, 28)),
        (f"{EXPIRES}: 2026-02-28\n", date(2026, 2, 28)),
        (f"1\n2\n3\n4\n# {EXPIRES}: 2027-07-07\n", date(2027, 7, 7)),
        (f"\ufeff# {EXPIRES}: 2027-07-07\n", date(2027, 7, 7)),
        (f"1\n2\n3\n4\n5\n# {EXPIRES}: 2027-07-07\n", None),  # line 6: outside the first 5
        (f"# this file {EXPIRES.lower()}: 2027-07-07\n", None),  # prose, not a marker
        ("# nothing here\n", None),
    ],
)
def test_expiry_date(content: str, expected: date | None) -> None:
    data = content.encode("utf-8")
    assert expiry_date(data) == expected
    assert expiry_marker_error(data) is None


@pytest.mark.parametrize(
    "value", ["2025-02-30", "2025-13-01", "2025-1-5", "soon", "", "20250101", "2025-01-011"]
)
def test_bad_expiry_marker(value: str) -> None:
    data = f"# {EXPIRES}: {value}\nx = 1\n".encode()
    assert expiry_date(data) is None
    error = expiry_marker_error(data)
    assert error is not None and "expiry marker" in error
    marker = parse_expiry(data)
    assert isinstance(marker, ExpiryMarker) and marker.date is None and marker.raw == value


def test_expiry_first_marker_wins_and_none_content() -> None:
    data = f"# {EXPIRES}: 2025-01-01\n# {EXPIRES}: 2026-01-01\n".encode()
    assert expiry_date(data) == date(2025, 1, 1)
    assert parse_expiry(None) is None
    assert expiry_date(None) is None
    assert expiry_marker_error(None) is None
    assert expiry_date(f"# {EXPIRES}: 2025-01-01\n".encode() + b"\xff\xfe\n") == date(2025, 1, 1)


def test_backslash_is_part_of_a_name_not_a_separator() -> None:
    # The git layer shows undecodable bytes as "\xe9"; that must not become a folder "caf/".
    assert purpose("scripts\\xe9/notes.txt", "doc", b"x") == "docs"
    assert purpose("caf\\xe9.py", "python_module", b"x = 1\n") == "source"
    assert purpose("tmp\\old.py", "python_module", b"x = 1\n") == "source"
