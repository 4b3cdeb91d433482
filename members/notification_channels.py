"""Delivery of one notification over its channel (SMS, e-mail).

The renderers read the phone number or e-mail address from the recipient at send
time (decrypted by the model field), never from `params`. Errors are sorted into
`TransientDeliveryError` (retry later: gateway 5xx, network) and
`PermanentDeliveryError` (dead letter: no address, unknown template, refused).

SMS backends (settings.SMS_BACKEND) need only `send(phone, text)`. A backend may
also offer
* `send_template(phone, *, template_code, sms_template_id, params, text, out_id)`:
  used instead of `send` (approved-template gateways; `out_id` is the gateway's
  correlation id, e.g. Aliyun `OutId`);
* `lookup(out_id) -> bool | None`: whether the gateway accepted a message with
  that id; lets the sweeper settle a send whose worker died mid-call without
  guessing (the Aliyun backend has none: its QuerySendDetails looks messages up
  by number and day, not by OutId).
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail

from members.models import Notification
from members.notification_templates import TemplateError, get_template, render
from members.sms import SmsError, get_sms_backend


class TransientDeliveryError(Exception):
    pass


class PermanentDeliveryError(Exception):
    pass


def recipient_phone(notification: Notification) -> str:
    if notification.to_phone:
        return notification.to_phone
    member = notification.member
    if member is not None and member.phone:
        return member.phone
    user = notification.user
    if user is not None and user.phone:
        return user.phone
    return ""


def recipient_email(notification: Notification) -> str:
    user = notification.user
    if user is None and notification.member is not None:
        user = notification.member.user
    return (user.email if user is not None else "") or ""


def sms_deliver(notification: Notification, *, backend=None) -> None:
    backend = backend or get_sms_backend()
    phone = recipient_phone(notification)
    if not phone:
        raise PermanentDeliveryError("no_phone")
    try:
        text = (
            getattr(notification, "rendered_text", None)
            or render(notification.template_code, notification.params)[1]
        )
        template = get_template(notification.template_code)
    except TemplateError as exc:
        raise PermanentDeliveryError(str(exc)) from exc
    try:
        if hasattr(backend, "send_template"):
            backend.send_template(
                phone,
                template_code=template.code,
                sms_template_id=template.sms_template_id,
                params=notification.params,
                text=text,
                out_id=notification.out_id,
            )
        else:
            backend.send(phone, text)
    except SmsError as exc:
        if exc.transient:
            raise TransientDeliveryError(f"sms: {exc}") from exc
        raise PermanentDeliveryError(f"sms: {exc}") from exc
    except OSError as exc:
        raise TransientDeliveryError(f"sms: {type(exc).__name__}: {exc}") from exc


def sms_lookup(out_id: str, *, backend=None) -> bool | None:
    backend = backend or get_sms_backend()
    lookup = getattr(backend, "lookup", None)
    if lookup is None:
        return None
    try:
        return lookup(out_id)
    except (SmsError, OSError):
        return None


def email_deliver(notification: Notification) -> None:
    address = getattr(notification, "email_address", None) or recipient_email(
        notification
    )
    if not address:
        raise PermanentDeliveryError("no_email")
    try:
        subject, text = render(notification.template_code, notification.params)
    except TemplateError as exc:
        raise PermanentDeliveryError(str(exc)) from exc
    try:
        # smtplib.SMTPException is an OSError: refused, timeouts → retried.
        send_mail(
            f"[{settings.SITE_NAME}] {subject}",
            text,
            settings.DEFAULT_FROM_EMAIL,
            [address],
            fail_silently=False,
        )
    except OSError as exc:
        raise TransientDeliveryError(f"email: {type(exc).__name__}") from exc
