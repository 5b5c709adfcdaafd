"""Resources every domain shares: git, Postgres and the Parquet+Postgres IO manager.

The database URL is handed over as ``dg.EnvVar``, never as its value: Dagster resolves it when a run
or sensor starts, and the UI (and every snapshot of the code location) shows only the variable's
name, so an external server's password never reaches them.
"""

import os

import dagster as dg

from symphony_assets.resources.git import GitResource
from symphony_assets.resources.postgres import POSTGRES_URL_ENV, PostgresResource
from symphony_assets.storage.io_manager import WarehouseIOManager


def postgres_resource() -> PostgresResource:
    """External server: ``url`` is the variable ``SYMPHONY_POSTGRES_URL`` (resolved at run time).
    Unset: no URL, so the resource uses the embedded server."""
    if os.environ.get(POSTGRES_URL_ENV):
        return PostgresResource(url=dg.EnvVar(POSTGRES_URL_ENV))
    return PostgresResource()


@dg.definitions
def resources() -> dg.Definitions:
    postgres = postgres_resource()
    return dg.Definitions(
        resources={
            "git": GitResource(),
            "postgres": postgres,
            "warehouse_io_manager": WarehouseIOManager(postgres=postgres),
        }
    )
