"""The embedded default (SQLite, no Redis) still processes small batches: the
pipeline falls back from COPY to executemany and from INSERT ... RETURNING CTEs
to mark-then-insert. Runs the batch tests in a subprocess on SQLite."""

from __future__ import annotations

import pytest

from tests.sqlite_run import pytest_on_sqlite


@pytest.mark.slow
def test_batch_pipeline_passes_on_sqlite():
    result = pytest_on_sqlite(
        "tests/services/platform/test_batches.py",
        "tests/services/platform/test_uploads.py::test_json_enrollment_answers_one_outcome_per_row",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "4 passed" in result.stdout


@pytest.mark.slow
def test_existing_enrollment_answers_pass_on_sqlite():
    """Withdrawn, lapsed, ended and covering enrollments of this period are
    answered the same on the portable branch (mark-then-insert)."""
    result = pytest_on_sqlite(
        "tests/services/platform/test_existing_enrollments.py",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "19 passed" in result.stdout


@pytest.mark.slow
def test_ip_allowlist_refusal_buckets_pass_on_sqlite():
    """The refusal counter has a two-statement branch for SQLite (AP2)."""
    result = pytest_on_sqlite(
        "tests/services/platform/test_ip_allowlist.py::"
        "test_refusal_writes_one_audit_row_per_bucket_however_many_calls",
        "tests/services/platform/test_ip_allowlist.py::"
        "test_refusal_audit_is_rate_limited_per_minute",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout
