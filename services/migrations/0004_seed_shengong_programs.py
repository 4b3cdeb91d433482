"""Data migration: seed the four 深工守护 programs (services/reference_data.py)."""

from django.db import migrations


def forwards(apps, schema_editor):
    from services.reference_data import seed_shengong_programs

    UnionOrg = apps.get_model("members", "UnionOrg")

    def create(*, name, level, kind, region_code, parent=None):
        # The same steps as members.actions.orgs.union_org_create, on the
        # historical model (a migration cannot call code bound to today's models).
        org = UnionOrg.objects.create(
            name=name, level=level, kind=kind, region_code=region_code, parent=parent
        )
        org.path = f"{parent.path if parent else '/'}{org.pk}/"
        org.save(update_fields=["path"])
        return org

    seed_shengong_programs(
        program_model=apps.get_model("services", "Program"),
        rule_model=apps.get_model("services", "EligibilityRule"),
        benefit_model=apps.get_model("services", "BenefitItem"),
        union_org_model=UnionOrg,
        create=create,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0003_reference_data"),
        ("services", "0003_programs_rules_history"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
