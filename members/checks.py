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
