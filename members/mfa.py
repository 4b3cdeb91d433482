"""Is this session past the staff TOTP step? (security.md AU4). Plain helpers with
no model imports: the admin site class loads before the app registry is ready."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpResponseRedirect
from django.urls import reverse


def user_otp_verified(user) -> bool:
    """True when this request's user passed the TOTP step. A user object that did
    not come through OTPMiddleware (a task, a shell) counts as unverified."""
    is_verified = getattr(user, "is_verified", None)
    return bool(callable(is_verified) and is_verified())


def needs_second_factor(user) -> bool:
    """Staff log in with password + TOTP; so does a superuser even without
    `is_staff` (it passes every permission check). Workers: phone + password."""
    return bool(user.is_staff or user.is_superuser)


def staff_needs_otp(user) -> bool:
    """An active staff session that has not passed the TOTP step yet."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and needs_second_factor(user)
        and not user_otp_verified(user)
    )


def otp_step_redirect(next_url: str) -> HttpResponseRedirect:
    url = reverse("admin:otp_verify")
    if next_url:
        url = f"{url}?{urlencode({'next': next_url})}"
    return HttpResponseRedirect(url)
