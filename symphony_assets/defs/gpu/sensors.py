"""``gpu_sampler``: a sensor that appends NVML's buffered samples to ``symphony.gpu_samples``.

Why a sensor with a cursor rather than a job on a short schedule:

* NVML already samples several times a second and keeps a ring of recent samples per device; the
  poller only has to drain that ring more often than it turns over (minutes). A 30 s sensor tick
  does this in milliseconds, inside the daemon, without launching a run. A schedule every 30 s would
  launch 2,880 runs a day per machine (seconds of overhead each, and a run history nobody can read).
* The "what has been read" state (per device and stream, the newest NVML timestamp) is exactly what
  a sensor cursor is for: it is saved only after the tick succeeds, so a failed tick rereads the same
  samples next time, and the table's primary key drops what was already stored.

The cursor is the :class:`SamplerCursor` JSON plus two keys of the sensor's own (``requested_hour``,
``last_status``). When an hour has passed, the tick requests that hour's ``gpu_utilisation``
partition for this machine. The sensor reads the GPUs of the machine its code server runs on, so it
is meant to run in a deployment on each GPU machine (``SYMPHONY_MACHINE`` names it).

Nothing here raises into the daemon: a missing library, no devices, a lost GPU or Postgres being down
end as a ``SkipReason`` (and, for NVML states, a status row, once per hour or change).
"""

import datetime as dt
import json
import logging
import os
from typing import Any

import dagster as dg

from symphony_assets.defs.partitions import HOST, HOUR, host_partitions
from symphony_assets.resources.nvml import (
    STATUS_OK,
    GpuSampleStore,
    NvmlResource,
    NvmlSampler,
    SampleBatch,
    SamplerCursor,
    StoreResult,
)
from symphony_assets.resources.postgres import Database, DatabaseUnavailable, PostgresResource

log = logging.getLogger(__name__)

SAMPLER_INTERVAL_S = 30
HOUR_FORMAT = "%Y-%m-%d-%H:%M"
BACKFILL_ENV = "SYMPHONY_GPU_BACKFILL_HOURS"
DEFAULT_BACKFILL_HOURS = 48


def parse_cursor(text: str | None) -> tuple[SamplerCursor, dict[str, Any]]:
    """The sampler's cursor and the sensor's own keys, from one JSON string."""
    try:
        raw = json.loads(text) if text else {}
    except ValueError:
        raw = {}
    raw = raw if isinstance(raw, dict) else {}
    own = {k: raw[k] for k in ("requested_hour", "last_status", "status_hour") if k in raw}
    return SamplerCursor.from_json(json.dumps(raw)), own


def dump_cursor(cursor: SamplerCursor, own: dict[str, Any]) -> str:
    return json.dumps({**json.loads(cursor.to_json()), **own}, sort_keys=True)


def backfill_hours_limit() -> int:
    """How many finished hours one tick may request after downtime (``SYMPHONY_GPU_BACKFILL_HOURS``)."""
    try:
        return max(1, int(os.environ.get(BACKFILL_ENV, DEFAULT_BACKFILL_HOURS)))
    except ValueError:
        return DEFAULT_BACKFILL_HOURS


def sample_tick(
    sampler: NvmlSampler, db: Database, cursor_text: str | None, now: dt.datetime
) -> tuple[str, SampleBatch, StoreResult | None, list[str]]:
    """One tick: read, store, move the cursor. Returns (new cursor, batch, stored, finished hours).

    ``finished hours`` (``YYYY-MM-DD-HH:00``) are the hours that ended since the last request: the hour
    just finished always, and, after the daemon was down, each earlier missed hour that has samples (at
    most :func:`backfill_hours_limit` in all, newest first kept), so no sampled hour is lost.
    Raises DatabaseUnavailable when the samples could not be stored (the cursor must not move).
    """
    cursor, own = parse_cursor(cursor_text)
    batch = sampler.read(cursor)
    this_hour = now.replace(minute=0, second=0, microsecond=0).strftime(HOUR_FORMAT)
    record_status = batch.status == STATUS_OK or (
        own.get("last_status") != batch.status or own.get("status_hour") != this_hour
    )
    stored = None
    if batch.status == STATUS_OK or record_status:
        stored = GpuSampleStore(db).append(batch, record_status=record_status)
    own["last_status"] = batch.status
    if record_status:
        own["status_hour"] = this_hour
    finished: list[str] = []
    previous = own.get("requested_hour")
    if previous is None:
        own["requested_hour"] = this_hour  # first tick: nothing finished yet
    elif previous != this_hour:
        finished = _finished_hours(GpuSampleStore(db), sampler.host, previous, now)
        own["requested_hour"] = this_hour
    return dump_cursor(batch.cursor, own), batch, stored, finished


def _finished_hours(store: GpuSampleStore, host: str, previous: str, now: dt.datetime) -> list[str]:
    last = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
    limit = backfill_hours_limit()
    try:
        first = dt.datetime.strptime(previous, HOUR_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        first = last
    first = max(first, last - dt.timedelta(hours=limit - 1))
    sampled = store.hours_with_samples(host, first, last) if first < last else set()
    hours = sorted({h for h in sampled if first <= h < last} | {last})
    return [h.strftime(HOUR_FORMAT) for h in hours]


@dg.sensor(
    name="gpu_sampler",
    minimum_interval_seconds=SAMPLER_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    asset_selection=["gpu_utilisation"],
    description="Drains NVML's sample buffers into symphony.gpu_samples; asks for each finished hour.",
)
def gpu_sampler(
    context: dg.SensorEvaluationContext, nvml: NvmlResource, postgres: PostgresResource
) -> dg.SensorResult | dg.SkipReason:
    host = nvml.machine()
    try:
        new_cursor, batch, stored, finished = sample_tick(
            nvml.sampler(), postgres.database(), context.cursor, dt.datetime.now(dt.UTC)
        )
    except DatabaseUnavailable as exc:
        return dg.SkipReason(f"samples not stored, cursor kept (NVML keeps them a while): {exc}")
    except Exception as exc:  # never crash the daemon: the tick is retried with the cursor kept
        log.exception("gpu_sampler tick failed")
        return dg.SkipReason(f"sampler tick failed, cursor kept: {type(exc).__name__}: {exc}")
    context.update_cursor(new_cursor)
    if batch.status != STATUS_OK:
        return dg.SkipReason(f"{host}: {batch.status}: {batch.message}")
    requests = [
        dg.RunRequest(
            run_key=f"gpu_utilisation:{host}:{hour}",
            partition_key=dg.MultiPartitionKey({HOST: host, HOUR: hour}),
        )
        for hour in finished
    ]
    if len(finished) > 1:
        context.log.info(f"{host}: after downtime, requesting {len(finished)} hours: {', '.join(finished)}")
    dynamic = []
    if not context.instance.has_dynamic_partition(HOST, host):
        dynamic.append(host_partitions.build_add_request([host]))
    context.log.info(
        f"{host}: {len(batch.samples)} samples ({stored.samples_inserted if stored else 0} new), "
        f"{len(batch.process_samples)} process rows; {batch.message}"
    )
    return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=dynamic)
