"""Workers' SMS second factor: sending and checking the code, with audit rows
(security.md AU4, AU5, LG1). The code itself and the phone never go into an
audit row; the user id does.

Audit actions (`AuditLog.action`):

* `worker_otp_send`: a code sent for a new-device login (`purpose: login`, with
  why the browser was not trusted: `device: absent|invalid|expired`) or a step-up
  (`purpose: step_up`); denied `rate_limited`, failure `sms_error` / `no_phone`;
* `worker_device_verify`: the code of a new-device login: success (with the
  random id of the trusted-device cookie it sets), failure `wrong_code`, denied
  `locked`;
* `worker_step_up_verify`: the same for a step-up;
* `worker_device_trusted`: a password login on a trusted device (no code).

Wrong codes and their audit rows are committed (`otp_verify` commits the
attempt count), so checking returns an outcome instead of raising.
"""

from __future__ import annotations

import enum

from django.db import transaction
from django.utils.translation import gettext_noop

from members.actions.accounts import OtpRateLimited, otp_send, otp_verify
from members.audit import audit_record
from members.models import AuditLog, OtpPurpose, User
from members.sms import SmsError
from portal.exceptions import ApplicationError

MSG_NO_PHONE = gettext_noop("该账号没有绑定手机号,无法发送短信验证码,请联系所在工会。")
MSG_CODE_SENT = gettext_noop("验证码已发送,5分钟内有效。")
MSG_SMS_FAILED = gettext_noop("短信发送失败,请稍后点击“重新发送”。")

_VERIFY_ACTIONS = {
    OtpPurpose.LOGIN: "worker_device_verify",
    OtpPurpose.STEP_UP: "worker_step_up_verify",
}


class SmsSendFailed(ApplicationError):
    """The gateway did not take the message (or the account has no phone)."""


class SmsCheck(enum.StrEnum):
    VERIFIED = "verified"
    WRONG = "wrong"  # wrong, expired, used, or no code sent
    LOCKED = "locked"  # five wrong tries on the current code


def account_audit(
    *, action: str, user: User | None, outcome: str, detail: dict
) -> None:
    """One audit row about an account (`user` None: an anonymous caller, e.g. a
    password reset for a number without an account)."""
    audit_record(
        action=action,
        actor=user,
        role=None if user is not None else "anonymous",
        object_type="user",
        object_id=user.pk if user is not None else "",
        outcome=outcome,
        detail=detail,
    )


def audited_code_send(
    *,
    phone: str,
    purpose: str,
    binding: str,
    action: str,
    user: User | None,
    detail: dict,
) -> None:
    """`otp_send` and its audit row `action`: SUCCESS in the same transaction as
    the code; DENIED (rate limited: OtpRateLimited re-raised) or FAILURE (the
    gateway failed: SmsSendFailed raised) in a transaction of their own, so the
    row stays while the code rolls back."""
    try:
        with transaction.atomic():
            otp_send(phone=phone, purpose=purpose, binding=binding)
            account_audit(
                action=action,
                user=user,
                outcome=AuditLog.Outcome.SUCCESS,
                detail=detail,
            )
    except OtpRateLimited:
        with transaction.atomic():
            account_audit(
                action=action,
                user=user,
                outcome=AuditLog.Outcome.DENIED,
                detail={**detail, "reason": "rate_limited"},
            )
        raise
    except (SmsError, OSError) as exc:
        with transaction.atomic():
            account_audit(
                action=action,
                user=user,
                outcome=AuditLog.Outcome.FAILURE,
                detail={**detail, "reason": "sms_error"},
            )
        raise SmsSendFailed(MSG_SMS_FAILED, code="sms_error") from exc


def audited_code_verify(
    *, phone: str, code: str, purpose: str, binding: str, action: str, user: User | None
) -> None:
    """`otp_verify`; a wrong code (FAILURE) or a locked one (DENIED) is audited
    as `action` in its own transaction, then its ApplicationError re-raised."""
    try:
        otp_verify(phone=phone, code=code, purpose=purpose, binding=binding)
    except ApplicationError as exc:
        locked = exc.code == "otp_locked"
        with transaction.atomic():
            account_audit(
                action=action,
                user=user,
                outcome=AuditLog.Outcome.DENIED if locked else AuditLog.Outcome.FAILURE,
                detail={"reason": "locked" if locked else "wrong_code"},
            )
        raise


def worker_sms_code_send(
    *, user: User, purpose: str, detail: dict | None = None, binding: str = ""
):
    """Send a code to the account's own phone (`otp_send`: 5 minutes, at most 5
    sends per phone per hour), usable only with the same `binding` (the views
    pass `code_binding(request)`: the code works in the session that asked).
    Raises OtpRateLimited (HTTP 429) or SmsSendFailed; both are audited before
    they are raised."""
    detail = {"purpose": str(purpose), **(detail or {})}
    if not user.phone:
        with transaction.atomic():
            account_audit(
                action="worker_otp_send",
                user=user,
                outcome=AuditLog.Outcome.FAILURE,
                detail={**detail, "reason": "no_phone"},
            )
        raise SmsSendFailed(MSG_NO_PHONE, code="no_phone")
    audited_code_send(
        phone=user.phone,
        purpose=purpose,
        binding=binding,
        action="worker_otp_send",
        user=user,
        detail=detail,
    )


def worker_sms_code_check(
    *,
    user: User,
    code: str,
    purpose: str,
    detail: dict | None = None,
    binding: str = "",
) -> SmsCheck:
    """Check a code sent to the account's phone for `purpose` (single use, five
    tries, bound to phone and purpose: `otp_verify`) and audit the outcome."""
    action = _VERIFY_ACTIONS[purpose]
    outcome = SmsCheck.VERIFIED
    if not user.phone:
        outcome = SmsCheck.WRONG
    else:
        try:
            otp_verify(phone=user.phone, code=code, purpose=purpose, binding=binding)
        except ApplicationError as exc:
            outcome = SmsCheck.LOCKED if exc.code == "otp_locked" else SmsCheck.WRONG
    if outcome == SmsCheck.VERIFIED:
        result, detail = AuditLog.Outcome.SUCCESS, detail or {}
    elif outcome == SmsCheck.LOCKED:
        result, detail = AuditLog.Outcome.DENIED, {"reason": "locked"}
    else:
        result, detail = AuditLog.Outcome.FAILURE, {"reason": "wrong_code"}
    with transaction.atomic():
        account_audit(action=action, user=user, outcome=result, detail=detail)
    return outcome


def worker_trusted_device_login(*, user: User, device: str) -> None:
    with transaction.atomic():
        account_audit(
            action="worker_device_trusted",
            user=user,
            outcome=AuditLog.Outcome.SUCCESS,
            detail={"device": device},
        )
