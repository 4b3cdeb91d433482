from django.db import migrations


def forwards(apps, schema_editor):
    from members.reference_data import seed_all

    seed_all(apps=apps)


class Migration(migrations.Migration):
    dependencies = [("members", "0002_membership_joining")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
