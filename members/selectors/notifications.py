"""Reads for notifications: the inbox (always scoped to the caller) and the
inputs of scheduled reminders."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, QuerySet

from members.models import (
    Member,
    MemberStatus,
    Notification,
    NotificationChannel,
    NotificationStatus,
    UnionOrg,
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


def working_days_before(*, day: date, days: int) -> date:
    """The date `days` working days (Mon–Fri; public holidays not modelled)
    before `day`."""
    current = day
    remaining = days
    while remaining:
        current -= timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current


def applications_waiting_by_org(*, older_than: datetime) -> dict[int, int]:
    """Applicants created before `older_than`, counted per union org.

    An application is a Member in status `applicant` (foundation model); when the
    joining module adds its own application model, re-point this query."""
    rows = (
        Member.objects.filter(status=MemberStatus.APPLICANT, created_at__lt=older_than)
        .values("org_id")
        .annotate(n=Count("id"))
    )
    return {row["org_id"]: row["n"] for row in rows}


def reviewers_for_orgs(*, org_ids: list[int]) -> dict[int, list[User]]:
    """For each org, the active staff of the nearest org on its path (itself, then
    its parents) that has any."""
    paths = dict(UnionOrg.objects.filter(pk__in=org_ids).values_list("id", "path"))
    ancestry = {
        org_id: [int(part) for part in path.strip("/").split("/") if part][::-1]
        for org_id, path in paths.items()
    }
    all_ids = {a for chain in ancestry.values() for a in chain}
    staff_by_org: dict[int, list[User]] = {}
    for user in User.objects.filter(
        is_staff=True, is_active=True, org_id__in=all_ids
    ).order_by("id"):
        staff_by_org.setdefault(user.org_id, []).append(user)
    result: dict[int, list[User]] = {}
    for org_id, chain in ancestry.items():
        for ancestor in chain:
            if staff_by_org.get(ancestor):
                result[org_id] = staff_by_org[ancestor]
                break
    return result


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SHANGHAI)
