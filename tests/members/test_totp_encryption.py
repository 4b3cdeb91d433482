"""Staff TOTP secrets are encrypted at rest (security.md PI7, AU4).

`members.StaffTotpDevice.key` is an EncryptedTextField: the column holds
`<key id>$<AES-GCM token>`, never the hex secret; old keys still decrypt after a
rotation; migration 0012 moves django-otp's plaintext rows across, encrypted,
and back again when reversed."""

from __future__ import annotations

import importlib
import re
from base64 import b32encode
from types import SimpleNamespace

import pytest
from django.apps import apps as global_apps
from django.conf import settings as django_settings
from django.db import connection

from members.actions.mfa import (
    OtpOutcome,
    staff_totp_check,
    staff_totp_enrollment_start,
)
from members.models import StaffTotpDevice
from portal.crypto import generate_key, key_id_of
from tests.factories import make_staff, make_totp_device, totp_code

pytestmark = pytest.mark.django_db

HEX_SECRET = re.compile(r"[0-9a-fA-F]{32,}")
B32_SECRET = re.compile(r"[A-Z2-7]{32}")
migration = importlib.import_module("members.migrations.0012_staff_totp_device")


def _raw_keys() -> dict[int, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, key FROM members_stafftotpdevice")
        return dict(cursor.fetchall())


def test_no_totp_key_column_value_is_the_plaintext_secret(nanshan):
    # given: a device enrolled through the TOTP step and one confirmed device
    enrolling = staff_totp_enrollment_start(user=make_staff(org=nanshan, username="s1"))
    confirmed = make_totp_device(make_staff(org=nanshan, username="s2"))
    # when: the table is read as SQL sees it
    raw = _raw_keys()
    # then: every value is ciphertext under the current key, none is (or
    # contains) the hex secret or its base32 form; the model decrypts it
    assert set(raw) == {enrolling.pk, confirmed.pk}
    for device in (enrolling, confirmed):
        stored = raw[device.pk]
        secret = StaffTotpDevice.objects.get(pk=device.pk).key
        assert secret == device.key and re.fullmatch(r"[0-9a-f]{40}", secret)
        assert stored != secret
        assert secret not in stored.lower()
        assert b32encode(device.bin_key).decode() not in stored
        assert (
            key_id_of(stored) == django_settings.FIELD_ENCRYPTION_KEYS[0].split(":")[0]
        )
    assert not any(HEX_SECRET.search(v) or B32_SECRET.search(v) for v in raw.values())


def test_djangos_plaintext_totp_model_is_not_installed():
    assert not global_apps.is_installed("django_otp.plugins.otp_totp")
    assert "otp_totp_totpdevice" not in connection.introspection.table_names()


def test_encrypted_device_verifies_and_rotates_to_the_new_key(settings, nanshan):
    # given: a confirmed device written under the old key
    user = make_staff(org=nanshan, username="rot")
    device = make_totp_device(user)
    old_id = key_id_of(_raw_keys()[device.pk])
    # when: a new key goes first and the user enters a right code
    settings.FIELD_ENCRYPTION_KEYS = [
        "new2:" + generate_key(),
        *settings.FIELD_ENCRYPTION_KEYS,
    ]
    assert key_id_of(_raw_keys()[device.pk]) == old_id  # still readable as is
    result = staff_totp_check(user=user, token=totp_code(device))
    # then: the code is accepted and the accepted code's save re-encrypted the
    # secret under the new key (same secret)
    assert result.outcome == OtpOutcome.VERIFIED
    assert key_id_of(_raw_keys()[device.pk]) == "new2"
    assert StaffTotpDevice.objects.get(pk=device.pk).key == device.key


LEGACY_DDL = """
CREATE TABLE otp_totp_totpdevice (
    id serial PRIMARY KEY,
    name varchar(64) NOT NULL,
    confirmed boolean NOT NULL,
    user_id bigint NOT NULL,
    key varchar(80) NOT NULL,
    step smallint NOT NULL,
    t0 bigint NOT NULL,
    digits smallint NOT NULL,
    tolerance smallint NOT NULL,
    drift smallint NOT NULL,
    last_t bigint NOT NULL,
    throttling_failure_count integer NOT NULL,
    throttling_failure_timestamp timestamptz NULL,
    created_at timestamptz NULL,
    last_used_at timestamptz NULL
)
"""


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL DDL")
def test_migration_encrypts_legacy_rows_and_reverses(nanshan):
    # given: django-otp's table as the plugin left it, with one plaintext device
    user = make_staff(org=nanshan, username="legacy")
    secret = "3132333435363738393031323334353637383930"
    with connection.cursor() as cursor:
        cursor.execute(LEGACY_DDL)
        cursor.execute(
            "INSERT INTO otp_totp_totpdevice (id, name, confirmed, user_id, key, step,"
            " t0, digits, tolerance, drift, last_t, throttling_failure_count,"
            " created_at) VALUES (41, 'phone', true, %s, %s, 30, 0, 6, 1, 0, 123, 2,"
            " '2026-01-02T03:04:05Z')",
            [user.pk, secret],
        )
    editor = SimpleNamespace(connection=connection)
    # when: the migration's forward step runs
    migration.encrypt_legacy_devices(global_apps, editor)
    # then: the device moved with its id, state and enrolment time, the secret
    # is encrypted, the legacy table is empty, and new ids come after it
    device = StaffTotpDevice.objects.get(pk=41)
    assert (device.user_id, device.name, device.confirmed) == (user.pk, "phone", True)
    assert (device.last_t, device.throttling_failure_count) == (123, 2)
    assert device.created_at.isoformat() == "2026-01-02T03:04:05+00:00"
    assert device.key == secret
    assert secret not in _raw_keys()[41]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM otp_totp_totpdevice")
        assert cursor.fetchone()[0] == 0
    assert make_totp_device(make_staff(org=nanshan, username="next")).pk > 41
    # when: the migration is reversed
    StaffTotpDevice.objects.exclude(pk=41).delete()
    migration.decrypt_into_legacy(global_apps, editor)
    # then: django-otp's table has the plaintext secret back, same id
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, user_id, key, last_t FROM otp_totp_totpdevice")
        assert cursor.fetchall() == [(41, user.pk, secret, 123)]


def test_migration_without_legacy_table_does_nothing():
    editor = SimpleNamespace(connection=connection)
    migration.encrypt_legacy_devices(global_apps, editor)
    migration.decrypt_into_legacy(global_apps, editor)
    assert not StaffTotpDevice.objects.exists()
