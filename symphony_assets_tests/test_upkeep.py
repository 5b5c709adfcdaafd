"""``git_maintenance`` on a real repository: opt-in, monthly schedule, size before and after, and never
while another run of the codebase is active."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import dagster as dg

from symphony_assets.defs.resources import resources
from symphony_assets.defs.upkeep import assets as upkeep
from symphony_assets.orchestration import sync_codebases
from symphony_assets.resources.postgres import Database
from symphony_assets_tests.gitrepo import GitRepo

TODAY = dt.datetime.now(dt.UTC).date()


def test_git_maintenance_packs_and_records_and_waits_for_other_runs(
    dagster_instance: Any, write_config: Any, tmp_path: Path, db: Database
) -> None:
    repo = GitRepo(tmp_path / "kept")
    for i in range(12):
        repo.write(f"f{i}.txt", f"content {i}\n" * 50)
        repo.commit(f"c{i}")
    other = GitRepo(tmp_path / "other")
    other.write("a.txt", "a\n")
    other.commit("a")
    opt_in = {"git_maintenance": True, "git_command": "gc"}
    write_config(
        {"name": "kept", "path": str(repo.root), "upkeep": opt_in}, {"name": "other", "path": str(other.root)}
    )
    sync_codebases(dagster_instance)
    defs = dg.Definitions.merge(dg.load_definitions_from_modules([upkeep]), resources())
    schedule = upkeep.git_maintenance_schedule

    def requests() -> list[dg.RunRequest]:
        ctx = dg.build_schedule_context(instance=dagster_instance)
        return [r for r in schedule(ctx) if isinstance(r, dg.RunRequest)]

    (request,) = requests()  # only the opted-in codebase
    assert request.tags["symphony/codebase"] == "kept"

    def run() -> dict[str, Any]:
        result = defs.resolve_job_def(upkeep.GIT_MAINTENANCE_JOB).execute_in_process(
            instance=dagster_instance, partition_key=request.partition_key, tags=request.tags
        )
        assert result.success
        rows = db.read_frame(
            "SELECT * FROM symphony.git_maintenance WHERE codebase = 'kept' AND date = %s", (TODAY,)
        ).to_dict("records")
        (row,) = rows
        return row

    row = run()
    assert row["status"] == "done" and row["command"] == "git gc --quiet"
    assert row["loose_before"] >= 36 and row["loose_after"] == 0 and row["packs_after"] >= 1
    assert row["size_before_bytes"] > 0 and row["size_after_bytes"] > 0
    assert repo.git("fsck", "--no-progress") == ""  # still a sound repository
    assert len(repo.git("log", "--oneline").splitlines()) == 12

    # Another run of the codebase is active: the schedule asks for nothing, and a run started anyway
    # records that it skipped.
    busy = dg.DagsterRun(
        job_name="snapshot_job", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED,
        tags={"symphony/codebase": "kept"},
    )  # fmt: skip
    dagster_instance.add_run(busy)
    try:
        assert requests() == []
        row = run()
        assert row["status"] == "skipped" and busy.run_id in row["message"]
    finally:
        dagster_instance.delete_run(busy.run_id)
    assert len(requests()) == 1
