"""Re-encrypt every encrypted column under the first FIELD_ENCRYPTION_KEYS key.

Key rotation (security.md PI7): put the new key first in FIELD_ENCRYPTION_KEYS
(the old one stays after it, so old rows still decrypt), deploy, run this
command, and only then drop the old key. Every model field that is a
`portal.crypto.EncryptedTextField` is found through the app registry, so a new
encrypted field is covered without touching this file.

Rows are read in primary-key order, `--batch` at a time, as stored (ciphertext,
never decrypted into a model instance). A value under another key is decrypted
and encrypted again with the field's purpose, and written back only if the
column still holds what was read (`... WHERE pk = %s AND col = %s`): a row the
application changed meanwhile is left alone (it is already under the new key).
Idempotent: a second run finds nothing to do. One audit row records the counts.

Encrypted files under PRIVATE_STORAGE_ROOT (batch CSVs, portal/filecrypt) keep
their body; only the per-file data key in their header is sealed again under
the new key (`rewrap_tree`). Files written while the command runs are already
under the new key.
"""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from members.audit import audit_record
from portal.crypto import (
    SEPARATOR,
    EncryptedTextField,
    decrypt,
    encrypt,
    primary_key_id,
)
from portal.filecrypt import rewrap_tree


def encrypted_fields() -> list[tuple[type, list[EncryptedTextField]]]:
    out = []
    for model in apps.get_models():
        fields = [
            f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)
        ]
        if fields and not model._meta.proxy and model._meta.managed:
            out.append((model, fields))
    return out


def rotate_model(model, fields, *, prefix: str, batch: int, dry_run: bool) -> int:
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    pk = qn(model._meta.pk.column)
    columns = [qn(f.column) for f in fields]
    changed = 0
    last = None
    while True:
        after = "" if last is None else f" WHERE {pk} > %s"
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {pk}, {', '.join(columns)} FROM {table}{after}"  # noqa: S608
                f" ORDER BY {pk} LIMIT %s",
                [batch] if last is None else [last, batch],
            )
            rows = cursor.fetchall()
        if not rows:
            return changed
        last = rows[-1][0]
        with transaction.atomic():
            for row in rows:
                for field, column, stored in zip(fields, columns, row[1:], strict=True):
                    if not stored or stored.startswith(prefix):
                        continue
                    changed += 1
                    if dry_run:
                        continue
                    fresh = encrypt(
                        decrypt(stored, purpose=field.purpose), purpose=field.purpose
                    )
                    with connection.cursor() as cursor:
                        cursor.execute(
                            f"UPDATE {table} SET {column} = %s"  # noqa: S608
                            f" WHERE {pk} = %s AND {column} = %s",
                            [fresh, row[0], stored],
                        )


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted column under the first FIELD_ENCRYPTION_KEYS "
        "key (run after putting a new key first; then the old key can go)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=1000)
        parser.add_argument(
            "--dry-run", action="store_true", help="count only, change nothing"
        )

    def handle(self, *args, batch: int = 1000, dry_run: bool = False, **options):
        key_id = primary_key_id()
        prefix = f"{key_id}{SEPARATOR}"
        counts = {}
        for model, fields in encrypted_fields():
            counts[model._meta.label] = rotate_model(
                model, fields, prefix=prefix, batch=max(1, batch), dry_run=dry_run
            )
        counts["files"] = rewrap_tree(settings.PRIVATE_STORAGE_ROOT, dry_run=dry_run)
        verb = "to re-encrypt" if dry_run else "re-encrypted"
        for label, count in counts.items():
            self.stdout.write(f"{label}\t{verb}: {count}")
        if not dry_run:
            with transaction.atomic():
                audit_record(
                    action="field_keys_rotated",
                    actor=None,
                    object_type="field_keys",
                    object_id=key_id,
                    detail={"key_id": key_id, "values": counts},
                )
        total = sum(counts.values())
        self.stdout.write(self.style.SUCCESS(f"{total} value(s) {verb} under {key_id}"))
