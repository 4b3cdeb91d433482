"""Celery tasks of the services app, imported here for autodiscovery."""

from services.tasks.batches import *  # noqa: F403
from services.tasks.programs import programs_recheck, programs_renew  # noqa: F401
