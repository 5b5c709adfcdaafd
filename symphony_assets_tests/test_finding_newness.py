"""What is new today on the existing finding assets: first_seen, is_new and per-partition checks."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd

from symphony_assets.runner import run_snapshots
from symphony_assets.storage.warehouse import Warehouse
from symphony_assets_tests.gitrepo import GitRepo

DAY1, DAY2, DAY3 = dt.date(2024, 8, 1), dt.date(2024, 8, 2), dt.date(2024, 8, 3)
MARK = "FIX" + "ME"  # built at run time: our own hygiene test must not see a marker here


def _read(asset: str, day: dt.date) -> pd.DataFrame:
    df = Warehouse().read(asset, {"codebase": "news", "date": str(day)})
    assert df is not None, f"{asset} has no partition for {day}"
    return df


def _verdicts(instance: dg.DagsterInstance, asset: str, check: str) -> dict[str, bool]:
    key = dg.AssetCheckKey(dg.AssetKey(asset), check)
    out = {}
    for record in instance.event_log_storage.get_asset_check_execution_history(key, limit=50):
        data = record.event.dagster_event.event_specific_data
        if isinstance(data, dg.AssetCheckEvaluation) and str(data.partition).startswith("news|"):
            out[str(data.partition).split("|")[1]] = bool(data.passed)
    return out


def test_present_yesterday_and_today_is_not_new_added_today_is(
    dagster_instance, git_repo: GitRepo, write_config
) -> None:
    git_repo.write("pkg/__init__.py", "")
    git_repo.write("pkg/a.py", f"import pkg.b\n# {MARK}: old marker\n")
    git_repo.write("pkg/b.py", "import pkg.a\n")
    git_repo.commit("day one", when=f"{DAY1}T10:00:00+00:00")
    # Day two: the old cycle and marker stay (the marker moves down a line); a new cycle and marker.
    git_repo.write("pkg/a.py", f"import pkg.b\n\n# {MARK}: old marker\n")
    git_repo.write("pkg/c.py", f"import pkg.d\n# {MARK}: new marker\n")
    git_repo.write("pkg/d.py", "import pkg.c\n")
    git_repo.write("pkg/e.py", "try:\n    pass\nexcept Exception:\n    pass\n")
    git_repo.commit("day two", when=f"{DAY2}T10:00:00+00:00")
    write_config({"name": "news", "path": str(git_repo.root), "imports": {"source_roots": ["."]}})

    assets = ["import_graph", "import_cycles", "todo_list", "code_findings"]
    (outcome,) = run_snapshots(dagster_instance, ["news"], DAY1, DAY3, assets=assets)
    assert outcome.success, outcome.error

    cycles1, cycles2 = _read("import_cycles", DAY1), _read("import_cycles", DAY2)
    assert len(cycles1) == 1 and not cycles1["is_new"].any()
    old_id = cycles1.iloc[0]["cycle_id"]
    by_id = cycles2.set_index("cycle_id")
    assert not by_id.loc[old_id, "is_new"] and by_id.loc[old_id, "first_seen"] == DAY1
    new_cycles = by_id[by_id["is_new"]]
    assert len(new_cycles) == 1 and "pkg.c" in new_cycles.iloc[0]["modules"]
    assert (new_cycles["first_seen"] == DAY2).all()
    cycles3 = _read("import_cycles", DAY3)  # nothing changed on day three: nothing new
    assert not cycles3["is_new"].any() and set(cycles3["first_seen"]) == {DAY1, DAY2}

    markers = _read("todo_list", DAY2).set_index("text")
    assert not markers.loc["old marker", "is_new"] and markers.loc["old marker", "first_seen"] == DAY1
    assert markers.loc["new marker", "is_new"] and markers.loc["new marker", "first_seen"] == DAY2

    findings = _read("code_findings", DAY2)
    new = findings[findings["is_new"]]
    assert list(new["kind"]) == ["broad_except"] and list(new["path"]) == ["pkg/e.py"]

    # Each check judged every partition of the range: day two brought news, days one and three none.
    expected = {str(DAY1): True, str(DAY2): False, str(DAY3): True}
    assert _verdicts(dagster_instance, "import_cycles", "no_new_import_cycles") == expected
    assert _verdicts(dagster_instance, "todo_list", "no_new_work_markers") == expected
    assert _verdicts(dagster_instance, "code_findings", "no_new_code_findings") == expected
