"""Test settings: portal.settings with fixed keys and fast hashing.

Under CI=true the suite refuses to fall back to the embedded default: PostgreSQL
and Redis must be configured and answering.
"""

import os
import tempfile

os.environ["PORTAL_SKIP_DOTENV"] = "1"
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-" + "k" * 40)
os.environ.setdefault(
    "FIELD_ENCRYPTION_KEYS", "test1:" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"
)
os.environ.setdefault("BLIND_INDEX_KEY", "test-only-blind-index-key")
# Legacy (manifests without a key id) and the keyed ring: t1 signs.
os.environ.setdefault("AUDIT_SHIP_HMAC_KEY", "test-only-audit-ship-key")
os.environ.setdefault("AUDIT_SHIP_HMAC_KEYS", "t1:test-only-audit-ship-key-t1")

from portal.settings import *  # noqa: E402,F403
from portal.settings import DATABASES, REDIS_URL  # noqa: E402

if os.environ.get("CI") == "true":
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise RuntimeError("CI=true: DATABASE_URL must point at PostgreSQL")
    if not REDIS_URL:
        raise RuntimeError("CI=true: REDIS_URL must point at Redis")

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's flush between transactional tests TRUNCATEs every table; the audit
    # log's append-only trigger (security.md LG3, members.0010) lets TRUNCATE
    # through only in sessions that set this. Production settings never do.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        "-c portal.audit_truncate=allow"
    )

DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Unit tests run tasks eagerly; tests marked celery_live switch to a real worker
# on Redis (tests/conftest.py: celery_live_worker).
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The cache is not cleared between tests and every test client is 127.0.0.1: the
# login rate limits (members/login_rate.py) would add up across the suite.
# tests/members/test_login_rate.py sets its own.
LOGIN_RATE_PER_IP = LOGIN_RATE_PER_USERNAME = "100000/min"
SMS_BACKEND = "members.sms.LocmemSmsBackend"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# The live server used by browser tests speaks plain HTTP.
SECURE_SSL_REDIRECT = False
SECURE_COOKIES = SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False
SESSION_COOKIE_NAME = "sessionid"
CSRF_COOKIE_NAME = "csrftoken"
SECURE_HSTS_SECONDS = 0

STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": tempfile.mkdtemp(prefix="portal-test-files-")},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PRIVATE_STORAGE_ROOT = Path(tempfile.mkdtemp(prefix="portal-test-private-"))  # noqa: F405
AUDIT_SHIP_DIR = PRIVATE_STORAGE_ROOT / "audit-ship"
LOGGING = {"version": 1, "disable_existing_loggers": False}
