"""The transient-file registry: decorator, context manager, concurrency, corruption."""

from __future__ import annotations

import json
import multiprocessing
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from symphony_assets.lifecycle import (
    REGISTRY_NAME,
    RegistryCorrupt,
    load_registry,
    remove_entries,
    transient_file,
    transient_files,
)
from symphony_assets_tests.gitrepo import GitRepo


@pytest.fixture()
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "repo")


def test_decorator_records_returned_path_relative_to_git_root(repo: GitRepo) -> None:
    out = repo.root / "out" / "sub"
    out.mkdir(parents=True)

    @transient_file(lifetime_hours=2)
    def make(name: str) -> Path:
        p = out / name
        p.write_text("x")
        return p

    before = datetime.now(UTC)
    result = make("tmp_a.csv")
    assert result == out / "tmp_a.csv"  # the caller still gets its value
    reg = load_registry(repo.root)
    entry = reg["out/sub/tmp_a.csv"]
    assert (
        entry.creator == f"{__name__}:test_decorator_records_returned_path_relative_to_git_root.<locals>.make"
    )
    assert entry.pid == os.getpid()
    assert entry.created is not None and entry.expires is not None
    assert before <= entry.created <= datetime.now(UTC)
    assert entry.expires - entry.created == timedelta(hours=2)


def test_decorator_without_arguments_and_with_several_paths(repo: GitRepo) -> None:
    @transient_file
    def make_many() -> list[str]:
        paths = []
        for i in range(3):
            p = repo.root / f"tmp_{i}.txt"
            p.write_text(str(i))
            paths.append(str(p))
        return paths

    make_many()
    reg = load_registry(repo.root)
    assert sorted(reg) == ["tmp_0.txt", "tmp_1.txt", "tmp_2.txt"]
    entry = reg["tmp_0.txt"]
    assert entry.expires is not None and entry.created is not None
    assert entry.expires - entry.created == timedelta(hours=24)


def test_context_manager_records_immediately_with_caller_as_creator(repo: GitRepo) -> None:
    with transient_files(lifetime_hours=0.5) as register:
        p = repo.write("scratch/debug_1.json", "{}")
        assert register(p) == "scratch/debug_1.json"
        # Already on disk before the block ends: a crash now would lose nothing.
        raw = json.loads((repo.root / REGISTRY_NAME).read_text())
        assert "scratch/debug_1.json" in raw["files"]
    entry = load_registry(repo.root)["scratch/debug_1.json"]
    assert entry.creator == (f"{__name__}:test_context_manager_records_immediately_with_caller_as_creator")


def test_paths_outside_the_root_are_skipped(repo: GitRepo, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("x")
    with transient_files(root=repo.root) as register:
        assert register(outside) is None
    assert load_registry(repo.root) == {}


def test_explicit_root(tmp_path: Path) -> None:
    root = tmp_path / "plain"  # no .git: root given by hand
    root.mkdir()

    @transient_file(lifetime_hours=1, root=root)
    def make() -> Path:
        p = root / "tmp_x"
        p.write_text("x")
        return p

    make()
    assert list(load_registry(root)) == ["tmp_x"]


def test_reregistering_replaces_and_remove_entries(repo: GitRepo) -> None:
    with transient_files(lifetime_hours=1) as register:
        register(repo.write("a.tmp", "1"))
        register(repo.write("b.tmp", "1"))
    with transient_files(lifetime_hours=5) as register:
        register(repo.root / "a.tmp")
    reg = load_registry(repo.root)
    assert reg["a.tmp"].expires is not None and reg["a.tmp"].created is not None
    assert reg["a.tmp"].expires - reg["a.tmp"].created == timedelta(hours=5)
    assert remove_entries(repo.root, ["a.tmp", "nope"]) == 1
    assert sorted(load_registry(repo.root)) == ["b.tmp"]


@pytest.mark.parametrize("content", [b"{not json", b"", b"[1, 2]", b'{"files": []}', b"\xff\xfe\x00"])
def test_corrupt_registry_is_reported_and_never_overwritten(repo: GitRepo, content: bytes) -> None:
    path = repo.root / REGISTRY_NAME
    path.write_bytes(content)
    with pytest.raises(RegistryCorrupt) as info:
        load_registry(repo.root)
    assert info.value.path == path and info.value.error
    with pytest.raises(RegistryCorrupt), transient_files() as register:
        register(repo.write("tmp_new", "x"))
    assert path.read_bytes() == content


def _writer(root: str, worker: int, count: int) -> None:
    for i in range(count):
        p = Path(root) / "w" / f"tmp_{worker}_{i}.txt"
        p.write_text("x")
        with transient_files(lifetime_hours=1, root=root) as register:
            register(p)


def test_concurrent_processes_lose_no_entries(repo: GitRepo) -> None:
    (repo.root / "w").mkdir()
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_writer, args=(str(repo.root), w, 50)) for w in range(4)]
    for proc in workers:
        proc.start()
    for proc in workers:
        proc.join(120)
        assert proc.exitcode == 0
    reg = load_registry(repo.root)
    expected = {f"w/tmp_{w}_{i}.txt" for w in range(4) for i in range(50)}
    assert set(reg) == expected
    assert len({e.pid for e in reg.values()}) == 4
    # No temp files left behind by the atomic writes.
    assert [p.name for p in repo.root.iterdir() if p.name.startswith(REGISTRY_NAME + ".")] == [
        REGISTRY_NAME + ".lock"
    ]
