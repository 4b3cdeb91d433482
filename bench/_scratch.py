"""A scratch PostgreSQL database for a benchmark: created if missing, migrated,
Django set up against it (tests.settings, eager tasks), dropped afterwards unless
kept. Shared by bench/recheck.py, bench/retention.py and bench/key_use.py."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from urllib.parse import urlparse


def _admin_connection(url: str):
    import psycopg2

    parsed = urlparse(url)
    conn = psycopg2.connect(
        host=parsed.hostname,
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        dbname="postgres",
    )
    conn.autocommit = True
    return conn


def create_database(url: str, dbname: str) -> None:
    conn = _admin_connection(url)
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{dbname}"')
    conn.close()


def drop_database(url: str, dbname: str) -> None:
    conn = _admin_connection(url)
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{dbname}"')
    conn.close()


def run_in_scratch_database(
    default_url: str, body: Callable[[], None], *, keep: bool = False
) -> None:
    """Run `body` with Django set up on BENCH_DATABASE_URL (else `default_url`),
    a database whose name must start with portal_bench."""
    url = os.environ.get("BENCH_DATABASE_URL", default_url)
    dbname = urlparse(url).path.lstrip("/")
    if not dbname.startswith("portal_bench"):
        sys.exit("refusing: the bench database name must start with portal_bench")
    create_database(url, dbname)
    os.environ["DATABASE_URL"] = url
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    try:
        body()
    finally:
        from django.db import connection

        connection.close()
        if not keep:
            drop_database(url, dbname)
