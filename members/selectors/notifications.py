"""Reads for notifications: the inbox (always scoped to the caller) and the
inputs of scheduled reminders."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.db.models import QuerySet

from members.models import (
    Notification,
    NotificationChannel,
    NotificationStatus,
    User,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def inbox_for(*, user: User) -> QuerySet[Notification]:
    """The user's own delivered 站内信, newest first."""
    if not user.is_authenticated:
        return Notification.objects.none()
    return Notification.objects.filter(
        user=user, channel=NotificationChannel.INBOX, status=NotificationStatus.SENT
    ).order_by("-sent_at", "-id")


def inbox_unread_count(*, user: User) -> int:
    """One indexed COUNT (user, channel, read_at)."""
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(
        user=user,
        channel=NotificationChannel.INBOX,
        status=NotificationStatus.SENT,
        read_at__isnull=True,
    ).count()
