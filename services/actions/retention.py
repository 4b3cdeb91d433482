"""Retention of platform batch data (security.md PI8): the staged upload files
that are still on disk, the staging rows and the per-row error lists (the source
of the errors CSV, which echoes rejected input) are purged
`RETENTION_BATCH_FILE_DAYS` after the batch finished. The batch row and its
counts stay. Registered with the members retention job in ServicesConfig.ready().
"""

from __future__ import annotations

import contextlib
import os
from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from members.actions.retention import (
    ACTION_ANONYMISE,
    ACTION_DELETE,
    RetentionCategory,
    members_anonymise,
    register_retention_category,
    retention_audit_rows,
    run_in_chunks,
)
from members.models import (
    Member,
    MembershipApplication,
    MemberStatus,
    PlatformRider,
)
from services.actions.batches import batch_file_abspath
from services.models import (
    BatchRowError,
    BatchStagingRow,
    BatchStatus,
    Enrollment,
    EnrollmentBatch,
)


def _batches_due(cutoff: datetime) -> QuerySet:
    """Finished batches older than the cutoff that still hold a file name, row
    errors or staging rows; a purged batch matches none, so a re-run is a no-op."""
    return EnrollmentBatch.objects.filter(
        status__in=(BatchStatus.DONE, BatchStatus.FAILED), finished_at__lt=cutoff
    ).filter(
        ~Q(file_path="")
        | Exists(BatchRowError.objects.filter(batch_id=OuterRef("pk")))
        | Exists(BatchStagingRow.objects.filter(batch_id=OuterRef("pk")))
    )


def batches_purge(cutoff: datetime, now: datetime, chunk: int) -> int:
    return run_in_chunks(_batches_due(cutoff), chunk, _purge)


def _purge(ids: list[int]) -> int:
    """Purge these batches (inside the chunk's transaction)."""
    retention_audit_rows(
        table=EnrollmentBatch._meta.db_table,
        object_type="enrollment_batch",
        action=ACTION_DELETE,
        ids=ids,
        reason="保存期限届满:批次文件与错误行",
    )
    for batch in EnrollmentBatch.objects.filter(pk__in=ids).exclude(file_path=""):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(batch_file_abspath(batch))
    BatchRowError.objects.filter(batch_id__in=ids)._raw_delete(BatchRowError.objects.db)
    BatchStagingRow.objects.filter(batch_id__in=ids)._raw_delete(
        BatchStagingRow.objects.db
    )
    EnrollmentBatch.objects.filter(pk__in=ids).update(file_path="")
    return len(ids)


def _platform_only_people(cutoff: datetime) -> QuerySet:
    """People the union knows only because a platform submitted them: never a
    member (status `applicant`), no portal account, no membership application,
    no enrollment whose period runs to the cutoff or later, and off every
    platform since before the cutoff (a rider still on a platform may be covered
    by an anonymous program such as E路守护, proven by that record at claim
    time), unchanged since the cutoff. The purpose the data was received for is
    over: they are anonymised like ex-members
    (members.actions.retention.members_anonymise; their rider ids too)."""
    return Member.objects.filter(
        status=MemberStatus.APPLICANT,
        user__isnull=True,
        anonymised_at__isnull=True,
        updated_at__lt=cutoff,
    ).exclude(
        Exists(MembershipApplication.objects.filter(member_id=OuterRef("pk")))
        | Exists(
            Enrollment.objects.filter(
                member_id=OuterRef("pk"), period_end__gte=cutoff.date()
            )
        )
        | Exists(
            PlatformRider.objects.filter(member_id=OuterRef("pk")).filter(
                Q(offboarded_on__isnull=True) | Q(offboarded_on__gte=cutoff.date())
            )
        )
    )


def platform_people_anonymise(cutoff: datetime, now: datetime, chunk: int) -> int:
    return run_in_chunks(
        _platform_only_people(cutoff),
        chunk,
        lambda ids: members_anonymise(
            ids=ids, reason="保存期限届满:仅由平台报送、已无保障的人员", now=now
        ),
    )


def register() -> None:
    register_retention_category(
        RetentionCategory(
            code="platform_people",
            label="仅由平台报送、已无保障的人员",
            action=ACTION_ANONYMISE,
            days_setting="RETENTION_PLATFORM_PERSON_DAYS",
            count=lambda cutoff: _platform_only_people(cutoff).count(),
            apply=platform_people_anonymise,
        )
    )
    register_retention_category(
        RetentionCategory(
            code="batch_files",
            label="平台批量报名文件与错误行",
            action=ACTION_DELETE,
            days_setting="RETENTION_BATCH_FILE_DAYS",
            count=lambda cutoff: _batches_due(cutoff).count(),
            apply=batches_purge,
        )
    )
