"""The code location: every domain under ``defs/``, plus the cross-cutting sensors and schedule."""

import inspect
import os
import warnings
from pathlib import Path
from typing import Any

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

#: The metadata key the UI reads an asset's code links from.
CODE_REFERENCES = "dagster/code_references"


def _code_link(assets_def: Any) -> Any:
    """The asset with a link to the file and line of its function.

    Not ``dg.with_source_code_references``: it takes the file from the function the op calls, which for
    our snapshot assets is the interrupt guard's wrapper (``defs/interrupts.py``); the link has to name
    the function that wrapper wraps (``inspect.unwrap``)."""
    if not isinstance(assets_def, dg.AssetsDefinition) or not isinstance(
        assets_def.node_def, dg.OpDefinition
    ):
        return assets_def
    compute: Any = assets_def.node_def.compute_fn
    fn = inspect.unwrap(getattr(compute, "decorated_fn", compute))
    source = inspect.getsourcefile(fn)
    if source is None:
        return assets_def
    link = dg.LocalFileCodeReference(
        file_path=os.path.abspath(source), line_number=inspect.getsourcelines(fn)[1]
    )
    return assets_def.map_asset_specs(
        lambda spec: spec.replace_attributes(
            metadata={
                **spec.metadata,
                CODE_REFERENCES: dg.CodeReferencesMetadataValue(code_references=[link]),
            }
        )
    )


def _with_code_links(defs: dg.Definitions) -> dg.Definitions:
    """Each asset links to the file and line that defines it, shown in the UI's asset page."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)  # code references are beta; we accept that
        assets = [_code_link(a) for a in defs.assets or []]
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
