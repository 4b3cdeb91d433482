"""Notification delivery tasks (the dispatcher). Thin: each calls an action.

Every task here is idempotent and safe under acks_late + reject_on_worker_lost
(redelivery after a worker dies): see members/actions/notifications.py for the
per-step at-most-once / at-least-once choices. Retries of the *task* cover only
database hiccups, with countdowns capped at 300 s (settings.TASK_RETRY_POLICY);
gateway retries are later `due_at` values in the outbox, polled by beat.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

_DB_ERRORS = (OperationalError, InterfaceError)

__all__ = [
    "notification_dispatch",
    "notification_send_batch",
    "notification_sweep",
]


@shared_task(
    name="members.tasks.notification_dispatch",
    autoretry_for=_DB_ERRORS,
    **settings.TASK_RETRY_POLICY,
)
def notification_dispatch() -> int:
    """Beat, every minute: claim due rows in batches and publish one send task per
    batch. A duplicate tick claims nothing twice (SKIP LOCKED + status guard)."""
    from members.actions.notifications import notifications_dispatch

    return notifications_dispatch()


@shared_task(
    name="members.tasks.notification_send_batch",
    autoretry_for=_DB_ERRORS,
    **settings.TASK_RETRY_POLICY,
)
def notification_send_batch(ids: list[int], claim_token: str) -> dict:
    """Deliver one claimed batch (ids only). Redelivery runs it again harmlessly:
    rows already marked, finished or re-claimed are skipped."""
    from members.actions.notifications import notifications_send_batch

    return dict(notifications_send_batch(ids=ids, claim_token=claim_token))


@shared_task(
    name="members.tasks.notification_sweep",
    autoretry_for=_DB_ERRORS,
    **settings.TASK_RETRY_POLICY,
)
def notification_sweep() -> dict:
    """Beat, every 5 minutes: return rows stuck in `sending` (CE9)."""
    from members.actions.notifications import notifications_sweep_stuck

    return dict(notifications_sweep_stuck())
