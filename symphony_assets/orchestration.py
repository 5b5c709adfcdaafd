"""Cross-cutting orchestration: the daily snapshot job and schedule, codebase sync, failure alerts.

Kept out of ``defs/`` because they span every domain; ``definitions.py`` merges them in.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import dagster as dg
import requests

from symphony_assets.config import ConfigError, load_config
from symphony_assets.core.names import (  # noqa: F401 - re-exported
    CROSS_JOB,
    FLEET_JOB,
    GPU_JOB,
    PHASE_TAG,
    SNAPSHOT_JOB,
    TRACKER_JOB,
    TRIGGER_TAG,
    WEBHOOK_ENV,
)
from symphony_assets.defs.partitions import (
    CODEBASE,
    HOST,
    daily_partitions,
    snapshot_key,
    snapshot_partitions,
)
from symphony_assets.defs.snapshots import SNAPSHOT_MAX_RUNTIME_S, utc_today

log = logging.getLogger(__name__)

#: Assets that act on the world (cleanup, tracker) carry this tag and run only when their sensor says.


def phase_keys(specs: Iterable[dg.AssetSpec], phase: str) -> list[dg.AssetKey]:
    """The assets of one phase of the daily snapshot (``PHASE_TAG``), leaving out those only a sensor
    starts: ``codebase`` (codebase x day, one run per codebase), ``fleet`` (by day over every codebase)
    and ``cross`` (codebase x day, reading every codebase's partitions of the day)."""
    wanted = daily_partitions if phase == "fleet" else snapshot_partitions
    return [
        spec.key
        for spec in specs
        if spec.partitions_def is wanted
        and spec.tags.get(TRIGGER_TAG) != "sensor"
        and spec.tags.get(PHASE_TAG, "codebase") == phase
    ]


#: The run monitor stops a run past this many seconds (a stuck git, a pathological repo).
_SNAPSHOT_TAGS = {"symphony/kind": "snapshot", "dagster/max_runtime": str(SNAPSHOT_MAX_RUNTIME_S)}


def snapshot_job(specs: Iterable[dg.AssetSpec]) -> dg.UnresolvedAssetJobDefinition:
    """Every codebase x date asset of one codebase's own (phase ``codebase``)."""
    return dg.define_asset_job(
        SNAPSHOT_JOB,
        selection=dg.AssetSelection.assets(*phase_keys(specs, "codebase")),
        description="Today's partition of every snapshot asset for one codebase.",
        tags=_SNAPSHOT_TAGS,
    )


def snapshot_jobs(specs: Iterable[dg.AssetSpec]) -> list[dg.UnresolvedAssetJobDefinition]:
    """The three phases of a day's snapshot as jobs: every codebase's own assets, then what compares
    the codebases (the fleet-wide assets, and the codebase x day assets that read every codebase)."""
    specs = list(specs)
    tags = _SNAPSHOT_TAGS
    return [
        snapshot_job(specs),
        dg.define_asset_job(
            FLEET_JOB,
            selection=dg.AssetSelection.assets(*phase_keys(specs, "fleet")),
            description="A day of every fleet-wide asset, over every codebase's partitions of the day.",
            tags=tags,
        ),
        dg.define_asset_job(
            CROSS_JOB,
            selection=dg.AssetSelection.assets(*phase_keys(specs, "cross")),
            description="A codebase's day of the assets that compare it with every other codebase.",
            tags=tags,
        ),
    ]


#: Under the daemon, the fleet-wide and cross-codebase assets of the day run once every codebase's
#: partitions of the day are there (their eager automation condition; ``defs/fleet.py``).
after_every_codebase_sensor = dg.AutomationConditionSensorDefinition(
    "after_every_codebase",
    target=dg.AssetSelection.tag(PHASE_TAG, "fleet") | dg.AssetSelection.tag(PHASE_TAG, "cross"),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)


gpu_hour_job = dg.define_asset_job(
    GPU_JOB,
    selection=dg.AssetSelection.assets("gpu_utilisation"),
    description="One hour of GPU utilisation for one host (the gpu_sampler sensor requests these).",
)


@dataclass(frozen=True)
class SyncResult:
    added: list[str]
    retired: list[str]
    names: list[str]


def sync_codebases(instance: dg.DagsterInstance) -> SyncResult:
    """Make the dynamic ``codebase`` and ``host`` partitions match ``symphony.yaml``.

    A codebase no longer configured is retired: its partition key leaves the dynamic partitions, so no
    schedule launches it again, while every materialisation it had stays in storage (and in the warehouse).
    """
    config = load_config()
    added: list[str] = []
    retired: list[str] = []
    for dim, wanted in ((CODEBASE, config.names), (HOST, sorted({c.machine for c in config.codebases}))):
        have = set(instance.get_dynamic_partitions(dim))
        new = [name for name in wanted if name not in have]
        if new:
            instance.add_dynamic_partitions(dim, new)
            added += [f"{dim}:{n}" for n in new]
        if dim == CODEBASE:
            for gone in sorted(have - set(wanted)):
                instance.delete_dynamic_partition(dim, gone)
                retired.append(gone)
    return SyncResult(added, retired, config.names)


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def codebase_sync_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Adds a partition for every codebase (and machine) in ``symphony.yaml`` as soon as it appears, and
    retires the partitions of codebases removed from it. An invalid file fails the tick with its line."""
    try:
        result = sync_codebases(context.instance)
    except ConfigError as exc:
        raise dg.Failure(description=f"symphony.yaml is invalid: {exc}") from exc
    notes = [f"{len(result.names)} codebases in sync"]
    if result.added:
        notes.append(f"added {', '.join(result.added)}")
    if result.retired:
        notes.append(
            f"retired {', '.join(result.retired)} (removed from symphony.yaml; no longer scheduled, "
            "their materialisations stay in storage)"
        )
    context.log.info("; ".join(notes))
    return dg.SkipReason("; ".join(notes))


@dg.schedule(
    job_name=SNAPSHOT_JOB,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def daily_snapshot_schedule(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
    """Today's partition for every codebase, one run each, so a broken codebase never blocks the rest."""
    day = utc_today()
    for name in context.instance.get_dynamic_partitions(CODEBASE):
        key = snapshot_key(name, day)
        yield dg.RunRequest(run_key=f"{name}|{day}", partition_key=key, tags={"symphony/codebase": name})


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING, monitor_all_code_locations=False)
def run_failure_webhook(context: dg.RunFailureSensorContext) -> None:
    """Posts a short JSON message to ``SYMPHONY_WEBHOOK_URL`` when a run fails; silent when unset."""
    url = os.environ.get(WEBHOOK_ENV)
    if not url:
        return
    run = context.dagster_run
    payload = {
        "text": f"Symphony run {run.run_id} of {run.job_name} failed",
        "run_id": run.run_id,
        "job": run.job_name,
        "partition": run.tags.get("dagster/partition"),
        "error": context.failure_event.message,
    }
    try:
        resp = requests.post(
            url, data=json.dumps(payload), headers={"Content-Type": "application/json"}, timeout=10
        )
        resp.raise_for_status()
    except requests.RequestException as exc:
        # A dead webhook must not break the sensor loop; the failure is still in the Dagster UI.
        context.log.warning(f"failure webhook {url} did not accept the alert: {exc}")
