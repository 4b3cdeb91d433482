"""The daily audit log copy (security.md LG3, second half): content, digests and
the HMAC chain for frozen days, idempotency, tamper detection, the Asia/Shanghai
day boundary, the command, and the beat task on a real worker."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from members.actions.audit_ship import (
    GENESIS,
    ChainGap,
    ShipError,
    ShipLateRows,
    ShipMismatch,
    data_path,
    manifest_path,
    read_manifest,
    ship_day,
    ship_through,
    sign,
    verify_day,
    verify_range,
)
from members.audit import audit_record
from members.models import AuditLog
from tests.test_pii_leak_scan import leaks

SH = ZoneInfo("Asia/Shanghai")
D = date(2026, 11, 20)
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=SH)
KEY = b"test-only-audit-ship-key-t1"  # AUDIT_SHIP_HMAC_KEYS "t1" (tests/settings)
LEGACY_KEY = b"test-only-audit-ship-key"  # AUDIT_SHIP_HMAC_KEY


@pytest.fixture
def store(settings, tmp_path):
    settings.AUDIT_SHIP_DIR = tmp_path / "store"
    return settings.AUDIT_SHIP_DIR


def row_at(when: datetime, action: str = "test_event", **kwargs) -> AuditLog:
    """An audit row written at `when` (auto_now_add reads timezone.now)."""
    with mock.patch("django.utils.timezone.now", return_value=when):
        return audit_record(action=action, **kwargs)


def boundary_rows() -> dict[str, AuditLog]:
    return {
        "before": row_at(datetime(2026, 11, 19, 23, 59, 59, 999999, tzinfo=SH)),
        "first": row_at(datetime(2026, 11, 20, 0, 0, 0, tzinfo=SH)),
        "last": row_at(datetime(2026, 11, 20, 23, 59, 59, 999999, tzinfo=SH)),
        "after": row_at(datetime(2026, 11, 21, 0, 0, 0, tzinfo=SH)),
    }


def ids_in(day: date) -> list[int]:
    return [json.loads(line)["id"] for line in data_path(day).read_text().splitlines()]


def unlock(path: Path) -> None:
    path.chmod(0o640)


# --- content -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_frozen_day_is_written_as_expected_with_digest_and_signed_chain(store):
    actor_row = row_at(
        datetime(2026, 11, 20, 9, 30, 0, 123456, tzinfo=SH),
        action="member_reveal",
        object_type="member",
        object_id=42,
        member_id=42,
        field="phone",
        reason="核对 13812345678 的来电",
        detail={"b": [1, "x"], "a": "身份证 110101199003070019"},
    )
    earlier = row_at(datetime(2026, 11, 19, 12, 0, tzinfo=SH))

    results = ship_through(D, now=NOW)

    # the first run starts the chain at the oldest row's day
    assert [(r.day, r.rows, r.written) for r in results] == [
        (D - timedelta(days=1), 1, True),
        (D, 1, True),
    ]
    content = data_path(D).read_bytes()
    assert (
        content
        == (
            '{"action":"member_reveal","actor_id":null,"actor_role":"system",'
            '"created_at":"2026-11-20T01:30:00.123456+00:00",'
            '"detail":{"a":"身份证 1****************9","b":[1,"x"]},'
            '"field":"phone",'
            f'"id":{actor_row.pk},"ip":null,"member_id":42,"object_id":"42",'
            '"object_type":"member","outcome":"success",'
            '"reason":"核对 138****5678 的来电","request_id":""}\n'
        ).encode()
    )
    manifest = read_manifest(D)
    previous = read_manifest(D - timedelta(days=1))
    body = {
        "format": 2,
        "key_id": "t1",
        "day": "2026-11-20",
        "timezone": "Asia/Shanghai",
        "start": "2026-11-19T16:00:00+00:00",
        "end": "2026-11-20T16:00:00+00:00",
        "rows": 1,
        "first_id": actor_row.pk,
        "last_id": actor_row.pk,
        "sha256": hashlib.sha256(content).hexdigest(),
        "prev": previous["hmac"],
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    assert manifest == {
        **body,
        "hmac": hmac.new(KEY, canonical, hashlib.sha256).hexdigest(),
    }
    assert previous["prev"] == GENESIS
    assert previous["first_id"] == earlier.pk
    assert leaks(content.decode()) == []


@pytest.mark.django_db
def test_day_boundary_is_midnight_in_shanghai(store):
    rows = boundary_rows()

    ship_through(date(2026, 11, 21), now=NOW)

    assert ids_in(date(2026, 11, 19)) == [rows["before"].pk]
    assert ids_in(D) == [rows["first"].pk, rows["last"].pk]
    assert ids_in(date(2026, 11, 21)) == [rows["after"].pk]
    assert read_manifest(D)["start"] == "2026-11-19T16:00:00+00:00"


@pytest.mark.django_db
def test_a_day_without_rows_still_gets_its_link(store):
    row_at(datetime(2026, 11, 18, 12, 0, tzinfo=SH))
    row_at(datetime(2026, 11, 20, 12, 0, tzinfo=SH))

    ship_through(D, now=NOW)

    empty = read_manifest(date(2026, 11, 19))
    assert data_path(date(2026, 11, 19)).read_bytes() == b""
    assert (empty["rows"], empty["first_id"], empty["sha256"]) == (
        0,
        None,
        hashlib.sha256(b"").hexdigest(),
    )
    assert read_manifest(D)["prev"] == empty["hmac"]
    assert all(c.ok for c in verify_range(date(2026, 11, 18), D))


# --- idempotency -------------------------------------------------------------------


@pytest.mark.django_db
def test_shipping_twice_leaves_the_same_bytes(store):
    boundary_rows()
    ship_through(D, now=NOW)
    before = {p.name: p.read_bytes() for p in store.iterdir()}

    again = ship_through(D, now=NOW)
    day = ship_day(D, now=NOW)

    assert [(r.day, r.written) for r in again] == [(D, False)]
    assert not day.written
    assert {p.name: p.read_bytes() for p in store.iterdir()} == before
    assert not [p for p in store.iterdir() if p.name.startswith(".")]  # no temp left


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_write_one_consistent_copy(store):
    import threading

    from django.db import connection

    boundary_rows()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run():
        try:
            barrier.wait()
            ship_through(date(2026, 11, 21), now=NOW)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert all(c.ok for c in verify_range(date(2026, 11, 19), date(2026, 11, 21)))
    assert not [p for p in store.iterdir() if p.name.startswith(".")]
    assert len(list(store.iterdir())) == 6


@pytest.mark.django_db
def test_a_crash_between_data_and_manifest_is_finished_with_the_same_bytes(store):
    boundary_rows()
    ship_through(D, now=NOW)
    data, manifest = data_path(D).read_bytes(), manifest_path(D).read_bytes()
    manifest_path(D).unlink()  # the run died after renaming the data file

    result = ship_day(D, now=NOW)

    assert result.written
    assert (data_path(D).read_bytes(), manifest_path(D).read_bytes()) == (
        data,
        manifest,
    )


@pytest.mark.django_db
def test_a_row_added_after_shipping_is_refused_not_overwritten(store):
    boundary_rows()
    ship_through(D, now=NOW)
    shipped = data_path(D).read_bytes()
    row_at(datetime(2026, 11, 20, 12, 0, tzinfo=SH))  # a transaction that came late

    with pytest.raises(ShipMismatch):
        ship_day(D, now=NOW)

    assert data_path(D).read_bytes() == shipped
    assert verify_day(D).problems == ["database rows differ from the shipped file"]


@pytest.mark.django_db
def test_refuses_an_open_day_and_a_gap_in_the_chain(store):
    boundary_rows()

    with pytest.raises(ShipError, match="not over"):
        ship_day(date(2026, 11, 22), now=NOW)
    with pytest.raises(ChainGap):
        ship_day(D, now=NOW)  # 11-19 has rows and is not shipped yet
    assert not store.exists() or not list(store.iterdir())


# --- verification ------------------------------------------------------------------


@pytest.fixture
def shipped_three_days(store):
    rows = [
        row_at(datetime(2026, 11, day, hour, tzinfo=SH))
        for day in (19, 20, 21)
        for hour in (8, 12, 18)
    ]
    ship_through(date(2026, 11, 21), now=NOW)
    assert all(c.ok for c in verify_range(date(2026, 11, 19), date(2026, 11, 21)))
    return rows


@pytest.mark.django_db
def test_verify_detects_an_edited_line(shipped_three_days):
    path = data_path(D)
    unlock(path)
    path.write_bytes(path.read_bytes().replace(b'"test_event"', b'"test_evenT"', 1))

    assert verify_day(D, against_database=False).problems == [
        "data file digest differs from manifest"
    ]


@pytest.mark.django_db
def test_verify_detects_a_deleted_line(shipped_three_days):
    path = data_path(D)
    unlock(path)
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:-1]))

    assert verify_day(D, against_database=False).problems == [
        "data file digest differs from manifest",
        "row count differs from manifest",
    ]


@pytest.mark.django_db
def test_verify_detects_a_manifest_fixed_up_without_the_key(shipped_three_days):
    path = data_path(D)
    unlock(path)
    edited = b"".join(path.read_bytes().splitlines(keepends=True)[:-1])
    path.write_bytes(edited)
    manifest = read_manifest(D)
    manifest.update(rows=2, sha256=hashlib.sha256(edited).hexdigest())
    unlock(manifest_path(D))
    manifest_path(D).write_text(json.dumps(manifest))

    assert verify_day(D, against_database=False).problems == [
        "manifest signature invalid"
    ]
    assert "database rows differ from the shipped file" in verify_day(D).problems


@pytest.mark.django_db
def test_verify_detects_a_deleted_day_and_a_broken_chain(shipped_three_days):
    data_path(D).unlink()
    manifest_path(D).unlink()

    checks = {
        c.day: c.problems for c in verify_range(date(2026, 11, 19), date(2026, 11, 21))
    }

    assert checks[date(2026, 11, 19)] == []
    assert checks[D] == ["manifest missing"]
    assert checks[date(2026, 11, 21)] == ["chain broken: previous day missing"]

    # re-shipping the day from the database restores the exact link
    ship_day(D, now=NOW)
    assert all(c.ok for c in verify_range(date(2026, 11, 19), date(2026, 11, 21)))

    # a day replaced by one signed with the key but not linked is caught too
    body = {k: v for k, v in read_manifest(date(2026, 11, 21)).items() if k != "hmac"}
    body["prev"] = GENESIS
    unlock(manifest_path(date(2026, 11, 21)))
    manifest_path(date(2026, 11, 21)).write_text(
        json.dumps({**body, "hmac": sign(body)})
    )
    assert verify_day(date(2026, 11, 21)).problems == [
        "chain broken: prev is not the previous day's hmac"
    ]


# --- key rotation --------------------------------------------------------------------


def _signed_with(manifest: dict, key: bytes) -> bool:
    body = {k: v for k, v in manifest.items() if k != "hmac"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return manifest["hmac"] == hmac.new(key, canonical, hashlib.sha256).hexdigest()


def _ship_under_t1_then_put_t2_first(settings) -> None:
    """Rows on 19-21 Nov, 19-20 shipped under t1, then t2 signs (t1 verifies)."""
    for day in (19, 20, 21):
        row_at(datetime(2026, 11, day, 12, tzinfo=SH))
    ship_through(D, now=NOW)
    settings.AUDIT_SHIP_HMAC_KEYS = [
        "t2:a-new-audit-ship-key",
        *settings.AUDIT_SHIP_HMAC_KEYS,
    ]


@pytest.mark.django_db
def test_a_new_key_signs_the_next_day_and_the_old_one_still_verifies(store, settings):
    # given: two days shipped under t1; when: t2 goes first (t1 kept to verify)
    # and the next day ships
    _ship_under_t1_then_put_t2_first(settings)
    results = ship_through(date(2026, 11, 21), now=NOW)
    # then: the new day names t2 and is signed with it; the chain runs on
    new = read_manifest(date(2026, 11, 21))
    assert [(r.day, r.written) for r in results] == [(date(2026, 11, 21), True)]
    assert (new["format"], new["key_id"]) == (2, "t2")
    assert _signed_with(new, b"a-new-audit-ship-key")
    assert new["prev"] == read_manifest(D)["hmac"]
    assert read_manifest(D)["key_id"] == "t1" and _signed_with(read_manifest(D), KEY)
    assert all(c.ok for c in verify_range(date(2026, 11, 19), date(2026, 11, 21)))
    # and: re-running recomputes the t1 days with t1 (no false mismatch)
    assert not ship_day(D, now=NOW).written
    # and: an edit of a t1 day is still found (digest), and fixing the manifest
    # up with the current key does not pass (its key_id names t1)
    path = data_path(D)
    unlock(path)
    path.write_bytes(path.read_bytes().replace(b'"test_event"', b'"test_evenT"', 1))
    assert verify_day(D, against_database=False).problems == [
        "data file digest differs from manifest"
    ]
    body = {k: v for k, v in read_manifest(D).items() if k != "hmac"}
    body["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    forged = {
        **body,
        "hmac": hmac.new(
            b"a-new-audit-ship-key",
            json.dumps(body, sort_keys=True, separators=(",", ":")).encode(),
            hashlib.sha256,
        ).hexdigest(),
    }
    unlock(manifest_path(D))
    manifest_path(D).write_text(json.dumps(forged))
    assert (
        verify_day(D, against_database=False).problems[0]
        == "manifest signature invalid"
    )


def _resign(day: date, key_id: str, key: bytes) -> None:
    """Overwrite a day's manifest as someone holding `key` would."""
    body = {k: v for k, v in read_manifest(day).items() if k != "hmac"}
    body["key_id"] = key_id
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    unlock(manifest_path(day))
    manifest_path(day).write_text(
        json.dumps(
            {**body, "hmac": hmac.new(key, canonical, hashlib.sha256).hexdigest()}
        )
    )


@pytest.mark.django_db
def test_a_retired_key_cannot_sign_a_day_after_its_last_day(store, settings):
    # given: 19-20 Nov signed with t1; t2 takes over on the 21st and t1 is
    # retired with 20 Nov as its last day (kept to verify its own days)
    _ship_under_t1_then_put_t2_first(settings)
    settings.AUDIT_SHIP_KEY_LAST_DAYS = {"t1": D}
    ship_through(date(2026, 11, 21), now=NOW)
    assert all(c.ok for c in verify_range(date(2026, 11, 19), date(2026, 11, 21)))

    # when: someone holding the old key re-signs the 21st with it
    _resign(date(2026, 11, 21), "t1", KEY)

    # then: verification fails it and shipping refuses to go on over it
    [problem] = verify_day(date(2026, 11, 21), against_database=False).problems
    assert problem == (
        "manifest signature invalid: manifest of 2026-11-21 signed with key id "
        "'t1', retired after 2026-11-20"
    )
    with pytest.raises(ShipError, match="retired after 2026-11-20"):
        ship_day(date(2026, 11, 21), now=NOW)
    # and the retired key's own days still verify
    assert verify_day(D).ok


@pytest.mark.django_db
def test_a_key_taken_out_of_the_ring_is_reported_not_a_crash(store, settings):
    row_at(datetime(2026, 11, 20, 12, tzinfo=SH))
    ship_through(D, now=NOW)
    settings.AUDIT_SHIP_HMAC_KEYS = ["t2:a-new-audit-ship-key"]

    assert verify_day(D).problems == [
        "signature not checked: manifest signed with key id 't1', "
        "not in AUDIT_SHIP_HMAC_KEYS"
    ]
    with pytest.raises(ShipError, match="'t1'"):
        ship_day(D, now=NOW)  # cannot recompute the day's manifest without t1
    manifest = read_manifest(D)
    for bad in (["t1"], {"id": "t1"}, 7):
        unlock(manifest_path(D))
        manifest_path(D).write_text(json.dumps({**manifest, "key_id": bad}))
        assert verify_day(D, against_database=False).problems == [
            f"signature not checked: manifest key id is not a string: {bad!r}"
        ]


@pytest.mark.django_db
def test_legacy_manifests_without_key_id_verify_with_the_legacy_key(store, settings):
    # given: days shipped before key ids existed (only AUDIT_SHIP_HMAC_KEY set)
    for day in (19, 20, 21):
        row_at(datetime(2026, 11, day, 12, tzinfo=SH))
    settings.AUDIT_SHIP_HMAC_KEYS = []
    ship_through(D, now=NOW)
    legacy = read_manifest(D)
    assert "key_id" not in legacy and legacy["format"] == 1
    assert _signed_with(legacy, LEGACY_KEY)
    # when: keys with ids are configured and the next day ships
    settings.AUDIT_SHIP_HMAC_KEYS = ["t1:test-only-audit-ship-key-t1"]
    ship_through(date(2026, 11, 21), now=NOW)
    # then: the new day is keyed and linked to the legacy one; all verify
    assert read_manifest(date(2026, 11, 21))["key_id"] == "t1"
    assert read_manifest(date(2026, 11, 21))["prev"] == legacy["hmac"]
    assert all(c.ok for c in verify_range(date(2026, 11, 19), date(2026, 11, 21)))
    assert not ship_day(D, now=NOW).written  # recomputed in the legacy format
    # and: a legacy manifest fixed up with the keyed key fails
    body = {k: v for k, v in legacy.items() if k != "hmac"}
    body["rows"] = 2
    unlock(manifest_path(D))
    manifest_path(D).write_text(
        json.dumps({**body, "hmac": sign({**body, "key_id": "t1"})})
    )
    assert "manifest signature invalid" in verify_day(D).problems
    # and: without the legacy key only the legacy days go unchecked (reported)
    settings.AUDIT_SHIP_HMAC_KEY = ""
    assert verify_day(date(2026, 11, 19)).problems == [
        "signature not checked: manifest without key id, and AUDIT_SHIP_HMAC_KEY "
        "(the legacy key) is not set"
    ]
    assert verify_day(date(2026, 11, 21)).problems == [
        "chain broken: prev is not the previous day's hmac"  # 11-20 was replaced
    ]


@pytest.mark.django_db
def test_no_key_at_all_refuses_before_writing(store, settings):
    from django.core.exceptions import ImproperlyConfigured

    row_at(datetime(2026, 11, 20, 12, tzinfo=SH))
    settings.AUDIT_SHIP_HMAC_KEYS = []
    settings.AUDIT_SHIP_HMAC_KEY = ""

    with pytest.raises(ImproperlyConfigured, match="AUDIT_SHIP_HMAC_KEYS"):
        ship_through(D, now=NOW)
    assert not store.exists() or not list(store.iterdir())


# --- the previous day is re-checked ---------------------------------------------


@pytest.mark.django_db
def test_a_row_committed_after_its_day_was_shipped_is_reported_next_night(
    store, caplog
):
    # given: 11-20 shipped at 00:30 on 11-21, then a transaction that began
    # before midnight commits a row dated 11-20
    row_at(datetime(2026, 11, 20, 8, tzinfo=SH))
    row_at(datetime(2026, 11, 21, 8, tzinfo=SH))
    ship_through(D, now=NOW)
    late = row_at(datetime(2026, 11, 20, 23, 59, 59, tzinfo=SH))
    # when: the next night's run ships 11-21
    with pytest.raises(ShipLateRows, match=f"ids \\[{late.pk}\\]") as raised:
        ship_through(date(2026, 11, 21), now=NOW)
    # then: 11-21 is shipped all the same; 11-20's files are untouched; the late
    # row is named in an error log line and in one audit row
    assert [r.day for r in raised.value.results] == [date(2026, 11, 21)]
    assert verify_day(date(2026, 11, 21)).ok
    assert late.pk not in ids_in(D)
    assert verify_day(D).problems == ["database rows differ from the shipped file"]
    report = AuditLog.objects.get(action="audit_ship_late_rows")
    assert (report.object_id, report.outcome) == ("2026-11-20", "failure")
    assert report.detail == {
        "day": "2026-11-20",
        "late_count": 1,
        "late_ids": [late.pk],
        "shipped_rows": 1,
        "database_rows": 2,
    }
    assert any(
        r.levelname == "ERROR" and "missing from the shipped copy" in r.getMessage()
        for r in caplog.records
    )
    # and: a second delivery reports again but writes no second audit row
    with pytest.raises(ShipLateRows):
        ship_through(date(2026, 11, 21), now=NOW)
    assert AuditLog.objects.filter(action="audit_ship_late_rows").count() == 1


@pytest.mark.django_db
def test_the_daily_command_lists_what_it_shipped_and_fails_on_late_rows(store, capsys):
    row_at(datetime(2026, 11, 20, 8, tzinfo=SH))
    ship_through(D, now=NOW)
    row_at(datetime(2026, 11, 20, 9, tzinfo=SH))  # late

    with pytest.raises(CommandError, match="1 row\\(s\\) not in the copy"):
        call_command("audit_ship", "--to", "2026-11-21")  # the daily run's path

    assert "2026-11-21\t0 row(s)\twritten" in capsys.readouterr().out
    assert verify_day(date(2026, 11, 21)).ok
    # every run reports it again; the audit row is written once
    with pytest.raises(CommandError, match="not in the copy"):
        call_command("audit_ship", "--date", "2026-11-21")
    assert AuditLog.objects.filter(action="audit_ship_late_rows").count() == 1


# --- the command, the schedule, the settings ---------------------------------


@pytest.mark.django_db
def test_command_ships_and_verifies(store, capsys):
    boundary_rows()

    call_command("audit_ship", "--date", "2026-11-21")
    out = capsys.readouterr().out
    call_command("audit_ship", "--verify")
    verified = capsys.readouterr().out
    row_at(datetime(2026, 11, 20, 12, 0, tzinfo=SH))  # late: only the database differs
    call_command("audit_ship", "--verify", "--files-only")
    files_only = capsys.readouterr().out

    assert "2026-11-20\t2 row(s)\twritten" in out
    assert "3 day(s) verified" in verified
    assert "3 day(s) verified" in files_only
    unlock(data_path(D))
    data_path(D).write_bytes(b"")
    with pytest.raises(CommandError, match="1 of 3 day"):
        call_command(
            "audit_ship", "--verify", "--from", "2026-11-19", "--to", "2026-11-21"
        )
    out = capsys.readouterr().out
    assert (
        "2026-11-20\tdata file digest differs from manifest; row count differs "
        "from manifest; database rows differ from the shipped file\n"
    ) in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "garbage"], "not a date"),
        (["--date", "2026-13-40"], "not a date"),
        (["--from", "2026-11-20", "--to", "2026-11-01"], "is after"),
        (["--date", "2999-01-01"], "not over"),  # refused, not a traceback
    ],
)
@pytest.mark.django_db
def test_command_bad_dates_are_clear_errors(store, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("audit_ship", *args)

    assert not store.exists() or not list(store.glob("*.jsonl"))


def test_beat_entry_and_task_are_registered():
    from portal.celery import app
    from portal.schedules import DEFAULT_SCHEDULES

    app.loader.import_default_modules()  # as a worker does at start (autodiscovery)
    [entry] = [e for e in DEFAULT_SCHEDULES if e["task"] == "members.tasks.audit_ship"]
    assert entry["crontab"] == {"minute": "30", "hour": "0"}
    assert entry["queue"] == "default"
    assert "members.tasks.audit_ship" in app.tasks


def test_settings_refuse_reused_or_malformed_ship_keys():
    root = Path(__file__).resolve().parents[2]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_SKIP_DOTENV": "1",
        "SECRET_KEY": "s" * 50,
        "FIELD_ENCRYPTION_KEYS": "k1:" + "A" * 43,
        "BLIND_INDEX_KEY": "b" * 40,
    }
    for reused in ("A" * 43, "b" * 40):
        result = subprocess.run(
            [sys.executable, "-c", "import django; django.setup()"],
            cwd=root,
            env={**env, "AUDIT_SHIP_HMAC_KEY": reused},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode != 0
        assert "AUDIT_SHIP_HMAC_KEY must be its own secret" in result.stderr
    for keys, message in (
        ("k1:" + "A" * 43, "AUDIT_SHIP_HMAC_KEYS must be its own secret"),
        ("t1:x,t2:" + "b" * 40, "AUDIT_SHIP_HMAC_KEYS must be its own secret"),
        ("no-secret", "entries look like key_id:secret"),
        ("bad id:secret", "entries look like key_id:secret"),
        ("a:one,a:two", "key id 'a' twice"),
    ):
        result = subprocess.run(
            [sys.executable, "-c", "import django; django.setup()"],
            cwd=root,
            env={**env, "AUDIT_SHIP_HMAC_KEYS": keys},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode != 0, keys
        assert message in result.stderr, (keys, result.stderr[-300:])
    for last_days, message in (
        ("t1:2026-13-01", "entries look like key_id:YYYY-MM-DD"),
        ("t2", "entries look like key_id:YYYY-MM-DD"),
        ("t2:2026-11-30", "cannot be retired"),  # t2 is the signing key
    ):
        result = subprocess.run(
            [sys.executable, "-c", "import django; django.setup()"],
            cwd=root,
            env={
                **env,
                "AUDIT_SHIP_HMAC_KEYS": "t2:new-secret,t1:old-secret",
                "AUDIT_SHIP_KEY_LAST_DAYS": last_days,
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode != 0, keys
        assert message in result.stderr, (keys, result.stderr[-300:])


# --- a real worker -------------------------------------------------------------


@pytest.mark.celery_live
@pytest.mark.django_db(transaction=True)
def test_beat_task_on_a_real_worker_twice_gives_one_verified_copy(
    store, celery_live_worker
):
    from members.actions.audit_ship import last_closed_day
    from portal.celery import app
    from tests.members.test_retention import _settled

    # given: rows late and early on yesterday (Asia/Shanghai), one from today
    yesterday = last_closed_day()
    rows = [
        row_at(datetime.combine(yesterday, clock, tzinfo=SH))
        for clock in (datetime.min.time(), datetime.max.time())
    ]
    row_at(datetime.combine(yesterday + timedelta(days=1), datetime.min.time(), SH))

    # when: beat's message is delivered twice
    app.send_task("members.tasks.audit_ship", queue="default")
    app.send_task("members.tasks.audit_ship", queue="default")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if manifest_path(yesterday).exists() and _settled():
            break
        time.sleep(0.2)

    # then: one copy of yesterday, verified, nothing half-written left behind
    assert manifest_path(yesterday).exists()
    assert ids_in(yesterday) == [r.pk for r in rows]
    assert verify_day(yesterday).ok
    assert sorted(p.name for p in store.iterdir()) == [
        data_path(yesterday).name,
        manifest_path(yesterday).name,
    ]
    assert read_manifest(yesterday)["start"] == (
        datetime.combine(yesterday, datetime.min.time(), SH).astimezone(UTC).isoformat()
    )
