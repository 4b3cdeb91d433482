"""Periodic reminders to staff. Each call is idempotent: the dedupe key names the
thing, its episode and the recipient, so a re-run, a second beat process or a
duplicate task delivery stores each reminder once."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.conf import settings
from django.contrib.auth.models import Permission
from django.db.models import Q, QuerySet
from django.utils import timezone

from members.actions.notifications import (
    NoticeSpec,
    choice_label,
    notifications_enqueue_many,
)
from members.models import (
    ApplicationStatus,
    DataRequest,
    DataRequestKind,
    DataRequestStatus,
    MembershipApplication,
    NotificationCategory,
    NotificationChannel,
    UnionOrg,
    User,
)
from portal.workdays import add_workdays, workdays_between


def _staff_with_perm(*, codename: str, org_ids: list[int]) -> QuerySet[User]:
    perm = Permission.objects.filter(
        content_type__app_label="members", codename=codename
    ).first()
    has_perm = Q(is_superuser=True)
    if perm is not None:
        has_perm |= Q(user_permissions=perm) | Q(groups__permissions=perm)
    return (
        User.objects.filter(is_active=True, is_staff=True, org_id__in=org_ids)
        .filter(has_perm)
        .distinct()
    )


def _org_and_parent_ids(org: UnionOrg) -> list[int]:
    ids = [int(part) for part in org.path.strip("/").split("/") if part]
    return ids[-2:] if ids else [org.pk]


def application_review_reminders_enqueue(*, now: datetime | None = None) -> int:
    """Remind the reviewers of an application's org (and its parent) once the
    application has waited more than N working days (default 3). One reminder per
    reviewer per submission; returns how many were offered to the outbox."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    limit = settings.APPLICATION_REVIEW_REMINDER_WORKDAYS
    cutoff_day = add_workdays(today, -limit)
    cutoff = timezone.make_aware(datetime.combine(cutoff_day, time.min))
    overdue = (
        MembershipApplication.objects.filter(
            status=ApplicationStatus.PENDING, submitted_at__lt=cutoff
        )
        .select_related("org")
        .order_by("pk")
    )
    specs = []
    for application in overdue.iterator(chunk_size=500):
        submitted = timezone.localtime(application.submitted_at)
        waited = workdays_between(submitted.date(), today)
        reviewers = _staff_with_perm(
            codename="change_membershipapplication",
            org_ids=_org_and_parent_ids(application.org),
        )
        for reviewer_id in reviewers.values_list("pk", flat=True):
            specs.append(
                NoticeSpec(
                    template_code="membership_application_review_overdue",
                    channel=NotificationChannel.INBOX,
                    category=NotificationCategory.REMINDER,
                    user_id=reviewer_id,
                    dedupe_key=(
                        f"membership_application_review_overdue:{application.pk}:"
                        f"{submitted.timestamp():.0f}:{reviewer_id}"
                    ),
                    params={
                        "application_id": application.pk,
                        "org_name": application.org.name,
                        "submitted_on": submitted.date().isoformat(),
                        "waiting_workdays": waited,
                    },
                )
            )
    notifications_enqueue_many(specs=specs)
    return len(specs)


def data_request_reminders_enqueue(*, now: datetime | None = None) -> int:
    """Remind staff of the request's org (and its parent) when a personal-data or
    withdrawal request has been open more than N days (default 10; the legal
    answer time is 15 working days / 30 days). One reminder per request and
    staff user. Requests with no org go to superusers."""
    now = now or timezone.now()
    days = settings.DATA_REQUEST_REMINDER_DAYS
    overdue = (
        DataRequest.objects.filter(
            status=DataRequestStatus.OPEN, created_at__lt=now - timedelta(days=days)
        )
        .select_related("org")
        .order_by("pk")
    )
    specs = []
    for request in overdue.iterator(chunk_size=500):
        if request.org is not None:
            staff = _staff_with_perm(
                codename="change_datarequest",
                org_ids=_org_and_parent_ids(request.org),
            )
        else:
            staff = User.objects.filter(is_active=True, is_superuser=True)
        opened = timezone.localtime(request.created_at)
        for staff_id in staff.values_list("pk", flat=True):
            specs.append(
                NoticeSpec(
                    template_code="data_request_overdue",
                    channel=NotificationChannel.INBOX,
                    category=NotificationCategory.REMINDER,
                    user_id=staff_id,
                    dedupe_key=f"data_request_overdue:{request.pk}:{staff_id}",
                    params={
                        "request_id": request.pk,
                        "kind": choice_label(DataRequestKind, request.kind),
                        "opened_on": opened.date().isoformat(),
                        "open_days": (now - request.created_at).days,
                    },
                )
            )
    notifications_enqueue_many(specs=specs)
    return len(specs)
