"""`make run` without Redis (eager tasks) starts without broker warnings, and
kombu's warnings are not silenced for it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import logging, sys
import django
django.setup()
from django.conf import settings
from kombu import Connection
from portal.celery import app

logging.basicConfig(stream=sys.stdout, level=logging.WARNING, force=True)
assert settings.CELERY_TASK_ALWAYS_EAGER, settings.CELERY_BROKER_URL
print("broker", settings.CELERY_BROKER_URL)
with app.producer_or_acquire():  # what an eager .delay() does first
    pass
print("-- a URL without a host still warns:")
Connection("redis://")._info()
"""


def test_eager_embedded_default_publishes_without_a_hostname_warning():
    # given: the embedded default (no DATABASE_URL, no REDIS_URL)
    env = {
        **os.environ,
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "CI": "",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }

    # when
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    # then
    assert done.returncode == 0, done.stderr
    before, after = done.stdout.split("-- a URL without a host still warns:")
    assert "broker memory://localhost/" in before
    assert "No hostname was supplied" not in before + done.stderr
    assert "No hostname was supplied" in after
