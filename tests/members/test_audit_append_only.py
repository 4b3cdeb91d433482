"""The audit log is append-only at the database (security.md LG3).

(a) On PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE of members_auditlog
    for everyone, superusers included (the app connects as one on this machine);
    the only exception is TRUNCATE in a session that set
    `portal.audit_truncate = 'allow'`, which the test settings do so that Django's
    flush between transactional tests works.
(b) The production app role (`manage.py db_app_role`) has INSERT/SELECT only on
    the table: as that role, UPDATE → permission denied.
Deleting a user or member leaves their audit rows untouched (no SET_NULL)."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from members.audit import audit_record
from members.management.commands.db_app_role import app_role_sql
from members.models import AuditLog, Member, User
from tests.factories import make_member, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")


@pytest.fixture
def row():
    return audit_record(action="test_event", reason="original", detail={"n": 1})


def _refused(sql: str, params=None) -> str:
    """Run `sql` in a savepoint; return the error message it must raise."""
    with (
        pytest.raises(DatabaseError) as exc,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, params)
    return str(exc.value)


def test_orm_update_and_delete_are_refused(row):
    refused = pytest.raises(DatabaseError, match="append-only: UPDATE refused")
    with refused, transaction.atomic():
        AuditLog.objects.filter(pk=row.pk).update(reason="forged")
    refused = pytest.raises(DatabaseError, match="append-only: DELETE refused")
    with refused, transaction.atomic():
        AuditLog.objects.filter(pk=row.pk).delete()
    row.reason = "forged"
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        row.save()

    row.refresh_from_db()
    assert row.reason == "original"
    # inserting stays possible
    audit_record(action="test_event")
    assert AuditLog.objects.filter(action="test_event").count() == 2


def test_raw_sql_is_refused_with_sqlstate_42501(row):
    for sql in (
        "UPDATE members_auditlog SET reason = 'forged'",
        "DELETE FROM members_auditlog",
        "DELETE FROM members_auditlog WHERE false",  # statement level: even 0 rows
    ):
        with (
            pytest.raises(DatabaseError) as exc,
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
        assert exc.value.__cause__.pgcode == "42501"
    assert AuditLog.objects.filter(reason="original").count() == 1


def test_truncate_is_refused_outside_the_test_flush_setting(row):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('portal.audit_truncate', true)")
        assert cursor.fetchone()[0] == "allow"  # tests/settings.py, for flush

    with transaction.atomic():
        with connection.cursor() as cursor:
            # a production session: the setting is not there
            cursor.execute("SET LOCAL portal.audit_truncate = ''")
        message = _refused("TRUNCATE members_auditlog")
        assert "append-only: TRUNCATE refused" in message
        message = _refused("TRUNCATE members_member, members_auditlog CASCADE")
        assert "append-only: TRUNCATE refused" in message
    assert AuditLog.objects.filter(pk=row.pk).exists()


def test_the_truncate_setting_does_not_open_update_or_delete(row):
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL portal.audit_truncate = 'allow'")
        assert "append-only" in _refused("UPDATE members_auditlog SET reason = 'x'")
        assert "append-only" in _refused("DELETE FROM members_auditlog")


def test_production_settings_do_not_allow_truncate():
    import os
    import subprocess
    import sys

    code = (
        "import portal.settings as s; "
        "print(s.DATABASES['default'].get('OPTIONS', {}).get('options', ''))"
    )
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://u@127.0.0.1:5432/x",
        "PORTAL_SKIP_DOTENV": "1",
        "SECRET_KEY": "x" * 50,
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "audit_truncate" not in out


def test_deleting_a_user_or_member_leaves_their_audit_rows_untouched():
    user = make_user()
    member = make_member(phone="13800000077")
    written = audit_record(action="test_event", actor=user, member=member)

    User.objects.filter(pk=user.pk).delete()
    Member.objects.filter(pk=member.pk).delete()

    kept = AuditLog.objects.get(pk=written.pk)
    assert (kept.actor_id, kept.member_id) == (user.pk, member.pk)


def test_anonymising_an_ex_member_keeps_the_audit_rows_about_them(row):
    # The retention job (and a processed deletion request, which takes the same
    # path) anonymises the member and adds audit rows; the rows written before
    # stay exactly as they were (any UPDATE/DELETE would raise here).
    from django.utils import timezone

    from members.actions.retention import retention_run
    from members.models import MemberStatus

    now = timezone.now()
    gone = make_member(
        phone="13800000079", status=MemberStatus.WITHDRAWN, left_at=now - 800 * DAY
    )
    before = audit_record(action="member_reveal", member=gone, field="phone")

    retention_run(now=now)

    gone.refresh_from_db()
    assert gone.anonymised_at is not None
    kept = AuditLog.objects.get(pk=before.pk)
    assert (kept.member_id, kept.action, kept.field) == (
        gone.pk,
        "member_reveal",
        "phone",
    )
    assert AuditLog.objects.filter(
        action="retention_anonymise", object_id=str(gone.pk)
    ).exists()
    assert AuditLog.objects.filter(pk=row.pk, reason="original").exists()


# --- (b) the app role: INSERT/SELECT only ------------------------------------------


@pytest.fixture
def app_role():
    """A non-superuser role granted as `db_app_role` grants (created inside the
    test's transaction, so it is gone afterwards)."""
    role = f"portal_lg3_{uuid.uuid4().hex[:10]}"
    call_command("db_app_role", role, "--apply")
    return role


@contextmanager
def acting_as(role: str):
    """SET ROLE for a savepoint: an error rolls the savepoint (and the role) back;
    on success the role is reset explicitly (SET LOCAL outlives a savepoint)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f'SET LOCAL ROLE "{role}"')
        yield cursor
        cursor.execute("RESET ROLE")


def _as(role: str, sql: str, params=None):
    with acting_as(role) as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def test_app_role_may_insert_and_select_audit_rows_but_not_change_them(app_role, row):
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [app_role])
        assert cursor.fetchone() == (False,)

    # INSERT and SELECT work, through the ORM as the app writes them
    with acting_as(app_role) as cursor:
        inserted = audit_record(action="test_event_as_app")
        assert AuditLog.objects.filter(pk=inserted.pk).exists()
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == app_role

    for sql in (
        "UPDATE members_auditlog SET reason = 'forged'",
        "DELETE FROM members_auditlog",
        "TRUNCATE members_auditlog",
    ):
        with pytest.raises(DatabaseError) as exc:
            _as(app_role, sql)
        assert "permission denied for table members_auditlog" in str(exc.value)
        assert exc.value.__cause__.pgcode == "42501"

    # the rest of the app's tables stay writable for the role
    make_member(phone="13800000078")
    assert _as(app_role, "UPDATE members_member SET updated_at = updated_at") == 1
    assert _as(app_role, "DELETE FROM members_onetimecode") == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] != app_role  # back to the test's own role
    assert AuditLog.objects.get(pk=row.pk).reason == "original"


def test_app_role_sql_is_printed_for_a_dba(capsys):
    call_command("db_app_role", "portal_app")
    out = capsys.readouterr().out
    assert (
        "REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON members_auditlog "
        'FROM "portal_app";' in out
    )
    assert 'ON ALL TABLES IN SCHEMA public TO "portal_app"' in out
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = 'portal_app'")
        assert cursor.fetchone() is None


def test_role_names_are_checked():
    with pytest.raises(ValueError):
        app_role_sql(role='x"; DROP TABLE y; --', database="d", server_version=150000)
    statements = app_role_sql(role="portal_app", database="d", server_version=170000)
    assert any("GRANT MAINTAIN" in s for s in statements)


def test_a_typed_reason_holding_an_id_number_or_mobile_is_masked_in_the_row():
    from members.audit import audit_record

    row = audit_record(
        action="member_reveal",
        object_type="member",
        object_id=1,
        reason="来电 13812345678 核对 11010519491231002X",
    )

    row.refresh_from_db()
    assert "13812345678" not in row.reason
    assert "11010519491231002X" not in row.reason
    assert row.reason.startswith("来电 138")
