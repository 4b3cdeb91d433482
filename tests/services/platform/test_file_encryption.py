"""Batch CSVs are encrypted at rest and a damaged file fails its batch cleanly
(security.md FU5)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import override_settings

from members.models import Member
from portal import crypto, filecrypt
from portal.filecrypt import key_id_of_file
from services.actions import batches as batch_actions
from services.models import (
    BatchStagingRow,
    BatchStatus,
    EnrollmentBatch,
    EnrollmentBatchChunk,
)
from tests.factories import make_id_number
from tests.services.platform.builders import csv_bytes, rider_row

pytestmark = pytest.mark.django_db

URL = "/api/v1/enrollment-batches/"
KNOWN_ID = make_id_number()
KNOWN_PHONE = "13912345678"


def rows(count: int = 25) -> list[list[str]]:
    out = [rider_row(name="陈十一", id_number=KNOWN_ID, phone=KNOWN_PHONE)]
    out += [
        rider_row(phone=f"1360000{i:04d}", rider_id=f"E{i}") for i in range(1, count)
    ]
    return out


def accept(client, body: bytes, capture, *, key: str = "e1") -> tuple:
    """Upload; return the batch and the on-commit work (split etc.) not yet run."""
    with capture(execute=False) as callbacks:
        response = client.post(
            URL,
            {"file": io.BytesIO(body), "program": "e-road"},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY=key,
        )
    assert response.status_code == 202, response.content
    return EnrollmentBatch.objects.get(pk=response.json()["id"]), callbacks


def run(callbacks, capture) -> None:
    with capture(execute=True):
        for callback in callbacks:
            callback()


def test_the_file_on_disk_holds_no_personal_data_and_imports(
    alpha, program, django_capture_on_commit_callbacks
):
    body = csv_bytes(rows())
    batch, work = accept(alpha, body, django_capture_on_commit_callbacks)

    path = batch_actions.batch_file_abspath(batch)
    raw = path.read_bytes()
    for plain in (
        KNOWN_ID.encode(),
        KNOWN_PHONE.encode(),
        "陈十一".encode(),
        b"name,id_number",
    ):
        assert plain not in raw
    for magic in (b"%PDF", b"\xff\xd8", b"\x89PNG"):
        assert not raw.startswith(magic)
    assert raw.startswith(filecrypt.MAGIC)
    assert key_id_of_file(path) == crypto.primary_key_id()
    # nothing else in the batch directory holds it either (no clear copy)
    for other in path.parent.iterdir():
        assert KNOWN_ID.encode() not in other.read_bytes()
    with batch_actions.open_batch_file(path) as fh:
        assert fh.read() == body  # round trip

    run(work, django_capture_on_commit_callbacks)

    batch.refresh_from_db()
    assert (batch.status, batch.total_rows, batch.created) == ("done", 25, 25)
    assert Member.objects.count() == 25
    assert not path.exists()  # cleanup still removes it


def test_no_clear_temporary_copy_of_a_large_upload(
    alpha, program, settings, tmp_path, django_capture_on_commit_callbacks
):
    """Django spools uploads above FILE_UPLOAD_MAX_MEMORY_SIZE to a clear temp
    file; the batch endpoint's only handler streams into the encrypted file."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = csv_bytes(rows(200))
    assert len(body) > 10 * 1024

    batch, _ = accept(alpha, body, django_capture_on_commit_callbacks)

    assert list(tmp_path.iterdir()) == []
    assert KNOWN_ID.encode() not in batch_actions.batch_file_abspath(batch).read_bytes()


@pytest.mark.parametrize("damage", ["changed byte", "cut short", "first byte"])
def test_a_damaged_file_fails_the_batch_before_any_row(
    alpha, program, django_capture_on_commit_callbacks, damage
):
    batch, work = accept(alpha, csv_bytes(rows()), django_capture_on_commit_callbacks)
    path = batch_actions.batch_file_abspath(batch)
    raw = bytearray(path.read_bytes())
    if damage == "changed byte":
        raw[len(raw) // 2] ^= 0x20
    elif damage == "cut short":
        del raw[-20:]
    else:  # no longer looks encrypted, and not like a CSV either
        raw[0] = ord("n")
    path.write_bytes(bytes(raw))

    run(work, django_capture_on_commit_callbacks)  # no exception escapes

    batch.refresh_from_db()
    assert batch.status == BatchStatus.FAILED
    assert batch.failure_reason == batch_actions.FILE_DAMAGED
    assert batch.processed_rows == 0
    assert Member.objects.count() == 0
    assert not BatchStagingRow.objects.filter(batch_id=batch.pk).exists()
    assert not path.exists()  # the failed batch's file is cleaned up
    detail = alpha.get(f"{URL}{batch.pk}/")
    assert detail.status_code == 200
    assert detail.json()["status"] == "failed"


def test_a_file_damaged_after_the_split_fails_at_its_chunk(
    alpha, program, monkeypatch, django_capture_on_commit_callbacks
):
    """256-byte segments: the first chunk's rows lie in segments untouched by
    the change to the file's last byte, the last chunk's do not."""
    monkeypatch.setattr(filecrypt, "SEGMENT", 256)
    batch, _ = accept(alpha, csv_bytes(rows()), django_capture_on_commit_callbacks)
    first = batch_actions.batch_split(batch_id=batch.pk, chunk_rows=10, parallel=1)
    path = batch_actions.batch_file_abspath(batch)
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0x01
    path.write_bytes(bytes(raw))

    with django_capture_on_commit_callbacks(execute=False):
        chunk_id = first
        for _ in range(5):
            if chunk_id is None:
                break
            chunk_id = batch_actions.batch_chunk_process(chunk_id=chunk_id)

    batch.refresh_from_db()
    assert batch.status == BatchStatus.FAILED
    assert batch.failure_reason == batch_actions.FILE_DAMAGED
    done = EnrollmentBatchChunk.objects.filter(batch=batch, status="done")
    # the rows applied before the damaged chunk are counted, nothing more
    assert batch.processed_rows == sum(c.row_count for c in done) == 20
    assert Member.objects.count() == batch.created == batch.processed_rows


def test_a_plaintext_file_from_before_the_change_still_imports(
    alpha, program, django_capture_on_commit_callbacks
):
    """A deploy in the middle of a batch: its file was stored in clear."""
    name = "legacy-plain.csv"
    (batch_actions.batch_storage_dir() / name).write_bytes(csv_bytes(rows()))
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_actions.enrollment_batch_create(
            platform=alpha.platform,
            program=program,
            staged_name=name,
            file_size=1,
            file_encoding="utf-8",
            idempotency_key="legacy",
            request_hash="x" * 64,
        )

    batch.refresh_from_db()
    assert (batch.status, batch.created) == ("done", 25)


def test_rotation_rewraps_a_waiting_file_and_the_old_key_can_go(
    alpha, program, django_capture_on_commit_callbacks, settings
):
    batch, work = accept(alpha, csv_bytes(rows()), django_capture_on_commit_callbacks)
    path = batch_actions.batch_file_abspath(batch)
    new = f"new:{crypto.generate_key()}"
    with override_settings(
        FIELD_ENCRYPTION_KEYS=[new, *settings.FIELD_ENCRYPTION_KEYS]
    ):
        out = io.StringIO()
        call_command("rotate_field_keys", stdout=out)
        assert key_id_of_file(path) == "new"
        assert "files\tre-encrypted:" in out.getvalue()

    with override_settings(FIELD_ENCRYPTION_KEYS=[new]):  # the old key is gone
        run(work, django_capture_on_commit_callbacks)

    batch.refresh_from_db()
    assert (batch.status, batch.created) == ("done", 25)
