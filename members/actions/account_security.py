"""A worker's own account security: forgot password (SMS code to the registered
phone), change password and change phone (security.md AU4, AU5, AU7, AU8, LG1).

Audit actions (`AuditLog.action`; never a code, never a full phone):

* `password_reset_code_send`: a code asked for on /password/forgot/. The actor
  is the account when the number belongs to a worker, else none
  (`detail.account: false`); denied `rate_limited`, failure `sms_error`;
* `password_reset`: success, failure `wrong_code` / `no_account`, denied
  `locked`;
* `password_change`: success, failure `wrong_password`;
* `phone_change_code_send`: a code sent to the new number; denied
  `rate_limited`, failure `sms_error`;
* `phone_change`: success (old and new number masked), failure `wrong_code` /
  `phone_taken`, denied `locked`.

Other sessions and trusted-device cookies end with the password and with the
phone: both are tied to the user's session auth hash (an HMAC of the password
hash and of `User.session_epoch`, which a phone change raises), so a new password
or number voids every session but the one the view re-stamps
(`update_session_auth_hash`) and every trusted-device cookie
(members/worker_mfa.py).
"""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from members.actions.notifications import notification_enqueue
from members.actions.worker_mfa import (
    account_audit,
    audited_code_send,
    audited_code_verify,
)
from members.mfa import needs_second_factor
from members.models import (
    ApplicationStatus,
    AuditLog,
    Member,
    MembershipApplication,
    NotificationChannel,
    OtpPurpose,
    User,
)
from members.models.accounts import PHONE_INDEX
from portal.crypto import blind_index
from portal.exceptions import ApplicationError
from portal.masking import mask_phone

MSG_RESET_NO_ACCOUNT = gettext_noop(
    "该手机号没有可以找回密码的账号。还没有账号请先注册;工作人员账号请联系管理员。"
)
MSG_WRONG_PASSWORD = gettext_noop("当前密码不正确。")
MSG_SAME_PHONE = gettext_noop("新手机号与当前绑定的手机号相同。")
MSG_PHONE_IN_USE = gettext_noop("该手机号已被其他账号使用,不能绑定。")


def _eligible_worker(phone: str) -> User | None:
    """The active worker account of this (normalised) phone, else None. Staff
    accounts are not reset by SMS (they sign in with a username and TOTP; their
    passwords are reset by a superuser)."""
    user = User.objects.filter(
        phone_hmac=blind_index(phone, purpose=PHONE_INDEX)
    ).first()
    if user is None or not user.is_active or needs_second_factor(user):
        return None
    return user


def _local_time() -> str:
    return timezone.localtime().strftime("%Y-%m-%d %H:%M")


# --- Forgot password -------------------------------------------------------------


def password_reset_code_send(*, phone: str, binding: str) -> None:
    """Send a password-reset code to `phone` (normalised).

    Enumeration-safe (AU7): registered or not, the same steps run (quota count
    under the lock, a code row, one SMS through the gateway, an audit row) and
    the caller gets the same answer, so neither the page nor its timing says
    whether the number has an account. A code for a number without an account
    only ever leads to MSG_RESET_NO_ACCOUNT, shown to whoever holds that phone.
    Raises OtpRateLimited (5 an hour per number for this purpose) or
    SmsSendFailed; both are audited first."""
    user = _eligible_worker(phone)
    audited_code_send(
        phone=phone,
        purpose=OtpPurpose.PASSWORD_RESET,
        binding=binding,
        action="password_reset_code_send",
        user=user,
        detail={"account": user is not None},
    )


def password_reset_confirm(
    *, phone: str, code: str, password: str, binding: str
) -> User:
    """Set a new password with the code sent to `phone`.

    Order: the password is checked against the validators first (with the
    account when there is one; a wrong password costs no code), then the code
    (five tries, single use, only in the browser session that asked for it;
    wrong tries are committed), then the account. Every session and
    trusted-device cookie of the account ends with the old password; the
    worker is told by an in-app notice and an SMS. Raises ApplicationError
    (`otp_invalid`, `otp_locked`, `no_account`) or ValidationError."""
    user = _eligible_worker(phone)
    validate_password(password, user or User())
    audited_code_verify(
        phone=phone,
        code=code,
        purpose=OtpPurpose.PASSWORD_RESET,
        binding=binding,
        action="password_reset",
        user=user,
    )
    with transaction.atomic():
        if user is not None:
            user = (
                User.objects.select_for_update()
                .filter(pk=user.pk, is_active=True)
                .first()
            )
        if user is None:
            account_audit(
                action="password_reset",
                user=None,
                outcome=AuditLog.Outcome.FAILURE,
                detail={"reason": "no_account"},
            )
            failure = ApplicationError(MSG_RESET_NO_ACCOUNT, code="no_account")
        else:
            failure = None
            user.set_password(password)
            user.save(update_fields=["password"])
            account_audit(
                action="password_reset",
                user=user,
                outcome=AuditLog.Outcome.SUCCESS,
                detail={},
            )
            _notify_password_changed(user=user, how="reset")
            transaction.on_commit(lambda: _axes_reset(phone), robust=True)
    if failure is not None:
        raise failure  # after the block: the audit row commits
    return user


def _axes_reset(phone: str) -> None:
    """A worker who forgot the password has often locked the login (AU2);
    proving the phone lifts that lock for the account's key."""
    from axes.utils import reset

    from members.auth import axes_username

    reset(username=axes_username(None, {"username": phone}))


def _notify_password_changed(*, user: User, how: str) -> None:
    stamp = timezone.now().strftime("%Y%m%d%H%M%S%f")
    params = {"when": _local_time()}
    for channel in (NotificationChannel.INBOX, NotificationChannel.SMS):
        notification_enqueue(
            template_code="account_password_changed",
            dedupe_key=f"account_password_changed:{user.pk}:{how}:{stamp}:{channel}",
            channel=channel,
            user=user,
            params=params,
        )


# --- Change password (signed in) -------------------------------------------------


def password_change(*, user: User, old_password: str, new_password: str) -> None:
    """Replace the password after checking the current one (the view has
    already required a fresh SMS code, AU8). A wrong current password is
    audited and raises ApplicationError(`wrong_password`); a weak new one
    raises ValidationError. The caller re-stamps its own session
    (`update_session_auth_hash`); every other session ends."""
    if not user.check_password(old_password):
        with transaction.atomic():
            account_audit(
                action="password_change",
                user=user,
                outcome=AuditLog.Outcome.FAILURE,
                detail={"reason": "wrong_password"},
            )
        raise ApplicationError(MSG_WRONG_PASSWORD, code="wrong_password")
    validate_password(new_password, user)
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        account_audit(
            action="password_change",
            user=user,
            outcome=AuditLog.Outcome.SUCCESS,
            detail={},
        )
        _notify_password_changed(user=user, how="change")


# --- Change phone (signed in) ----------------------------------------------------


def _phone_in_use(*, user: User, phone_hmac: str) -> bool:
    if User.objects.filter(phone_hmac=phone_hmac).exclude(pk=user.pk).exists():
        return True
    return (
        Member.objects.filter(phone_hmac=phone_hmac).exclude(user_id=user.pk).exists()
    )


def _phone_change_checks(*, user: User, new_phone: str) -> None:
    phone_hmac = blind_index(new_phone, purpose=PHONE_INDEX)
    if user.phone_hmac and phone_hmac == user.phone_hmac:
        raise ApplicationError(MSG_SAME_PHONE, code="same_phone")
    if _phone_in_use(user=user, phone_hmac=phone_hmac):
        raise ApplicationError(MSG_PHONE_IN_USE, code="phone_taken")


def phone_change_code_send(*, user: User, new_phone: str, binding: str) -> None:
    """Send a code to the NEW number (purpose phone_change, its own hourly
    quota per number). The same number, or one another account or member
    holds, is refused before any SMS (the signed-in worker learns no more than
    /register/ tells anyone)."""
    _phone_change_checks(user=user, new_phone=new_phone)
    audited_code_send(
        phone=new_phone,
        purpose=OtpPurpose.PHONE_CHANGE,
        binding=binding,
        action="phone_change_code_send",
        user=user,
        detail={"new": mask_phone(new_phone)},
    )


def phone_change_confirm(
    *, user: User, new_phone: str, code: str, binding: str
) -> None:
    """Bind the account (and its member record and unfinished applications) to
    `new_phone` with the code sent there. The unique blind indexes on
    users and members settle a race with another account taking the number:
    the loser gets ApplicationError(`phone_taken`), never a 500. The old number
    gets an SMS and the account an in-app notice. The code is checked before
    the number: a guess without a code must not tell whether someone else holds
    it (the send path, throttled, is where that is said). Every other session
    and trusted-device cookie ends (session_epoch); the caller re-stamps its own
    session (`update_session_auth_hash`)."""
    audited_code_verify(
        phone=new_phone,
        code=code,
        purpose=OtpPurpose.PHONE_CHANGE,
        binding=binding,
        action="phone_change",
        user=user,
    )
    try:
        _phone_change_checks(user=user, new_phone=new_phone)
    except ApplicationError as exc:
        with transaction.atomic():
            account_audit(
                action="phone_change",
                user=user,
                outcome=AuditLog.Outcome.FAILURE,
                detail={"reason": exc.code},
            )
        raise
    old_phone = user.phone
    try:
        with transaction.atomic():
            locked_user = User.objects.select_for_update().get(pk=user.pk)
            old_phone = locked_user.phone
            locked_user.set_phone(new_phone)
            locked_user.phone_verified_at = timezone.now()
            # Every other session and trusted browser ends (see the module doc).
            locked_user.session_epoch += 1
            locked_user.save(
                update_fields=[
                    "phone",
                    "phone_hmac",
                    "phone_verified_at",
                    "session_epoch",
                ]
            )
            member = (
                Member.objects.select_for_update()
                .filter(user=locked_user, anonymised_at__isnull=True)
                .first()
            )
            if member is not None:
                member.set_phone(new_phone)
                member.save(update_fields=["phone", "phone_hmac", "updated_at"])
            # An application not yet approved becomes the member's number on
            # approval: it follows the account.
            for application in (
                MembershipApplication.objects.select_for_update()
                .filter(user=locked_user)
                .exclude(status=ApplicationStatus.APPROVED)
            ):
                application.set_phone(new_phone)
                application.save(update_fields=["phone", "phone_hmac", "updated_at"])
            account_audit(
                action="phone_change",
                user=locked_user,
                outcome=AuditLog.Outcome.SUCCESS,
                detail={"old": mask_phone(old_phone), "new": mask_phone(new_phone)},
            )
            stamp = timezone.now().strftime("%Y%m%d%H%M%S%f")
            params = {"when": _local_time(), "new": mask_phone(new_phone)}
            notification_enqueue(
                template_code="account_phone_changed",
                dedupe_key=f"account_phone_changed:{user.pk}:{stamp}",
                user=locked_user,
                params=params,
            )
            if old_phone:
                # The old number is told through the outbox (retried, swept,
                # delivered once), addressed to that number: the account now
                # holds the new one. Stored encrypted in the row.
                notification_enqueue(
                    template_code="account_phone_changed",
                    channel=NotificationChannel.SMS,
                    dedupe_key=f"account_phone_changed:{user.pk}:{stamp}:old",
                    user=locked_user,
                    to_phone=old_phone,
                    params=params,
                )
    except IntegrityError as exc:
        with transaction.atomic():
            account_audit(
                action="phone_change",
                user=user,
                outcome=AuditLog.Outcome.FAILURE,
                detail={"reason": "phone_taken"},
            )
        raise ApplicationError(MSG_PHONE_IN_USE, code="phone_taken") from exc
    user.refresh_from_db(
        fields=["phone", "phone_hmac", "phone_verified_at", "session_epoch"]
    )
