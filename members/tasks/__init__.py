"""Celery tasks of the members app. Celery's autodiscovery imports this package,
so every task module is imported here."""

from members.tasks.audit_ship import *  # noqa: F403
from members.tasks.notifications import *  # noqa: F403
from members.tasks.reminders import *  # noqa: F403
from members.tasks.retention import *  # noqa: F403
