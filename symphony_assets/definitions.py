"""The code location: every domain under ``defs/``, plus the cross-cutting sensors and schedule."""

import warnings
from pathlib import Path

import dagster as dg

from symphony_assets.executors import executor_from_env
from symphony_assets.orchestration import (
    after_every_codebase_sensor,
    codebase_sync_sensor,
    daily_snapshot_schedule,
    gpu_hour_job,
    run_failure_webhook,
    snapshot_jobs,
)


def _with_code_links(defs: dg.Definitions) -> dg.Definitions:
    """Each asset links to the file and line that defines it, shown in the UI's asset page."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)  # code references are beta; we accept that
        assets = dg.with_source_code_references(list(defs.assets or []))
    return dg.Definitions(
        assets=assets,
        asset_checks=defs.asset_checks,
        schedules=defs.schedules,
        sensors=defs.sensors,
        jobs=defs.jobs,
        resources=defs.resources,
    )


@dg.definitions
def defs() -> dg.Definitions:
    domains = _with_code_links(dg.load_from_defs_folder(path_within_project=Path(__file__).parent))
    return dg.Definitions.merge(
        domains,
        dg.Definitions(
            jobs=[*snapshot_jobs(domains.resolve_all_asset_specs()), gpu_hour_job],
            schedules=[daily_snapshot_schedule],
            sensors=[codebase_sync_sensor, run_failure_webhook, after_every_codebase_sensor],
            # Launched runs: multiprocess by default, Celery workers with SYMPHONY_EXECUTOR=celery.
            executor=executor_from_env(),
        ),
    )
