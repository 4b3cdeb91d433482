"""The production database role of the app (security.md LG3): full DML on the
app's tables except the audit log, which it may only INSERT into and SELECT from.

    python manage.py db_app_role portal_app            # print the SQL (for a DBA)
    python manage.py db_app_role portal_app --apply    # run it

Run it as the role that owns the tables and runs `migrate` (the owner), after
every `migrate` (it is idempotent: grants on all tables again, then revokes on the
audit log). The app itself then connects as `portal_app`. A missing role is
created NOLOGIN; give it a login with `ALTER ROLE portal_app LOGIN PASSWORD '…'`
(never through this command: no secret on a command line). README "Production",
docs/architecture.md "Audit log: append-only".
"""

from __future__ import annotations

import re

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

AUDIT_TABLE = "members_auditlog"
_ROLE_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Tables the app ANALYZEs after bulk writes (planner statistics for the next
# statement). ANALYZE needs ownership before PostgreSQL 17, the MAINTAIN privilege
# from 17 on; without either it is skipped with a warning (autovacuum catches up).
ANALYZED_TABLES = ("services_batchstagingrow", "services_enrollmentevent")


def app_role_sql(*, role: str, database: str, server_version: int) -> list[str]:
    """The statements that create (if missing) and grant the app role."""
    if not _ROLE_RE.match(role):
        raise ValueError(f"not a plain role name: {role!r}")
    q = connection.ops.quote_name
    r = q(role)
    statements = [
        f"""DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
        CREATE ROLE {r} NOLOGIN;
    END IF;
END $$""",  # noqa: S608 - `role` matched _ROLE_RE (a plain identifier)
        f"GRANT CONNECT, TEMPORARY ON DATABASE {q(database)} TO {r}",
        f"GRANT USAGE ON SCHEMA public TO {r}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {r}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {r}",
        # Tables and sequences later migrations create (as the role running this).
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {r}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT USAGE, SELECT ON SEQUENCES TO {r}",
        # The audit log: INSERT and SELECT only (LG3).
        f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {AUDIT_TABLE} "
        f"FROM {r}",
        # The migration history is the owner's business.
        f"REVOKE INSERT, UPDATE, DELETE ON django_migrations FROM {r}",
    ]
    if server_version >= 170000:
        tables = ", ".join(ANALYZED_TABLES)
        statements.append(f"GRANT MAINTAIN ON {tables} TO {r}")
    return statements


class Command(BaseCommand):
    help = (
        "Print (or --apply) the SQL that creates the app's database role: DML on "
        "every table, INSERT/SELECT only on the audit log."
    )

    def add_arguments(self, parser):
        parser.add_argument("role", nargs="?", default="portal_app")
        parser.add_argument(
            "--apply",
            action="store_true",
            help="run the statements (as the owner role) instead of printing them",
        )

    def handle(self, *args, role: str, apply: bool, **options):
        if connection.vendor != "postgresql":
            raise CommandError("PostgreSQL only (the SQLite default has no roles).")
        try:
            statements = app_role_sql(
                role=role,
                database=connection.settings_dict["NAME"],
                server_version=connection.pg_version,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if not apply:
            for statement in statements:
                self.stdout.write(statement + ";")
            return
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
        self.stdout.write(
            f"role {role}: DML on every table, INSERT/SELECT only on {AUDIT_TABLE}."
        )
        if connection.pg_version < 170000:
            self.stdout.write(
                "PostgreSQL < 17: the app's ANALYZE of "
                f"{', '.join(ANALYZED_TABLES)} is skipped for this role "
                "(a warning; autovacuum keeps statistics)."
            )
