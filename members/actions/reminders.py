"""Scheduled reminders: find what waits too long and write notices to the outbox.

Each reminder's dedupe key holds the recipient, the channel and the local date, so
a duplicate beat tick or a re-run on the same day stores nothing new.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from members.actions.notifications import NoticeSpec, notifications_enqueue_many
from members.models import NotificationCategory, NotificationChannel
from members.selectors.notifications import (
    SHANGHAI,
    applications_waiting_by_org,
    local_midnight,
    reviewers_for_orgs,
    working_days_before,
)

APPLICATION_WAIT_WORKING_DAYS = 3


@transaction.atomic
def reminders_applications_waiting(*, now: datetime | None = None) -> int:
    """Membership applications waiting more than 3 working days → one inbox notice
    (and an e-mail if the reviewer has an address) per reviewer and day, with the
    count for the reviewer's organisations. Returns the notices specified."""
    now = now or timezone.now()
    today = now.astimezone(SHANGHAI).date()
    cutoff = local_midnight(
        working_days_before(day=today, days=APPLICATION_WAIT_WORKING_DAYS)
    )
    waiting = applications_waiting_by_org(older_than=cutoff)
    if not waiting:
        return 0
    per_reviewer: Counter = Counter()
    reviewers = {}
    for org_id, users in reviewers_for_orgs(org_ids=list(waiting)).items():
        for user in users:
            per_reviewer[user.pk] += waiting[org_id]
            reviewers[user.pk] = user
    specs = []
    for user_id, count in sorted(per_reviewer.items()):
        channels = [NotificationChannel.INBOX]
        if reviewers[user_id].email:
            channels.append(NotificationChannel.EMAIL)
        for channel in channels:
            specs.append(
                NoticeSpec(
                    template_code="reminder_applications_waiting",
                    channel=channel,
                    dedupe_key=f"reminder:applications:{user_id}:{channel}:{today}",
                    user_id=user_id,
                    params={"count": count, "days": APPLICATION_WAIT_WORKING_DAYS},
                    category=NotificationCategory.REMINDER,
                    due_at=now,
                )
            )
    notifications_enqueue_many(specs=specs)
    return len(specs)
