"""The Celery app ``symphony worker`` runs (``celery -A symphony_assets.celery_app worker``).

dagster-celery's task that executes one step of a run, on the broker named by ``SYMPHONY_BROKER_URL``,
with the same settings the executor sends with (:func:`symphony_assets.executors.celery_config_source`).
A worker needs the code location importable, the same ``symphony.yaml`` (``SYMPHONY_CONFIG``), the
Postgres URLs and the warehouse root; it rebuilds each run's Dagster instance from the task itself.
"""

from __future__ import annotations

import os

from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from symphony_assets.executors import BROKER_ENV, celery_config_source

_broker = os.environ.get(BROKER_ENV) or "redis://127.0.0.1:6379/0"
app = make_app(
    CeleryExecutor.for_cli(broker=_broker, backend=_broker, config_source=celery_config_source()).app_args()
)
execute_plan = create_task(app)
