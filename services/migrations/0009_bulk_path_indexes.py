"""Cheaper writes for platform batches (issue #6, docs/benchmarks.md).

PostgreSQL only (the SQLite fallback has none of these indexes or settings):

* members_member kept 14 indexes, each paid on every inserted person. Dropped are
  the ones no query can use:
  - the `varchar_pattern_ops` twins Django adds for LIKE 'prefix%' next to the
    unique index of `id_number_hmac` and `phone_hmac` (hex HMACs: only ever
    compared with =) and next to `status`, `occupation` (codes compared with = /
    IN) and `member_no` (searched exactly, or with icontains, which cannot use a
    pattern_ops index);
  - the single-column `org_id` index, a prefix of the (org_id, status) index.
  The equality indexes, unique constraints and (org_id, status) stay.
* members_platformrider: the single-column `platform_id` index is a prefix of
  the unique (platform_id, member_id) and (platform_id, platform_rider_id) ones.
* The staging table (UNLOGGED, rewritten per chunk) gets fillfactor 40: each
  staged row is updated about twice in its chunk (member, outcome); with room on
  the page these are HOT updates that skip its five indexes.

Reversible: the reverse recreates the same indexes under the same names.
"""

from django.db import migrations

MEMBER_INDEXES = {
    "members_member_id_number_hmac_c1561c5c_like": (
        "members_member (id_number_hmac varchar_pattern_ops)"
    ),
    "members_member_phone_hmac_f22506c3_like": (
        "members_member (phone_hmac varchar_pattern_ops)"
    ),
    "members_member_status_0d2ab2b9_like": (
        "members_member (status varchar_pattern_ops)"
    ),
    "members_member_occupation_b8f47e0a_like": (
        "members_member (occupation varchar_pattern_ops)"
    ),
    "members_member_member_no_06a72bfe_like": (
        "members_member (member_no varchar_pattern_ops)"
    ),
    "members_member_org_id_b6aaec52": "members_member (org_id)",
    "members_platformrider_platform_id_e500f124": "members_platformrider (platform_id)",
}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in MEMBER_INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')
    schema_editor.execute(
        "ALTER TABLE services_batchstagingrow SET (fillfactor = 40)"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, target in MEMBER_INDEXES.items():
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON {target}')
    schema_editor.execute("ALTER TABLE services_batchstagingrow RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("services", "0008_chunk_staged_at"),
        ("members", "0006_seed_beat_schedules"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
