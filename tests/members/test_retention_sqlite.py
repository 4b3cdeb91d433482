"""The embedded default (SQLite, no Redis): the retention job, the withdraw page
and the API key usage record run there too (no SKIP LOCKED, no advisory lock,
the two-statement usage upsert). Runs those tests in a subprocess on SQLite."""

from __future__ import annotations

import pytest

from tests.sqlite_run import pytest_on_sqlite


@pytest.mark.slow
def test_retention_and_key_use_pass_on_sqlite():
    result = pytest_on_sqlite(
        "-m",
        "not celery_live",
        "tests/members/test_retention.py",
        "tests/services/platform/test_retention.py",
        "tests/services/platform/test_key_use_audit.py",
        "tests/services/test_program_withdraw_views.py",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
