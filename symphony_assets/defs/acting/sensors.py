"""``acting_enabled``: the UI toggle of the global kill switch. Stop this sensor and no sensor or
schedule acts (cleanup quarantines nothing, the tracker changes nothing): they start dry runs instead.
``SYMPHONY_ACTING=off`` in the environment does the same."""

import os

import dagster as dg

from symphony_assets.analysis.policy import acting_env_off
from symphony_assets.resources.acting import ACTING_ENV, ACTING_SENSOR


@dg.sensor(
    name=ACTING_SENSOR,
    minimum_interval_seconds=3600,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Kill switch: while this sensor is stopped, no sensor or schedule acts (dry runs only).",
)
def acting_enabled(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Starts nothing; its running/stopped state is the switch the acting sensors read."""
    value = os.environ.get(ACTING_ENV)
    if acting_env_off(value):
        return dg.SkipReason(f"acting is off anyway: {ACTING_ENV}={value}")
    return dg.SkipReason("acting allowed where a codebase's policy says so (stop this sensor to stop it)")
