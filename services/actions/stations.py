"""Writes for rest stations (style.md §4.2): typed, keyword-only, atomic."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import time

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from members.audit import audit_record
from members.models import User
from portal.masking import mask_text
from services.models import (
    ProblemKind,
    ProblemReport,
    ProblemStatus,
    Station,
    StationHours,
    StationPhoto,
)

REPORT_TEXT_REQUIRED = "选择“其他问题”时请写明情况。"
REPORT_ALREADY_RESOLVED = "这条反馈已经处理过了。"
PHOTO_NOT_AN_IMAGE = "请上传 JPEG 或 PNG 照片。"
PHOTO_TOO_LARGE = "照片不能超过 8 MB。"
PHOTO_MAX_BYTES = 8 * 1024 * 1024
PHOTO_MAX_SIDE = 1600


@transaction.atomic
def station_set_hours(
    *, station: Station, weekly: Mapping[int, Sequence[tuple[time, time]]]
) -> list[StationHours]:
    """Replace the station's weekly hours with `weekly` (weekday -> intervals)."""
    station.hours.all().delete()
    rows = []
    for weekday, intervals in sorted(weekly.items()):
        for opens, closes in intervals:
            row = StationHours(
                station=station, weekday=weekday, opens=opens, closes=closes
            )
            row.full_clean(exclude=["station"])
            rows.append(row)
    return StationHours.objects.bulk_create(rows)


@transaction.atomic
def problem_report_submit(
    *, station: Station, kind: str, text: str = "", contact: str = ""
) -> ProblemReport:
    """A worker reports a problem; it lands in the operating union's admin list."""
    if kind == ProblemKind.OTHER and not text.strip():
        raise ValidationError({"text": REPORT_TEXT_REQUIRED})
    report = ProblemReport(
        station=station,
        kind=kind,
        # A number typed into the description is kept masked: the callback
        # number belongs in `contact`, which is encrypted.
        text=mask_text(text.strip()),
        contact=contact.strip(),
    )
    report.full_clean()
    report.save()
    audit_record(
        action="station.problem_report",
        object_type="services.problemreport",
        object_id=report.pk,
        detail={"station": station.pk, "kind": kind},
    )
    return report


@transaction.atomic
def problem_report_resolve(
    *, report: ProblemReport, actor: User, note: str = ""
) -> ProblemReport:
    """Mark a report resolved. A conditional UPDATE, so two staff clicking at once
    resolve it once and the second gets REPORT_ALREADY_RESOLVED."""
    now = timezone.now()
    updated = ProblemReport.objects.filter(
        pk=report.pk, status=ProblemStatus.OPEN
    ).update(
        status=ProblemStatus.RESOLVED,
        resolved_at=now,
        resolved_by=actor,
        resolution_note=mask_text(note)[:300],
    )
    if updated != 1:
        raise ValidationError(REPORT_ALREADY_RESOLVED)
    audit_record(
        action="station.problem_resolve",
        actor=actor,
        object_type="services.problemreport",
        object_id=report.pk,
    )
    report.refresh_from_db()
    return report


@transaction.atomic
def station_mark_verified(*, stations: Sequence[Station], actor: User) -> int:
    """Record that staff checked these stations today (BR-S3)."""
    ids = [s.pk for s in stations]
    count = Station.objects.filter(pk__in=ids).update(
        last_verified_at=timezone.localdate()
    )
    audit_record(
        action="station.verify",
        actor=actor,
        object_type="services.station",
        detail={"stations": ids[:200], "count": count},
    )
    return count


def reencode_photo(data: bytes) -> bytes:
    """Decode and re-encode as JPEG: drops EXIF (GPS included) and anything that
    is not pixels; refuses files Pillow cannot read as JPEG/PNG."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > PHOTO_MAX_BYTES:
        raise ValidationError(PHOTO_TOO_LARGE)
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format not in ("JPEG", "PNG"):
                raise ValidationError(PHOTO_NOT_AN_IMAGE)
            img.load()
            clean = img.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValidationError(PHOTO_NOT_AN_IMAGE) from exc
    clean.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=85)
    return out.getvalue()


@transaction.atomic
def station_photo_add(
    *, station: Station, data: bytes, caption: str = "", position: int = 0
) -> StationPhoto:
    photo = StationPhoto(station=station, caption=caption, position=position)
    photo.image.save("photo.jpg", ContentFile(reencode_photo(data)), save=False)
    photo.full_clean()
    photo.save()
    return photo
