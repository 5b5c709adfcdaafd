"""One acting sensor for every domain that acts on the world from today's partition.

Each new materialisation of today's partition of a watched asset starts one run of the acting asset: a
dry run, or an acting one where the codebase's policy (``<domain>: {mode: ...}`` in symphony.yaml) says
so and the kill switch (``SYMPHONY_ACTING=off`` or the stopped ``acting_enabled`` sensor) is not pulled.
The cleanup and tracker sensors are this sensor with their own asset, policy and names.
"""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import dagster as dg

from symphony_assets.config import ConfigError, load_config
from symphony_assets.defs.partitions import partition_columns
from symphony_assets.defs.snapshots import utc_today
from symphony_assets.resources.acting import BLOCKED_TAG, sensor_switch_reason


class ActingPolicy(Protocol):
    def run_config(self, acting: bool) -> dict[str, Any]: ...


P = TypeVar("P", bound=ActingPolicy)


def policy_for(domain: str, from_options: Callable[[Mapping[str, Any] | None], P], codebase: str) -> P:
    """The codebase's acting policy from symphony.yaml; an unreadable config or unknown name is a dry run."""
    try:
        return from_options(load_config().codebase(codebase).options.get(domain))
    except ConfigError:
        return from_options(None)


@dataclass(frozen=True)
class ActingSensor:
    job: Any  # what ``dg.define_asset_job`` returns (Dagster does not export its type)
    sensor: dg.SensorDefinition


def acting_sensor(
    *,
    domain: str,
    name: str,
    job_name: str,
    job_description: str,
    watched: str,
    target: str,
    from_options: Callable[[Mapping[str, Any] | None], P],
    wants_to_act: Callable[[P], bool],
    acts: Callable[[dict[str, Any]], bool],
    verb: str,
) -> ActingSensor:
    """The job ``job_name`` (the ``target`` asset) and the sensor ``name`` that starts it for each new
    today-partition of ``watched``, with the codebase's ``domain`` policy: ``wants_to_act`` reads the
    policy, ``acts`` the run config it makes, and ``verb`` names the policy's acting mode in the
    warning a pulled kill switch logs. The cursor is the storage id of the last materialisation looked
    at, so each is seen once; past days (backfills) start nothing, since only today acts."""
    job = dg.define_asset_job(
        job_name,
        selection=dg.AssetSelection.assets(target),
        description=job_description,
        tags={"symphony/kind": domain},
    )

    def evaluate(context: dg.SensorEvaluationContext) -> Iterator[dg.RunRequest | dg.SkipReason]:
        requested = 0
        new = new_today_partitions(context, watched)
        blocked = sensor_switch_reason(context) if new else None
        for key, storage_id in new:
            requested += 1
            policy = policy_for(domain, from_options, str(partition_columns(key)["codebase"]))
            config = policy.run_config(acting=blocked is None)
            tags = {**exclusive_tags(domain, key), "symphony/acting": str(acts(config)).lower()}
            if wants_to_act(policy) and blocked:
                tags[BLOCKED_TAG] = blocked
                context.log.warning(f"{key}: the policy says {verb}, but {blocked}; starting a dry run")
            yield dg.RunRequest(
                run_key=f"{domain}|{key}|{storage_id}",
                partition_key=key,
                run_config={"ops": {target: {"config": config}}},
                tags=tags,
            )
        if not requested:
            yield dg.SkipReason(f"no new {watched} partition for {utc_today()}")

    sensor = dg.sensor(
        name=name, job=job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING
    )(evaluate)
    return ActingSensor(job, sensor)


def new_today_partitions(context: dg.SensorEvaluationContext, asset: str) -> list[tuple[str, int]]:
    """(partition key, storage id) of each materialisation of today's partitions of ``asset`` since
    the cursor, which moves past everything looked at. Past days (backfills) never count: only today
    acts."""
    cursor = int(context.cursor or 0)
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), after_storage_id=cursor),
        limit=200,
        ascending=True,
    ).records
    today = utc_today()
    found = []
    for record in records:
        cursor = max(cursor, record.storage_id)
        key = record.partition_key
        if key and partition_columns(key)["date"] == today:
            found.append((key, record.storage_id))
    context.update_cursor(str(cursor))
    return found


def exclusive_tags(domain: str, partition_key: str) -> dict[str, str]:
    """Run tags that, with dagster.yaml's ``symphony/exclusive`` limit, allow one such run per codebase."""
    codebase = str(partition_columns(partition_key)["codebase"])
    return {"symphony/codebase": codebase, "symphony/exclusive": f"{domain}:{codebase}"}
