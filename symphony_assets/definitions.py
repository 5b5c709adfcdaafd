"""The code location: every domain under ``defs/``, plus the cross-cutting sensors and schedule."""

from pathlib import Path

import dagster as dg

from symphony_assets.orchestration import (
    codebase_sync_sensor,
    daily_snapshot_schedule,
    gpu_hour_job,
    run_failure_webhook,
    snapshot_job,
)


@dg.definitions
def defs() -> dg.Definitions:
    domains = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    return dg.Definitions.merge(
        domains,
        dg.Definitions(
            jobs=[snapshot_job(domains.resolve_all_asset_specs()), gpu_hour_job],
            schedules=[daily_snapshot_schedule],
            sensors=[codebase_sync_sensor, run_failure_webhook],
        ),
    )
