"""System checks for deployment (`manage.py check --deploy`)."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

DEVELOPMENT_SMS_BACKENDS = frozenset(
    {"members.sms.ConsoleSmsBackend", "members.sms.LocmemSmsBackend"}
)


@checks.register(checks.Tags.security, deploy=True)
def check_sms_backend(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Login and step-up codes go out by SMS: in production a development backend
    would print them to stdout (kept by the container runtime) and no worker would
    ever receive one."""
    if settings.DEBUG or settings.SMS_BACKEND not in DEVELOPMENT_SMS_BACKENDS:
        return []
    return [
        checks.Error(
            f"SMS_BACKEND is the development backend {settings.SMS_BACKEND!r}.",
            hint="Set SMS_BACKEND to the SMS gateway's backend (members/sms.py "
            "describes the interface).",
            id="members.E001",
        )
    ]


@checks.register(checks.Tags.security, deploy=True)
def check_aliyun_sms(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """The Aliyun backend needs its keys, signature and at least the one-time code
    template's id: without it no worker could register or sign in."""
    if settings.SMS_BACKEND != "members.sms_aliyun.AliyunSmsBackend":
        return []
    from django.core.exceptions import ImproperlyConfigured

    from members.sms_aliyun import AliyunSmsBackend

    try:
        backend = AliyunSmsBackend()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="members.E002")]
    if not backend.template_ids.get("otp_code"):
        return [
            checks.Error(
                "SMS_TEMPLATE_IDS has no gateway template id for otp_code.",
                hint="Add otp_code:SMS_… (the approved verification-code template).",
                id="members.E003",
            )
        ]
    return []


@checks.register(checks.Tags.security, deploy=True)
def check_platform_key_pepper(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Platform API key hashes are peppered with SECRET_KEY unless
    PLATFORM_KEY_PEPPER is set: rotating SECRET_KEY (to end every session after
    an incident, docs/breach-runbook.md) would then void every platform's key."""
    if settings.DEBUG or settings.PLATFORM_KEY_PEPPER:
        return []
    return [
        checks.Warning(
            "PLATFORM_KEY_PEPPER is not set: platform API keys are hashed with "
            "SECRET_KEY, so rotating SECRET_KEY revokes every platform key.",
            hint="Set PLATFORM_KEY_PEPPER to its own random secret before issuing "
            "keys (existing keys must then be issued again).",
            id="members.W006",
        )
    ]


def _host(source: str) -> str:
    from urllib.parse import urlsplit

    return (urlsplit(source).hostname or "").lstrip("*.")


def outside_hosts() -> list[str]:
    """Third-party hosts in the CSP and outbound services that are not in
    APPROVED_DOMESTIC_HOSTS (security.md PI12)."""
    approved = [s.lower().lstrip(".") for s in settings.APPROVED_DOMESTIC_HOSTS]
    sources = [
        source
        for values in settings.CONTENT_SECURITY_POLICY["DIRECTIVES"].values()
        for source in values
        if "://" in str(source)
    ]
    if settings.SMS_BACKEND == "members.sms_aliyun.AliyunSmsBackend":
        sources.append(settings.ALIYUN_SMS_ENDPOINT)
    outside = []
    for source in sources:
        host = _host(str(source)).lower()
        if not any(host == a or host.endswith("." + a) for a in approved):
            outside.append(host or str(source))
    return sorted(set(outside))


@checks.register(checks.Tags.security, deploy=True)
def check_domestic_hosts(app_configs, **kwargs) -> list[checks.CheckMessage]:
    hosts = outside_hosts()
    if not hosts:
        return []
    return [
        checks.Error(
            "Hosts outside APPROVED_DOMESTIC_HOSTS: " + ", ".join(hosts),
            hint="Personal data stays in mainland China (PIPL art. 38-40): use a "
            "domestic provider under contract and add its host to "
            "APPROVED_DOMESTIC_HOSTS.",
            id="members.E007",
        )
    ]


# --- Accounts (need the database: `check --deploy --database default`) -------------

MAX_SUPERUSERS = 2  # security.md AC8
# Default or shared account names (security.md AU6): nobody's own account.
SHARED_ACCOUNT_NAMES = frozenset(
    {"admin", "administrator", "root", "test", "tester", "guest", "user", "demo"}
)
SHARED_ACCOUNT_PREFIXES = ("demo_", "test_", "test-")


@checks.register(checks.Tags.security, checks.Tags.database, deploy=True)
def check_accounts(app_configs, databases=None, **kwargs) -> list[checks.CheckMessage]:
    """At most two active superusers (system admins, AC8) and no active account
    with a default or shared name, such as `seed_demo`'s `demo_admin` (AU6).
    Database checks run only when asked for: `check --deploy --database default`."""
    if not databases or "default" not in databases:
        return []
    from django.contrib.auth import get_user_model
    from django.db import DatabaseError
    from django.db.models import Q

    users = get_user_model().objects.filter(is_active=True)
    try:
        superusers = users.filter(is_superuser=True).count()
        shared = Q()
        for name in SHARED_ACCOUNT_NAMES:
            shared |= Q(username__iexact=name)
        for prefix in SHARED_ACCOUNT_PREFIXES:
            shared |= Q(username__istartswith=prefix)
        shared_names = sorted(users.filter(shared).values_list("username", flat=True))
    except DatabaseError:  # not migrated yet: migrate's own checks come first
        return []
    found = []
    if superusers > MAX_SUPERUSERS:
        found.append(
            checks.Error(
                f"{superusers} active superusers; at most {MAX_SUPERUSERS} "
                "(system administrators only).",
                hint="Give reviewers and auditors staff accounts with their "
                "groups; deactivate the extra superusers.",
                id="members.E004",
            )
        )
    if shared_names:
        found.append(
            checks.Error(
                "Active accounts with default or shared names: "
                + ", ".join(shared_names[:10])
                + ("…" if len(shared_names) > 10 else ""),
                hint="Every account belongs to one person: deactivate these "
                "(demo accounts come from seed_demo, for development only).",
                id="members.E005",
            )
        )
    return found
