"""Periodic reminder tasks (beat entries in portal/schedules.py). Thin: each calls
one action; idempotent through the outbox's unique dedupe keys."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError


@shared_task(
    name="members.tasks.application_review_reminders_enqueue",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def application_review_reminders_enqueue() -> int:
    from members.actions.reminders import application_review_reminders_enqueue

    return application_review_reminders_enqueue()


@shared_task(
    name="members.tasks.data_request_reminders_enqueue",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def data_request_reminders_enqueue() -> int:
    from members.actions.reminders import data_request_reminders_enqueue

    return data_request_reminders_enqueue()
