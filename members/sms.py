"""SMS backends, chosen by the SMS_BACKEND setting (a dotted path).

A backend has `send(phone: str, text: str) -> None` and raises `SmsError` (or an
OSError) on failure. Chinese gateways send only pre-approved templates: such a
backend (members.sms_aliyun.AliyunSmsBackend) also has `send_template`, and the
notifications outbox and `send_sms_template` (one-time codes) pass it a template
code plus parameters; development backends get the rendered text.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.utils.module_loading import import_string

from portal.masking import mask_phone

logger = logging.getLogger(__name__)


class SmsError(Exception):
    """The gateway refused or failed; `transient` says whether to retry."""

    def __init__(self, message: str, *, transient: bool = True):
        super().__init__(message)
        self.transient = transient


class ConsoleSmsBackend:
    """Development: print the message (the phone masked) to the log."""

    def send(self, phone: str, text: str) -> None:
        # The text (it may hold a one-time code) goes to the terminal only, never
        # into the structured log that is shipped and kept.
        logger.info(
            "SMS to %s (%d characters)",
            mask_phone(phone),
            len(text),
            extra={"sms": True},
        )
        print(f"[SMS → {mask_phone(phone)}] {text}", flush=True)  # noqa: T201


class LocmemSmsBackend:
    """Tests: keep messages in a process-wide outbox."""

    outbox: list[tuple[str, str]] = []
    _lock = threading.Lock()

    def send(self, phone: str, text: str) -> None:
        with self._lock:
            LocmemSmsBackend.outbox.append((phone, text))


def get_sms_backend():
    return import_string(settings.SMS_BACKEND)()


def send_sms(phone: str, text: str) -> None:
    get_sms_backend().send(phone, text)


def send_sms_template(
    phone: str, *, template_code: str, params: dict, text: str, out_id: str = ""
) -> None:
    """Send a registered template (members.notification_templates): a template
    gateway gets the code and parameters, a development backend the text."""
    backend = get_sms_backend()
    if hasattr(backend, "send_template"):
        from members.notification_templates import get_template

        backend.send_template(
            phone,
            template_code=template_code,
            sms_template_id=get_template(template_code).sms_template_id,
            params=params,
            text=text,
            out_id=out_id,
        )
    else:
        backend.send(phone, text)
