"""Data migration: seed the default beat schedules (portal/schedules.py).

Idempotent and additive: existing PeriodicTask rows (staff edits) are untouched.
`make run` runs `manage.py sync_schedules` too, for entries added later.
"""

from django.db import migrations


def seed(apps, schema_editor):
    from members.actions.schedules import schedules_sync

    schedules_sync(apps=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0005_notification_delivery"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
