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
    ACTION_DELETE,
    RetentionCategory,
    register_retention_category,
    retention_audit_rows,
    run_in_chunks,
)
from services.actions.batches import batch_file_abspath
from services.models import (
    BatchRowError,
    BatchStagingRow,
    BatchStatus,
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


def register() -> None:
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
