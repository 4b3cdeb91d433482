"""Settings for a Celery worker *subprocess* started by tests/workers.py: the test
settings (same keys, so it can decrypt test data), but tasks really go through
Redis and SMS_BACKEND comes from the environment."""

import os

from tests.settings import *  # noqa: F403

CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_EAGER_PROPAGATES = False
SMS_BACKEND = os.environ.get("SMS_BACKEND", "members.sms.ConsoleSmsBackend")
