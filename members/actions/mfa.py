"""Staff TOTP devices (django-otp): enrolment, verification, reset (security.md AU4).

Every staff login ends with a TOTP code. A staff member without a confirmed device
enrols first: an unconfirmed `StaffTotpDevice` (secret encrypted at rest) is created
once (its secret shown as a QR code and in base32) and confirmed by the first right
code. Wrong codes back off
per device (django-otp's `ThrottlingMixin`, `OTP_TOTP_THROTTLE_FACTOR`) and each
one is audited; the failure count and its audit row are committed, so the
functions here report wrong codes as a result instead of raising.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction

from members.audit import audit_record
from members.mfa import user_otp_verified
from members.models import AuditLog, StaffTotpDevice, User

DEVICE_NAME = "身份验证器"


class OtpOutcome(enum.StrEnum):
    VERIFIED = "verified"
    WRONG = "wrong"
    THROTTLED = "throttled"
    NO_DEVICE = "no_device"


@dataclass(frozen=True)
class OtpCheck:
    outcome: OtpOutcome
    device: StaffTotpDevice | None = None


def _audit(
    *,
    action: str,
    user: User,
    device: StaffTotpDevice | None,
    outcome: str = AuditLog.Outcome.SUCCESS,
    detail: dict | None = None,
    actor: User | None = None,
) -> None:
    audit_record(
        action=action,
        actor=actor or user,
        object_type="user",
        object_id=user.pk,
        outcome=outcome,
        detail={"device": device.pk if device else None, **(detail or {})},
    )


@transaction.atomic
def staff_totp_enrollment_start(*, user: User) -> StaffTotpDevice:
    """The user's unconfirmed device, created (and audited) on first use, so the
    QR code stays the same across reloads of the enrolment page."""
    User.objects.select_for_update().filter(pk=user.pk).first()
    device = (
        StaffTotpDevice.objects.filter(user=user, confirmed=False)
        .order_by("-id")
        .first()
    )
    if device is None:
        # StaffTotpDevice.confirmed defaults to True: a device must be created
        # unconfirmed, or it would count before the user proved they hold it.
        device = StaffTotpDevice.objects.create(
            user=user, name=DEVICE_NAME, confirmed=False
        )
        _audit(action="staff_otp_device_create", user=user, device=device)
    return device


@transaction.atomic
def staff_totp_check(*, user: User, token: str, enrolling: bool = False) -> OtpCheck:
    """Check a code against the user's confirmed device, or with `enrolling`
    against the unconfirmed one (a right code confirms it and drops any other
    device). The device row is locked, so parallel guesses count one by one."""
    device = (
        StaffTotpDevice.objects.select_for_update()
        .filter(user=user, confirmed=not enrolling)
        .order_by("-id")
        .first()
    )
    action = "staff_otp_device_confirm" if enrolling else "staff_otp_verify"
    if device is None:
        return OtpCheck(OtpOutcome.NO_DEVICE)
    allowed, info = device.verify_is_allowed()
    if not allowed:
        _audit(
            action=action,
            user=user,
            device=device,
            outcome=AuditLog.Outcome.DENIED,
            detail={
                "reason": "throttled",
                "failures": (info or {}).get("failure_count"),
            },
        )
        return OtpCheck(OtpOutcome.THROTTLED, device)
    if not device.verify_token(token):  # counts the failure (committed)
        _audit(
            action=action,
            user=user,
            device=device,
            outcome=AuditLog.Outcome.FAILURE,
            detail={
                "reason": "wrong_code",
                "failures": device.throttling_failure_count,
            },
        )
        return OtpCheck(OtpOutcome.WRONG, device)
    if enrolling:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        StaffTotpDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    _audit(action=action, user=user, device=device)
    return OtpCheck(OtpOutcome.VERIFIED, device)


def staff_totp_reset(*, actor: User, user: User) -> int:
    """Delete every TOTP device of `user` (a lost phone). Superusers only, from a
    verified session; the user enrols again at the next login, and sessions
    verified by the old device stop counting as verified (OTPMiddleware drops a
    device id that no longer exists). A refusal is audited, then raised."""
    if not (actor.is_superuser and user_otp_verified(actor)):
        _audit(
            action="staff_otp_reset",
            user=user,
            device=None,
            actor=actor,
            outcome=AuditLog.Outcome.DENIED,
        )
        raise PermissionDenied("只有系统管理员可以重置两步验证设备。")
    with transaction.atomic():
        count, _ = StaffTotpDevice.objects.filter(user=user).delete()
        _audit(
            action="staff_otp_reset",
            user=user,
            device=None,
            actor=actor,
            detail={"deleted": count},
        )
    return count
