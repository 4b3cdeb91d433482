"""The outbox contract every part of the portal uses to notify people.

Call these inside the transaction of the event that causes the notice: the row
commits or rolls back with it. Delivery (quiet hours, opt-out, retries, dead
letters) belongs to the dispatcher, not to callers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from members.models import (
    Member,
    Notification,
    NotificationCategory,
    NotificationChannel,
    User,
)


@dataclass(frozen=True)
class NoticeSpec:
    """One notice to enqueue. `params` must not contain raw personal data."""

    template_code: str
    channel: str
    dedupe_key: str
    user_id: int | None = None
    member_id: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    category: str = NotificationCategory.SERVICE
    due_at: datetime | None = None


def notification_enqueue(
    *,
    template_code: str,
    dedupe_key: str,
    channel: str = NotificationChannel.INBOX,
    user: User | None = None,
    member: Member | None = None,
    params: dict[str, Any] | None = None,
    category: str = NotificationCategory.SERVICE,
    due_at: datetime | None = None,
) -> None:
    """Store one notice; a second call with the same dedupe_key stores nothing
    (INSERT ... ON CONFLICT DO NOTHING)."""
    notifications_enqueue_many(
        specs=[
            NoticeSpec(
                template_code=template_code,
                channel=channel,
                dedupe_key=dedupe_key,
                user_id=user.pk if user else None,
                member_id=member.pk if member else None,
                params=params or {},
                category=category,
                due_at=due_at,
            )
        ]
    )


def notifications_enqueue_many(
    *, specs: Iterable[NoticeSpec], batch_size: int = 5000
) -> None:
    """Set-based enqueue for fan-out (nightly re-checks, platform batches)."""
    now = timezone.now()
    rows = [
        Notification(
            user_id=spec.user_id,
            member_id=spec.member_id,
            channel=spec.channel,
            category=spec.category,
            template_code=spec.template_code,
            params=spec.params,
            dedupe_key=spec.dedupe_key,
            due_at=spec.due_at or now,
        )
        for spec in specs
    ]
    Notification.objects.bulk_create(rows, batch_size=batch_size, ignore_conflicts=True)
