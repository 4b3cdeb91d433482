"""
Personal data at rest (PIPL art. 51, security.md PI7).

* `encrypt` / `decrypt`: AES-256-GCM with a random 96-bit nonce. A value is stored as
  `<key_id>$<base64url(nonce || ciphertext || tag)>`; the key id lets old rows be read
  after a new key is put first in FIELD_ENCRYPTION_KEYS (rotation).
* `blind_index`: HMAC-SHA256 over a *normalised* value with a separate key. The unique
  constraints and lookups (find a member by ID number or phone) use it, so the
  plaintext never needs to be searchable.
* `EncryptedTextField`: a model field that encrypts on the way into the database and
  decrypts on the way out. The blind index lives in its own column, set by the model's
  setter method, never by a save() side effect.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

SEPARATOR = "$"


def _b64decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def generate_key() -> str:
    """A new random 256-bit key, base64url without padding."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


@lru_cache(maxsize=8)
def _keyring(spec: tuple[str, ...]) -> tuple[str, dict[str, AESGCM]]:
    ring: dict[str, AESGCM] = {}
    primary = ""
    for item in spec:
        key_id, sep, encoded = item.partition(":")
        if not sep or not key_id or SEPARATOR in key_id:
            raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS entries look like id:key")
        raw = _b64decode(encoded)
        if len(raw) != 32:
            raise ImproperlyConfigured(f"Encryption key {key_id!r} is not 32 bytes")
        ring[key_id] = AESGCM(raw)
        primary = primary or key_id
    if not ring:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty")
    return primary, ring


def keyring() -> tuple[str, dict[str, AESGCM]]:
    return _keyring(tuple(settings.FIELD_ENCRYPTION_KEYS))


def primary_key_id() -> str:
    return keyring()[0]


def encrypt(plaintext: str, *, purpose: str = "") -> str:
    """Encrypt with the primary key; `purpose` is bound in as associated data."""
    key_id, ring = keyring()
    nonce = os.urandom(12)
    sealed = ring[key_id].encrypt(nonce, plaintext.encode(), purpose.encode())
    token = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
    return f"{key_id}{SEPARATOR}{token}"


def decrypt(stored: str, *, purpose: str = "") -> str:
    key_id, _, token = stored.partition(SEPARATOR)
    _, ring = keyring()
    try:
        aead = ring[key_id]
    except KeyError as exc:
        raise ImproperlyConfigured(f"No decryption key with id {key_id!r}") from exc
    raw = _b64decode(token)
    return aead.decrypt(raw[:12], raw[12:], purpose.encode()).decode()


def key_id_of(stored: str) -> str:
    return stored.partition(SEPARATOR)[0]


@lru_cache(maxsize=4)
def _index_key(encoded: str) -> bytes:
    return hashlib.sha256(b"portal-blind-index\x00" + encoded.encode()).digest()


def blind_index(value: str, *, purpose: str) -> str:
    """Keyed hash of an already normalised value; 64 hex characters."""
    key = _index_key(settings.BLIND_INDEX_KEY)
    message = purpose.encode() + b"\x00" + value.encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


class BulkCrypto:
    """`encrypt` and `blind_index` for many values at a time (platform batches):
    byte-for-byte the same formats, with everything that does not depend on the
    value done once, in the constructor:

    * the primary AESGCM object and its `key_id$` prefix;
    * nonces drawn from os.urandom in blocks (`nonces(n)`), not one call each;
    * the HMAC inner and outer SHA-256 states with the key (and, per purpose,
      `purpose\0`) already absorbed, copied per value instead of re-keying.

    tests/portal/test_crypto.py checks the output against encrypt/blind_index.
    """

    def __init__(self) -> None:
        key_id, ring = keyring()
        self.prefix = f"{key_id}{SEPARATOR}"
        self._aead = ring[key_id]
        key = _index_key(settings.BLIND_INDEX_KEY).ljust(64, b"\x00")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    @staticmethod
    def nonces(count: int) -> bytes:
        """`count` random 96-bit nonces in one bytes object (slice 12 at a time)."""
        return os.urandom(12 * count)

    def encrypt(self, plaintext: str, *, aad: bytes, nonce: bytes) -> str:
        """encrypt(plaintext, purpose=aad.decode()) with the given fresh nonce."""
        sealed = self._aead.encrypt(nonce, plaintext.encode(), aad)
        token = binascii.b2a_base64(nonce + sealed, newline=False)
        return self.prefix + token.translate(_URLSAFE).rstrip(b"=").decode()

    def indexer(self, purpose: str):
        """A function value -> blind_index(value, purpose=purpose)."""
        inner = self._inner.copy()
        inner.update(purpose.encode() + b"\x00")
        outer = self._outer

        def index(value: str) -> str:
            h = inner.copy()
            h.update(value.encode())
            o = outer.copy()
            o.update(h.digest())
            return o.hexdigest()

        return index


_URLSAFE = bytes.maketrans(b"+/", b"-_")


class EncryptedTextField(models.TextField):
    """A text column holding AES-GCM ciphertext; Python sees the plaintext.

    Encrypted columns cannot be filtered on: search through the blind index column.
    """

    description = "Encrypted text"

    def __init__(self, *args, purpose: str = "", **kwargs):
        self.purpose = purpose
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if self.purpose:
            kwargs["purpose"] = self.purpose
        return name, path, args, kwargs

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value, purpose=self.purpose)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value), purpose=self.purpose)

    def get_lookup(self, lookup_name):
        if lookup_name not in ("isnull",):
            raise TypeError(
                f"Encrypted fields cannot be filtered with {lookup_name!r}; "
                "use the blind index column."
            )
        return super().get_lookup(lookup_name)
