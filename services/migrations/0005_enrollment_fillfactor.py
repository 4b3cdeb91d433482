"""Leave 10% free space in enrollment pages so the nightly status updates are
HOT (heap-only) updates on PostgreSQL; see Enrollment.Meta. No-op elsewhere."""

from django.db import migrations


def set_fillfactor(apps, schema_editor, value=90):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE services_enrollment SET (fillfactor = {int(value)})"
        )


def reset_fillfactor(apps, schema_editor):
    set_fillfactor(apps, schema_editor, value=100)


class Migration(migrations.Migration):
    dependencies = [("services", "0004_seed_shengong_programs")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
