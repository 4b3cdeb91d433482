# security.md LG3: the audit log is append-only at the database.
#
# 1. `actor` and `member` lose their database foreign keys and Django's SET_NULL
#    (which is an UPDATE of audit rows when a user or member is deleted): rows keep
#    the ids they were written with.
# 2. PostgreSQL only: statement triggers refuse UPDATE, DELETE and TRUNCATE of
#    members_auditlog with SQLSTATE 42501 (insufficient_privilege), whoever runs
#    them, superusers included. Nothing in the app changes or deletes audit rows
#    (the retention job writes them and never touches them), so there is no
#    bypass for UPDATE or DELETE. TRUNCATE passes only in a session that set
#    `portal.audit_truncate = 'allow'`: the test settings do, at connection start,
#    because Django's flush between transactional tests truncates every table;
#    production settings never do. The trigger is a guard against mistakes; the
#    privilege boundary is the app role without UPDATE/DELETE/TRUNCATE on the
#    table (`manage.py db_app_role`; docs/architecture.md "Audit log: append-only").
# The SQLite embedded default gets no trigger (development only).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

CREATE = r"""
CREATE OR REPLACE FUNCTION members_auditlog_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE'
       AND current_setting('portal.audit_truncate', true) = 'allow' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'members_auditlog is append-only: % refused (security.md LG3)', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Audit rows are only ever inserted; write a new row instead.';
END
$$;
DROP TRIGGER IF EXISTS members_auditlog_no_update_delete ON members_auditlog;
CREATE TRIGGER members_auditlog_no_update_delete
    BEFORE UPDATE OR DELETE ON members_auditlog
    FOR EACH STATEMENT EXECUTE FUNCTION members_auditlog_append_only();
DROP TRIGGER IF EXISTS members_auditlog_no_truncate ON members_auditlog;
CREATE TRIGGER members_auditlog_no_truncate
    BEFORE TRUNCATE ON members_auditlog
    FOR EACH STATEMENT EXECUTE FUNCTION members_auditlog_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS members_auditlog_no_update_delete ON members_auditlog;
DROP TRIGGER IF EXISTS members_auditlog_no_truncate ON members_auditlog;
DROP FUNCTION IF EXISTS members_auditlog_append_only();
"""


def null_dangling_references(apps, schema_editor):
    """Backwards only, after the triggers are gone and before the foreign keys
    come back: rows whose user or member was deleted while this migration was
    applied get NULL, which is what the old SET_NULL would have written."""
    AuditLog = apps.get_model("members", "AuditLog")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    Member = apps.get_model("members", "Member")
    AuditLog.objects.filter(actor_id__isnull=False).exclude(
        actor_id__in=User.objects.values("pk")
    ).update(actor_id=None)
    AuditLog.objects.filter(member_id__isnull=False).exclude(
        member_id__in=Member.objects.values("pk")
    ).update(member_id=None)


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('members', '0009_platform_ip_allowlist'),
    ]

    operations = [
        migrations.AlterField(
            model_name='auditlog',
            name='actor',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='操作人'),
        ),
        migrations.AlterField(
            model_name='auditlog',
            name='member',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='members.member', verbose_name='涉及会员'),
        ),
        migrations.RunPython(migrations.RunPython.noop, null_dangling_references),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
