"""Resources every domain shares: git, Postgres and the Parquet+Postgres IO manager."""

import dagster as dg

from symphony_assets.resources.git import GitResource
from symphony_assets.resources.postgres import POSTGRES_URL_ENV, PostgresResource
from symphony_assets.storage.io_manager import WarehouseIOManager


@dg.definitions
def resources() -> dg.Definitions:
    postgres = PostgresResource(url=dg.EnvVar(POSTGRES_URL_ENV).get_value())
    return dg.Definitions(
        resources={
            "git": GitResource(),
            "postgres": postgres,
            "warehouse_io_manager": WarehouseIOManager(postgres=postgres),
        }
    )
