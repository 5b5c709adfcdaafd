"""Regressions for the cases where our findings disagreed with the established tools (issue 17), each
through the real assets on a real git repository.

The import case (a cycle only through a missing module) is in ``test_imports_assets.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from symphony_assets.defs.code.assets import code_structure
from symphony_assets.defs.dependencies.assets import dependency_declarations
from symphony_assets.resources.postgres import Database
from symphony_assets_tests.gitrepo import GitRepo
from symphony_assets_tests.materialize import materialize_days

DAY = "2024-06-01"
TD = "TO" + "DO"
FM = "FIX" + "ME"

# An unclosed bracket on line 3 used to turn the rest of the file into one error: no handler after it
# was found. Python 2 prints and an ``except E, e`` handler come later.
BROKEN = """import os
LIMITS = dict(low=1,

def load(path):
    try:
        return open(path).read()
    except Exception:
        return None


class Worker:
    def run(self, job):
        print "running", job
        try:
            job()
        except Exception, e:  # a failing job must not stop the worker
            print e
        try:
            job.close()
        except:
            pass
"""

MARKERS = f"""# Mark {TD} as done when the job finishes
# Generic {TD} structure for the tracker
# {TD}: make the limit configurable
LIMIT = 10  # see ticket ({FM}: off by one)
# {TD}-{FM} - both at once
"""


def _table(db: Database, name: str, codebase: str) -> pd.DataFrame:
    return db.read_frame(f"SELECT * FROM symphony.{name} WHERE codebase = %s", (codebase,))


def test_broken_file_excepts_and_todo_prose_through_the_assets(
    tmp_path: Path, symphony_env: Path, write_config: Any, dagster_instance: Any, pg_url: str, db: Database
) -> None:
    repo = GitRepo(tmp_path / "acc_code")
    repo.write("svc/worker.py", BROKEN)
    repo.write("svc/markers.py", MARKERS)
    repo.commit("one", when=f"{DAY}T10:00:00+00:00")
    write_config({"name": "acc_code", "path": str(repo.root)})
    result = materialize_days([code_structure], dagster_instance, pg_url, symphony_env, "acc_code", DAY)
    assert result.success

    findings = _table(db, "code_findings", "acc_code")
    excepts = findings[findings["kind"] == "broad_except"].sort_values("line")
    assert list(zip(excepts["line"], excepts["subkind"], excepts["has_reason"], strict=True)) == [
        (7, "Exception", False),
        (16, "Exception", True),
        (20, "bare", False),
    ]
    assert set(excepts["via"]) == {"recovered"}
    failure = findings[findings["kind"] == "parse_failure"]
    assert list(failure["path"]) == ["svc/worker.py"]

    todos = _table(db, "todo_list", "acc_code").sort_values("line")
    assert list(zip(todos["line"], todos["tag"], todos["text"], strict=True)) == [
        (3, TD, "make the limit configurable"),
        (4, FM, "off by one)"),
        (5, TD, f"{FM} - both at once"),
    ]


def test_requirements_edge_cases_through_the_asset(
    tmp_path: Path, symphony_env: Path, write_config: Any, dagster_instance: Any, pg_url: str, db: Database
) -> None:
    repo = GitRepo(tmp_path / "acc_deps")
    repo.write(
        "requirements.txt",
        "--editable git+https://github.com/org/tool.git#egg=Long_Tool\n"
        "git@github.com:org/repo.git\n"
        "bzr+lp:Project#egg=Project\n"
        "./wheels/foo_bar-1.0.2-py3-none-any.whl\n",
    )
    repo.commit("one", when=f"{DAY}T10:00:00+00:00")
    write_config({"name": "acc_deps", "path": str(repo.root)})
    result = materialize_days(
        [dependency_declarations], dagster_instance, pg_url, symphony_env, "acc_deps", DAY
    )
    assert result.success
    rows = _table(db, "dependency_declarations", "acc_deps").sort_values("line")
    assert list(zip(rows["line"], rows["kind"], rows["package"], strict=True)) == [
        (1, "editable", "long-tool"),
        (2, "url", ""),  # an SSH location, not a package named ``git``
        (3, "url", "project"),
        (4, "path", "foo-bar"),
    ]
    assert rows["error"].isna().all()
