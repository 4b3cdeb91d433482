"""Celery tasks of the services app, imported here for autodiscovery."""

from services.tasks.programs import programs_recheck, programs_renew

__all__ = ["programs_recheck", "programs_renew"]
