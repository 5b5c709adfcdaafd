"""Start a ``cleanup_actions`` run whenever a new today-partition of ``cleanup_candidates`` lands: a dry
run, or an acting one where the codebase's policy says ``cleanup: {mode: execute}`` and the kill switch
(``SYMPHONY_ACTING=off`` or the stopped ``acting_enabled`` sensor) is not pulled.

One run per new materialisation of today's ``cleanup_candidates`` partition: it executes (within
``max_deletions``) only for codebases whose policy is ``mode: execute``, and never while the kill switch
is pulled (see :func:`~symphony_assets.defs.acting.factory.acting_sensor`)."""

from symphony_assets.analysis.policy import CleanupPolicy
from symphony_assets.defs.acting.factory import acting_sensor

CLEANUP_DRY_RUN_JOB = "cleanup_dry_run_job"

_cleanup = acting_sensor(
    domain="cleanup",
    name="cleanup_dry_run_sensor",
    job_name=CLEANUP_DRY_RUN_JOB,
    job_description=(
        "Plan what cleanup would do with today's candidates (a dry run unless the config says so)."
    ),
    watched="cleanup_candidates",
    target="cleanup_actions",
    from_options=CleanupPolicy.from_options,
    wants_to_act=lambda policy: policy.execute,
    acts=lambda config: bool(config["execute"]),
    verb="execute",
)
cleanup_dry_run_job = _cleanup.job
cleanup_dry_run_sensor = _cleanup.sensor
