"""Nightly protection-program jobs. Thin: each calls one action with a date.

Both are idempotent by construction (the actions' SQL only moves rows still in
the old state, inserts with ON CONFLICT DO NOTHING and dedupe keys, and runs under
an advisory lock), so a re-delivered task changes nothing more. Only transient
database errors are retried.
"""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone


def _day(on: str | None) -> date:
    return date.fromisoformat(on) if on else timezone.localdate()


@shared_task(
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=1800,
    time_limit=2100,
)
def programs_recheck(on: str | None = None) -> dict:
    """Put active enrollments that no longer qualify under staff review (never
    lapse them: PIPL art. 24); end finished periods."""
    from services.actions.programs import programs_recheck as action

    result = action(on=_day(on))
    return {
        "ended": result.ended,
        "under_review": result.under_review,
        "notices": result.notices,
    }


@shared_task(
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=1800,
    time_limit=2100,
)
def programs_renew(on: str | None = None) -> dict:
    """Renew members still eligible (or restored by staff) before their period
    ends; put those who fail under staff review instead (PIPL art. 24); send
    the 30- and 7-day reminders to those whose coverage ends."""
    from services.actions.programs import programs_renew as action

    result = action(on=_day(on))
    return {
        "renewed": result.renewed,
        "under_review": result.under_review,
        "notices": result.notices,
        "reminders": result.reminders,
    }
