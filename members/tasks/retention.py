"""The daily retention job (security.md PI8). Thin: calls the action.

Idempotent: rows already deleted or anonymised no longer match any category, so a
re-delivered task finds nothing and writes no audit row; two overlapping runs are
kept apart by an advisory lock (the second returns at once). Only transient
database errors are retried.
"""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

__all__ = ["retention_run"]


@shared_task(
    name="members.tasks.retention_run",
    autoretry_for=(OperationalError, InterfaceError),
    **settings.TASK_RETRY_POLICY,
    # Millions of old rows on the first run: chunks commit one by one, so a run cut
    # short by the limit leaves consistent rows and the next run continues.
    soft_time_limit=1800,
    time_limit=2100,
)
def retention_run(now: str | None = None) -> dict:
    """Apply the retention schedule; `now` (ISO datetime) only for tests/backfills.
    Returns {category: count}."""
    from members.actions.retention import retention_run as action

    results = action(now=datetime.fromisoformat(now) if now else None)
    return {r.category: r.count for r in results}
