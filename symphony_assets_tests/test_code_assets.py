"""The code-structure assets materialised for a real git repository into real Parquet and Postgres."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
from radon.complexity import cc_visit

from symphony_assets.defs.code.assets import code_structure
from symphony_assets.defs.partitions import CODEBASE, snapshot_key
from symphony_assets.resources.cache import CACHE_ENV
from symphony_assets.resources.code_facts import PYTHON_ANALYSER
from symphony_assets.resources.postgres import Database
from symphony_assets_tests.gitrepo import GitRepo
from symphony_assets_tests.materialize import materialize_days, real_resources
from symphony_assets_tests.test_complexity import SOURCE

TD = "TO" + "DO"
ASSETS = [code_structure]

CORE = f'''"""Core module."""
import torch


def run(jobs, x):
    # {TD}: retry failed jobs
    for job in jobs:
        try:
            job()
        except Exception:
            pass
    return x.cuda()


def tidy(items):
    try:
        return sorted(items)
    except:  # items may hold anything a plugin returns; unsortable means keep the order
        return items
'''

PY2 = "def main():\n    print 'hello'\n    # a comment\n"


def _branchy(n: int) -> str:
    body = "".join(f"    if x == {i}:\n        return {i}\n" for i in range(n))
    return f"def branchy(x):\n{body}    return -1\n"


@pytest.fixture()
def demo(tmp_path: Path, symphony_env: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    repo = GitRepo(tmp_path / "demo")
    repo.write("pkg/core.py", CORE)
    repo.write("pkg/legacy.py", PY2)
    repo.write("pkg/branchy.py", _branchy(12))
    repo.write("deploy.sh", f"#!/bin/sh\necho '# {TD} not a comment'  # {TD}: pin versions\n")
    repo.write("pkg/core.py.bak", "old copy\n")
    repo.commit("day one", when="2024-06-01T10:00:00+00:00")
    # Day two: code inserted above the marker, branchy.py changed again (churn 2).
    repo.write("pkg/core.py", CORE.replace("import torch\n", "import torch\nimport os\nimport sys\n"))
    repo.write("pkg/branchy.py", _branchy(13))
    repo.commit("day two", when="2024-06-02T10:00:00+00:00")
    # Day three: renamed and moved.
    repo.remove("pkg/core.py")
    repo.write("lib/engine.py", CORE.replace("import torch\n", "import torch\nimport os\nimport sys\n"))
    repo.commit("day three", when="2024-06-03T10:00:00+00:00")
    config = tmp_path / "symphony.yaml"
    config.write_text(f"codebases:\n  - name: demo\n    path: {repo.root}\n", encoding="utf-8")
    monkeypatch.setenv("SYMPHONY_CONFIG", str(config))
    return repo


def _materialize(instance: Any, pg_url: str, home: Path, first: str, last: str | None = None) -> Any:
    return materialize_days(ASSETS, instance, pg_url, home, "demo", first, last)


def _table(db: Database, name: str) -> pd.DataFrame:
    return db.read_frame(f"SELECT * FROM symphony.{name} WHERE codebase = %s ORDER BY date", ("demo",))


def _rows(df: pd.DataFrame) -> list[tuple[str, ...]]:
    return sorted(tuple(str(v) for v in row) for row in df.itertuples(index=False))


def _meta(result: Any, asset: str) -> dict[str, Any]:
    """The newest partition's metadata (each partition of a range run carries its own; Dagster stores
    a range's events in no particular order)."""
    mats = [m for m in result.get_asset_materialization_events() if m.asset_key.path[-1] == asset]
    newest = max(mats, key=lambda m: str(m.materialization.partition or ""))
    return {k: v.value for k, v in newest.materialization.metadata.items()}


def test_three_day_backfill_then_a_cached_rerun(
    demo: GitRepo, dagster_instance: Any, pg_url: str, symphony_env: Path, db: Database
) -> None:
    with db.transaction() as cur:  # the counts below assume no blob of this repo was analysed before
        cur.execute(
            "DELETE FROM symphony.analysis_cache WHERE analyser = %s OR analyser LIKE 'todo_list:%%'",
            (PYTHON_ANALYSER,),
        )
    result = _materialize(dagster_instance, pg_url, symphony_env, "2024-06-01", "2024-06-03")
    assert result.success

    todos = _table(db, "todo_list")
    core = todos[todos["text"] == "retry failed jobs"].sort_values("date")
    assert list(core["path"]) == ["pkg/core.py", "pkg/core.py", "lib/engine.py"]
    assert list(core["line"]) == [6, 8, 8]
    assert core["fingerprint"].nunique() == 1
    assert list(core["scope"].unique()) == ["run"]
    shell = todos[todos["path"] == "deploy.sh"]
    assert list(shell["text"].unique()) == ["pin versions"]
    assert len(shell) == 3  # one per day, and never the quoted one

    findings = _table(db, "code_findings")
    day3 = findings[findings["date"] == dt.date(2024, 6, 3)]
    excepts = day3[day3["kind"] == "broad_except"].sort_values("line")
    assert list(excepts["subkind"]) == ["Exception", "bare"]
    assert list(excepts["has_reason"]) == [False, True]
    assert set(excepts["path"]) == {"lib/engine.py"}
    gpu = day3[day3["kind"] == "gpu_site"]
    assert list(gpu["subkind"]) == ["cuda_call"]
    assert gpu["detail"].iloc[0] == "return x.cuda()"
    backups = day3[day3["kind"] == "backup_file"]
    assert list(zip(backups["path"], backups["subkind"], strict=True)) == [("pkg/core.py.bak", "bak")]
    failures = day3[day3["kind"] == "parse_failure"]
    assert list(zip(failures["path"], failures["subkind"], strict=True)) == [("pkg/legacy.py", "python2")]

    complexity = _table(db, "code_complexity")
    branchy = complexity[complexity["path"] == "pkg/branchy.py"].sort_values("date")
    assert list(branchy["function"]) == ["branchy"] * 3  # one row per function, per day
    assert list(branchy["kind"]) == ["function"] * 3
    assert list(branchy["complexity"]) == [13, 14, 14]  # 12, then 13 ifs, + 1
    assert list(branchy["rank"]) == ["C", "C", "C"]
    assert list(zip(branchy["line"], branchy["end_line"], strict=True)) == [(1, 26), (1, 28), (1, 28)]
    assert list(branchy["churn_90d"]) == [1, 2, 2]
    assert list(branchy["hotspot_score"]) == [13, 28, 28]  # complexity x churn
    assert set(branchy["status"]) == {"ok"} and branchy["message"].isna().all()
    day3 = complexity[complexity["date"] == dt.date(2024, 6, 3)]
    engine = day3[day3["path"] == "lib/engine.py"].sort_values("line")
    source = (demo.root / "lib/engine.py").read_text(encoding="utf-8")
    expected = sorted((b.lineno, b.name, b.endline, b.complexity) for b in cc_visit(source))
    assert expected == [(7, "run", 14, 3), (17, "tidy", 21, 2)]  # for + handler + 1; handler + 1
    got = zip(engine["line"], engine["function"], engine["end_line"], engine["complexity"], strict=True)
    assert sorted(got) == expected
    # The renamed file has one commit in its window (day three); its hotspot is complexity x 1.
    assert list(engine["churn_90d"]) == [1, 1] and list(engine["hotspot_score"]) == [3, 2]
    assert set(engine["blob_id"]) == {demo.git("rev-parse", "HEAD:lib/engine.py").strip()}
    legacy = day3[day3["path"] == "pkg/legacy.py"]
    assert len(legacy) == 1  # a file radon cannot read is one row, with no function
    assert legacy["status"].iloc[0] == "parse_error" and "line" in legacy["message"].iloc[0]
    assert legacy[["function", "kind", "complexity", "rank", "hotspot_score"]].isna().all().all()
    assert legacy["churn_90d"].iloc[0] == 1
    assert len(day3) == 4  # two functions in engine.py, one in branchy.py, legacy.py; deploy.sh is not Python

    # The check judges the newest day: one handler without a reason.
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["no_unexplained_broad_except"].passed is False
    assert checks["no_unexplained_broad_except"].metadata["unexplained_broad_excepts"].value == 1
    assert checks["no_work_markers"].passed is False
    assert checks["no_work_markers"].severity == dg.AssetCheckSeverity.WARN

    # Within the run, unchanged blobs were analysed once and reused on later days.
    meta = _meta(result, "code_findings")
    # One read and parse per blob feeds all three assets. Analysed: core.py x2 versions, legacy.py,
    # branchy.py x2, deploy.sh. Reused: day 2 legacy.py and deploy.sh; day 3 all four files (lib/engine.py
    # is the same blob as day 2's pkg/core.py).
    assert meta["run_blobs_analysed"] == 6
    assert meta["run_blobs_reused"] == 6
    assert meta["broad_except_without_reason"] == 1
    assert meta["gpu_sites"] == 1 and meta["backup_files"] == 1 and meta["parse_failures"] == 1
    cmeta = _meta(result, "code_complexity")  # the newest day's
    assert cmeta["max_complexity"] == 14
    assert (cmeta["functions"], cmeta["complex_functions"], cmeta["unmeasured_files"]) == (3, 1, 1)
    assert _meta(result, "todo_list")["todo_count"] == 2

    # A rerun of the newest day reads every result from the Postgres cache.
    again = _materialize(dagster_instance, pg_url, symphony_env, "2024-06-03")
    assert again.success
    for asset in ("todo_list", "code_complexity", "code_findings"):
        m = _meta(again, asset)
        assert m["blobs_analysed"] == 0, asset
        assert m["blobs_reused"] > 0, asset
    # A one-day run also lists the top functions and hotspots (a range run keeps only the figures).
    tables = _meta(again, "code_complexity")
    assert tables["most_complex_functions"].splitlines()[2:4] == [
        "| pkg/branchy.py | branchy | 1 | 14 | C |",
        "| lib/engine.py | run | 7 | 3 | A |",
    ]
    assert tables["hotspots"].splitlines()[2:] == [
        "| pkg/branchy.py | branchy | 14 | 2 | 28 |",
        "| lib/engine.py | run | 3 | 1 | 3 |",
        "| lib/engine.py | tidy | 2 | 1 | 2 |",
    ]
    assert tables["not_measured"].splitlines()[2].startswith("| pkg/legacy.py | parse_error | ")
    # And its rows replaced, not duplicated, the partition; the cached results give the same rows.
    assert len(_table(db, "code_findings")) == len(findings)
    rerun = _table(db, "code_complexity")
    assert _rows(rerun[rerun["date"] == dt.date(2024, 6, 3)]) == _rows(day3)


def test_cache_off_analyses_every_blob(
    demo: GitRepo,
    dagster_instance: Any,
    pg_url: str,
    symphony_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(CACHE_ENV, "off")
    result = _materialize(dagster_instance, pg_url, symphony_env, "2024-06-01", "2024-06-03")
    assert result.success
    meta = _meta(result, "code_findings")
    assert meta["run_blobs_analysed"] == 12  # three Python files and deploy.sh on each of three days
    assert meta["run_blobs_reused"] == 0


def test_one_asset_alone(
    demo: GitRepo, dagster_instance: Any, pg_url: str, symphony_env: Path, db: Database
) -> None:
    dagster_instance.add_dynamic_partitions(CODEBASE, ["demo"])
    result = dg.materialize(
        ASSETS,
        selection=["code_findings"],
        partition_key=str(snapshot_key("demo", "2024-06-02")),
        resources=real_resources(pg_url, symphony_env),
        instance=dagster_instance,
    )
    assert result.success
    assert {e.asset_key.path[-1] for e in result.get_asset_materialization_events()} == {"code_findings"}
    assert [e.check_name for e in result.get_asset_check_evaluations()] == [
        "no_unexplained_broad_except",
        "no_new_code_findings",
    ]
    rows = db.read_frame(
        "SELECT kind, path FROM symphony.code_findings WHERE codebase = %s AND date = %s",
        ("demo", "2024-06-02"),
    )
    assert ("gpu_site", "pkg/core.py") in set(zip(rows["kind"], rows["path"], strict=True))


def test_live_partition_sees_uncommitted_edits(
    demo: GitRepo, dagster_instance: Any, pg_url: str, symphony_env: Path, db: Database
) -> None:
    demo.write("lib/engine.py", CORE.replace("except Exception:", "except BaseException:"))
    demo.write("scratch_backup.py", f"# {TD}: delete me\ntry:\n    pass\nexcept:\n    pass\n")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    result = _materialize(dagster_instance, pg_url, symphony_env, today)
    assert result.success
    findings = db.read_frame(
        "SELECT * FROM symphony.code_findings WHERE codebase = %s AND date = %s", ("demo", today)
    )
    kinds = set(zip(findings["kind"], findings["subkind"], findings["path"], strict=True))
    assert ("broad_except", "BaseException", "lib/engine.py") in kinds
    assert ("broad_except", "bare", "scratch_backup.py") in kinds
    assert ("backup_file", "backup_name", "scratch_backup.py") in kinds
    edited = findings[findings["path"] == "lib/engine.py"]
    assert edited["blob_id"].isna().all()  # an uncommitted edit has no committed blob
    todos = db.read_frame(
        "SELECT * FROM symphony.todo_list WHERE codebase = %s AND date = %s", ("demo", today)
    )
    assert "delete me" in set(todos["text"])


def _churn_repo(root: Path) -> GitRepo:
    repo = GitRepo(root)
    for day in range(1, 13):
        if day % 4 == 0:
            continue  # quiet days share the previous day's commit
        for c in range(day % 3 + 1):
            repo.write(f"m{(day + c) % 5}.py", f"x = {day}{c}\n")
            if day == 6:
                repo.write("dir name/é file.py", "y = 1\n")
            repo.commit(f"d{day}c{c}", when=f"2024-06-{day:02d}T{9 + c:02d}:00:00+00:00")
    return repo


def test_one_log_pass_gives_every_days_churn(tmp_path: Path) -> None:
    from symphony_assets.config import Codebase
    from symphony_assets.resources.code_facts import run_history
    from symphony_assets.resources.git import Repo, end_of_day_utc, take_snapshot

    repo = _churn_repo(tmp_path / "r")
    codebase = Codebase(name="c", path=repo.root)
    days = [dt.date(2024, 6, d) for d in range(1, 16)]
    history = run_history(Repo(repo.root), None, days)
    assert history is not None and len(history.commits) == 18
    for window in (3, 90):
        for day in days:
            snap = take_snapshot(codebase, day, today=dt.date(2030, 1, 1))
            expected = snap.churn(window)
            assert snap.churn(window, history) == expected, (window, day)
            assert snap.commit is not None
            since = end_of_day_utc(day) - dt.timedelta(days=window)
            assert history.churn(snap.commit, since) == Repo(repo.root).churn(snap.commit, since)
    # June 12 is quiet: its 3-day window holds June 10 (m0, m1) and June 11 (m1, m2, m3).
    day12 = take_snapshot(codebase, days[11], today=dt.date(2030, 1, 1))
    assert day12.churn(3, history) == {"m0.py": 1, "m1.py": 2, "m2.py": 1, "m3.py": 1}
    # A window starting before what the log read is answered by git, not by a short log.
    late = run_history(Repo(repo.root), None, days[8:])
    snap = take_snapshot(codebase, days[-1], today=dt.date(2030, 1, 1))
    assert late is not None and late.churn(snap.commit or "", dt.datetime(2024, 1, 1, tzinfo=dt.UTC)) is None


def test_merges_and_clock_skew_fall_back_to_per_day_logs(tmp_path: Path) -> None:
    from symphony_assets.resources.code_facts import run_history
    from symphony_assets.resources.git import Repo

    days = [dt.date(2024, 6, 1), dt.date(2024, 6, 5)]
    merged = GitRepo(tmp_path / "merged")
    merged.write("a.py", "a = 1\n")
    merged.commit("base", when="2024-06-01T09:00:00+00:00")
    merged.git("checkout", "-q", "-b", "side")
    merged.write("b.py", "b = 1\n")
    merged.commit("side", when="2024-06-02T09:00:00+00:00")
    merged.git("checkout", "-q", "main")
    merged.write("a.py", "a = 2\n")
    merged.commit("main", when="2024-06-03T09:00:00+00:00")
    env = {"GIT_AUTHOR_DATE": "2024-06-04T09:00:00+00:00", "GIT_COMMITTER_DATE": "2024-06-04T09:00:00+00:00"}
    merged.git("merge", "-q", "--no-edit", "side", env=env)
    assert run_history(Repo(merged.root), None, days) is None

    skewed = GitRepo(tmp_path / "skewed")
    for i, when in enumerate(["2024-06-01T09:00", "2024-06-03T09:00", "2024-06-02T09:00"]):
        skewed.write("a.py", f"a = {i}\n")
        skewed.commit(f"c{i}", when=when + ":00+00:00")
    assert run_history(Repo(skewed.root), None, days) is None


def test_one_pass_facts_equal_each_extractor_alone() -> None:
    """The facts pass parses a blob once for imports, ports, the code assets (with a run's radon
    memo) and bandit; each part must be what that extractor gives on its own, for real files, edited
    versions of them, and odd ones (Python 2, a def inside a string, GPU words, CRLF, Latin-1, merge
    markers, bandit findings)."""
    import pathlib
    import random
    from dataclasses import asdict

    import radon

    import symphony_assets.analysis as analysis
    from symphony_assets.analysis.facts import CODE, IMPORTS, PORTS, SECURITY, analyse_python, python_facts
    from symphony_assets.analysis.imports.extract import extract_imports
    from symphony_assets.analysis.ports.extract import extract_ports
    from symphony_assets.analysis.security import scan_file

    rng = random.Random(9)
    marker = ("TO" + "DO").encode()
    sources: list[bytes] = [
        b"def main():\n    print 'py2'\n\n\ndef ok():\n    return 1\n",
        b'x = """\n\ndef not_code(:\n"""\n\n\ndef real(a):\n    return a or 1\n',
        b"import torch\n\n\ndef f(m):\n    return m.cuda()\n",
        b"def f(a):\r\n    try:\r\n        pass\r\n    except:  # why\r\n        pass\r\n",
        "# -*- coding: latin-1 -*-\ndef f():\n    return 'é'\n".encode("latin-1"),
        b"@deco(\n    1,\n)\n\n@other\ndef g(x):\n    if x:\n        return 1\n\n\nclass K:\n    pass\n",
        b"import zmq\n<<<<<<< HEAD\nPORT = 5555\n=======\nPORT = 5556\n>>>>>>> b\nsock.bind(f'tcp://*:{PORT}')\n",
        b"import os, zmq\ndef f(:\n    s.connect('tcp://localhost:7000')\n"
        b"try:\n    import yaml\nexcept:\n    pass\n",
        b"import pickle, subprocess\nPASSWORD = 'hunter2-Secret'\n\n\ndef f(x, password='s3cret-Value'):\n"
        b"    subprocess.call(x, shell=True)  # nosec B602\n    return pickle.loads(x) or eval(x)\n",
    ]
    for path in sorted(pathlib.Path(radon.__file__).parent.rglob("*.py")) + sorted(
        pathlib.Path(analysis.__file__).parent.glob("*.py")
    ):
        source = path.read_bytes()
        sources.append(source)
        lines = source.split(b"\n")
        for _ in range(3):  # edited versions: comments anywhere, a new function, a broad handler
            lines.insert(rng.randrange(len(lines) + 1), b"    " * rng.randint(0, 2) + b"# " + marker + b": x")
        lines += [
            b"",
            b"",
            b"def added(x):",
            b"    try:",
            b"        return x and 1",
            b"    except Exception:",
            b"        pass",
        ]
        sources.append(b"\n".join(lines))
    blocks: dict[str, Any] = {}
    broken = 0
    found = 0
    for index, source in enumerate(sources):
        path = f"pkg/m{index}.py"
        facts = python_facts(source, 1_000_000, blocks, path)
        assert facts[CODE] == analyse_python(source, 1_000_000)
        assert facts[IMPORTS] == extract_imports(source).to_dict()
        assert facts[PORTS] == [asdict(s) for s in extract_ports("x.py", source)]
        assert facts[SECURITY] == scan_file(path, source).to_dict()
        broken += facts[CODE]["parse"] is not None
        found += len(facts[SECURITY]["findings"])
    assert found > 20  # bandit and the fallback reported, not only empty scans
    assert SECURITY not in python_facts(sources[0], 1_000_000) and SECURITY not in python_facts(
        sources[0], 1_000_000, None, "bin/tool"
    )  # bandit's part needs the path of a Python file
    assert broken >= 3 and len(blocks) > 100  # recovered files and the radon memo were both exercised
    assert python_facts(sources[-3], 100, blocks)[CODE]["complexity"]["status"] == "too_large"
    broken_file = python_facts(sources[7], 1_000_000)  # one recovery feeds all three parts
    assert [(p["line"], p["port"], p["via"]) for p in broken_file[PORTS]] == [(3, 7000, "fallback")]
    assert [i[0] for i in broken_file[IMPORTS]["imports"]] == ["os", "zmq", "yaml"]
    assert [(b["line"], b["via"]) for b in broken_file[CODE]["broad_excepts"]] == [(6, "recovered")]


SERVICE = SOURCE  # the same file test_complexity checks radon on


def _radon_rows(source: str) -> list[tuple[str, str, int, int, int, str]]:
    """What radon itself reports, walked into (qualname, kind, line, end line, complexity, rank)."""
    from radon.complexity import cc_rank
    from radon.visitors import Class, ComplexityVisitor, Function

    out: list[tuple[str, str, int, int, int, str]] = []

    def fn(f: Function, prefix: str, kind: str) -> None:
        out.append((prefix + f.name, kind, f.lineno, f.endline, f.complexity, cc_rank(f.complexity)))
        for inner in f.closures:
            fn(inner, f"{prefix}{f.name}.", "function")

    def cls(c: Class, prefix: str) -> None:
        end = max([c.endline] + [m.endline for m in c.methods] + [i.endline for i in c.inner_classes])
        out.append((prefix + c.name, "class", c.lineno, end, c.complexity, cc_rank(c.complexity)))
        for m in c.methods:
            fn(m, f"{prefix}{c.name}.", "method")
        for i in c.inner_classes:
            cls(i, f"{prefix}{c.name}.")

    visitor = ComplexityVisitor.from_code(source)
    for f in visitor.functions:
        fn(f, "", "function")
    for c in visitor.classes:
        cls(c, "")
    return sorted(out, key=lambda r: (r[2], r[0]))


def test_one_row_per_definition_and_one_per_unmeasured_file(
    tmp_path: Path,
    symphony_env: Path,
    dagster_instance: Any,
    pg_url: str,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Methods, closures and classes get their own rows with radon's values; churn counts only the
    commits of the 90 days before the partition date; files radon could not measure (too large for
    radon, too large to read, not Python 3) are one row each, with their status and no function."""
    from symphony_assets.resources.git import GitResource

    repo = GitRepo(tmp_path / "svc")
    repo.write("svc.py", SERVICE.replace("return 1\n", "return 0\n", 1))
    repo.commit("long ago", when="2024-01-02T10:00:00+00:00")  # outside the 90-day window
    repo.write("svc.py", SERVICE.replace("return 1\n", "return 2\n", 1))
    repo.commit("in the window", when="2024-05-01T10:00:00+00:00")
    repo.write("svc.py", SERVICE)
    repo.write("constants.py", "X = 1\n")  # measured, no definitions: no rows
    repo.write("generated.py", "def big():\n    return 1\n" + "# filler\n" * 400)  # over radon's limit
    repo.write("huge.py", "x = 1\n" * 2000)  # over the read limit
    repo.write("old.py", "print 'py2'\n")
    repo.commit("in the window too", when="2024-06-01T10:00:00+00:00")
    config = tmp_path / "symphony.yaml"
    config.write_text(
        f"codebases:\n  - name: svc\n    path: {repo.root}\n    code: {{max_complexity_bytes: 2000}}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("SYMPHONY_CONFIG", str(config))
    dagster_instance.add_dynamic_partitions(CODEBASE, ["svc"])
    result = dg.materialize(
        ASSETS,
        selection=["code_complexity"],
        partition_key=str(snapshot_key("svc", "2024-06-10")),
        resources={**real_resources(pg_url, symphony_env), "git": GitResource(max_read_bytes=8000)},
        instance=dagster_instance,
    )
    assert result.success
    df = db.read_frame(
        "SELECT * FROM symphony.code_complexity WHERE codebase = %s AND date = %s", ("svc", "2024-06-10")
    )
    ok = df[df["path"] == "svc.py"].sort_values(["line", "function"])
    got = list(
        zip(ok["function"], ok["kind"], ok["line"], ok["end_line"], ok["complexity"], ok["rank"], strict=True)
    )
    assert got == _radon_rows(SERVICE)
    by_name = {r[0]: r for r in got}
    assert by_name["branchy"][1:] == ("function", 5, 15, 7, "B")  # if, elif, and, for, if, while + 1
    assert by_name["Service.run"][1] == "method" and by_name["Service.run.helper"][1:2] == ("function",)
    assert by_name["Service.Inner.go"][1:] == ("method", 25, 29, 2, "A")
    assert by_name["Service"][1] == "class"
    assert set(ok["churn_90d"]) == {2}  # the January commit is outside the window
    assert list(ok["hotspot_score"]) == [c * 2 for c in ok["complexity"]]
    assert set(ok["status"]) == {"ok"}

    unmeasured = df[df["path"] != "svc.py"].sort_values("path")
    assert list(unmeasured["path"]) == ["generated.py", "huge.py", "old.py"]  # constants.py: no rows
    assert list(unmeasured["status"]) == ["too_large", "too_large", "parse_error"]
    assert "2000-byte limit" in unmeasured["message"].iloc[0]  # radon's limit (the codebase option)
    assert unmeasured["message"].iloc[1] == "not read: too_large"  # over the read limit: never read
    assert unmeasured["message"].notna().all()
    assert unmeasured[["function", "kind", "line", "complexity", "hotspot_score"]].isna().all().all()
    assert set(unmeasured["churn_90d"]) == {1}

    meta = _meta(result, "code_complexity")
    # Functions and methods only: simple, branchy, Service.run, Service.run.helper, Service.Inner.go.
    assert (meta["functions"], meta["max_complexity"], meta["complex_functions"]) == (5, 7, 0)
    assert (meta["unmeasured_files"], meta["parse_failures"]) == (3, 1)
    assert meta["hotspots"].splitlines()[2] == "| svc.py | branchy | 7 | 2 | 14 |"


def test_complexity_metadata_of_a_codebase_without_python() -> None:
    from symphony_assets.defs.code.metadata import complexity_metadata
    from symphony_assets.defs.code.schemas import CODE_COMPLEXITY

    meta = complexity_metadata(CODE_COMPLEXITY.empty_frame())
    figures = ("functions", "max_complexity", "complex_functions", "unmeasured_files", "parse_failures")
    assert {k: meta[k] for k in figures} == dict.fromkeys(figures, 0)
    assert meta["hotspots"].value == "_none_"
