"""The tracker resource: built-in (Postgres) by default, GitHub when ``SYMPHONY_TRACKER=github``."""

import dagster as dg

from symphony_assets.resources.tracker import TrackerResource


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"tracker": TrackerResource.from_env()})
