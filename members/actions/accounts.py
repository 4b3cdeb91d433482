"""Worker accounts: SMS one-time codes and registration (security.md AU5, AU1)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.contrib.auth.password_validation import validate_password
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_noop

from members.audit import audit_record
from members.models import OneTimeCode, OtpPurpose, User
from members.models.accounts import PHONE_INDEX
from members.sms import send_sms_template
from portal.crypto import blind_index
from portal.exceptions import ApplicationError

OTP_LENGTH = 6
OTP_LIFETIME = timedelta(minutes=5)
OTP_MAX_ATTEMPTS = 5
OTP_MAX_SENDS_PER_HOUR = 5

# gettext_noop: plain str here (tests compare them); views translate them on display.
MSG_OTP_TOO_MANY_SENDS = gettext_noop("验证码发送过于频繁,请一小时后再试。")
MSG_OTP_INVALID = gettext_noop("验证码不正确或已过期,请重新获取。")
MSG_OTP_LOCKED = gettext_noop("验证码错误次数过多,请重新获取。")
MSG_PHONE_TAKEN = gettext_noop("该手机号已注册,请直接登录。")
OTP_TEXT = "【工会会员服务】您的验证码是{code},5分钟内有效。请勿告诉他人。"


class OtpRateLimited(ApplicationError):
    """Too many sends for one phone (HTTP 429)."""


# The hourly send limit is counted per group of purposes. Anyone can ask
# /register/ for a code to any number, so registration codes have a quota of
# their own: a stranger using it up must not stop the phone's owner from getting
# the codes they need to sign in on a new device or to pass a step-up (those are
# sent only after the right password or inside a signed-in session). Password
# reset codes are anonymous too (/password/forgot/), so they get their own quota
# for the same reason.
_SEND_GROUPS = (
    frozenset({OtpPurpose.REGISTER}),
    frozenset({OtpPurpose.LOGIN, OtpPurpose.STEP_UP}),
    frozenset({OtpPurpose.PHONE_CHANGE}),
    frozenset({OtpPurpose.PASSWORD_RESET}),
)


def _send_group(purpose: str) -> frozenset:
    for group in _SEND_GROUPS:
        if purpose in group:
            return group
    return frozenset({purpose})


def _code_hash(*, phone: str, purpose: str, code: str, binding: str = "") -> str:
    # Keyed, and bound to the phone and purpose: a code for one number or purpose
    # never verifies another. With a binding (the browser session that asked for
    # it, security.md AU5 "bound to the phone and request"), a code only verifies
    # in that session.
    text = f"{phone}\x00{purpose}\x00{code}"
    if binding:
        text += f"\x00{binding}"
    return blind_index(text, purpose="otp")


@transaction.atomic
def otp_send(
    *, phone: str, purpose: str = OtpPurpose.REGISTER, binding: str = ""
) -> OneTimeCode:
    """Create a 6-digit code and send it by SMS synchronously (the fast path: a
    worker waits for it). `phone` is normalised. At most 5 sends per phone per
    hour and purpose group (_SEND_GROUPS); the count is taken under a lock on the
    phone's earlier codes so concurrent requests cannot both pass the limit."""
    phone_hmac = blind_index(phone, purpose=PHONE_INDEX)
    now = timezone.now()
    recent = list(
        OneTimeCode.objects.select_for_update()
        .filter(
            phone_hmac=phone_hmac,
            purpose__in=_send_group(purpose),
            created_at__gte=now - timedelta(hours=1),
        )
        .values_list("pk", flat=True)
    )
    if len(recent) >= OTP_MAX_SENDS_PER_HOUR:
        raise OtpRateLimited(MSG_OTP_TOO_MANY_SENDS, code="otp_rate_limited")
    code = f"{secrets.randbelow(10**OTP_LENGTH):0{OTP_LENGTH}d}"
    otp = OneTimeCode.objects.create(
        phone_hmac=phone_hmac,
        purpose=purpose,
        code_hash=_code_hash(phone=phone, purpose=purpose, code=code, binding=binding),
        created_at=now,
        expires_at=now + OTP_LIFETIME,
    )
    # A newer code replaces older unused ones for the same purpose.
    OneTimeCode.objects.filter(
        phone_hmac=phone_hmac, purpose=purpose, used_at__isnull=True
    ).exclude(pk=otp.pk).update(used_at=now)
    # Sending inside the transaction: if the gateway fails, the row rolls back and
    # the failed attempt does not count against the hourly limit.
    send_sms_template(
        phone,
        template_code="otp_code",
        params={"code": code},
        text=OTP_TEXT.format(code=code),
    )
    return otp


def otp_verify(
    *, phone: str, code: str, purpose: str = OtpPurpose.REGISTER, binding: str = ""
) -> None:
    """Consume the phone's current code or raise ApplicationError.

    Not one atomic block on purpose: a wrong guess must be counted (committed)
    even though the call then fails.
    """
    phone_hmac = blind_index(phone, purpose=PHONE_INDEX)
    now = timezone.now()
    with transaction.atomic():
        otp = (
            OneTimeCode.objects.select_for_update()
            .filter(
                phone_hmac=phone_hmac,
                purpose=purpose,
                used_at__isnull=True,
                expires_at__gt=now,
            )
            .order_by("-created_at")
            .first()
        )
        if otp is None:
            error = ApplicationError(MSG_OTP_INVALID, code="otp_invalid")
        elif otp.attempts >= OTP_MAX_ATTEMPTS:
            error = ApplicationError(MSG_OTP_LOCKED, code="otp_locked")
        elif secrets.compare_digest(
            otp.code_hash,
            _code_hash(
                phone=phone, purpose=purpose, code=code.strip(), binding=binding
            ),
        ):
            otp.used_at = now
            otp.save(update_fields=["used_at"])
            return
        else:
            OneTimeCode.objects.filter(pk=otp.pk).update(attempts=F("attempts") + 1)
            error = ApplicationError(MSG_OTP_INVALID, code="otp_invalid")
    raise error


def phone_is_registered(*, phone: str) -> bool:
    return User.objects.filter(
        phone_hmac=blind_index(phone, purpose=PHONE_INDEX)
    ).exists()


def worker_register(*, phone: str, code: str, password: str, device: str = "") -> User:
    """Create a worker account bound to a phone verified by an SMS code.

    The code is checked first in its own transaction (wrong guesses count); the
    account is then created atomically. The unique blind index on the phone makes
    concurrent registrations of one number end in one account.
    """
    user = User(username=f"w{secrets.token_hex(8)}")
    user.set_phone(phone)
    validate_password(password, user)
    otp_verify(phone=phone, code=code, purpose=OtpPurpose.REGISTER)
    # Only after the code: before it, anyone could ask, code-free and unthrottled,
    # which numbers have an account (what /password/forgot/ keeps to itself, AU7).
    if phone_is_registered(phone=phone):
        raise ApplicationError(MSG_PHONE_TAKEN, code="phone_taken")
    user.set_password(password)
    user.phone_verified_at = timezone.now()
    try:
        with transaction.atomic():
            user.full_clean(exclude=["password", "phone_hmac"])
            user.save()
            audit_record(
                action="account_register",
                actor=user,
                object_type="user",
                object_id=user.pk,
                # the random id of the trusted-device cookie the view sets
                detail={"device": device} if device else None,
            )
    except IntegrityError as exc:
        raise ApplicationError(MSG_PHONE_TAKEN, code="phone_taken") from exc
    return user
