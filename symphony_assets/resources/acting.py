"""The global kill switch for everything that acts on the world (cleanup, tracker).

Two ways to pull it, either one stops all acting at once:
- the environment variable ``SYMPHONY_ACTING=off`` (read when a sensor ticks or a run starts, never at
  load time), and
- stopping the ``acting_enabled`` sensor in the UI (Automation page): acting sensors and runs look up its
  state in the instance.

With the switch pulled, sensors and schedules start dry runs instead of acting runs, and an acting run
that was already queued records what it would have done and touches nothing.
"""

from __future__ import annotations

import os

import dagster as dg

from symphony_assets.analysis.policy import acting_env_off

ACTING_ENV = "SYMPHONY_ACTING"
ACTING_SENSOR = "acting_enabled"
#: Run tag telling why a sensor started a dry run where the policy would have acted.
BLOCKED_TAG = "symphony/acting_blocked"


def switch_off_reason(
    instance: dg.DagsterInstance, location: str | None = None, repository: str | None = None
) -> str | None:
    """Why acting is stopped right now, or None when the policies are in charge."""
    value = os.environ.get(ACTING_ENV)
    if acting_env_off(value):
        return f"kill switch: {ACTING_ENV}={value}"
    if instance.schedule_storage is None:
        return None  # an ephemeral instance (tests, one-off runs) has no sensors to stop
    # Compared by the enums' values: the enum classes live in private Dagster modules.
    for state in instance.all_instigator_state():
        if state.name != ACTING_SENSOR or state.instigator_type.value != "SENSOR":
            continue
        if state.status.value != "STOPPED":
            continue
        selector = state.repository_selector
        if location is not None and selector.location_name != location:
            continue
        if repository is not None and selector.repository_name != repository:
            continue
        return f"kill switch: the {ACTING_SENSOR} sensor is stopped"
    return None


def sensor_switch_reason(context: dg.SensorEvaluationContext | dg.ScheduleEvaluationContext) -> str | None:
    """The kill switch as seen from a sensor or schedule tick of this code location."""
    origin = getattr(context, "code_location_origin", None)
    location = origin.location_name if origin is not None else None
    return switch_off_reason(context.instance, location, getattr(context, "repository_name", None))


def run_switch_reason(context: dg.AssetExecutionContext) -> str | None:
    """The kill switch as seen from a running asset (a run queued before the switch was pulled)."""
    origin = context.run.remote_job_origin
    location = origin.location_name if origin is not None else None
    return switch_off_reason(context.instance, location)
