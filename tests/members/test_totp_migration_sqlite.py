"""Migration members.0012 on the embedded SQLite default (`make run`): a real
`manage.py migrate` forward and back over a database that has django-otp's
plaintext table with a device in it. SQLite hands the migration's raw cursor
naive datetimes (UTC); read as Asia/Shanghai they moved 8 hours."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

LEGACY_DDL = """
CREATE TABLE otp_totp_totpdevice (
    id integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    name varchar(64) NOT NULL, confirmed bool NOT NULL,
    user_id bigint NOT NULL REFERENCES members_user (id) DEFERRABLE INITIALLY DEFERRED,
    key varchar(80) NOT NULL, step smallint unsigned NOT NULL, t0 bigint NOT NULL,
    digits smallint unsigned NOT NULL, tolerance smallint unsigned NOT NULL,
    drift smallint NOT NULL, last_t bigint NOT NULL,
    throttling_failure_count integer unsigned NOT NULL,
    throttling_failure_timestamp datetime NULL,
    created_at datetime NULL, last_used_at datetime NULL
)
"""
STAMP = "2026-01-02 03:04:05.123456"  # as Django stores it on SQLite: UTC, naive


def _manage(db: Path, *args: str) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CI")
    }
    env.update(DATABASE_URL=f"sqlite:///{db}", DJANGO_SETTINGS_MODULE="tests.settings")
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )


def _insert_legacy_user(conn: sqlite3.Connection) -> None:
    """A staff user 'legacy' with a value for every NOT NULL column without a
    default in members_user as it is on disk."""
    values = {"username": "legacy", "password": "!", "is_staff": 1}
    for _cid, name, type_, notnull, default, pk in conn.execute(
        "PRAGMA table_info(members_user)"
    ):
        if pk or name in values or not notnull or default is not None:
            continue
        kind = type_.lower()
        if "date" in kind:
            values[name] = "2026-01-01 00:00:00"
        elif "char" in kind or "text" in kind:
            values[name] = ""
        else:
            values[name] = 0
    columns = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    conn.execute(
        f"INSERT INTO members_user ({columns}) VALUES ({marks})",  # noqa: S608
        list(values.values()),
    )


@pytest.mark.slow
def test_sqlite_forward_and_back_keeps_the_device_times(tmp_path):
    db = tmp_path / "embedded.sqlite3"
    _manage(db, "migrate", "--noinput", "members", "0011")
    with sqlite3.connect(db) as conn:
        # The user row as the schema at 0011 has it (the model of today may have
        # columns 0011 does not: no ORM here).
        _insert_legacy_user(conn)
        conn.execute(LEGACY_DDL)
        user_id = conn.execute(
            "SELECT id FROM members_user WHERE username='legacy'"
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO otp_totp_totpdevice VALUES (7, 'phone', 1, ?,"
            " '3132333435363738393031323334353637383930', 30, 0, 6, 1, 0, 5, 3,"
            " ?, ?, ?)",
            [user_id, STAMP, STAMP, STAMP],
        )

    _manage(db, "migrate", "--noinput", "members", "0012")

    with sqlite3.connect(db) as conn:
        moved = conn.execute(
            "SELECT throttling_failure_timestamp, created_at, last_used_at, key"
            " FROM members_stafftotpdevice WHERE id = 7"
        ).fetchone()
    assert moved[:3] == (STAMP, STAMP, STAMP)
    assert "3132333435" not in moved[3]

    _manage(db, "migrate", "--noinput", "members", "0011")

    with sqlite3.connect(db) as conn:
        back = conn.execute(
            "SELECT throttling_failure_timestamp, created_at, last_used_at, key"
            " FROM otp_totp_totpdevice WHERE id = 7"
        ).fetchone()
    assert back == (STAMP, STAMP, STAMP, "3132333435363738393031323334353637383930")
