"""Cold blobs analysed in a process pool give exactly what the serial path gives (issue 11)."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any

import pytest

from symphony_assets.analysis.complexity import DEFAULT_MAX_BYTES
from symphony_assets.config import Codebase
from symphony_assets.defs.duplicates.compare import Params, _signature_result
from symphony_assets.defs.ports.assets import ports_of
from symphony_assets.defs.security.assets import scan_blob
from symphony_assets.resources import cache as cache_module
from symphony_assets.resources.cache import POOL_MIN_BLOBS, AnalysisCache, analyse_files
from symphony_assets.resources.git import take_snapshot
from symphony_assets.resources.python_facts import facts_fn
from symphony_assets_tests.gitrepo import GitRepo

DAY = dt.date(2024, 6, 1)


def _repo(root: Path) -> GitRepo:
    repo = GitRepo(root)
    for n in range(POOL_MIN_BLOBS + 60):
        body = f"import pkg.mod_{(n + 1) % 50}\nimport zmq\nsock.bind('tcp://*:{5000 + n % 7}')\n"
        if n % 4 == 0:
            body += "print 'python 2'\n"  # a quarter do not parse
        if n % 9 == 0:
            body = "import os\n"  # duplicate blobs: analysed once
        repo.write(f"pkg/mod_{n}.py", body)
    repo.commit("many", when="2024-05-31T12:00:00+00:00")
    return repo


def test_pooled_results_equal_serial_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pooled_calls: list[int] = []
    real = cache_module._analyse_pooled

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        pooled_calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(cache_module, "_analyse_pooled", spy)
    repo = _repo(tmp_path / "repo")
    snap = take_snapshot(Codebase("pool", repo.root), DAY, today=dt.date(2030, 1, 1))
    entries = [e for e in snap.files if e.path.endswith(".py")]
    analysers = (
        ("python facts", facts_fn(DEFAULT_MAX_BYTES)),  # imports, ports and code from one parse
        ("ports", functools.partial(ports_of)),
        ("security", scan_blob),  # bandit in the workers
        ("duplicates", functools.partial(_signature_result, params=Params(0.8, 5, 30, 64))),
    )
    for name, fn in analysers:
        serial, s_stats = analyse_files(snap, entries, AnalysisCache(None), name, "t", fn, workers=1)
        pooled, p_stats = analyse_files(snap, entries, AnalysisCache(None), name, "t", fn, workers=2)
        assert list(pooled) == list(serial) and pooled == serial, name
        assert (p_stats.analysed, p_stats.reused) == (s_stats.analysed, s_stats.reused), name
        assert s_stats.reused > 0 and s_stats.analysed >= POOL_MIN_BLOBS - 40
    assert len(pooled_calls) == len(analysers)  # the pool really ran, once per analyser


def test_a_range_prefetch_pools_the_days_new_blobs_and_keeps_each_days_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str
) -> None:
    """Each day brings fewer new blobs than the pool's threshold; gathered over the range they reach it,
    go to the workers in one batch, and each day still reports what it would have analysed alone."""
    from symphony_assets.resources.cache import Prefetch
    from symphony_assets.resources.postgres import Database

    pooled_calls: list[int] = []
    real = cache_module._analyse_pooled

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        pooled_calls.append(len(args[1]))
        return real(*args, **kwargs)

    monkeypatch.setattr(cache_module, "_analyse_pooled", spy)
    repo = GitRepo(tmp_path / "repo")
    per_day = POOL_MIN_BLOBS // 2 + 10
    days = [DAY + dt.timedelta(days=i) for i in range(3)]
    for d, day in enumerate(days):
        for n in range(per_day):
            repo.write(f"pkg/d{d}_m{n}.py", f"import os\nVALUE = {d * 1000 + n}\n")
        repo.write("pkg/shared.py", f"DAY = {d}\n")
        repo.commit(f"day {d}", when=f"{day}T12:00:00+00:00")
    codebase = Codebase("range", repo.root)
    snaps = [take_snapshot(codebase, day, today=dt.date(2030, 1, 1)) for day in days]

    def entries(snap: Any) -> list[Any]:
        return [e for e in snap.files if e.path.endswith(".py")]

    def run(prefetch: bool, version: str) -> list[tuple[int, int]]:
        cache = AnalysisCache(Database(pg_url))
        fn = functools.partial(ports_of)
        pre = Prefetch()
        if prefetch:

            def batch(snap: Any, es: list[Any]) -> Any:
                return analyse_files(snap, es, cache, "ports", version, fn, workers=2)[1]

            pre = Prefetch.over(snaps, cache, entries, batch)
        counts = []
        for snap in snaps:
            _, stats = analyse_files(snap, entries(snap), cache, "ports", version, fn, workers=2)
            pre.settle(entries(snap), stats)
            counts.append((stats.analysed, stats.reused))
        return counts

    alone = run(prefetch=False, version=f"alone-{tmp_path.name}")
    assert pooled_calls == []  # no day alone reaches the pool's threshold
    together = run(prefetch=True, version=f"together-{tmp_path.name}")
    assert len(pooled_calls) == 1 and pooled_calls[0] == 3 * per_day + 3  # every new blob of the range
    assert together == alone == [(per_day + 1, 0), (per_day + 1, per_day), (per_day + 1, 2 * per_day)]


def _pooled_functions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the functions the blob pool runs, one per pooled batch, from now on."""
    pooled: list[str] = []
    real = cache_module._analyse_pooled

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        fn = args[2]
        pooled.append(getattr(fn, "func", fn).__name__)
        return real(*args, **kwargs)

    monkeypatch.setattr(cache_module, "_analyse_pooled", spy)
    return pooled


def test_port_map_and_agent_registry_read_a_ranges_new_configs_in_one_pooled_batch(
    dagster_instance: Any, git_repo: GitRepo, write_config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A range run of ``port_map`` and ``agent_registry`` gathers the configuration files new in its
    days (each day alone is under the pool's threshold) into one pooled batch per analysis, and each
    day's counts stay what that day alone would have analysed."""
    from symphony_assets.runner import run_snapshots
    from symphony_assets_tests.test_partition_metadata import _record, _values

    pooled = _pooled_functions(monkeypatch)
    per_day = POOL_MIN_BLOBS // 2 + 10
    days = [DAY + dt.timedelta(days=i) for i in range(3)]
    for d, day in enumerate(days):
        for n in range(per_day):
            git_repo.write(
                f"deploy/d{d}_a{n}.yaml",
                f"agents:\n  - name: a{d}_{n}\n    script: agents/a{n}.py\n    port: {8000 + d * 1000 + n}\n",
            )
        git_repo.write("deploy/shared.json", f'{{"services": {{"web": {{"port": {9000 + d}}}}}}}\n')
        git_repo.commit(f"day {d}", when=f"{day}T12:00:00+00:00")
    write_config({"name": "hist", "path": str(git_repo.root)})  # _record reads "hist"

    assets = ["file_inventory", "port_map", "agent_registry"]
    (outcome,) = run_snapshots(dagster_instance, ["hist"], days[0], days[-1], assets=assets)
    assert outcome.success, outcome.error
    assert sorted(pooled) == ["declarations_of", "ports_of"]  # once each, for the whole range
    registry = [_values(_record(dagster_instance, "agent_registry", day)) for day in days]
    assert [(m["blobs_analysed"], m["blobs_reused"]) for m in registry] == [
        (per_day + 1, 0),
        (per_day + 1, per_day),
        (per_day + 1, 2 * per_day),
    ]
    ports = _values(_record(dagster_instance, "port_map", days[-1]))
    assert (ports["run_blobs_analysed"], ports["run_blobs_reused"]) == (3 * per_day + 3, 3 * per_day)
    assert [m["declared_agents"] for m in registry] == [per_day, 2 * per_day, 3 * per_day]


def test_duplicate_code_signs_a_ranges_new_python_files_in_one_pooled_batch(
    dagster_instance: Any, git_repo: GitRepo, write_config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from symphony_assets.runner import run_snapshots
    from symphony_assets_tests.test_partition_metadata import _record, _values

    pooled = _pooled_functions(monkeypatch)
    per_day = POOL_MIN_BLOBS // 2 + 10
    days = [DAY + dt.timedelta(days=i) for i in range(3)]
    for d, day in enumerate(days):
        for n in range(per_day):
            body = "".join(f"def f{k}_{n}(x):\n    return x + {d * 7 + k}\n" for k in range(4))
            git_repo.write(f"pkg/d{d}_m{n}.py", body)
        git_repo.write("pkg/shared.py", f"DAY = {d}\n")
        git_repo.commit(f"day {d}", when=f"{day}T12:00:00+00:00")
    write_config({"name": "hist", "path": str(git_repo.root)})

    outcomes = run_snapshots(
        dagster_instance, ["hist"], days[0], days[-1], assets=["file_inventory", "duplicate_code"]
    )
    assert all(o.success for o in outcomes), [o.error for o in outcomes]
    assert pooled == ["_signature_result"]  # once, for the whole range
    found = [_values(_record(dagster_instance, "duplicate_code", day)) for day in days]
    assert [(m["blobs_analysed"], m["blobs_reused"]) for m in found] == [
        (per_day + 1, 0),
        (per_day + 1, per_day),
        (per_day + 1, 2 * per_day),
    ]


def test_a_cached_result_is_decoded_once_per_run_and_only_while_the_cache_keeps_it() -> None:
    """``AnalysisCache.decoded``: the same result object (what the cache hands out for a blob day after
    day) is decoded once; an equal but new object, a failing decode, or a cache that is off (each day's
    results new objects) decode every time."""
    calls: list[object] = []

    def decode(raw: dict[str, int]) -> tuple[int, ...]:
        calls.append(raw)
        if raw.get("bad"):
            raise ValueError("damaged row")
        return tuple(raw.values())

    # The decode memo never reads the database: any handle turns the cache on.
    cache = AnalysisCache(db=object(), enabled=True)  # type: ignore[arg-type]
    raw = {"a": 1}
    assert cache.decoded(raw, decode) == (1,) and cache.decoded(raw, decode) is cache.decoded(raw, decode)
    assert len(calls) == 1
    assert cache.decoded({"a": 1}, decode) == (1,) and len(calls) == 2  # equal, but another object
    bad = {"bad": 1}
    for _ in range(2):
        with pytest.raises(ValueError):
            cache.decoded(bad, decode)
    assert len(calls) == 4
    off = AnalysisCache(db=None)
    off.decoded(raw, decode)
    off.decoded(raw, decode)
    assert len(calls) == 6
