"""Celery tasks of the services app, imported here for autodiscovery."""

from services.tasks.batches import *  # noqa: F403
