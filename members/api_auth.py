"""DRF authentication, permission and throttling for gig-platform API keys.

`Authorization: Bearer <prefix>.<secret>` (security.md AP1/AP3). `request.auth` is
the PlatformApiKey and `request.user` a `PlatformPrincipal`; a key anywhere in the
query string is refused (it would end up in proxy logs), revoked or expired keys
get 401, a valid key called from outside its platform's IP allow-list gets 403
(AP2), and throttles count per key, not per IP.
"""

from __future__ import annotations

import logging
import re
from typing import NoReturn

from django.db import InterfaceError, OperationalError
from django.utils import timezone
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from members.actions.api_keys import (
    AuthRefusal,
    platform_auth_refusal_record,
    platform_ip_refusal_record,
    platform_key_touch,
    secret_matches,
)
from members.ip_allowlist import address_allowed, parse_client_address
from members.mfa import staff_needs_otp
from members.models import Platform, PlatformApiKey
from portal.middleware import client_ip

logger = logging.getLogger(__name__)

_KEY_RE = re.compile(r"^([0-9a-f]{12})\.([A-Za-z0-9_-]{20,100})$")
_KEY_LIKE_RE = re.compile(r"[0-9a-f]{12}\.[A-Za-z0-9_-]{20,}")
_QUERY_KEY_NAMES = {"key", "api_key", "apikey", "token", "access_token", "auth"}

MSG_BAD_KEY = "接口密钥无效、已撤销或已过期。"
MSG_STAFF_OTP_REQUIRED = "工作人员须先在管理后台完成两步验证(动态验证码)。"
MSG_KEY_IN_QUERY = "接口密钥不得放在URL查询参数中,请使用 Authorization: Bearer 头。"
MSG_IP_NOT_ALLOWED = (
    "调用来源IP不在该平台的接口白名单内,请求未被处理。"
    "如需从此地址调用,请联系工会管理员添加网段。"
)


class IpNotAllowed(exceptions.PermissionDenied):
    """403 for a valid key used from outside its platform's allow-list (AP2).
    The body names the address the portal saw (behind the trusted proxies), so
    the platform can tell a missing entry from a NAT or proxy surprise."""

    default_code = "ip_not_allowed"

    def __init__(self, ip: str | None) -> None:
        super().__init__(
            {
                "detail": MSG_IP_NOT_ALLOWED,
                "code": self.default_code,
                "client_ip": ip or "",
            }
        )


class PlatformPrincipal:
    """The caller when a platform key authenticated the request."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def __str__(self) -> str:
        return f"platform:{self.platform.code}"

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return False


def _query_carries_key(request) -> bool:
    for name, values in request.query_params.lists():
        if name.lower() in _QUERY_KEY_NAMES:
            return True
        if any(_KEY_LIKE_RE.search(v or "") for v in values):
            return True
    return False


class PlatformKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        if _query_carries_key(request):
            self._refuse(request, AuthRefusal.KEY_IN_QUERY, MSG_KEY_IN_QUERY)
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            self._refuse(request, AuthRefusal.MALFORMED)
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raw = ""
        match = _KEY_RE.match(raw)
        if not match:
            self._refuse(request, AuthRefusal.MALFORMED)
        prefix, secret = match.groups()
        key = (
            PlatformApiKey.objects.select_related("platform")
            .filter(prefix=prefix)
            .first()
        )
        now = timezone.now()
        # compare_digest runs even for an unknown prefix, so timing does not tell
        # a valid prefix from an invalid one.
        candidate = key or PlatformApiKey(hashed_secret="0" * 64)
        valid = secret_matches(key=candidate, secret=secret)
        if key is None:
            self._refuse(request, AuthRefusal.UNKNOWN_KEY)
        # The same 401 for each (the caller is not told which), the audit row
        # says which one it was.
        if not valid:
            self._refuse(request, AuthRefusal.MISMATCH, key=key)
        if key.revoked_at is not None:
            self._refuse(request, AuthRefusal.REVOKED, key=key)
        if key.expires_at <= now:
            self._refuse(request, AuthRefusal.EXPIRED, key=key)
        if not key.platform.is_active:
            self._refuse(request, AuthRefusal.PLATFORM_INACTIVE, key=key)
        self._enforce_allowlist(request, key, now)
        platform_key_touch(key=key, now=now)
        return PlatformPrincipal(key.platform), key

    @staticmethod
    def _refuse(request, reason: str, message: str = MSG_BAD_KEY, key=None) -> NoReturn:
        """Audit the refusal (security.md LG1), then answer 401."""
        record_auth_refusal(request, reason=reason, key=key)
        raise exceptions.AuthenticationFailed(message)

    @staticmethod
    def _enforce_allowlist(request, key: PlatformApiKey, now) -> None:
        """Refuse (403, audited, nothing else done) a call from an address
        outside the platform's allow-list. Runs after the key check, so a wrong
        key from anywhere still gets the same 401 as before."""
        networks = key.platform.allowed_networks or []
        ip = client_ip(request._request)
        if address_allowed(networks, ip):
            return
        if not networks:
            reason = "allowlist_empty"
        elif parse_client_address(ip) is None:
            reason = "client_address_unparsable"
        else:
            reason = "not_in_allowlist"
        match = getattr(request._request, "resolver_match", None)
        platform_ip_refusal_record(
            key=key,
            # view names are a fixed set (never the raw path: no unbounded buckets)
            endpoint=(match.view_name if match else "") or "unknown",
            method=request.method,
            reason=reason,
            now=now,
        )
        raise IpNotAllowed(ip)

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'


def record_auth_refusal(request, *, reason: str, key=None) -> None:
    """platform_auth_refusal_record for this request; a database outage does not
    turn the 401 into an error (the outage itself is logged)."""
    django_request = getattr(request, "_request", request)
    match = getattr(django_request, "resolver_match", None)
    try:
        platform_auth_refusal_record(
            reason=reason,
            # view names are a fixed set (never the raw path: no unbounded keys)
            endpoint=(match.view_name if match else "") or "unknown",
            method=request.method,
            key=key,
        )
    except (OperationalError, InterfaceError):
        logger.warning("platform api: refusal not audited (database down)")


class OtpSessionAuthentication(authentication.SessionAuthentication):
    """Session authentication (with DRF's CSRF check) that refuses a staff session
    which has not passed the TOTP step: 403, whatever the view's permissions
    (security.md AU4). Workers and platform keys are unaffected."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None and staff_needs_otp(result[0]):
            raise exceptions.PermissionDenied(
                MSG_STAFF_OTP_REQUIRED, code="otp_required"
            )
        return result


class IsPlatform(permissions.BasePermission):
    message = "只有平台企业的接口密钥可以调用此接口。"

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, PlatformApiKey)


class IsStaffOrPlatform(permissions.BasePermission):
    """Who may read the OpenAPI document and its Swagger/Redoc pages (DJ6)."""

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, PlatformApiKey):
            return True
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)


class PlatformKeyThrottle(throttling.ScopedRateThrottle):
    """ScopedRateThrottle counted per API key (never per X-Forwarded-For)."""

    def get_cache_key(self, request, view):
        if isinstance(request.auth, PlatformApiKey):
            ident = f"key{request.auth.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class PlatformKeyScheme(OpenApiAuthenticationExtension):
    target_class = "members.api_auth.PlatformKeyAuthentication"
    name = "platformKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "<prefix>.<secret>",
            "description": "由 `manage.py issue_platform_key` 签发的平台接口密钥。",
        }


class OtpSessionScheme(SessionScheme):
    target_class = "members.api_auth.OtpSessionAuthentication"
