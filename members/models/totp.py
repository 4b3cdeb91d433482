"""Staff TOTP devices with the secret encrypted at rest (security.md AU4, PI7).

django-otp's own `otp_totp.TOTPDevice` keeps the shared secret as a plain hex
column, so anyone who reads the table (a backup, a replica, a `pg_dump`) can
generate every staff member's codes. `StaffTotpDevice` is a django-otp device
class of our own (the documented way to add a device type: subclass
`django_otp.models.Device`; django-otp finds it through `device_classes()`), with
the same fields and the same verification as `TOTPDevice`, but `key` is a
`portal.crypto.EncryptedTextField`: AES-256-GCM under FIELD_ENCRYPTION_KEYS with
the key id in the value, so a key rotation leaves old rows readable, and every
full `save()` (each accepted code) re-encrypts under the current first key.

The `otp_totp` plugin is no longer installed; migration `members.0012` moved any
rows from `otp_totp_totpdevice` into this table (encrypting them) and emptied it.
"""

from __future__ import annotations

import time
from base64 import b32encode
from binascii import unhexlify
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import models
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP
from django_otp.util import hex_validator, random_hex

from portal.crypto import EncryptedTextField

KEY_PURPOSE = "staff_totp.key"


def default_key() -> str:
    """20 random bytes, hex (django-otp's TOTPDevice default)."""
    return random_hex(20)


def key_validator(value: str) -> None:
    hex_validator()(value)


class StaffTotpDevice(TimestampMixin, ThrottlingMixin, Device):
    """A TOTP authenticator of one staff member; the fields mean what they mean
    on django-otp's `TOTPDevice` (step, t0, digits, tolerance, drift, last_t)."""

    key = EncryptedTextField(
        "密钥",
        purpose=KEY_PURPOSE,
        default=default_key,
        validators=[key_validator],
        help_text="十六进制密钥,加密存储。",
    )
    step = models.PositiveSmallIntegerField(default=30)
    t0 = models.BigIntegerField(default=0)
    digits = models.PositiveSmallIntegerField(choices=[(6, 6), (8, 8)], default=6)
    tolerance = models.PositiveSmallIntegerField(default=1)
    drift = models.SmallIntegerField(default=0)
    last_t = models.BigIntegerField(default=-1)

    class Meta(Device.Meta):
        verbose_name = "两步验证设备"
        verbose_name_plural = "两步验证设备"

    @property
    def bin_key(self) -> bytes:
        return unhexlify(self.key.encode())

    def get_throttle_factor(self) -> int:
        return getattr(settings, "OTP_TOTP_THROTTLE_FACTOR", 1)

    def verify_token(self, token) -> bool:
        """django-otp's TOTPDevice.verify_token (1.7.5): a code of a step after
        `last_t`, within `tolerance` steps; failures count for the back-off."""
        verify_allowed, _ = self.verify_is_allowed()
        if not verify_allowed:
            return False
        try:
            token = int(token)
        except (TypeError, ValueError):
            verified = False
        else:
            totp = TOTP(self.bin_key, self.step, self.t0, self.digits, self.drift)
            totp.time = time.time()
            verified = totp.verify(token, self.tolerance, self.last_t + 1)
            if verified:
                self.last_t = totp.t()
                if getattr(settings, "OTP_TOTP_SYNC", True):
                    self.drift = totp.drift
                self.throttle_reset(commit=False)
                self.set_last_used_timestamp(commit=False)
                self.save()
        if not verified:
            self.throttle_increment(commit=True)
        return verified

    @property
    def config_url(self) -> str:
        """The otpauth:// URL an authenticator app scans (Key Uri Format)."""
        label = str(self.user.get_username())
        params = urlencode(
            {
                "secret": b32encode(self.bin_key),
                "algorithm": "SHA1",
                "digits": self.digits,
                "period": self.step,
            }
        )
        issuer = getattr(settings, "OTP_TOTP_ISSUER", "")
        if isinstance(issuer, str) and issuer:
            issuer = issuer.replace(":", "")
            label = f"{issuer}:{label}"
            params += f"&issuer={quote(issuer)}"
        return f"otpauth://totp/{quote(label)}?{params}"
