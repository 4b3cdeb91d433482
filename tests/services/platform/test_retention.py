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
