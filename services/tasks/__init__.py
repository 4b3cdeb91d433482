"""Celery tasks of the services app, imported here for autodiscovery."""
