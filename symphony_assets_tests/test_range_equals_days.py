"""A range run writes, for every snapshot asset, exactly what running each day alone writes.

Issue 11: a single-run backfill may reuse work from one day to the next (the blob cache, the run-local
memos, frames of a day whose commit did not change), but the result must be identical to computing
the day alone. A small real repository changes over three days (a day without a commit in the middle;
a broken ``.py`` file, a JSON report, a YAML config with ports, requirements, a rename and a deletion
in the churn). It is materialised twice into two homes (so two warehouses):

- once as ONE run over the range, with the blob cache on;
- once day by day, one run per day in order, with the blob cache OFF, so every day is computed from
  nothing but its own snapshot (and, for ``first_seen``, the previous day's partition, as in the range).

Then every asset of the snapshot job is compared partition by partition: the same columns in the same
order, and the same rows (sorted), cell by cell. Nothing is excluded: no snapshot table has a column
that depends on the run (run ids and worker host/pid live only in metadata, and ``modified`` of a past
day is its last commit's time, not a file's mtime). :data:`RUN_DEPENDENT` is where such a column would
be named, with the reason.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from symphony_assets.core.names import FLEET_ASSETS
from symphony_assets.orchestration import phase_keys
from symphony_assets.runner import load_definitions, run_snapshots
from symphony_assets.storage.warehouse import Warehouse
from symphony_assets_tests.gitrepo import GitRepo

FIRST = dt.date(2024, 7, 1)
DAYS = [FIRST + dt.timedelta(days=i) for i in range(3)]
#: Columns whose value legitimately depends on the run rather than on the day's data: (asset, column)
#: -> why. Empty: see the module docstring.
RUN_DEPENDENT: dict[tuple[str, str], str] = {}
#: Assets with rows on the last day of this repository, and assets whose rows the churn changes.
NOT_EMPTY = [
    "file_inventory", "import_graph", "import_cycles", "port_map", "port_conflicts", "todo_list",
    "code_complexity", "code_findings", "security_findings", "dependency_declarations", "dependency_drift",
    "dependency_usage", "agent_registry", "cleanup_candidates",
]  # fmt: skip
CHANGED = [
    "file_inventory",
    "import_graph",
    "port_map",
    "code_complexity",
    "code_findings",
    "dependency_declarations",
]


def _marker() -> str:
    return "TO" + "DO"  # built at run time: our own hygiene test scans this file


def _module(n: int, extra: str = "") -> str:
    return (
        f"import os\nimport json\nfrom app import util\n\n\ndef handle_{n}(items, limit=3):\n"
        f"    out = []\n    for item in items:\n        if item and len(out) < limit:\n"
        f"            out.append(item)\n    try:\n        json.dumps(out)\n    except Exception:\n"
        f"        pass\n    return out\n{extra}"
    )


def _report(day: int) -> str:
    items = [
        {"path": f"app/m{i}.py", "line": i * day, "message": f"issue {i} on day {day}"} for i in range(300)
    ]
    return json.dumps({"day": day, "items": items}, indent=2)


def _build(repo: GitRepo) -> None:
    """Day 1: the first tree. Day 2: no commit. Day 3: churn of every kind."""
    repo.write("app/__init__.py", "")
    repo.write("app/util.py", "import app.m0\n\n\ndef helper():\n    return 1\n")
    for i in range(6):
        repo.write(f"app/m{i}.py", _module(i, f"# {_marker()}: day one item {i}\n" if i % 2 else ""))
    repo.write("app/m0.py", _module(0) + "import app.util\n")  # an import cycle
    repo.write("app/legacy.py", 'def main():\n    print "hello"\n')  # does not parse
    repo.write("app/copy_of_m1.py", _module(1))  # a near duplicate
    repo.write(
        "agents/server_agent.py",
        'import zmq\nsock = zmq.Context().socket(zmq.REP)\nsock.bind("tcp://*:5555")\n',
    )
    repo.write(
        "agents/client_agent.py",
        'import zmq\nsock = zmq.Context().socket(zmq.REP)\nsock.bind("tcp://*:5555")\n',
    )
    repo.write(
        "config/agents.yaml",
        "agents:\n  - name: server_agent\n    script_path: agents/server_agent.py\n    port: 5555\n",
    )
    repo.write("reports/lint.json", _report(1))
    repo.write("requirements.txt", "numpy==1.26.4\npyzmq==25.1.2\n")
    repo.write("machine_b/requirements.txt", "numpy==2.0.1\n")
    repo.write("notes/old_script.py.bak", "x = 1\n")
    repo.write("ops/crontab", "0 3 * * * cd /opt/app && python3 app/util.py\n")
    repo.commit("day 1", when=f"{DAYS[0]}T09:00:00+00:00")

    repo.write(
        "app/m1.py", _module(1, "\n<<<<<<< HEAD\nx = 1\n=======\nx = 2\n>>>>>>> other\n")
    )  # a bad merge
    repo.write("app/legacy.py", "def main():\n    print('hello')\n")  # fixed
    repo.write("app/m2.py", _module(2, f"# {_marker()}: day three\n\tbroken = True\n"))  # tabs and spaces
    repo.git("mv", "app/m3.py", "app/m3_renamed.py")
    repo.remove("app/m4.py")
    repo.write("app/m7.py", _module(7))
    repo.write("reports/lint.json", _report(3))
    repo.write("config/ports.yaml", "service:\n  port: 5555\n")
    repo.write("requirements.txt", "numpy==1.24.0\npyzmq==26.0.3\nrequests\n")
    # automation now runs the backup: a run's memo of automation targets must see the new crontab
    repo.write("ops/crontab", "0 3 * * * cd /opt/app && python3 notes/old_script.py.bak\n")
    repo.commit("day 3", when=f"{DAYS[2]}T09:00:00+00:00")


def _snapshot_assets() -> list[str]:
    """Every asset of the day's three phases: the codebase's own, the fleet-wide, the cross-codebase."""
    specs = list(load_definitions().resolve_all_asset_specs())
    phases = ("codebase", "fleet", "cross")
    return sorted(k.to_user_string() for phase in phases for k in phase_keys(specs, phase))


def _keys(asset: str, day: dt.date) -> dict[str, str]:
    return {"date": str(day)} if asset in FLEET_ASSETS else {"codebase": "churn", "date": str(day)}


def _rows(df: pd.DataFrame, drop: list[str]) -> list[tuple[str, ...]]:
    """Every row as a tuple of cell texts (missing values as one token), sorted."""
    kept = df.drop(columns=drop)
    rows = []
    for row in kept.itertuples(index=False):
        rows.append(tuple("<NA>" if _missing(v) else repr(v) for v in row))
    return sorted(rows)


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False  # a list or array cell is a value, not a missing one


def _materialise(monkeypatch: pytest.MonkeyPatch, home: Path, instance: Any, by_day: bool) -> None:
    home.mkdir()
    monkeypatch.setenv("SYMPHONY_HOME", str(home))
    monkeypatch.setenv("SYMPHONY_ANALYSIS_CACHE", "off" if by_day else "on")
    spans = [(d, d) for d in DAYS] if by_day else [(DAYS[0], DAYS[-1])]
    for first, last in spans:
        outcomes = run_snapshots(instance, ["churn"], first, last)
        assert all(o.success for o in outcomes), (first, last, [o.error for o in outcomes])


def test_a_range_run_equals_day_by_day_runs_for_every_asset(
    dagster_instance: Any,
    git_repo: GitRepo,
    write_config: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _build(git_repo)
    write_config({"name": "churn", "path": str(git_repo.root)})
    _materialise(monkeypatch, tmp_path / "range", dagster_instance, by_day=False)
    _materialise(monkeypatch, tmp_path / "days", dagster_instance, by_day=True)

    assets = _snapshot_assets()
    assert {"file_inventory", "import_graph", "port_map", "code_complexity", "security_findings",
            "port_conflicts", "dependency_drift", "duplicate_code"} <= set(assets)  # fmt: skip
    ranged, daily = (
        Warehouse(str(tmp_path / "range" / "warehouse")),
        Warehouse(str(tmp_path / "days" / "warehouse")),
    )
    differences = []
    compared = 0
    for asset in assets:
        for day in DAYS:
            keys = _keys(asset, day)
            a, b = ranged.read(asset, keys), daily.read(asset, keys)
            if a is None or b is None:
                differences.append(
                    f"{asset} {day}: partition in range run {a is not None}, by day {b is not None}"
                )
                continue
            if list(a.columns) != list(b.columns):
                differences.append(f"{asset} {day}: columns {list(a.columns)} != {list(b.columns)}")
                continue
            drop = [c for c in a.columns if (asset, c) in RUN_DEPENDENT]
            rows_a, rows_b = _rows(a, drop), _rows(b, drop)
            if rows_a != rows_b:
                only_a = sorted(set(rows_a) - set(rows_b))[:3]
                only_b = sorted(set(rows_b) - set(rows_a))[:3]
                differences.append(
                    f"{asset} {day}: {len(rows_a)} vs {len(rows_b)} rows;"
                    f" range only {only_a}; by day only {only_b}"
                )
            compared += 1
    assert not differences, "\n".join(differences)
    assert compared == len(assets) * len(DAYS)

    # Not a comparison of empty tables: the churn reaches the assets, and the days differ.
    def count(asset: str, day: dt.date) -> int:
        frame = ranged.read(asset, _keys(asset, day))
        return 0 if frame is None else len(frame)

    empty = [a for a in NOT_EMPTY if count(a, DAYS[2]) == 0]
    assert not empty, f"empty on {DAYS[2]}: {empty}"

    def rows(asset: str, day: dt.date) -> list[tuple[str, ...]]:
        frame = ranged.read(asset, _keys(asset, day))
        return [] if frame is None else _rows(frame, [])

    def rule_of(path: str, day: dt.date) -> str | None:
        frame = ranged.read("cleanup_candidates", _keys("cleanup_candidates", day))
        assert frame is not None
        rules = dict(zip(frame["path"], frame["rule"], strict=True))
        return rules.get(path)  # None: the default rule, no row

    assert rule_of("notes/old_script.py.bak", DAYS[0]) != "automation"
    assert rule_of("notes/old_script.py.bak", DAYS[2]) == "automation"
    unchanged = [a for a in CHANGED if rows(a, DAYS[0]) == rows(a, DAYS[2])]
    assert not unchanged, f"the same rows on {DAYS[0]} and {DAYS[2]}: {unchanged}"
    assert all(count(a, DAYS[0]) == count(a, DAYS[1]) for a in assets)  # no commit on day 2


def test_the_comparison_sees_a_one_cell_difference() -> None:
    df = pd.DataFrame({"path": ["a.py", "b.py"], "line": [1, 2], "first_seen": [dt.date(2024, 7, 1), None]})
    other = df.copy()
    other.loc[1, "line"] = 3
    assert _rows(df, []) != _rows(other, [])
    assert _rows(df, []) == _rows(df.iloc[::-1], [])  # row order is not a difference
    assert _rows(df, ["line"]) == _rows(other, ["line"])
