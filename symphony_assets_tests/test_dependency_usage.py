"""``dependency_usage`` on a real git repo: missing, unused, transitive, the mapping table, newness."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd

from symphony_assets.analysis.depusage import DeclaredPackage, ImportSite, dependency_usage
from symphony_assets.runner import load_definitions, run_snapshots
from symphony_assets.storage.warehouse import Warehouse
from symphony_assets_tests.gitrepo import GitRepo

DAY1, DAY2 = dt.date(2024, 7, 1), dt.date(2024, 7, 2)
USAGE_ASSETS = ["dependency_declarations", "import_graph", "dependency_usage"]


def _read(day: dt.date) -> pd.DataFrame:
    df = Warehouse().read("dependency_usage", {"codebase": "deps", "date": str(day)})
    assert df is not None, f"no partition for {day}"
    return df.set_index("module")


def test_declared_vs_imported_through_dagster(dagster_instance, git_repo: GitRepo, write_config) -> None:
    git_repo.write("requirements.txt", "opencv-python==4.10.0.84\nflask>=3\nPyYAML\nrequests\n")
    git_repo.write("app/__init__.py", "")
    git_repo.write("app/helpers.py", "X = 1\n")
    git_repo.write(
        "app/main.py",
        "import os\nimport cv2\nimport yaml\nimport requests\nimport urllib3\nimport numpy as np\n"
        "from app import helpers\nfrom . import helpers as h2\n",
    )
    git_repo.commit("day one", when=f"{DAY1}T10:00:00+00:00")
    git_repo.write("app/bus.py", "import zmq\n")
    git_repo.commit("day two", when=f"{DAY2}T10:00:00+00:00")
    write_config({"name": "deps", "path": str(git_repo.root)})

    (outcome,) = run_snapshots(dagster_instance, ["deps"], DAY1, DAY2, assets=USAGE_ASSETS)
    assert outcome.success, outcome.error
    day1 = _read(DAY1)
    assert day1.loc["cv2", "status"] == "used"  # import cv2 with opencv-python declared: not missing
    assert day1.loc["cv2", "package"] == "opencv-python" and day1.loc["cv2", "mapping_source"] == "table"
    assert day1.loc["yaml", "status"] == "used" and day1.loc["yaml", "package"] == "pyyaml"
    assert day1.loc["numpy", "status"] == "missing" and day1.loc["numpy", "imported_in"] == "app/main.py:6"
    assert day1.loc["urllib3", "status"] == "transitive" and day1.loc["urllib3", "via_package"] == "requests"
    assert "os" not in day1.index and "app" not in day1.index  # stdlib and own modules
    unused = day1[day1["status"] == "unused"]
    assert list(unused["package"]) == ["flask"]
    assert not day1["is_new"].any()

    day2 = _read(DAY2)
    new = day2[day2["is_new"]]
    assert list(new.index) == ["zmq"] and new.iloc[0]["status"] == "missing"
    assert new.iloc[0]["package"] == "pyzmq"
    assert not day2.loc["numpy", "is_new"] and day2.loc["numpy", "first_seen"] == DAY1

    key = dg.AssetCheckKey(dg.AssetKey("dependency_usage"), "no_new_missing_dependencies")
    records = dagster_instance.event_log_storage.get_asset_check_execution_history(key, limit=20)
    # A record's latest event can still be the check's planned event (no partition, no verdict): only
    # evaluations carry one; a missing evaluation still fails the comparison below.
    evaluations = [r.event.dagster_event.event_specific_data for r in records]
    verdicts = {
        str(e.partition): e.passed
        for e in evaluations
        if isinstance(e, dg.AssetCheckEvaluation) and str(e.partition).startswith("deps|")
    }
    assert verdicts == {f"deps|{DAY1}": True, f"deps|{DAY2}": False}


def test_lineage_names_the_real_upstreams() -> None:
    graph = load_definitions().resolve_asset_graph()
    parents = {k.to_user_string() for k in graph.get(dg.AssetKey("dependency_usage")).parent_keys}
    assert parents == {"dependency_declarations", "import_graph"}


def test_module_map_option_wins_and_is_named() -> None:
    rows = dependency_usage(
        [ImportSite("mylib.core", "a.py", 1, "module")],
        [DeclaredPackage("acme-mylib", "requirements.txt", 1)],
        own_modules=[],
        installed={},
        requires={},
        module_map={"mylib": "acme_mylib"},
    )
    assert [(r.module, r.status, r.mapping_source) for r in rows] == [("mylib", "used", "config")]
