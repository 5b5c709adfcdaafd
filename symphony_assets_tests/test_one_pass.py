"""One pass per blob (issue 11): a range run parses each Python blob once for every code asset.

``import_graph``, ``port_map``, ``dependency_usage`` and the code multi-asset (``todo_list``,
``code_complexity``, ``code_findings``) all need facts of the same Python files. The parser every one
of them goes through (:func:`~symphony_assets.analysis.pysource.parse_python`, and the recovering
parser for files ``ast`` rejects) is counted per file content over a real three-day range run of
every snapshot asset; each distinct blob must have been parsed exactly once, and recovered at most
once. bandit (``security_findings``) parses on its own and is not counted.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from symphony_assets.analysis import complexity, facts, findings, pysource, security
from symphony_assets.analysis.imports import extract as imports_extract
from symphony_assets.resources.postgres import Database
from symphony_assets.runner import run_snapshots
from symphony_assets.storage.warehouse import Warehouse
from symphony_assets_tests.gitrepo import GitRepo
from symphony_assets_tests.test_range_equals_days import DAYS, _build

#: Modules that bind the shared parsers by name (``ports`` reaches them through ``pysource.``).
PARSING_MODULES = (facts, imports_extract, findings, complexity, pysource)


def _python_blobs(repo: GitRepo) -> dict[str, bytes]:
    """Every distinct ``.py`` blob of the days' commits, by content digest."""
    out: dict[str, bytes] = {}
    commits = {repo.git("rev-list", "-1", f"--before={day}T23:59:59+00:00", "HEAD").strip() for day in DAYS}
    for commit in commits:
        listing = repo.git("ls-tree", "-r", commit)
        for line in listing.splitlines():
            meta, path = line.split("\t", 1)
            if path.endswith(".py"):
                blob = meta.split()[2]
                content = subprocess.run(
                    ["git", "cat-file", "blob", blob], cwd=repo.root, capture_output=True, check=True
                ).stdout
                out[hashlib.sha1(content).hexdigest()] = content
    return out


def test_a_range_run_parses_each_python_blob_once(
    dagster_instance: Any,
    git_repo: GitRepo,
    write_config: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    db: Database,
) -> None:
    with db.transaction() as cur:  # a cold cache: earlier tests on this server cached common blobs
        cur.execute("DELETE FROM symphony.analysis_cache")
    _build(git_repo)
    write_config({"name": "churn", "path": str(git_repo.root)})
    monkeypatch.setenv("SYMPHONY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SYMPHONY_WORKERS", "1")  # every parse in this process, where it is counted
    parsed: Counter[str] = Counter()
    recovered: Counter[str] = Counter()
    real_parse, real_recover = pysource.parse_python, pysource.recover_python

    def parse(source: bytes) -> pysource.ParseOutcome:
        if sys._getframe(1).f_globals["__name__"] != security.__name__:  # bandit's own parse is apart
            parsed[hashlib.sha1(source).hexdigest()] += 1
        return real_parse(source)

    def recover(source: bytes, outcome: pysource.ParseOutcome | None = None) -> pysource.Recovered:
        if (outcome or real_parse(source)).tree is None:
            recovered[hashlib.sha1(source).hexdigest()] += 1
        return real_recover(source, outcome)

    # Modules imported after this point (the definitions' own) bind the counting parsers too.
    for module in PARSING_MODULES:
        for name, fake in (("parse_python", parse), ("recover_python", recover)):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, fake)

    outcomes = run_snapshots(dagster_instance, ["churn"], DAYS[0], DAYS[-1])
    assert all(o.success for o in outcomes), [o.error for o in outcomes]

    blobs = _python_blobs(git_repo)
    assert len(blobs) >= 15  # day one's files and day three's edits
    counts = {digest: parsed[digest] for digest in blobs}
    assert counts == dict.fromkeys(blobs, 1), {d: c for d, c in counts.items() if c != 1}
    broken = {d for d, content in blobs.items() if real_parse(content).tree is None}
    assert len(broken) >= 3  # Python 2, a committed merge, tabs mixed with spaces
    assert {d: recovered[d] for d in blobs if recovered[d]} == dict.fromkeys(broken, 1)

    # Every asset that reads these facts really got them: each has rows from the broken files too.
    warehouse = Warehouse(str(tmp_path / "home" / "warehouse"))
    keys = {"codebase": "churn", "date": str(DAYS[-1])}
    graph = warehouse.read("import_graph", keys)
    assert graph is not None and "fallback" in set(graph["via"])
    for asset in ("port_map", "todo_list", "code_complexity", "code_findings", "dependency_usage"):
        frame = warehouse.read(asset, keys)
        assert frame is not None and len(frame) > 0, asset
