"""The embedded default (SQLite, no Redis): the retention job, the withdraw page
and the API key usage record run there too (no SKIP LOCKED, no advisory lock,
the two-statement usage upsert). Runs those tests in a subprocess on SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_retention_and_key_use_pass_on_sqlite():
    env = {
        **os.environ,
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "CI": "",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "not celery_live",
            "tests/members/test_retention.py",
            "tests/services/platform/test_retention.py",
            "tests/services/platform/test_key_use_audit.py",
            "tests/services/test_program_withdraw_views.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
