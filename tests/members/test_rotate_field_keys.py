"""manage.py rotate_field_keys: after a new key is put first, every encrypted
column is re-encrypted under it, values unchanged, so the old key can go."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from members.models import AuditLog, Member, User
from portal.crypto import generate_key
from tests.factories import make_member, make_user

pytestmark = pytest.mark.django_db

NEW = f"new:{generate_key()}"


def raw(model, column: str, pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM {model._meta.db_table} WHERE id = %s",  # noqa: S608
            [pk],
        )
        return cursor.fetchone()[0]


def rotate(*args) -> str:
    out = StringIO()
    call_command("rotate_field_keys", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def old_rows(settings):
    user = make_user(phone="13812345678")
    member = make_member(user=user)
    return user, member, list(settings.FIELD_ENCRYPTION_KEYS)


def test_every_encrypted_value_moves_to_the_new_key(old_rows):
    user, member, old_keys = old_rows
    old_id = old_keys[0].partition(":")[0]
    assert raw(User, "phone", user.pk).startswith(f"{old_id}$")

    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, *old_keys]):
        output = rotate("--batch", "1")  # several batches

        assert raw(User, "phone", user.pk).startswith("new$")
        assert raw(Member, "id_number", member.pk).startswith("new$")
        assert raw(Member, "phone", member.pk).startswith("new$")
        assert "under new" in output
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]):  # the old key is gone
        assert User.objects.get(pk=user.pk).phone == "13812345678"
        assert Member.objects.get(pk=member.pk).id_number == member.id_number
    row = AuditLog.objects.get(action="field_keys_rotated")
    assert row.object_id == "new"
    assert row.detail["values"]["members.User"] == 1


def test_a_second_run_has_nothing_to_do(old_rows):
    *_, old_keys = old_rows
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, *old_keys]):
        rotate()
        output = rotate()

    assert "0 value(s) re-encrypted" in output


def test_dry_run_counts_and_changes_nothing(old_rows):
    user, _, old_keys = old_rows
    before = raw(User, "phone", user.pk)
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, *old_keys]):
        output = rotate("--dry-run")

    assert "members.User\tto re-encrypt: 1" in output
    assert raw(User, "phone", user.pk) == before
    assert not AuditLog.objects.filter(action="field_keys_rotated").exists()


def test_a_value_changed_meanwhile_is_not_overwritten(old_rows, monkeypatch):
    from members.management.commands import rotate_field_keys as command

    user, _, old_keys = old_rows
    real_encrypt = command.encrypt

    def encrypt_after_an_app_write(plaintext, *, purpose=""):
        if purpose == "user.phone":  # the app saves a new number in between
            User.objects.filter(pk=user.pk).update(phone="13987654321")
        return real_encrypt(plaintext, purpose=purpose)

    monkeypatch.setattr(command, "encrypt", encrypt_after_an_app_write)
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, *old_keys]):
        rotate()

        assert User.objects.get(pk=user.pk).phone == "13987654321"
