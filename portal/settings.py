"""
The one settings module. Production differs from development only by environment
variables; every variable is listed, with its embedded default, in .env.example.

Embedded default: DATABASE_URL unset -> SQLite file; REDIS_URL unset -> Celery runs
tasks eagerly and the cache is local memory. Same code, other settings.
"""

import os
import re
from datetime import date
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from portal.openapi import APPEND_COMPONENTS

BASE_DIR = Path(__file__).resolve().parent.parent


def _load_dotenv(path: Path) -> None:
    """Read KEY=VALUE lines from .env; real environment variables win."""
    if not path.is_file():
        return
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        os.environ.setdefault(key.strip(), value.strip().strip('"').strip("'"))


if os.environ.get("PORTAL_SKIP_DOTENV") != "1":
    _load_dotenv(BASE_DIR / ".env")


def envbool(name: str, default: str) -> bool:
    value = os.getenv(name, default)
    if value not in ("", "True", "False"):
        raise ImproperlyConfigured(
            f"Unexpected value {name}={value}, use True or False"
        )
    return value == "True"


def envint(name: str, default: str) -> int:
    value = os.getenv(name, default)
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


def envlist(name: str, default: str = "") -> list[str]:
    return [
        item.strip() for item in os.getenv(name, default).split(",") if item.strip()
    ]


DEBUG = envbool("DEBUG", "False")

SECRET_KEY = os.getenv("SECRET_KEY", "")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. For development run `make run`, which writes a .env "
        "with generated keys; in production set it in the environment."
    )
SECRET_KEY_FALLBACKS = envlist("SECRET_KEY_FALLBACKS")

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

# Keys for personal data at rest (see portal/crypto.py). FIELD_ENCRYPTION_KEYS is a
# comma-separated list of `key_id:base64url(32 bytes)`; the first encrypts, all
# decrypt, so a new key goes first and `manage.py rotate_field_keys` re-encrypts.
# They also wrap the per-file data keys of private files (portal/filecrypt.py);
# the same command rewraps those, so drop an old key only after it has run.
FIELD_ENCRYPTION_KEYS = envlist("FIELD_ENCRYPTION_KEYS")
BLIND_INDEX_KEY = os.getenv("BLIND_INDEX_KEY", "")
if not FIELD_ENCRYPTION_KEYS or not BLIND_INDEX_KEY:
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEYS and BLIND_INDEX_KEY must be set (make run generates "
        "them into .env for development)."
    )

INSTALLED_APPS = [
    # The admin with the staff TOTP step (members/admin_site.py, security.md AU4).
    "members.admin_site.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "import_export",
    "axes",
    "django_otp",
    "members",
    "services",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "portal.middleware.AllowedMethodsMiddleware",  # no TRACE (security.md DJ6)
    "portal.middleware.HttpsOnlyApiMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.middleware.RequestContextMiddleware",
    # GET /api/v1/stations/ is answered here, before sessions/CSRF/auth/CSP/axes:
    # a public anonymous read (services/middleware.py; same code as the DRF view).
    "services.middleware.StationsApiMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A session whose user was deactivated or deleted is flushed (SE4).
    "members.middleware.EndedSessionMiddleware",
    # request.user.is_verified(): has this session passed the TOTP step?
    "django_otp.middleware.OTPMiddleware",
    "portal.middleware.SessionIdleTimeoutMiddleware",
    # Staff sessions reach nothing but the TOTP step until it is passed (AU4).
    "members.middleware.StaffOtpRequiredMiddleware",
    # A 403 for a signed-in user on a page leaves an audit row (security.md LG1).
    "members.middleware.AuthorizationDenialAuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portal.middleware.NoStoreMiddleware",
    # axes must be last: it turns a lockout into a 429 before any password hashing.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "portal.context_processors.site",
                "members.context_processors.inbox",
            ],
        },
    },
]

# --- Database ---
DATABASE_URL = os.getenv("DATABASE_URL", "")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=envint("DB_CONN_MAX_AGE", "60") if DATABASE_URL else 0,
        conn_health_checks=bool(DATABASE_URL),
        # PgBouncer in transaction mode needs server-side cursors off.
        disable_server_side_cursors=envbool("DB_DISABLE_SERVER_SIDE_CURSORS", "False"),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # One writer at a time; IMMEDIATE makes writers queue instead of failing late.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Hot read paths PREPARE their SQL once per PostgreSQL connection. Session-level
# statements do not survive PgBouncer in transaction mode: off with it.
DB_PREPARED_STATEMENTS = (
    envbool("DB_PREPARED_STATEMENTS", "")
    if os.getenv("DB_PREPARED_STATEMENTS")
    else not envbool("DB_DISABLE_SERVER_SIDE_CURSORS", "False")
)

# --- Cache and Celery ---
REDIS_URL = os.getenv("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.getenv("REDIS_CACHE_URL", REDIS_URL),
            "KEY_PREFIX": "portal",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Without Redis tasks run eagerly, yet Celery still takes a producer from its
# pool for the first .delay(), and kombu warns "No hostname was supplied" for a
# URL without one. The in-memory transport ignores the host: name it, so the
# embedded default starts quiet and kombu's warnings stay on for real brokers.
EMBEDDED_BROKER_URL = "memory://localhost/"
CELERY_BROKER_URL = REDIS_URL or EMBEDDED_BROKER_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = not REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_ENABLE_UTC = True
# Reliability (security.md CE1-CE5, CE8): every task is idempotent, so a message is
# acknowledged only after the task ran and is re-queued if its worker dies.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", "240")
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", "300")
# Must exceed the longest task runtime and any countdown (no countdown > 300 s is
# allowed anywhere); the same value goes to every place Celery reads it.
CELERY_VISIBILITY_TIMEOUT = envint("CELERY_VISIBILITY_TIMEOUT", "3600")
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = 30.0
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_DEFAULT_QUEUE = "default"
# OTP codes never wait behind bulk work: separate queues, separate workers in prod.
CELERY_TASK_ROUTES = {
    "members.tasks.otp_*": {"queue": "otp"},
    "members.tasks.notification_*": {"queue": "notifications"},
    "services.tasks.batch_*": {"queue": "bulk"},
    "services.tasks.programs.*": {"queue": "bulk"},
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
DJANGO_CELERY_BEAT_TZ_AWARE = True

# --- Task retries and notifications (security.md CE3/CE4/CE9) ------------------------
# The one retry policy for task decorators (`**settings.TASK_RETRY_POLICY` next to
# `autoretry_for=<transient errors>`). CE4 names retry_backoff_max=600, but CE3 caps
# every countdown at 300 s (Redis redelivers long ETAs), so Celery-level backoff
# stops at 300 s; longer waits are `due_at` values in the database, polled by beat.
MAX_TASK_COUNTDOWN_SECONDS = 300
TASK_RETRY_POLICY = {
    "retry_backoff": True,
    "retry_backoff_max": MAX_TASK_COUNTDOWN_SECONDS,
    "retry_jitter": True,
    "max_retries": 5,
}
NOTIFICATION_BATCH_SIZE = envint("NOTIFICATION_BATCH_SIZE", "500")
NOTIFICATION_DISPATCH_MAX_BATCHES = envint("NOTIFICATION_DISPATCH_MAX_BATCHES", "400")
# Rows marked per ledger transaction; a worker killed mid-chunk leaves at most
# this many rows for the sweeper to settle (gateway lookup, see actions). 500 (one
# chunk per dispatched batch) drained 100k SMS in 26.5 s vs 50.8 s at 100
# (docs/benchmarks.md); lower it to shrink the crash window at some throughput cost.
NOTIFICATION_SEND_CHUNK = envint("NOTIFICATION_SEND_CHUNK", "500")
# Concurrent gateway calls per batch task (threads; SMS backends are thread-safe).
NOTIFICATION_SEND_THREADS = envint("NOTIFICATION_SEND_THREADS", "8")
NOTIFICATION_MAX_ATTEMPTS = envint("NOTIFICATION_MAX_ATTEMPTS", "5")
NOTIFICATION_RETRY_BASE_SECONDS = 30
NOTIFICATION_RETRY_MAX_SECONDS = 600  # a later due_at, not a countdown
NOTIFICATION_STUCK_MINUTES = envint("NOTIFICATION_STUCK_MINUTES", "10")
NOTIFICATION_QUIET_HOURS = (21, 8)  # reminder SMS, Asia/Shanghai local hours
if NOTIFICATION_STUCK_MINUTES * 60 <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        "NOTIFICATION_STUCK_MINUTES must exceed CELERY_TASK_TIME_LIMIT: the sweeper "
        "may only take back rows whose task is certainly dead."
    )
if CELERY_VISIBILITY_TIMEOUT <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        "CELERY_VISIBILITY_TIMEOUT must exceed CELERY_TASK_TIME_LIMIT (CE3)."
    )

# --- Auth -------------------------------------------------------------------------
# --- Auth ---
AUTH_USER_MODEL = "members.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "members.auth.PhoneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
_PW = "django.contrib.auth.password_validation"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"{_PW}.UserAttributeSimilarityValidator"},
    {
        "NAME": "members.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "members.password_validation.ContextWordsValidator"},
]
CSRF_FAILURE_VIEW = "portal.views.error_403_csrf"
LOGIN_URL = "members:login"
LOGIN_REDIRECT_URL = "members:me"
LOGOUT_REDIRECT_URL = "home"
PASSWORD_RESET_TIMEOUT = 3600

# Staff TOTP (django-otp, security.md AU4). Wrong codes back off exponentially per
# device: a wait of FACTOR * 2^(n-1) seconds after n consecutive failures (1 s, 2 s,
# 4 s ... 17 min after 11), reset by a right code. The issuer labels the entry in
# the authenticator app. Device secrets never show in the admin (reset only).
OTP_TOTP_ISSUER = "工会会员服务门户"
OTP_TOTP_THROTTLE_FACTOR = envint("OTP_TOTP_THROTTLE_FACTOR", "1")
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Workers' second factor (security.md AU4): an SMS code when the password is
# entered on a browser that is not a trusted device, and again before sensitive
# reveals or changes (members/worker_mfa.py). The pending login waits this long
# for its code; a verified browser gets a signed trusted-device cookie for
# WORKER_TRUSTED_DEVICE_DAYS (invalidated by a password change); a step-up code
# counts for WORKER_STEP_UP_SECONDS of the session.
WORKER_LOGIN_PENDING_SECONDS = envint("WORKER_LOGIN_PENDING_SECONDS", "600")
WORKER_TRUSTED_DEVICE_DAYS = envint("WORKER_TRUSTED_DEVICE_DAYS", "90")
WORKER_STEP_UP_SECONDS = envint("WORKER_STEP_UP_SECONDS", "600")
# Registration codes asked for from one client address (anonymous: /register/
# sends a code to any number). Per phone, otp_send also allows 5 an hour.
REGISTER_SMS_RATE = os.getenv("REGISTER_SMS_RATE", "30/hour")
# Password-reset codes asked for from one client address (anonymous as well).
PASSWORD_RESET_SMS_RATE = os.getenv("PASSWORD_RESET_SMS_RATE", "20/hour")
# Signed-in changes, per account: codes sent to new numbers (one account must not
# spray codes over many numbers) and password-change submissions (each one hashes
# the current password, so the limit is checked before, security.md AU3).
PHONE_CHANGE_SMS_RATE = os.getenv("PHONE_CHANGE_SMS_RATE", "10/hour")
PASSWORD_CHANGE_RATE = os.getenv("PASSWORD_CHANGE_RATE", "10/hour")
# Login attempts (worker and admin login POSTs), counted before the password is
# hashed (security.md AU2, AU3; members/login_rate.py): per client address, and
# per username (a keyed hash of the normalised phone or staff username).
LOGIN_RATE_PER_IP = os.getenv("LOGIN_RATE_PER_IP", "30/min")
LOGIN_RATE_PER_USERNAME = os.getenv("LOGIN_RATE_PER_USERNAME", "10/min")

# django-axes (security.md AU2): lock per account+IP so a stranger cannot lock a
# worker out; the username it records is a keyed hash, never a phone number.
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", "5")
AXES_COOLOFF_TIME = 0.25  # hours = 15 minutes
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_USERNAME_CALLABLE = "members.auth.axes_username"
AXES_LOCKOUT_TEMPLATE = "members/lockout.html"
# The address axes counts is the one the rest of the portal trusts (the login
# rate limit, throttles, audit): X-Forwarded-For only for PROXY_COUNT hops. The
# AXES_IPWARE_* settings need django-ipware, which is not installed: without
# this, axes counted REMOTE_ADDR, i.e. the proxy, for every client.
AXES_CLIENT_IP_CALLABLE = "portal.middleware.client_ip"

# --- Sessions, cookies and transport security ---
SECURE_COOKIES = envbool("SECURE_COOKIES", "False" if DEBUG else "True")
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
# __Host- cookies require Secure, so the prefix only goes on with HTTPS.
SESSION_COOKIE_NAME = "__Host-sessionid" if SECURE_COOKIES else "sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken" if SECURE_COOKIES else "csrftoken"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 8 * 3600  # absolute limit, security.md SE3
SESSION_IDLE_TIMEOUT_WORKER = 30 * 60
SESSION_IDLE_TIMEOUT_STAFF = 15 * 60
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "False" if DEBUG else "True")
# The API is refused over plain HTTP rather than redirected (security.md DJ4).
SECURE_REDIRECT_EXEMPT = [r"^api/", r"^healthz$"]
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000")
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if envint("PROXY_COUNT", "0"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Map tiles are the only third-party origin a page may load (Tianditu by default).
MAP_TILE_URL = os.getenv(
    "MAP_TILE_URL",
    "https://t{s}.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk={tk}",
)
MAP_TILE_HOSTS = envlist("MAP_TILE_HOSTS", "https://*.tianditu.gov.cn")
TIANDITU_KEY = os.getenv("TIANDITU_KEY", "")

# security.md PI12: data stays in mainland China. Every third-party origin a page
# may load (the CSP) and every outbound service (the SMS gateway) must be one of
# these approved domestic hosts (suffixes); `check --deploy` refuses others
# (members.E007). Extend it only for a domestic provider under contract.
APPROVED_DOMESTIC_HOSTS = envlist(
    "APPROVED_DOMESTIC_HOSTS", ".tianditu.gov.cn,.aliyuncs.com"
)

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:", *MAP_TILE_HOSTS],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

# --- Internationalisation ---
# UI strings are written in Chinese (the source language); locale/en holds English.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static and media ---
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Files WhiteNoise serves at the site root: /favicon.ico, which browsers and other
# clients ask for whatever the page links (templates/_favicon.html links it too).
WHITENOISE_ROOT = BASE_DIR / "public"
# Private uploads (medical papers, batch files) live outside any public URL and are
# served only through authorised views.
PRIVATE_STORAGE_ROOT = Path(os.getenv("PRIVATE_STORAGE_ROOT", str(BASE_DIR / "var")))
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_STORAGE_ROOT / "files"), "base_url": None},
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # 2.5 MB JSON bodies (security.md AP4)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # larger uploads stream to disk
FILE_UPLOAD_TEMP_DIR = None

# --- Email and SMS ---
EMAIL_BACKEND = os.getenv(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
DEFAULT_FROM_EMAIL = os.getenv("DEFAULT_FROM_EMAIL", "noreply@portal.invalid")
EMAIL_TIMEOUT = 10
# A dotted path to a class with send(phone: str, text: str) -> None. Production:
# members.sms_aliyun.AliyunSmsBackend (Aliyun SMS) with the ALIYUN_SMS_* settings
# and, per notice template code, the gateway's approved template id.
SMS_BACKEND = os.getenv("SMS_BACKEND", "members.sms.ConsoleSmsBackend")
ALIYUN_SMS_ACCESS_KEY_ID = os.getenv("ALIYUN_SMS_ACCESS_KEY_ID", "")
ALIYUN_SMS_ACCESS_KEY_SECRET = os.getenv("ALIYUN_SMS_ACCESS_KEY_SECRET", "")
ALIYUN_SMS_SIGN_NAME = os.getenv("ALIYUN_SMS_SIGN_NAME", "")
ALIYUN_SMS_ENDPOINT = os.getenv("ALIYUN_SMS_ENDPOINT", "https://dysmsapi.aliyuncs.com/")
ALIYUN_SMS_TIMEOUT = float(os.getenv("ALIYUN_SMS_TIMEOUT", "5"))
# template_code:gateway_template_id, comma-separated (e.g. otp_code:SMS_123456).
SMS_TEMPLATE_IDS = envlist("SMS_TEMPLATE_IDS")

# --- REST framework ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # SessionAuthentication that answers 403 to staff without a verified TOTP.
        "members.api_auth.OtpSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "portal.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "anon": "120/min",
        "stations": "120/min",
        "platform_bulk": "30/min",
        "platform_read": "600/min",
    },
    "NUM_PROXIES": envint("PROXY_COUNT", "0"),
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "工会会员服务门户 API",
    "DESCRIPTION": "Platform and public APIs of the union member portal.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Request components of their own: files are `binary`, and fields that refuse
    # blank strings say `minLength: 1` (what the API enforces).
    "COMPONENT_SPLIT_REQUEST": True,
    # Error bodies and links the views cannot describe themselves (AP7).
    "APPEND_COMPONENTS": APPEND_COMPONENTS,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "portal.openapi.postprocess_links",
    ],
}

# --- Logging: one JSON object per line, personal data masked ---
LOG_LEVEL = os.getenv("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_pii": {"()": "portal.logging.MaskPersonalDataFilter"}},
    "formatters": {"json": {"()": "portal.logging.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["mask_pii"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}

# --- Portal-specific ----------------------------------------------------------------
SITE_NAME = "工会会员服务门户"
# Local rules that domain.md marks as examples live here, not in code.
DEFAULT_REGION_CODE = os.getenv("DEFAULT_REGION_CODE", "440300")

# --- Members: working-day calendar and joining (issue #3) ----------------------------
# Public holidays and make-up working days (调休), ISO dates, comma-separated; the
# State Council publishes them each December; set them per deployment (empty =
# weekends only). Used by portal.workdays.
PORTAL_HOLIDAYS = envlist("PORTAL_HOLIDAYS", "")
PORTAL_EXTRA_WORKDAYS = envlist("PORTAL_EXTRA_WORKDAYS", "")
# Reminders: an application waits this many working days before reviewers are
# reminded; an open personal-data request this many calendar days.
APPLICATION_REVIEW_REMINDER_WORKDAYS = envint(
    "APPLICATION_REVIEW_REMINDER_WORKDAYS", "3"
)
DATA_REQUEST_REMINDER_DAYS = envint("DATA_REQUEST_REMINDER_DAYS", "10")
# django-axes keeps the login form's POST data with each failed attempt; the
# username field holds a worker's phone number, so it is masked there too (PI7).
AXES_SENSITIVE_PARAMETERS = [
    "username",
    "ip_address",
    "phone",
    "code",
    "password1",
    "password2",
]
# --- Rest stations (services/…/stations.py) -----------------------------------------
# The public nearest-station API is throttled per client IP (scope "stations").
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["stations"] = os.getenv(
    "STATIONS_API_RATE", "120/min"
)
# Problem reports from the station page: at most this many per IP per hour.
STATIONS_REPORTS_PER_HOUR = envint("STATIONS_REPORTS_PER_HOUR", "5")
# Leaflet map on the stations page: {s} in MAP_TILE_URL cycles through these;
# the attribution must carry the map's 审图号 where the tile provider requires it.
MAP_TILE_SUBDOMAINS = os.getenv("MAP_TILE_SUBDOMAINS", "01234567")
MAP_ATTRIBUTION = os.getenv("MAP_ATTRIBUTION", "© 天地图")
# --- Gig-platform API (issue #6) ---
# The OpenAPI document and its Swagger/Redoc pages: staff sessions or platform keys.
SPECTACULAR_SETTINGS["SERVE_AUTHENTICATION"] = [
    "members.api_auth.OtpSessionAuthentication",
    "members.api_auth.PlatformKeyAuthentication",
]
SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"] = ["members.api_auth.IsStaffOrPlatform"]
# Optional dedicated pepper for hashing API key secrets (defaults to SECRET_KEY).
PLATFORM_KEY_PEPPER = os.getenv("PLATFORM_KEY_PEPPER", "")
PLATFORM_BATCH_MAX_BYTES = envint("PLATFORM_BATCH_MAX_BYTES", str(200 * 1024 * 1024))
# Rows per chunk: one transaction each; bounds the worker's memory per task.
PLATFORM_BATCH_CHUNK_ROWS = envint("PLATFORM_BATCH_CHUNK_ROWS", "20000")
# Worker processes applying one batch's chunks side by side (the bulk queue's
# concurrency): a file is split into a multiple of this many equal chunks.
PLATFORM_BATCH_PARALLEL = envint("PLATFORM_BATCH_PARALLEL", "2")
# --- Retention schedule (security.md PI8; members/actions/retention.py) ---------------
# Days after which the daily job (beat 04:15) deletes or anonymises each category.
# [A] numbers chosen for this project; docs/architecture.md "Retention" lists them.
# Rejected applications (after the decision) and drafts (after their last change):
RETENTION_APPLICATION_DAYS = envint("RETENTION_APPLICATION_DAYS", "180")
# Ex-members (withdrawn / lapsed / expelled), counted from leaving: anonymised.
RETENTION_EX_MEMBER_DAYS = envint("RETENTION_EX_MEMBER_DAYS", "365")
# SMS one-time-code rows: keyed hashes + phone blind index; they are also the only
# record of OTP sends (a network/security log), and security.md LG4 keeps such
# logs >= 180 days, so 180 is both the default and the floor.
RETENTION_OTP_DAYS = envint("RETENTION_OTP_DAYS", "180")
# Finished outbox rows (sent / skipped / dead notices and inbox messages; the
# delivery log of SMS, so the same floor):
RETENTION_NOTIFICATION_DAYS = envint("RETENTION_NOTIFICATION_DAYS", "365")
RETENTION_LOG_MIN_DAYS = 180
if min(RETENTION_OTP_DAYS, RETENTION_NOTIFICATION_DAYS) < RETENTION_LOG_MIN_DAYS:
    raise ImproperlyConfigured(
        "RETENTION_OTP_DAYS and RETENTION_NOTIFICATION_DAYS must be at least 180: "
        "they are send logs, kept >= 6 months (security.md LG4)."
    )
# Platform batch files still on disk, staging rows and per-row error lists, after
# the batch finished:
RETENTION_BATCH_FILE_DAYS = envint("RETENTION_BATCH_FILE_DAYS", "30")
# People known only from platform submissions (never members, no account, no
# application), once no enrollment has covered them for this long: anonymised.
RETENTION_PLATFORM_PERSON_DAYS = envint("RETENTION_PLATFORM_PERSON_DAYS", "365")
# Rows per transaction of the job.
RETENTION_CHUNK = envint("RETENTION_CHUNK", "1000")

# --- Audit log shipping (security.md LG3; members/actions/audit_ship.py) -------------
# Each Asia/Shanghai day's audit rows go to AUDIT_SHIP_DIR as JSON Lines + a signed
# manifest (beat 00:30 daily). Production points it at a separate mounted store
# (another disk / host), not the database server's. Default: under the private
# storage root, which suits development only.
AUDIT_SHIP_DIR = Path(
    os.getenv("AUDIT_SHIP_DIR", "") or str(PRIVATE_STORAGE_ROOT / "audit-ship")
)
# Keys of the manifests' HMAC chain, comma-separated `key_id:secret`: the first signs
# new manifests (which name it in `key_id`), every one verifies, so a rotation puts
# a new key first and keeps the old ones while their manifests are still checked.
# AUDIT_SHIP_HMAC_KEY is the key of manifests without a key id (written before key
# ids existed); while AUDIT_SHIP_HMAC_KEYS is unset it also still signs, without an
# id. Each its own secret: never the field-encryption key, the blind-index key or
# SECRET_KEY (checked here). No key at all: shipping refuses.
AUDIT_SHIP_HMAC_KEYS = envlist("AUDIT_SHIP_HMAC_KEYS")
AUDIT_SHIP_HMAC_KEY = os.getenv("AUDIT_SHIP_HMAC_KEY", "")
# A retired key stays configured while its days are still checked, but must not be
# able to sign anything newer: comma-separated `key_id:YYYY-MM-DD`, the last day
# that key signed (`legacy` names AUDIT_SHIP_HMAC_KEY). A manifest of a later day
# naming that key fails verification, so a leaked old key cannot forge the days
# after it was retired (and forging its own days breaks the chain at the first
# day of its successor). The signing key (the first entry) cannot have one.
AUDIT_SHIP_KEY_LAST_DAYS: dict[str, date] = {}
for _item in envlist("AUDIT_SHIP_KEY_LAST_DAYS"):
    _key_id, _sep, _day = _item.partition(":")
    try:
        AUDIT_SHIP_KEY_LAST_DAYS[_key_id] = date.fromisoformat(_day)
    except ValueError:
        raise ImproperlyConfigured(
            "AUDIT_SHIP_KEY_LAST_DAYS entries look like key_id:YYYY-MM-DD"
        ) from None
_ship_signer = (
    AUDIT_SHIP_HMAC_KEYS[0].partition(":")[0] if AUDIT_SHIP_HMAC_KEYS else "legacy"
)
if _ship_signer in AUDIT_SHIP_KEY_LAST_DAYS:
    raise ImproperlyConfigured(
        "AUDIT_SHIP_KEY_LAST_DAYS: the first AUDIT_SHIP_HMAC_KEYS entry signs new "
        "manifests and cannot be retired"
    )
_ship_key_ids: set[str] = set()
for _item in AUDIT_SHIP_HMAC_KEYS:
    _key_id, _sep, _secret = _item.partition(":")
    if not _sep or not _secret or not re.fullmatch(r"[A-Za-z0-9_.-]{1,32}", _key_id):
        raise ImproperlyConfigured(
            "AUDIT_SHIP_HMAC_KEYS entries look like key_id:secret (id: letters, "
            "digits, _ . -, at most 32)"
        )
    if _key_id in _ship_key_ids:
        raise ImproperlyConfigured(f"AUDIT_SHIP_HMAC_KEYS: key id {_key_id!r} twice")
    _ship_key_ids.add(_key_id)
_reused_secrets = {
    SECRET_KEY,
    BLIND_INDEX_KEY,
    *FIELD_ENCRYPTION_KEYS,
    *(item.split(":", 1)[-1] for item in FIELD_ENCRYPTION_KEYS),
}
for _name, _secrets in (
    ("AUDIT_SHIP_HMAC_KEY", [AUDIT_SHIP_HMAC_KEY] if AUDIT_SHIP_HMAC_KEY else []),
    ("AUDIT_SHIP_HMAC_KEYS", [i.partition(":")[2] for i in AUDIT_SHIP_HMAC_KEYS]),
):
    if _reused_secrets.intersection(_secrets):
        raise ImproperlyConfigured(
            f"{_name} must be its own secret, not SECRET_KEY, "
            "BLIND_INDEX_KEY or a FIELD_ENCRYPTION_KEYS key."
        )
