"""Backfills that Dagster itself runs: submitted to the instance, split and launched by the daemon.

:func:`symphony_assets.runner.run_backfill` launches the runs of a backfill from the calling process. This
module instead hands the whole backfill to Dagster, as the UI's "Materialize partitions" does: one asset
backfill (``launchPartitionBackfill``, Dagster's public GraphQL API) over codebases x days. The daemon's
backfill loop then splits it into runs by the assets' backfill policy (at most ``SYMPHONY_DAYS_PER_RUN``
days of one codebase per run), the run queue sends them out within its limits (``run_queue`` in
``dagster.yaml``), and the run launcher executes each with the code location's executor
(``SYMPHONY_EXECUTOR``: multiprocess, in process, or Celery workers). The caller may leave at once: the
backfill lives in the instance, visible under Overview > Backfills, and survives the caller.

The mutation goes to a running webserver (``webserver=http://host:3000``) or, with none, through the
``dagster-graphql`` command against the code location loaded here; either way only public interfaces
are used (no ``dagster._`` import). A ``dagster-daemon`` must be running on the instance for anything
to happen after submission.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import requests

from symphony_assets.defs.partitions import snapshot_key
from symphony_assets.orchestration import phase_keys, sync_codebases

logger = logging.getLogger(__name__)

#: The code location, as ``dagster-graphql -m`` loads it (``[tool.dagster] module_name``).
DEFINITIONS_MODULE = "symphony_assets.definitions"
#: Tag on every run of a backfill (Dagster's own), and ours naming who submitted it.
BACKFILL_TAG = "dagster/backfill"
SUBMITTED_BY_TAG = "symphony/submitted_by"

LAUNCH_BACKFILL = """
mutation LaunchSymphonyBackfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on Error { message }
  }
}
"""

#: Statuses after which the daemon does nothing more with a backfill.
FINISHED = frozenset({"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"})


class BackfillError(RuntimeError):
    """The backfill could not be submitted (the message says why), or did not finish in time."""


@dataclass
class BackfillState:
    backfill_id: str
    status: str
    runs: dict[str, str] = field(default_factory=dict)  # run id -> run status

    @property
    def finished(self) -> bool:
        return self.status in FINISHED and not any(s in _ACTIVE_RUN_STATUSES for s in self.runs.values())

    @property
    def succeeded(self) -> bool:
        return self.status in ("COMPLETED", "COMPLETED_SUCCESS") and all(
            s == "SUCCESS" for s in self.runs.values()
        )


_ACTIVE_RUN_STATUSES = frozenset({"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"})


def partition_keys(codebases: Sequence[str], first: date, last: date) -> list[str]:
    """Every codebase x day key of the range, codebase by codebase (the order Dagster's ranges use)."""
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return [str(snapshot_key(name, day)) for name in codebases for day in days]


def backfill_params(
    codebases: Sequence[str],
    first: date,
    last: date,
    assets: Sequence[str],
    title: str | None = None,
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``LaunchBackfillParams`` of an asset backfill over ``codebases`` x ``first..last``."""
    if not assets:
        raise BackfillError("a backfill needs at least one asset")
    if last < first:
        raise BackfillError(f"the range ends ({last}) before it starts ({first})")
    span = str(first) if first == last else f"{first}...{last}"
    all_tags = {SUBMITTED_BY_TAG: "symphony backfill", **(tags or {})}
    return {
        "partitionNames": partition_keys(codebases, first, last),
        "assetSelection": [{"path": [asset]} for asset in assets],
        "title": title or f"{len(codebases)} codebase(s) x {span}",
        "tags": [{"key": k, "value": v} for k, v in sorted(all_tags.items())],
    }


def snapshot_assets(definitions: dg.Definitions) -> list[str]:
    """The assets of the daily snapshot job (every codebase x date asset that no sensor alone starts):
    what a backfill covers when no asset is named."""
    specs = list(definitions.resolve_all_asset_specs())
    # The codebase's own assets and those that compare it with the others (same partitions); the
    # fleet-wide days follow through their automation condition (defs/fleet.py).
    return sorted(k.to_user_string() for phase in ("codebase", "cross") for k in phase_keys(specs, phase))


def submit_backfill(
    instance: dg.DagsterInstance,
    codebases: Sequence[str],
    first: date,
    last: date,
    assets: Sequence[str],
    webserver: str | None = None,
    title: str | None = None,
    tags: dict[str, str] | None = None,
    timeout_s: float = 300,
) -> str:
    """Submit an asset backfill to the instance (the daemon executes it); returns its id.

    The codebases' dynamic partitions are registered first (``sync_codebases``), so every key exists.
    """
    sync_codebases(instance)
    params = backfill_params(codebases, first, last, assets, title, tags)
    if webserver:
        result = _post(webserver, params, timeout_s)
    else:
        result = _dagster_graphql(params, timeout_s)
    launched = (result.get("data") or {}).get("launchPartitionBackfill")
    if not launched:
        errors = "; ".join(str(e.get("message")) for e in result.get("errors") or []) or json.dumps(result)
        raise BackfillError(f"the backfill was not accepted: {errors}")
    if launched.get("__typename") != "LaunchBackfillSuccess":
        raise BackfillError(
            f"the backfill was not accepted: {launched['__typename']}: {launched.get('message')}"
        )
    backfill_id = str(launched["backfillId"])
    logger.info(
        "backfill %s submitted: %d partitions of %s", backfill_id, len(params["partitionNames"]), assets
    )
    return backfill_id


def _post(webserver: str, params: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    url = webserver.rstrip("/") + "/graphql"
    try:
        response = requests.post(
            url, json={"query": LAUNCH_BACKFILL, "variables": {"params": params}}, timeout=timeout_s
        )
    except requests.RequestException as exc:
        raise BackfillError(f"the Dagster webserver at {webserver} cannot be reached: {exc}") from exc
    if response.status_code != 200:
        raise BackfillError(f"{url} answered HTTP {response.status_code}: {response.text[:300]}")
    body: dict[str, Any] = response.json()
    return body


def _dagster_graphql(params: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """The mutation through the ``dagster-graphql`` command, against the code location loaded from
    :data:`DEFINITIONS_MODULE` and the instance in ``DAGSTER_HOME``."""
    if not os.environ.get("DAGSTER_HOME"):
        raise BackfillError("DAGSTER_HOME is not set: the backfill must go to the instance the daemon reads")
    with tempfile.TemporaryDirectory(prefix="symphony-backfill-") as tmp:
        out = Path(tmp) / "result.json"
        argv = [
            sys.executable, "-c", "from dagster_graphql.cli import main; main()", "-m", DEFINITIONS_MODULE,
            "-t", LAUNCH_BACKFILL, "-v", json.dumps({"params": params}), "-o", str(out),
        ]  # fmt: skip
        try:
            proc = subprocess.run(argv, capture_output=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as exc:
            raise BackfillError(f"dagster-graphql did not answer within {timeout_s} s") from exc
        if not out.exists():
            tail = proc.stderr.decode("utf-8", "replace").strip()[-2000:]
            raise BackfillError(f"dagster-graphql exited {proc.returncode} without an answer: {tail}")
        body: dict[str, Any] = json.loads(out.read_text())
        return body


def backfill_state(instance: dg.DagsterInstance, backfill_id: str) -> BackfillState:
    """The backfill's status (Dagster's ``BulkActionStatus`` name) and its runs' statuses."""
    backfill = instance.get_backfill(backfill_id)
    if backfill is None:
        raise BackfillError(f"no backfill {backfill_id} in this instance")
    runs = instance.get_runs(filters=dg.RunsFilter(tags={BACKFILL_TAG: backfill_id}))
    return BackfillState(
        backfill_id, str(backfill.status.value), {r.run_id: str(r.status.value) for r in runs}
    )


def wait_for_backfill(
    instance: dg.DagsterInstance, backfill_id: str, timeout_s: float, poll_s: float = 2.0
) -> BackfillState:
    """Until the daemon has finished the backfill and every run of it has ended."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = backfill_state(instance, backfill_id)
        if state.finished:
            return state
        if time.monotonic() > deadline:
            raise BackfillError(
                f"backfill {backfill_id} not finished after {timeout_s} s: {state.status}, runs {state.runs}"
                " (is `dagster-daemon run` running on this instance?)"
            )
        time.sleep(poll_s)
