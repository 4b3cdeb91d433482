"""The daily audit log copy (security.md LG3). Thin: calls the action.

Idempotent: a shipped day is recomputed and compared, never rewritten, and every
file is written under a temporary name and renamed, so a second delivery (or
two at once) leaves the same bytes. A missed night is caught up by the next run
(every missing day up to yesterday, in order), and each run re-checks the day
the previous run shipped (rows committed after it was copied fail the task with
`ShipLateRows` once the new days are shipped, and leave an audit row naming
them). Only transient database errors are retried; anything else (store not
mounted, a day that no longer matches) fails the task loudly and the next run
tries again.
"""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

__all__ = ["audit_ship"]


@shared_task(
    name="members.tasks.audit_ship",
    autoretry_for=(OperationalError, InterfaceError),
    **settings.TASK_RETRY_POLICY,
    # A first run backfills every day since the oldest audit row.
    soft_time_limit=1800,
    time_limit=2100,
)
def audit_ship(through: str | None = None) -> dict:
    """Ship every missing Asia/Shanghai day up to `through` (ISO date; default
    yesterday). Returns {day: rows} of the days handled."""
    from members.actions.audit_ship import ship_through

    results = ship_through(date.fromisoformat(through) if through else None)
    return {r.day.isoformat(): r.rows for r in results}
