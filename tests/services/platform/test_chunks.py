"""Chunk processing is exactly-once: re-delivery, a crash mid-chunk, the sweeper."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from members.models import Member
from services.actions import batches as batch_actions
from services.models import BatchStatus, EnrollmentBatch, EnrollmentBatchChunk
from tests.services.platform.builders import csv_bytes, rider_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued_batch(alpha, program):
    """An accepted batch whose tasks have not run (on_commit not executed)."""
    rows = [rider_row(phone=f"1360000{i:04d}", rider_id=f"Q{i}") for i in range(25)]
    response = alpha.post(
        "/api/v1/enrollment-batches/",
        {"file": io.BytesIO(csv_bytes(rows)), "program": "e-road"},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="q1",
    )
    assert response.status_code == 202
    return EnrollmentBatch.objects.get(pk=response.json()["id"])


def test_split_is_idempotent_and_chunks_run_in_order(queued_batch):
    first = batch_actions.batch_split(
        batch_id=queued_batch.pk, chunk_rows=10, parallel=1
    )
    again = batch_actions.batch_split(
        batch_id=queued_batch.pk, chunk_rows=10, parallel=1
    )
    chunks = list(EnrollmentBatchChunk.objects.filter(batch=queued_batch))
    assert [(c.first_row, c.row_count) for c in chunks] == [(1, 10), (11, 10), (21, 5)]
    assert first == again == chunks[0].pk
    # asking for a later chunk first hands back the earliest open one
    assert batch_actions.batch_chunk_process(chunk_id=chunks[1].pk) == chunks[0].pk
    assert EnrollmentBatch.objects.get(pk=queued_batch.pk).processed_rows == 0


def test_split_for_two_workers_makes_an_even_number_of_equal_chunks(queued_batch):
    """25 rows of at most 10 a chunk with two workers: 4 chunks of 7/6/6/6 (not
    10/10/5, whose last chunk would run while the other worker idles)."""
    batch_actions.batch_split(batch_id=queued_batch.pk, chunk_rows=10, parallel=2)
    chunks = list(EnrollmentBatchChunk.objects.filter(batch=queued_batch))
    assert [(c.first_row, c.row_count) for c in chunks] == [
        (1, 7),
        (8, 6),
        (14, 6),
        (20, 6),
    ]
    # the byte ranges tile the file after the header, row for row
    path = batch_actions.batch_file_abspath(queued_batch)
    with batch_actions.open_batch_file(path) as fh:
        data = fh.read()  # the offsets are plaintext offsets
    assert chunks[0].start_offset == data.index(b"\n") + 1
    assert chunks[-1].end_offset == len(data)
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert before.end_offset == after.start_offset
    lines = data.splitlines()[1:]
    assert (
        data[chunks[1].start_offset : chunks[1].end_offset].splitlines()
        == (lines[7:13])
    )
    chunk_id = chunks[0].pk
    while chunk_id is not None:
        chunk_id = batch_actions.batch_chunk_process(chunk_id=chunk_id)
    batch = EnrollmentBatch.objects.get(pk=queued_batch.pk)
    assert (batch.status, batch.processed_rows, batch.created) == ("done", 25, 25)


def test_a_redelivered_chunk_is_not_counted_twice(queued_batch):
    chunk_id = batch_actions.batch_split(
        batch_id=queued_batch.pk, chunk_rows=10, parallel=1
    )
    next_id = batch_actions.batch_chunk_process(chunk_id=chunk_id)
    assert batch_actions.batch_chunk_process(chunk_id=chunk_id) == next_id
    batch = EnrollmentBatch.objects.get(pk=queued_batch.pk)
    assert (batch.processed_rows, batch.created) == (10, 10)
    assert Member.objects.count() == 10


def test_a_chunk_that_crashes_rolls_back_and_reruns_cleanly(queued_batch, monkeypatch):
    chunk_id = batch_actions.batch_split(
        batch_id=queued_batch.pk, chunk_rows=10, parallel=1
    )

    def crash(*args, **kwargs):
        raise RuntimeError("worker died")

    monkeypatch.setattr(batch_actions, "_enqueue_notices", crash)
    with pytest.raises(RuntimeError):
        batch_actions.batch_chunk_process(chunk_id=chunk_id)
    # then: nothing of the chunk survived
    assert Member.objects.count() == 0
    chunk = EnrollmentBatchChunk.objects.get(pk=chunk_id)
    assert chunk.status == "pending"
    monkeypatch.undo()
    while chunk_id is not None:
        chunk_id = batch_actions.batch_chunk_process(chunk_id=chunk_id)
    batch = EnrollmentBatch.objects.get(pk=queued_batch.pk)
    assert batch.status == BatchStatus.DONE
    assert (batch.total_rows, batch.created, batch.rejected) == (25, 25, 0)
    assert Member.objects.count() == 25


def test_sweeper_requeues_stalled_work_only(queued_batch):
    # a fresh queued batch is not stalled yet
    assert batch_actions.batch_sweep() == []
    EnrollmentBatch.objects.filter(pk=queued_batch.pk).update(
        created_at=timezone.now() - timedelta(minutes=11)
    )
    assert batch_actions.batch_sweep() == [("split", queued_batch.pk)]
    first = batch_actions.batch_split(
        batch_id=queued_batch.pk, chunk_rows=10, parallel=1
    )
    EnrollmentBatch.objects.filter(pk=queued_batch.pk).update(
        started_at=timezone.now() - timedelta(minutes=11)
    )
    assert batch_actions.batch_sweep() == [("chunk", first)]


def test_sweeper_cleans_up_after_a_lost_cleanup_message(queued_batch):
    chunk_id = batch_actions.batch_split(
        batch_id=queued_batch.pk, chunk_rows=100, parallel=1
    )
    assert batch_actions.batch_chunk_process(chunk_id=chunk_id) is None
    batch = EnrollmentBatch.objects.get(pk=queued_batch.pk)
    assert batch.status == BatchStatus.DONE
    path = batch_actions.batch_file_abspath(batch)
    assert path.exists()  # the cleanup message (on_commit) never ran here
    EnrollmentBatch.objects.filter(pk=batch.pk).update(
        finished_at=timezone.now() - timedelta(minutes=11)
    )
    assert batch_actions.batch_sweep() == [("cleanup", batch.pk)]
    batch_actions.batch_cleanup(batch_id=batch.pk)
    assert not path.exists()
    from services.models import BatchStagingRow

    assert not BatchStagingRow.objects.filter(batch_id=batch.pk).exists()
    assert batch_actions.batch_sweep() == []


def _rows_with_duplicates_across_chunks() -> list[list[str]]:
    """30 rows, three 10-row chunks; the later row of each pair is the duplicate:
    row 25 repeats the ID number of row 5, row 24 the rider id of row 15, row 12
    the phone of row 3."""
    rows = [rider_row(phone=f"1360000{i:04d}", rider_id=f"D{i}") for i in range(1, 31)]
    rows[24][1] = rows[4][1]
    rows[23][5] = rows[14][5]
    rows[11][2] = rows[2][2]
    return rows


def _queue(client, rows, key):
    response = client.post(
        "/api/v1/enrollment-batches/",
        {"file": io.BytesIO(csv_bytes(rows)), "program": "e-road"},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    assert response.status_code == 202
    return EnrollmentBatch.objects.get(pk=response.json()["id"])


def _assert_duplicates_counted_once(batch_id: int) -> None:
    from services.models import BatchRowError

    batch = EnrollmentBatch.objects.get(pk=batch_id)
    assert batch.status == BatchStatus.DONE
    assert (batch.total_rows, batch.created, batch.rejected) == (30, 27, 3)
    assert batch.processed_rows == 30
    errors = {
        e.row: (e.code, e.field, e.message)
        for e in BatchRowError.objects.filter(batch_id=batch_id)
    }
    assert errors == {
        12: ("duplicate_in_file", "phone", "与第3行的手机号重复。"),
        24: ("duplicate_in_file", "platform_rider_id", "与第15行的平台骑手编号重复。"),
        25: ("duplicate_in_file", "id_number", "与第5行的身份证号重复。"),
    }
    assert Member.objects.count() == 27


def test_chunks_staged_in_any_order_reject_the_later_duplicate(alpha, program):
    batch = _queue(alpha, _rows_with_duplicates_across_chunks(), "dup-order")
    batch_actions.batch_split(batch_id=batch.pk, chunk_rows=10, parallel=1)
    chunks = list(EnrollmentBatchChunk.objects.filter(batch=batch).order_by("index"))
    # the last chunks are staged first (another worker got there earlier) ...
    assert batch_actions.batch_chunk_stage(chunk_id=chunks[2].pk)
    assert batch_actions.batch_chunk_stage(chunk_id=chunks[1].pk)
    # ... and nothing is applied while an earlier chunk is not staged
    assert not batch_actions.batch_chunk_apply(batch_id=batch.pk)
    assert not batch_actions.batch_chunk_stage(chunk_id=chunks[2].pk)  # once
    assert batch_actions.batch_chunk_stage(chunk_id=chunks[0].pk)
    applied = 0
    while batch_actions.batch_chunk_apply(batch_id=batch.pk):
        applied += 1
    assert applied == 3
    _assert_duplicates_counted_once(batch.pk)


@pytest.mark.django_db(transaction=True)
def test_chunks_applied_concurrently_count_every_row_once(alpha, program, monkeypatch):
    """Two workers apply two chunks of one batch at the same time (separate
    connections, started together); the database keeps duplicates and counts
    exact."""
    import threading

    from django.db import connection

    from services.tasks import batches as batch_tasks

    # the upload commits at once here: keep its task from processing the batch
    monkeypatch.setattr(batch_tasks.batch_split, "delay", lambda *args: None)

    batch = _queue(alpha, _rows_with_duplicates_across_chunks(), "dup-parallel")
    batch_actions.batch_split(batch_id=batch.pk, chunk_rows=10, parallel=1)
    for chunk in EnrollmentBatchChunk.objects.filter(batch=batch).order_by("-index"):
        assert batch_actions.batch_chunk_stage(chunk_id=chunk.pk)
    start = threading.Barrier(2)
    results: list[bool] = []
    failures: list[BaseException] = []

    def worker():
        try:
            start.wait(timeout=30)
            results.append(batch_actions.batch_chunk_apply(batch_id=batch.pk))
        except BaseException as exc:  # reported below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures
    assert results == [True, True]
    while batch_actions.batch_chunk_apply(batch_id=batch.pk):
        pass
    _assert_duplicates_counted_once(batch.pk)


def test_a_lost_staging_table_is_staged_again_before_anything_is_applied(
    alpha, program
):
    """PostgreSQL empties the UNLOGGED staging table after a crash while the
    staged_at marks survive: the next apply notices, every chunk (done ones too,
    for the duplicate check) is staged again, and the counts stay exact."""
    from services.models import BatchStagingRow

    batch = _queue(alpha, _rows_with_duplicates_across_chunks(), "lost-staging")
    batch_actions.batch_split(batch_id=batch.pk, chunk_rows=10, parallel=1)
    chunks = list(EnrollmentBatchChunk.objects.filter(batch=batch).order_by("index"))
    for chunk in chunks:
        assert batch_actions.batch_chunk_stage(chunk_id=chunk.pk)
    assert batch_actions.batch_chunk_apply(batch_id=batch.pk) is True
    # the crash: staged rows gone, marks kept
    BatchStagingRow.objects.filter(batch_id=batch.pk).delete()
    assert batch_actions.batch_chunk_apply(batch_id=batch.pk) == "restage"
    assert not EnrollmentBatchChunk.objects.filter(
        batch=batch, staged_at__isnull=False
    ).exists()
    # ... and the worker died right there: the next task stages the done chunk's
    # rows again before applying anything
    chunk_id = chunks[1].pk
    while chunk_id is not None:
        chunk_id = batch_actions.batch_chunk_process(chunk_id=chunk_id)
    _assert_duplicates_counted_once(batch.pk)
