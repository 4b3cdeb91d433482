"""Phone + password login for workers, and what django-axes records about it."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from members.models import User
from members.models.accounts import PHONE_INDEX
from members.validators import normalize_phone
from portal.crypto import blind_index


def axes_username(request: HttpRequest, credentials: dict[str, Any]) -> str:
    """The lockout key for a login attempt: a keyed hash for phone numbers, so the
    axes tables never hold a phone in clear text."""
    username = str((credentials or {}).get("username") or "")
    try:
        phone = normalize_phone(username)
    except ValidationError:
        return username[:150]
    return "phone:" + blind_index(phone, purpose=PHONE_INDEX)[:32]


class PhoneBackend(ModelBackend):
    """Authenticate with a mobile number (any normal form) as the username."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if not username or password is None:
            return None
        try:
            phone = normalize_phone(username)
        except ValidationError:
            return None
        digest = blind_index(phone, purpose=PHONE_INDEX)
        user = User.objects.filter(phone_hmac=digest).first()
        if user is None:
            User().set_password(password)  # same cost whether or not the user exists
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
