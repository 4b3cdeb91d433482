"""Login attempt rate limits (security.md AU2, AU3), counted before any password
is hashed.

django-axes locks per (username, IP) only, so one address spraying many
usernames, or many addresses trying one username, still cost a PBKDF2 hash
(~230 ms on the 2-core box) per attempt. Every login POST that reaches the
form's `clean()` therefore counts, before `authenticate()`:

* per client address (`portal.middleware.client_ip`, X-Forwarded-For trusted only
  for PROXY_COUNT hops): `LOGIN_RATE_PER_IP`;
* per normalised username: `LOGIN_RATE_PER_USERNAME`. The counter key is a keyed
  hash under its own purpose (never the phone, never the `phone_hmac` column's
  value): a phone in any normal form counts as one; any other username is NFKC
  and case folded, so case variants count together too.

Both use `portal.throttling.rate_limit_wait` (one Redis call each). Over a limit,
or with Redis down, the form gets a non-field error and `limit_status` (429 with
`limit_retry_after`, or 503); the views set the status and Retry-After.
"""

from __future__ import annotations

import logging
import unicodedata

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _

from members.validators import normalize_phone
from portal.crypto import blind_index
from portal.middleware import client_ip
from portal.throttling import ThrottleUnavailable, rate_limit_wait

logger = logging.getLogger(__name__)

LOGIN_RATE_INDEX = "login_rate"  # blind-index purpose of the per-username counter
RETRY_AFTER_UNAVAILABLE = 5

MSG_LOGIN_RATE_LIMITED = _("登录尝试过于频繁,请 %(seconds)s 秒后再试。")
MSG_LOGIN_UNAVAILABLE = _("登录服务暂时不可用,请稍后再试。")


def username_ident(username: str) -> str:
    """The per-username counter's id: a keyed hash of the normalised username."""
    try:
        value = "phone:" + normalize_phone(username)
    except ValidationError:
        value = "name:" + unicodedata.normalize("NFKC", username).strip().casefold()
    return blind_index(value, purpose=LOGIN_RATE_INDEX)[:32]


def login_rate_wait(request, username: str | None) -> tuple[str, int] | None:
    """Count one login attempt; None when allowed, else (which limit, seconds to
    wait). Per address first; an attempt refused there does not count against
    the username. Raises ThrottleUnavailable when Redis does not answer."""
    wait = rate_limit_wait(
        scope="login_ip",
        ident=client_ip(request) or "unknown",
        rate=settings.LOGIN_RATE_PER_IP,
    )
    if wait is not None:
        return "ip", wait
    if username:
        wait = rate_limit_wait(
            scope="login_user",
            ident=username_ident(username),
            rate=settings.LOGIN_RATE_PER_USERNAME,
        )
        if wait is not None:
            return "username", wait
    return None


class LoginRateLimitMixin:
    """For AuthenticationForm subclasses: the limits run in `clean()` before the
    parent's `authenticate()`. The view reads `limit_status`."""

    limit_status: int | None = None
    limit_retry_after: int | None = None

    def clean(self):
        request = getattr(self, "request", None)
        if request is not None:
            username = self.cleaned_data.get("username")
            try:
                refused = login_rate_wait(request, username)
            except ThrottleUnavailable:
                logger.error("login rate limit unavailable (Redis)")
                self.limit_status = 503
                self.limit_retry_after = RETRY_AFTER_UNAVAILABLE
                raise ValidationError(
                    MSG_LOGIN_UNAVAILABLE, code="login_unavailable"
                ) from None
            if refused is not None:
                limit, wait = refused
                # never the username or phone in clear: its counter id only
                logger.warning(
                    "login rate limited: limit=%s ip=%s user=%s retry_after=%s",
                    limit,
                    client_ip(request) or "unknown",
                    username_ident(username) if username else "-",
                    wait,
                )
                self.limit_status = 429
                self.limit_retry_after = wait
                raise ValidationError(
                    MSG_LOGIN_RATE_LIMITED,
                    code="login_rate_limited",
                    params={"seconds": wait},
                )
        return super().clean()


def apply_limit_status(response: HttpResponse, form) -> HttpResponse:
    """Give a re-rendered login page the form's 429/503 and Retry-After."""
    status = getattr(form, "limit_status", None)
    if status is not None:
        response.status_code = status
        response["Retry-After"] = str(form.limit_retry_after)
    return response
