"""Retention of platform batch data (security.md PI8): the staged file, staging
rows and row errors go RETENTION_BATCH_FILE_DAYS after the batch finished; the
batch and its counts stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from members.actions.retention import retention_run
from members.models import AuditLog
from services.actions.batches import batch_file_abspath, batch_storage_dir
from services.models import BatchRowError, BatchStatus, EnrollmentBatch

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def finished_batch(*, platform, program, finished_at, status=BatchStatus.DONE):
    name = f"retention-{finished_at:%Y%m%d%H%M%S}-{status}.csv"
    (batch_storage_dir() / name).write_bytes(b"name,id_number\n")
    batch = EnrollmentBatch.objects.create(
        platform=platform,
        program=program,
        status=status,
        file_path=name,
        total_rows=1,
        rejected=1,
        finished_at=finished_at,
    )
    BatchRowError.objects.create(
        batch=batch, row=1, field="id_number", code="invalid", message="校验位错误"
    )
    return batch


@pytest.mark.django_db
def test_batch_file_and_errors_purged_after_period(settings, alpha_key, program):
    settings.RETENTION_BATCH_FILE_DAYS = 10
    platform = alpha_key.key.platform
    old = finished_batch(platform=platform, program=program, finished_at=T0)
    recent = finished_batch(
        platform=platform, program=program, finished_at=T0 + 5 * DAY
    )
    old_file = batch_file_abspath(old)

    assert {r.category: r.count for r in retention_run(now=T0 + 10 * DAY)}[
        "batch_files"
    ] == 0
    result = {r.category: r.count for r in retention_run(now=T0 + 11 * DAY)}

    assert result["batch_files"] == 1
    assert not old_file.exists()
    assert batch_file_abspath(recent).exists()
    old.refresh_from_db()
    assert old.file_path == "" and old.total_rows == 1 and old.rejected == 1
    assert not BatchRowError.objects.filter(batch=old).exists()
    assert BatchRowError.objects.filter(batch=recent).exists()
    assert AuditLog.objects.filter(
        action="retention_delete", object_type="enrollment_batch", object_id=str(old.pk)
    ).exists()
    [row] = AuditLog.objects.filter(
        action="retention_delete", object_type="batch_files"
    )
    assert row.detail["count"] == 1

    again = {r.category: r.count for r in retention_run(now=T0 + 11 * DAY)}
    assert again["batch_files"] == 0


@pytest.mark.django_db
def test_people_known_only_from_platforms_are_anonymised_once_nothing_covers_them(
    settings, nanshan_gig_pool
):
    """PI8: a person a platform submitted (never a member, no account, no
    application) is anonymised once off every platform and uncovered for the
    retention period; anyone still riding, covered, applying or with an account
    is kept."""
    from datetime import date

    from members.models import Member, MemberStatus, PlatformRider
    from services.models import Enrollment, EnrollmentSource, Program
    from tests.factories import make_member, make_platform, make_user

    settings.RETENTION_PLATFORM_PERSON_DAYS = 365
    platform = make_platform()
    program = Program.objects.get(code="domestic")
    now = datetime(2027, 6, 1, 2, 0, tzinfo=UTC)
    long_ago = now - 400 * DAY

    def person(*, offboarded=None, user=None, ended=None):
        member = make_member(org=nanshan_gig_pool, status=MemberStatus.APPLICANT)
        member.user = user
        member.save(update_fields=["user"])
        PlatformRider.objects.create(
            platform=platform,
            member=member,
            platform_rider_id=f"R-{member.pk}",
            offboarded_on=offboarded,
        )
        if ended is not None:
            Enrollment.objects.create(
                member=member,
                program=program,
                period_start=date(ended.year, 1, 1),
                period_end=ended,
                source=EnrollmentSource.PLATFORM,
                platform=platform,
            )
        Member.objects.filter(pk=member.pk).update(updated_at=long_ago)
        return member

    gone = person(offboarded=date(2026, 1, 31), ended=date(2025, 12, 31))
    riding = person(offboarded=None)  # may be covered anonymously (E路守护)
    recently_off = person(offboarded=date(2027, 1, 31))
    covered = person(offboarded=date(2026, 1, 31), ended=date(2027, 12, 31))
    with_account = person(offboarded=date(2026, 1, 31), user=make_user())

    first = {r.category: r.count for r in retention_run(now=now)}
    again = {r.category: r.count for r in retention_run(now=now)}

    assert first["platform_people"] == 1 and again["platform_people"] == 0
    gone.refresh_from_db()
    assert gone.anonymised_at is not None and gone.id_number == ""
    assert PlatformRider.objects.get(member=gone).platform_rider_id.startswith("anon:")
    for kept in (riding, recently_off, covered, with_account):
        kept.refresh_from_db()
        assert kept.anonymised_at is None, kept.pk
    assert AuditLog.objects.filter(
        action="retention_anonymise", object_type="member", object_id=str(gone.pk)
    ).exists()
