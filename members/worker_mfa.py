"""Workers' second factor (security.md AU4): an SMS code on a new device and
before sensitive reveals or changes. Staff have TOTP instead (members/mfa.py).

Three pieces of state, none holding a phone or any personal data:

* the **pending login**: after the right password on a browser that is not a
  trusted device, the session (still anonymous) keeps the user's id, the
  authentication backend, the user's session auth hash (a password change while
  pending voids it), where to go next and an expiry
  (`WORKER_LOGIN_PENDING_SECONDS`);
* the **trusted-device cookie**: `django.core.signing` over a random device id,
  with the user's id and session auth hash (an HMAC of the password hash) in the
  salt, so it verifies only for that user and only until the password changes;
  HttpOnly, SameSite=Lax, Secure (and `__Host-`) when the site's cookies are,
  `WORKER_TRUSTED_DEVICE_DAYS` long;
* the **step-up stamp**: the time of the session's last SMS verification;
  sensitive views want it within `WORKER_STEP_UP_SECONDS`.
"""

from __future__ import annotations

import enum
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from members.mfa import needs_second_factor

PENDING_KEY = "worker_login_pending"
STEP_UP_KEY = "worker_step_up_at"
BINDING_KEY = "worker_sms_binding"
_COOKIE_SALT = "members.worker_mfa.trusted_device"


def needs_sms_factor(user) -> bool:
    """Workers prove the phone by SMS; staff (TOTP) never do."""
    return bool(user.is_authenticated and not needs_second_factor(user))


def safe_next(request: HttpRequest, candidate: str | None, default: str) -> str:
    """`candidate` if it is a local URL of this site, else `default`."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate,
        allowed_hosts={request.get_host()},
        require_https=request.is_secure(),
    ):
        return candidate
    return default


# --- Trusted-device cookie ------------------------------------------------------


class DeviceState(enum.StrEnum):
    TRUSTED = "trusted"
    ABSENT = "absent"
    INVALID = "invalid"  # tampered, another user's, or signed before a password change
    EXPIRED = "expired"


@dataclass(frozen=True)
class DeviceCheck:
    state: DeviceState
    device: str = ""  # the random id inside a trusted cookie


def trusted_device_cookie_name() -> str:
    # __Host- cookies must be Secure; the prefix follows the session cookie's.
    if settings.SESSION_COOKIE_SECURE:
        return "__Host-trusted_device"
    return "trusted_device"


def _cookie_salt(user) -> str:
    return f"{_COOKIE_SALT}:{user.pk}:{user.get_session_auth_hash()}"


def trusted_device_value(user, *, device: str | None = None) -> str:
    """A signed cookie value for `user`: a random device id, nothing else."""
    return signing.dumps({"d": device or new_device_id()}, salt=_cookie_salt(user))


def trusted_device_check(request: HttpRequest, user) -> DeviceCheck:
    value = request.COOKIES.get(trusted_device_cookie_name())
    if not value:
        return DeviceCheck(DeviceState.ABSENT)
    max_age = settings.WORKER_TRUSTED_DEVICE_DAYS * 86400
    try:
        payload = signing.loads(value, salt=_cookie_salt(user), max_age=max_age)
    except signing.SignatureExpired:
        return DeviceCheck(DeviceState.EXPIRED)
    except signing.BadSignature:
        return DeviceCheck(DeviceState.INVALID)
    device = payload.get("d") if isinstance(payload, dict) else None
    if not isinstance(device, str) or not device:
        return DeviceCheck(DeviceState.INVALID)
    return DeviceCheck(DeviceState.TRUSTED, device)


def new_device_id() -> str:
    return secrets.token_urlsafe(9)


def trusted_device_set(response: HttpResponse, user, *, device: str) -> None:
    """Put a trusted-device cookie for `user` on `response`."""
    response.set_cookie(
        trusted_device_cookie_name(),
        trusted_device_value(user, device=device),
        max_age=settings.WORKER_TRUSTED_DEVICE_DAYS * 86400,
        path="/",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


# --- Pending login --------------------------------------------------------------


class PendingState(enum.StrEnum):
    OK = "ok"
    MISSING = "missing"
    EXPIRED = "expired"
    STALE = "stale"  # user gone, deactivated, or password changed meanwhile


@dataclass(frozen=True)
class Pending:
    state: PendingState
    user: object | None = None
    backend: str = ""
    next_url: str = ""


def code_binding(request: HttpRequest) -> str:
    """A random value kept in this browser session: the SMS codes it asks for are
    bound to it (security.md AU5: to the phone and the request), so a code only
    verifies in the session that asked for it."""
    value = request.session.get(BINDING_KEY)
    if not value:
        value = secrets.token_urlsafe(16)
        request.session[BINDING_KEY] = value
    return value


def pending_start(request: HttpRequest, *, user, backend: str, next_url: str) -> None:
    # A new session id for the half-way state too (SE2); login() cycles it again.
    request.session.cycle_key()
    request.session[BINDING_KEY] = secrets.token_urlsafe(16)  # a new code binding
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "backend": backend,
        "hash": user.get_session_auth_hash(),
        "next": next_url,
        "expires": int(time.time()) + settings.WORKER_LOGIN_PENDING_SECONDS,
    }


def pending_clear(request: HttpRequest) -> None:
    request.session.pop(PENDING_KEY, None)


def pending_get(request: HttpRequest) -> Pending:
    """The pending login of this session; an expired or stale one is dropped."""
    from members.models import User

    data = request.session.get(PENDING_KEY)
    if not isinstance(data, dict):
        return Pending(PendingState.MISSING)
    if int(data.get("expires", 0)) < time.time():
        pending_clear(request)
        return Pending(PendingState.EXPIRED)
    user = User.objects.filter(pk=data.get("user")).first()
    if (
        user is None
        or not user.is_active
        or needs_second_factor(user)
        or data.get("backend") not in settings.AUTHENTICATION_BACKENDS
        or not constant_time_compare(
            str(data.get("hash", "")), user.get_session_auth_hash()
        )
    ):
        pending_clear(request)
        return Pending(PendingState.STALE)
    return Pending(
        PendingState.OK,
        user=user,
        backend=data["backend"],
        next_url=str(data.get("next") or ""),
    )


# --- Step-up ----------------------------------------------------------------------


def step_up_mark(request: HttpRequest) -> None:
    request.session[STEP_UP_KEY] = int(time.time())


def step_up_fresh(request: HttpRequest, *, max_age: int | None = None) -> bool:
    at = request.session.get(STEP_UP_KEY)
    if not isinstance(at, int):
        return False
    limit = settings.WORKER_STEP_UP_SECONDS if max_age is None else max_age
    return 0 <= time.time() - at <= limit


def step_up_redirect(next_url: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(
        f"{reverse('members:step_up')}?{urlencode({'next': next_url})}"
    )


def sms_step_up_required(
    view: Callable | None = None,
    *,
    resume: Callable[[HttpRequest], str] | None = None,
    max_age: int | None = None,
):
    """A worker reaches the view only with an SMS code verified in this session
    within `max_age` seconds (default WORKER_STEP_UP_SECONDS); otherwise they go
    to the step-up page and come back. A GET comes back to itself; a POST comes
    back to `resume(request)` (default: the same path as a GET, which must show
    the form again). Staff pass: their whole session is TOTP-verified. Put it
    under `login_required`."""

    def decorator(func: Callable) -> Callable:
        @wraps(func)
        def wrapped(request: HttpRequest, *args, **kwargs):
            if needs_sms_factor(request.user) and not step_up_fresh(
                request, max_age=max_age
            ):
                if request.method in ("GET", "HEAD"):
                    return step_up_redirect(request.get_full_path())
                messages.info(request, _("验证通过后,请再提交一次。"))
                return step_up_redirect(resume(request) if resume else request.path)
            return func(request, *args, **kwargs)

        return wrapped

    return decorator(view) if view is not None else decorator
