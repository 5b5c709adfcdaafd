"""Dagster's instance storage (runs, events, schedules) on our PostgreSQL, with no environment needed.

``dagster dev``, ``dg dev`` and ``dagster asset materialize`` run from the project root read
``./dagster.yaml``, which names this class. It takes the URL the way ``symphony`` does: the
``SYMPHONY_DAGSTER_PG_URL`` variable, else the ``dagster`` database next to ``SYMPHONY_POSTGRES_URL``,
else the embedded server under ``$SYMPHONY_HOME/pg`` (started, or attached to when already running).
Every process that rebuilds the instance (webserver, daemon, run workers) resolves it again, so no URL
(and no password) is written into the instance's serialised configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from dagster_postgres import DagsterPostgresStorage

from symphony_assets.config import ConfigError, load_config
from symphony_assets.core.partition_keys import CODEBASE
from symphony_assets.resources.postgres import DAGSTER_URL_ENV, Database, resolve_urls, sqlalchemy_url


def dagster_storage_url() -> str:
    """The SQLAlchemy URL of Dagster's database; starts the embedded server (and migrates ours) if needed."""
    explicit = os.environ.get(DAGSTER_URL_ENV)
    if explicit:
        return sqlalchemy_url(explicit)
    urls = resolve_urls(start=True)
    Database(urls.data).migrate()
    return urls.dagster


class SymphonyInstanceStorage(DagsterPostgresStorage):
    """:class:`DagsterPostgresStorage` whose URL is resolved when the instance is built, not configured."""

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Mapping[str, Any]) -> SymphonyInstanceStorage:
        storage = cls(dagster_storage_url(), inst_data=inst_data)
        storage.register_codebases()
        return storage

    def register_codebases(self) -> None:
        """Add a ``codebase`` partition for each configured codebase, so a key like ``repo|2026-12-01``
        is valid for ``dagster asset materialize`` at once (the sync sensor also retires removed ones)."""
        try:
            names = load_config().names
        except ConfigError:
            return  # reported by the sync sensor's tick, the config check and `symphony run`
        events = self.event_log_storage
        have = set(events.get_dynamic_partitions(CODEBASE))
        missing = [name for name in names if name not in have]
        if missing:
            events.add_dynamic_partitions(CODEBASE, missing)
