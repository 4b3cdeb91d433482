"""Phone + password login for workers, and what django-axes records about it."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from members.models import User
from members.models.accounts import PHONE_INDEX
from members.validators import normalize_phone
from portal.crypto import blind_index

# Six digits in a row (spaces and hyphens ignored) is already a partial phone, ID
# or card number; no staff username needs that many.
_LOOKS_PERSONAL = re.compile(r"\d{6}")


def axes_username(request: HttpRequest, credentials: dict[str, Any]) -> str:
    """The lockout key for a login attempt, kept in the axes tables.

    A phone number becomes a keyed hash of its normal form. Anything else that
    carries personal digits (an ID number typed into the phone box, a mistyped
    phone) becomes a keyed hash of what was typed, so the tables never hold either
    in clear text; a staff username stays readable for whoever unlocks it."""
    username = str((credentials or {}).get("username") or "")
    try:
        phone = normalize_phone(username)
    except ValidationError:
        if _LOOKS_PERSONAL.search(re.sub(r"[\s-]", "", username)):
            typed = username.strip()
            return "typed:" + blind_index(typed, purpose="axes.username")[:32]
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
