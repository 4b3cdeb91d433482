"""Audit rows for logins, failed logins, lockouts and logouts (security.md LG1).

Receivers of Django's auth signals and of django-axes' `user_locked_out`,
connected by `MembersConfig.ready()` through `connect()`. Each attempt at a
password form writes one row:

* `login` (success): `user_logged_in`: a password login on /login/ (trusted
  device), the code step after it (/login/verify/), registration, and the
  password step of /admin/login/ (the TOTP step is audited as
  `staff_otp_verify`). Actor = the user; `detail.via` = the view's name.
* `login_failed` (failure): `user_login_failed` while the account+address is
  not locked. A known account is named by id only (`object_id`, actor none,
  role `anonymous`: whoever typed did not prove to be the user) with `reason`
  `wrong_password` or `inactive`; an unknown username with `reason`
  `unknown_user` and `username`: the keyed hash of the login rate limit's
  per-username counter (`members.login_rate.username_ident`), so repeated
  tries at one name can be grouped without storing what was typed (a typed
  name may be a phone, an ID number or a password typed into the wrong box).
* `login_locked_out` (denied): axes' `user_locked_out`, sent for the failure
  that reaches `AXES_FAILURE_LIMIT` and for every attempt while locked (axes
  then refuses before any password check); same account/`username` fields,
  plus `failures` (axes' count for this username+address when it has one).
  Such an attempt writes this row instead of `login_failed`.
* `logout` (success): `user_logged_out` with a signed-in user; `via` = the
  view's name, absent when the session was ended outside a view (the idle
  timeout in portal/middleware.py).

Login attempts refused by the rate limits before `authenticate()`
(members/login_rate.py) are logged there, not audited here.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import (
    user_logged_in,
    user_logged_out,
    user_login_failed,
)
from django.core.exceptions import ValidationError
from django.db import transaction

from members.audit import audit_record
from members.login_rate import username_ident
from members.models import AuditLog, User
from members.models.accounts import PHONE_INDEX
from members.validators import normalize_phone
from portal.crypto import blind_index


def _via(request) -> dict[str, str]:
    match = getattr(request, "resolver_match", None)
    return {"via": match.view_name[:60]} if match is not None else {}


def _account(username: str) -> User | None:
    """The account a login form would try for `username`: by phone first
    (members.auth.PhoneBackend), then by username (ModelBackend)."""
    if not username or "\x00" in username:
        return None
    try:
        phone = normalize_phone(username)
    except ValidationError:
        phone = None
    if phone:
        user = User.objects.filter(
            phone_hmac=blind_index(phone, purpose=PHONE_INDEX)
        ).first()
        if user is not None:
            return user
    return User.objects.filter(**{User.USERNAME_FIELD: username[:150]}).first()


def _attempt_fields(credentials: dict | None) -> tuple[dict[str, Any], User | None]:
    """Who a failed attempt was about, as audit_record keyword arguments: the
    account's id, or the keyed hash of an unknown username (never the text)."""
    username = str((credentials or {}).get("username") or "")
    user = _account(username)
    fields: dict[str, Any] = {"actor": None, "role": "anonymous", "object_type": "user"}
    if user is not None:
        fields["object_id"] = user.pk
    return fields, user


def _unknown_detail(credentials: dict | None) -> dict[str, str]:
    username = str((credentials or {}).get("username") or "")
    return {"username": username_ident(username) if username else "-"}


def on_logged_in(sender, request, user, **kwargs) -> None:
    with transaction.atomic():
        audit_record(
            action="login",
            actor=user,
            object_type="user",
            object_id=user.pk,
            detail=_via(request),
        )


def on_login_failed(sender, credentials=None, request=None, **kwargs) -> None:
    # axes' receiver ran first (connect() imports axes.signals before connecting
    # this one): a locked attempt is audited by on_locked_out instead.
    if getattr(request, "axes_locked_out", False):
        return
    fields, user = _attempt_fields(credentials)
    if user is None:
        detail = {"reason": "unknown_user", **_unknown_detail(credentials)}
    else:
        detail = {"reason": "wrong_password" if user.is_active else "inactive"}
    with transaction.atomic():
        audit_record(
            action="login_failed",
            outcome=AuditLog.Outcome.FAILURE,
            detail={**detail, **_via(request)},
            **fields,
        )


def on_locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    credentials = getattr(request, "axes_credentials", None) or {}
    fields, user = _attempt_fields(credentials)
    detail: dict[str, Any] = {} if user is not None else _unknown_detail(credentials)
    failures = getattr(request, "axes_failures_since_start", None)
    if isinstance(failures, int):
        detail["failures"] = failures
    with transaction.atomic():
        audit_record(
            action="login_locked_out",
            outcome=AuditLog.Outcome.DENIED,
            detail={**detail, **_via(request)},
            **fields,
        )


def on_logged_out(sender, request=None, user=None, **kwargs) -> None:
    if user is None or not user.is_authenticated:
        return
    with transaction.atomic():
        audit_record(
            action="logout",
            actor=user,
            object_type="user",
            object_id=user.pk,
            detail=_via(request),
        )


def connect() -> None:
    # Importing axes.signals connects axes' own receivers (module level), so
    # they run before ours and have set request.axes_locked_out when ours run.
    from axes.signals import user_locked_out

    user_logged_in.connect(on_logged_in, dispatch_uid="members.login_audit.in")
    user_login_failed.connect(
        on_login_failed, dispatch_uid="members.login_audit.failed"
    )
    user_locked_out.connect(on_locked_out, dispatch_uid="members.login_audit.locked")
    user_logged_out.connect(on_logged_out, dispatch_uid="members.login_audit.out")
