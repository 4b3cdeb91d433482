"""The embedded default (SQLite, no Redis) still processes small batches: the
pipeline falls back from COPY to executemany and from INSERT ... RETURNING CTEs
to mark-then-insert. Runs the batch tests in a subprocess on SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_batch_pipeline_passes_on_sqlite(tmp_path):
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
            "tests/services/platform/test_batches.py",
            "tests/services/platform/test_uploads.py::test_json_enrollment_answers_one_outcome_per_row",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "4 passed" in result.stdout
