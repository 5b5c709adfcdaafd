"""Start a reconcile whenever a new today-partition of ``todo_list`` is materialised: a dry run, or one
that applies the plan where the codebase's policy says ``tracker: {mode: apply}`` and the kill switch
(``SYMPHONY_ACTING=off`` or the stopped ``acting_enabled`` sensor) is not pulled.

One reconcile per new materialisation of today's ``todo_list`` partition; it applies (within the
policy's ``max_create``/``max_close``) only where the policy says ``mode: apply`` (see
:func:`~symphony_assets.defs.acting.factory.acting_sensor`)."""

from symphony_assets.analysis.policy import TrackerPolicy
from symphony_assets.core.names import TRACKER_JOB
from symphony_assets.defs.acting.factory import acting_sensor

_tracker = acting_sensor(
    domain="tracker",
    name="tracker_dry_run_sensor",
    job_name=TRACKER_JOB,
    job_description=(
        "Reconcile findings with the issue tracker (a dry run unless the run config says otherwise)."
    ),
    watched="todo_list",
    target="tracker_issues",
    from_options=TrackerPolicy.from_options,
    wants_to_act=lambda policy: policy.apply,
    acts=lambda config: not config["dry_run"],
    verb="apply",
)
tracker_job = _tracker.job
tracker_dry_run_sensor = _tracker.sensor
