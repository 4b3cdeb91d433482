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


def staff_needs_otp(user) -> bool:
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and not user_otp_verified(user)
    )


def otp_step_redirect(next_url: str) -> HttpResponseRedirect:
    url = reverse("admin:otp_verify")
    if next_url:
        url = f"{url}?{urlencode({'next': next_url})}"
    return HttpResponseRedirect(url)
