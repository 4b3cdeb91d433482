"""Reads of platform batches and riders, always scoped to the calling platform
(security.md AC2/AC3): another platform's rows are simply not found (404)."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.db.models import QuerySet

from members.models import Member, Platform, PlatformRider, User
from members.models.orgs import OrgLevel
from services.models import BatchRowError, Enrollment, EnrollmentBatch

ERRORS_CSV_HEADER = ("row", "field", "code", "message")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value) -> str:
    """Spreadsheet formula injection guard (security.md IV4)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def batch_get_for_platform(
    *, platform: Platform, batch_id: int
) -> EnrollmentBatch | None:
    return (
        EnrollmentBatch.objects.select_related("program")
        .filter(platform=platform, pk=batch_id)
        .first()
    )


def batch_owner_platform_id(*, batch_id: int) -> int | None:
    """Which platform a batch belongs to (None: no such batch). For the audit of
    denied cross-platform reads only; never shown to a platform."""
    return (
        EnrollmentBatch.objects.filter(pk=batch_id)
        .values_list("platform_id", flat=True)
        .first()
    )


def rider_get_for_platform(
    *, platform: Platform, platform_rider_id: str
) -> PlatformRider | None:
    return (
        PlatformRider.objects.select_related("member")
        .filter(platform=platform, platform_rider_id=platform_rider_id)
        .first()
    )


def enrollments_of_member(
    *, member: Member, platform: Platform
) -> QuerySet[Enrollment]:
    """The member's enrollments that this platform arranged."""
    return (
        Enrollment.objects.select_related("program")
        .filter(member=member, platform=platform)
        .order_by("-period_start", "program__code")
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


def batch_errors_csv_lines(*, batch: EnrollmentBatch) -> Iterator[str]:
    """The errors file, streamed: `row,field,code,message`, formula-safe cells,
    a UTF-8 BOM so spreadsheet programs read the Chinese messages."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield "\ufeff" + writer.writerow(ERRORS_CSV_HEADER)
    rows = (
        BatchRowError.objects.filter(batch=batch)
        .order_by("row")
        .values_list("row", "field", "code", "message")
    )
    for row in rows.iterator(chunk_size=5000):
        yield writer.writerow([csv_safe(cell) for cell in row])


STAFF_BATCH_LEVELS = (OrgLevel.NATIONAL, OrgLevel.PROVINCIAL, OrgLevel.CITY)


def batches_visible_to(*, user: User) -> QuerySet[EnrollmentBatch]:
    """Batches span every district of a city, so only superusers and staff of a
    city-level (or higher) federation see them."""
    qs = EnrollmentBatch.objects.select_related("platform", "program")
    if user.is_superuser:
        return qs
    org = getattr(user, "org", None)
    if user.is_staff and org is not None and org.level in STAFF_BATCH_LEVELS:
        return qs
    return qs.none()
