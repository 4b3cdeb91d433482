"""Platform enrollment batches: staging a file, splitting it into chunks and
applying each chunk with set-based SQL (issue #6, security.md AP4-AP6, DI4).

Per chunk, two transactions (docs/architecture.md "Platform API"):
  stage (any order, any worker): parse + normalise + validate + encrypt in Python
     (services/actions/batch_rows), COPY (PostgreSQL) or executemany (SQLite) into
     BatchStagingRow, mark it staged;
  apply (once every earlier chunk is staged; two chunks may apply at once):
     set-based SQL: duplicates in the file, rider/phone conflicts, INSERT members
     ON CONFLICT (id_number_hmac) DO NOTHING, riders, eligibility
     (`_reject_ineligible`), this period's enrollments that no longer cover
     (`_reject_not_covered`), enrollments, notices (rows of members created here
     plainly, of known members ON CONFLICT DO NOTHING), row errors; add the
     chunk's counts to the batch with F() and mark the chunk done.
A worker killed anywhere rolls the open transaction back; a second delivery of a
staged or done chunk finds its mark and does nothing, so every row is counted
exactly once. "Duplicate of an earlier row" depends only on the staged rows, so it
is exact whatever the apply order.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import json
import logging
import os
import time
from array import array
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from members.audit import audit_record
from members.models import Member, MemberStatus, Notification, Platform, PlatformRider
from portal.exceptions import ApplicationError
from portal.filecrypt import FileIntegrityError, open_private
from services.actions.batch_rows import (
    CSV_COLUMNS,
    CSV_HEADER,
    STAGE_COLUMNS,
    RowContext,
    copy_lines,
    csv_records,
    stage_rows,
)
from services.models import (
    COVERING_STATUSES,
    BatchRowError,
    BatchSource,
    BatchStagingRow,
    BatchStatus,
    ChunkStatus,
    Enrollment,
    EnrollmentBatch,
    EnrollmentBatchChunk,
    EnrollmentSource,
    EnrollmentStatus,
    Program,
)

logger = logging.getLogger(__name__)

CHUNK_ROWS = 20_000
PARALLEL = 2
APPLY_PER_CALL = 4
NOTICE_TEMPLATE = "platform_rider_notice"

STAGE = BatchStagingRow._meta.db_table
MEMBER = Member._meta.db_table
RIDER = PlatformRider._meta.db_table
ENROLLMENT = Enrollment._meta.db_table
NOTIFICATION = Notification._meta.db_table
ROW_ERROR = BatchRowError._meta.db_table

# --- files ---


def batch_storage_dir() -> Path:
    path = Path(settings.PRIVATE_STORAGE_ROOT) / "batches"
    path.mkdir(parents=True, exist_ok=True)
    return path


def batch_file_abspath(batch: EnrollmentBatch) -> Path:
    return batch_storage_dir() / batch.file_path


def _legacy_csv(start: bytes) -> bool:
    """A batch file stored before encryption (a deploy in the middle of a batch)
    is read as it is only if it begins with the CSV header, as every accepted
    upload did; an encrypted file with a changed first byte does not."""
    header = CSV_HEADER.encode()
    start = start.removeprefix(codecs.BOM_UTF8)
    return start.startswith(header) and start[len(header) : len(header) + 1] in (
        b"\r",
        b"\n",
    )


def open_batch_file(path: Path):
    """The plaintext of a staged batch file (binary, seekable, read in 64 KiB
    segments; security.md FU5). FileIntegrityError when it was changed or cut."""
    return open_private(path, legacy=_legacy_csv)


FILE_DAMAGED = "暂存文件已损坏或被改动,批次已停止处理,请重新上传。"
FILE_UNREADABLE = "暂存文件无法读取。"


# --- coverage period ---


def coverage_period(*, program: Program, on: date) -> tuple[date, date]:
    """The same period a worker enrolling on `on` gets (Program.period_for), so
    (member, program, period_start) uniqueness makes a rider enrolled by the
    platform and by themselves `already_enrolled`, never twice."""
    return program.period_for(on)


def program_open_for_enrollment(*, program: Program, on: date) -> bool:
    return (
        program.is_active
        and program.starts_on <= on
        and (program.ends_on is None or on <= program.ends_on)
    )


# --- creating a batch ---


@transaction.atomic
def enrollment_batch_create(
    *,
    platform: Platform,
    program: Program,
    staged_name: str,
    file_size: int,
    file_encoding: str,
    idempotency_key: str,
    request_hash: str,
) -> EnrollmentBatch:
    """Register an uploaded, already validated file and queue its processing."""
    batch = EnrollmentBatch(
        platform=platform,
        program=program,
        source=BatchSource.FILE,
        file_path=staged_name,
        file_size=file_size,
        file_encoding=file_encoding,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
    )
    batch.full_clean()
    batch.save()
    audit_record(
        action="platform_batch_create",
        object_type="enrollment_batch",
        object_id=batch.pk,
        detail={
            "platform": platform.code,
            "program": program.code,
            "bytes": file_size,
        },
    )
    from services.tasks.batches import batch_split as batch_split_task

    transaction.on_commit(lambda: batch_split_task.delay(batch.pk))
    return batch


# --- splitting ---


def _scan_chunks(
    path: Path, *, chunk_rows: int, parallel: int = 1
) -> tuple[list[tuple], int]:
    """Byte ranges of at most `chunk_rows` records each, after the header line. A
    record ends at a newline outside quotes (a quote never closed is the one
    exception, below); '"' and '\\n' never occur inside a GBK or UTF-8 multi-byte
    character, so scanning bytes is safe. batch_rows.csv_records splits a
    chunk's text into the same records.

    With `parallel` > 1 (the bulk workers applying chunks side by side) the
    number of chunks is a multiple of it and their sizes differ by at most one
    row, so no worker sits idle while another applies the batch's last chunk
    alone: 100k rows at 20k and 2 workers are 6 chunks of 16,667, not 5 of 20k
    (the fifth alone on one core). With 1, chunks are full and the last one
    takes the rest."""
    ends = array("q")  # byte offset after each record (8 bytes a row)
    with open_batch_file(path) as fh:
        header = fh.readline()
        offset = len(header)
        open_quote = False
        opened_at = 0  # end of the line whose quote is open
        pending = array("q")  # ends of the non-blank lines after it
        for line in fh:
            offset += len(line)
            odd = line.count(b'"') % 2
            if open_quote:
                if odd:
                    open_quote = False
                    ends.append(offset)
                elif line.strip(b"\r\n"):
                    pending.append(offset)
                continue
            if odd:
                open_quote, opened_at, pending = True, offset, array("q")
                continue
            if line.strip(b"\r\n"):
                ends.append(offset)
        if open_quote:
            # Never closed: no later line has an odd quote count, so read as CSV
            # the quote would swallow the rest of the file into one field. The
            # line that opened it is a record of its own (malformed_row, see
            # batch_rows.csv_records) and every later line a record as usual.
            ends.append(opened_at)
            ends.extend(pending)
    total = len(ends)
    if not total:
        return [], 0
    count = -(-total // chunk_rows)
    if parallel > 1:
        count = min(total, -(-count // parallel) * parallel)
        sizes = [total // count + (i < total % count) for i in range(count)]
    else:
        sizes = [chunk_rows] * (count - 1) + [total - chunk_rows * (count - 1)]
    ranges: list[tuple] = []
    start, first_row = len(header), 1
    for size in sizes:
        end = ends[first_row + size - 2]
        ranges.append((start, end, first_row, size))
        start, first_row = end, first_row + size
    return ranges, total


def batch_split(
    *, batch_id: int, chunk_rows: int | None = None, parallel: int | None = None
) -> int | None:
    """Create the chunk rows of a queued batch (once) and return the first chunk
    to process, or None when there is nothing to do."""
    with transaction.atomic():
        batch = EnrollmentBatch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None or batch.status in (BatchStatus.DONE, BatchStatus.FAILED):
            return None
        if batch.status == BatchStatus.QUEUED:
            try:
                ranges, total = _scan_chunks(
                    batch_file_abspath(batch),
                    chunk_rows=chunk_rows
                    or getattr(settings, "PLATFORM_BATCH_CHUNK_ROWS", CHUNK_ROWS),
                    parallel=parallel
                    or getattr(settings, "PLATFORM_BATCH_PARALLEL", PARALLEL),
                )
            except (OSError, FileIntegrityError) as exc:
                damaged = isinstance(exc, FileIntegrityError)
                _fail_batch(batch, FILE_DAMAGED if damaged else FILE_UNREADABLE)
                logger.error("batch %s: staged file unreadable: %s", batch.pk, exc)
                return None
            EnrollmentBatchChunk.objects.bulk_create(
                EnrollmentBatchChunk(
                    batch=batch,
                    index=i,
                    start_offset=start,
                    end_offset=end,
                    first_row=first,
                    row_count=count,
                )
                for i, (start, end, first, count) in enumerate(ranges)
            )
            batch.total_rows = total
            batch.status = BatchStatus.PROCESSING
            batch.started_at = timezone.now()
            batch.save(update_fields=["total_rows", "status", "started_at"])
        next_chunk = _next_open_chunk(batch_id=batch.pk)
        if next_chunk is None:
            _finish_if_complete(batch_id=batch.pk)
        return next_chunk


def open_chunk_ids(*, batch_id: int) -> list[int]:
    return list(
        EnrollmentBatchChunk.objects.filter(batch_id=batch_id)
        .exclude(status=ChunkStatus.DONE)
        .order_by("index")
        .values_list("pk", flat=True)
    )


def _next_open_chunk(*, batch_id: int) -> int | None:
    return (
        EnrollmentBatchChunk.objects.filter(batch_id=batch_id)
        .exclude(status=ChunkStatus.DONE)
        .order_by("index")
        .values_list("pk", flat=True)
        .first()
    )


# --- processing a chunk ---


def _fail_batch(batch: EnrollmentBatch, reason: str) -> None:
    batch.status = BatchStatus.FAILED
    batch.failure_reason = reason
    batch.finished_at = timezone.now()
    batch.save(update_fields=["status", "failure_reason", "finished_at"])
    from services.tasks.batches import batch_cleanup as batch_cleanup_task

    transaction.on_commit(lambda: batch_cleanup_task.delay(batch.pk))


def _read_chunk_rows(batch: EnrollmentBatch, chunk: EnrollmentBatchChunk):
    """The chunk's records. Only the segments holding its byte range are
    decrypted; FileIntegrityError when any of them fails or the range is cut."""
    length = chunk.end_offset - chunk.start_offset
    with open_batch_file(batch_file_abspath(batch)) as fh:
        fh.seek(chunk.start_offset)
        raw = fh.read(length)
    if len(raw) != length:
        raise FileIntegrityError("chunk range past the end of the file")
    text = raw.decode(batch.file_encoding or "utf-8", errors="replace")
    del raw
    return csv_records(text)


def _chunk_session(cursor) -> None:
    """Per-transaction settings of the chunk transactions (PostgreSQL)."""
    if connection.vendor != "postgresql":
        return
    # Safe to skip the commit flush: a chunk lost in a server crash loses its
    # staged_at / done flag with it (same transaction) and is simply re-run.
    _execute(cursor, "SET LOCAL synchronous_commit = off")
    _execute(cursor, "SET LOCAL work_mem = '32MB'")
    # Every chunk statement costs more than jit_above_cost, and compiling it
    # took longer (≈300 ms) than running it (≈60 ms): 1 s+ per chunk.
    _execute(cursor, "SET LOCAL jit = off")
    # Check the foreign keys per statement instead of queueing ≈100k deferred
    # trigger events for the commit (measured: ≈1 s less per 20k-row chunk).
    _execute(cursor, "SET CONSTRAINTS ALL IMMEDIATE")


def batch_chunk_stage(*, chunk_id: int) -> bool:
    """Phase 1 of a chunk, in its own transaction: parse, validate, encrypt and
    COPY its rows into the staging table, then mark it staged. Chunks may be
    staged in any order and by several workers at once (they only add rows).
    Returns whether this call staged it."""
    with transaction.atomic():
        chunk = (
            EnrollmentBatchChunk.objects.select_for_update(
                skip_locked=True, of=("self",)
            )
            .select_related("batch")
            .filter(pk=chunk_id)
            .first()
        )
        # A done chunk is staged again only after a lost staging table (see
        # _staging_lost): its rows are needed for the duplicate check only.
        if (
            chunk is None
            or chunk.staged_at is not None
            or chunk.batch.status != BatchStatus.PROCESSING
        ):
            return False
        batch = chunk.batch
        now = timezone.now()
        ctx = RowContext(today=timezone.localdate(now), now=now)
        timer = _StepTimer()
        try:
            rows = _read_chunk_rows(batch, chunk)
        except FileIntegrityError as exc:
            # Split decrypted the whole file, so this is a change made since:
            # fail the batch (rows of chunks applied already stay, counted).
            # An OSError still goes to the task's retry, as before.
            _fail_batch(batch, FILE_DAMAGED)
            logger.error(
                "batch %s chunk %s: staged file unreadable: %s",
                batch.pk,
                chunk.index,
                exc,
            )
            return False
        with connection.cursor() as cursor:
            _chunk_session(cursor)
            stage_into(
                cursor,
                batch_id=batch.pk,
                first_row=chunk.first_row,
                rows=rows,
                ctx=ctx,
            )
            timer.lap("parse+copy")
            _ensure_staging_statistics(cursor)
            timer.lap("analyze")
        EnrollmentBatchChunk.objects.filter(pk=chunk.pk).update(staged_at=now)
        logger.info("batch %s chunk %s staged: %s", batch.pk, chunk.index, timer)
    return True


RESTAGE = "restage"


def _staging_lost(*, batch_id: int, chunk: EnrollmentBatchChunk) -> bool:
    """The staging table is UNLOGGED: PostgreSQL empties it after a crash, while
    the (logged) staged_at marks survive. Every data row has a staged row, so the
    batch's first row and all of this chunk's rows must be there. If not, forget
    what was staged (marks and any rows staged since) so every chunk is staged
    again — done chunks too, for the duplicate check — and nothing is applied
    from a half-empty table."""
    with connection.cursor() as cursor:
        _execute(
            cursor,
            f"SELECT (SELECT COUNT(*) FROM {STAGE} s WHERE {_RANGE}), "
            f"EXISTS (SELECT 1 FROM {STAGE} s WHERE s.batch_id = %s "
            "AND s.row_no = 1)",
            [
                batch_id,
                chunk.first_row,
                chunk.first_row + chunk.row_count - 1,
                batch_id,
            ],
        )
        in_chunk, first_row_there = cursor.fetchone()
        if in_chunk == chunk.row_count and first_row_there:
            return False
        logger.error(
            "batch %s chunk %s: staged rows missing (%s of %s); staging again",
            batch_id,
            chunk.index,
            in_chunk,
            chunk.row_count,
        )
        _execute(cursor, f"DELETE FROM {STAGE} WHERE batch_id = %s", [batch_id])
    EnrollmentBatchChunk.objects.filter(batch_id=batch_id).update(staged_at=None)
    return True


def batch_chunk_apply(*, batch_id: int) -> bool | str:
    """Phase 2, in one transaction: apply the next ready chunk of the batch with
    set-based SQL, mark it done and add its counts. Chunks of a batch can be
    applied concurrently: after the file's duplicates are rejected (decided by
    the staged rows alone, whatever the apply order) no two chunks share an ID
    number, rider id or phone among their remaining rows. Returns whether a
    chunk was applied, or RESTAGE when the staged rows were lost."""
    with transaction.atomic():
        first_unstaged = (
            EnrollmentBatchChunk.objects.filter(batch_id=batch_id, staged_at=None)
            .order_by("index")
            .values_list("index", flat=True)
            .first()
        )
        ready = EnrollmentBatchChunk.objects.filter(
            batch_id=batch_id, staged_at__isnull=False
        ).exclude(status=ChunkStatus.DONE)
        if first_unstaged is not None:
            ready = ready.filter(index__lt=first_unstaged)
        chunk = (
            ready.select_for_update(skip_locked=True, of=("self",))
            .select_related("batch", "batch__program", "batch__platform")
            .order_by("index")
            .first()
        )
        if chunk is None or chunk.batch.status != BatchStatus.PROCESSING:
            return False
        batch = chunk.batch
        if _staging_lost(batch_id=batch.pk, chunk=chunk):
            return RESTAGE
        EnrollmentBatchChunk.objects.filter(pk=chunk.pk).update(
            attempts=F("attempts") + 1
        )
        with connection.cursor() as cursor:
            _chunk_session(cursor)
        now = timezone.now()
        counts = apply_staged(
            batch=batch,
            lo=chunk.first_row,
            hi=chunk.first_row + chunk.row_count - 1,
            now=now,
        )
        EnrollmentBatchChunk.objects.filter(pk=chunk.pk).update(
            status=ChunkStatus.DONE,
            finished_at=timezone.now(),
            created=counts.created,
            already_enrolled=counts.already_enrolled,
            rejected=counts.rejected,
        )
        EnrollmentBatch.objects.filter(pk=batch.pk).update(
            processed_rows=F("processed_rows") + counts.total,
            created=F("created") + counts.created,
            already_enrolled=F("already_enrolled") + counts.already_enrolled,
            rejected=F("rejected") + counts.rejected,
        )
        # After the UPDATE above waited for any concurrent chunk's commit, this
        # sees it: the last chunk to commit finishes the batch.
        _finish_if_complete(batch_id=batch.pk)
    return True


def batch_chunk_process(*, chunk_id: int) -> int | None:
    """Stage this chunk (if nobody has), then apply every chunk of its batch
    that is ready, in file order; return the earliest chunk still open, or None.

    Exactly once: staging and applying are each one transaction that ends by
    marking the chunk (staged_at / done), claimed with SELECT ... FOR UPDATE
    SKIP LOCKED; a duplicate delivery skips or finds the mark and does nothing.
    """
    batch_id = (
        EnrollmentBatchChunk.objects.filter(pk=chunk_id)
        .values_list("batch_id", flat=True)
        .first()
    )
    if batch_id is None:
        return None
    # Done chunks lose their staged mark only with a lost staging table; no task
    # is queued for them, so whoever comes next stages their rows again.
    _stage_unstaged(batch_id=batch_id, done_only=True)
    batch_chunk_stage(chunk_id=chunk_id)
    # A bounded number per call keeps each task far below the time limit; the
    # task queues the next open chunk, and every chunk is queued anyway.
    for _ in range(APPLY_PER_CALL):
        applied = batch_chunk_apply(batch_id=batch_id)
        if applied == RESTAGE:
            _stage_unstaged(batch_id=batch_id, done_only=False)
            continue
        if not applied:
            break
    return _next_open_chunk(batch_id=batch_id)


def _stage_unstaged(*, batch_id: int, done_only: bool) -> None:
    chunks = EnrollmentBatchChunk.objects.filter(batch_id=batch_id, staged_at=None)
    if done_only:
        chunks = chunks.filter(status=ChunkStatus.DONE)
    for pk in chunks.order_by("index").values_list("pk", flat=True):
        batch_chunk_stage(chunk_id=pk)


def _finish_if_complete(*, batch_id: int) -> bool:
    """Mark the batch done once no chunk is open (conditional UPDATE)."""
    if (
        EnrollmentBatchChunk.objects.filter(batch_id=batch_id)
        .exclude(status=ChunkStatus.DONE)
        .exists()
    ):
        return False
    finished = EnrollmentBatch.objects.filter(
        pk=batch_id, status=BatchStatus.PROCESSING
    ).update(status=BatchStatus.DONE, finished_at=timezone.now())
    if finished:
        batch = EnrollmentBatch.objects.select_related("platform").get(pk=batch_id)
        audit_record(
            action="platform_batch_done",
            object_type="enrollment_batch",
            object_id=batch_id,
            detail={
                "platform": batch.platform.code,
                "total_rows": batch.total_rows,
                "created": batch.created,
                "already_enrolled": batch.already_enrolled,
                "rejected": batch.rejected,
            },
        )
        from services.tasks.batches import batch_cleanup as batch_cleanup_task

        transaction.on_commit(lambda: batch_cleanup_task.delay(batch_id))
    return bool(finished)


def batch_cleanup(*, batch_id: int) -> None:
    """Drop the staging rows and the staged file of a finished batch (they hold
    personal data that is no longer needed; the outcome lives in the counts and
    the row errors)."""
    batch = EnrollmentBatch.objects.filter(pk=batch_id).first()
    if batch is None or batch.status not in (BatchStatus.DONE, BatchStatus.FAILED):
        return
    BatchStagingRow.objects.filter(batch_id=batch_id).delete()
    if batch.file_path:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(batch_file_abspath(batch))


def batch_sweep(*, stalled_after: timedelta = timedelta(minutes=10)) -> list[tuple]:
    """Work that stalled (a lost message, a dead worker after the ack, a Redis
    wipe): batches still queued, and the next open chunk of batches whose last
    progress is older than `stalled_after`. Returns (kind, id) pairs to enqueue;
    re-running a chunk is harmless (see batch_chunk_process)."""
    cutoff = timezone.now() - stalled_after
    work: list[tuple] = [
        ("split", pk)
        for pk in EnrollmentBatch.objects.filter(
            status=BatchStatus.QUEUED, created_at__lt=cutoff
        ).values_list("pk", flat=True)
    ]
    for batch in EnrollmentBatch.objects.filter(status=BatchStatus.PROCESSING):
        last = (
            EnrollmentBatchChunk.objects.filter(batch=batch, status=ChunkStatus.DONE)
            .order_by("-finished_at")
            .values_list("finished_at", flat=True)
            .first()
        ) or batch.started_at
        if last and last < cutoff:
            chunk_id = _next_open_chunk(batch_id=batch.pk)
            if chunk_id is not None:
                work.append(("chunk", chunk_id))
            else:
                work.append(("split", batch.pk))
    # A lost cleanup message would leave personal data in staging and on disk.
    for batch in EnrollmentBatch.objects.filter(
        status__in=(BatchStatus.DONE, BatchStatus.FAILED),
        finished_at__gt=timezone.now() - timedelta(days=2),
        finished_at__lt=cutoff,
    ).exclude(file_path=""):
        if batch_file_abspath(batch).exists():
            work.append(("cleanup", batch.pk))
    return work


# --- the set-based core ---


class _StepTimer:
    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.steps: list[str] = []

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.steps.append(f"{name}={now - self.last:.2f}s")
        self.last = now

    def __str__(self) -> str:
        return " ".join(self.steps)


@dataclass(frozen=True)
class Counts:
    created: int = 0
    already_enrolled: int = 0
    rejected: int = 0

    @property
    def total(self) -> int:
        return self.created + self.already_enrolled + self.rejected


class _LineReader(io.TextIOBase):
    """A file-like view of a list of COPY lines, read in large pieces (no second
    copy of the whole chunk in memory)."""

    def __init__(self, lines: list[str]) -> None:
        self._lines = lines
        self._pos = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> str:
        if self._pos >= len(self._lines):
            return ""
        end = len(self._lines) if size is None or size < 0 else self._pos + 512
        piece = "".join(self._lines[self._pos : end])
        self._pos = end
        return piece


def stage_into(cursor, *, batch_id: int, first_row: int, rows, ctx) -> None:
    """Parse/validate/encrypt `rows` (lists of CSV values, row numbers from
    first_row) into the staging table: COPY on PostgreSQL, executemany else."""
    if connection.vendor == "postgresql":
        lines = copy_lines(batch_id=batch_id, first_row=first_row, rows=rows, ctx=ctx)
        cursor.copy_expert(
            f"COPY {STAGE} ({', '.join(STAGE_COLUMNS)}) FROM STDIN",
            _LineReader(lines),
            size=1 << 16,
        )
    else:
        placeholders = ", ".join(["%s"] * len(STAGE_COLUMNS))
        cursor.executemany(
            f"INSERT INTO {STAGE} ({', '.join(STAGE_COLUMNS)}) VALUES ({placeholders})",
            list(
                stage_rows(batch_id=batch_id, first_row=first_row, rows=rows, ctx=ctx)
            ),
        )


_RANGE = "s.batch_id = %s AND s.row_no BETWEEN %s AND %s"


def _execute(cursor, sql: str, params=None) -> None:
    """`OFFSET 0` fences correlated subqueries on PostgreSQL (see callers);
    SQLite does not accept OFFSET without LIMIT and never flattens them anyway."""
    if connection.vendor != "postgresql":
        sql = sql.replace(" OFFSET 0", "")
    cursor.execute(sql, params)


def _mark_duplicates(cursor, *, rng: list) -> None:
    """A row repeating the ID number, rider id or phone of an earlier valid row of
    the same file is `duplicate_in_file`; the first occurrence is processed.
    One UPDATE over the chunk: three indexed probes per row for an earlier valid
    row with the same key (earlier chunks' rows are still staged); the ID number
    is reported before the rider id before the phone. SET looks the earlier row
    up again only for the few duplicates."""

    # OFFSET 0 keeps each subquery a per-row index probe (O(chunk)); as a
    # semi-join the planner hashes every earlier row of the batch instead.
    def earlier(column: str) -> str:
        return (
            f"FROM {STAGE} e WHERE e.batch_id = s.batch_id AND e.valid "
            f"AND e.{column} = s.{column} AND e.row_no < s.row_no OFFSET 0"
        )

    keys = (
        ("id_hmac", "id_number", "身份证号"),
        ("rider_id", "platform_rider_id", "平台骑手编号"),
        ("phone_hmac", "phone", "手机号"),
    )
    field = " ".join(
        f"WHEN EXISTS (SELECT 1 {earlier(column)}) THEN '{name}'"
        for column, name, _ in keys
    )
    message = " ".join(
        f"WHEN EXISTS (SELECT 1 {earlier(column)}) THEN "
        f"'与第' || (SELECT MIN(e.row_no) {earlier(column)}) || '行的{label}重复。'"
        for column, _, label in keys
    )
    found = " OR ".join(f"EXISTS (SELECT 1 {earlier(column)})" for column, _, _ in keys)
    _execute(
        cursor,
        f"""
        UPDATE {STAGE} AS s
           SET outcome = 'rejected', err_code = 'duplicate_in_file',
               err_field = CASE {field} END, err_message = CASE {message} END
         WHERE {_RANGE} AND s.valid AND s.outcome IS NULL AND ({found})
        """,
        rng,
    )


def _ensure_staging_statistics(cursor) -> None:
    """Refresh the planner's statistics for the staging table after each COPY:
    every chunk adds a new row_no range, and with stale statistics the planner
    estimates one row for it and picks nested loops over 20k x 20k rows."""
    if connection.vendor == "postgresql":
        # Only the columns the chunk filters on: cheaper than a full ANALYZE.
        _execute(cursor, f"ANALYZE {STAGE} (batch_id, row_no, outcome, valid)")


def _mark_conflicts(cursor, *, rng: list, platform_id: int) -> None:
    """Rows that contradict what this platform already told the union are
    rejected, not silently merged: a rider id of another person, a person under
    another rider id of this platform, the phone of another rider of this
    platform (reported in that order). Only the platform's own riders are
    compared: a platform learns nothing about people who are not its riders
    (docs/api.md "Privacy"), so a phone held by anyone else is not a conflict
    here (`_upsert_members` keeps such a new person without that phone).
    One UPDATE over the chunk; each check is a per-row index probe (OFFSET 0),
    so its cost follows the chunk, not the platform's size."""
    checks = (
        (
            "rider_conflict",
            "platform_rider_id",
            "该平台骑手编号已对应另一人员。",
            f"SELECT 1 FROM {RIDER} r JOIN {MEMBER} m ON m.id = r.member_id "
            "WHERE r.platform_id = %s AND r.platform_rider_id = s.rider_id "
            "AND m.id_number_hmac <> s.id_hmac OFFSET 0",
            [platform_id],
        ),
        (
            "rider_conflict",
            "id_number",
            "此人在本平台已登记为另一骑手编号。",
            f"SELECT 1 FROM {MEMBER} m JOIN {RIDER} r ON r.member_id = m.id "
            "WHERE m.id_number_hmac = s.id_hmac AND r.platform_id = %s "
            "AND r.platform_rider_id <> s.rider_id OFFSET 0",
            [platform_id],
        ),
        (
            "phone_in_use",
            "phone",
            "该手机号已登记在本平台另一骑手名下。",
            f"SELECT 1 FROM {MEMBER} m JOIN {RIDER} r ON r.member_id = m.id "
            "WHERE m.phone_hmac = s.phone_hmac AND m.id_number_hmac <> s.id_hmac "
            "AND r.platform_id = %s OFFSET 0",
            [platform_id],
        ),
    )
    # Parameters in the order their %s appear: SET (three CASEs), then WHERE.
    cases: list[str] = []
    params: list = []
    for position in range(3):  # err_code, err_field, err_message
        whens = []
        for check in checks:
            whens.append(f"WHEN EXISTS ({check[3]}) THEN %s")
            params += [*check[4], check[position]]
        cases.append(f"CASE {' '.join(whens)} END")
    params += rng
    found = []
    for check in checks:
        found.append(f"EXISTS ({check[3]})")
        params += check[4]
    _execute(
        cursor,
        f"""
        UPDATE {STAGE} AS s
           SET outcome = 'rejected', err_code = {cases[0]},
               err_field = {cases[1]}, err_message = {cases[2]}
         WHERE {_RANGE} AND s.outcome IS NULL AND ({" OR ".join(found)})
        """,
        params,
    )


# The chunk's live rows and their members: (row_no, member_id, member_new), one
# row per staged row still without an outcome after the duplicate and conflict
# checks. A temporary table (no WAL, no index, gone at commit) instead of
# writing member_id back into 20k staged rows: those UPDATEs cost as much as the
# INSERT into members itself.
CM = "bulk_chunk_members"
_LIVE = f"{STAGE} s JOIN {CM} c ON c.row_no = s.row_no"


def _upsert_members(cursor, *, rng: list, now: datetime) -> None:
    """New people become members with status `applicant` in their city's
    新业态联合工会: a platform cannot make anyone a union member (docs/api.md)."""
    columns = (
        "name, id_number, id_number_hmac, birth_date, gender, phone, phone_hmac, "
        "occupation, employment_category, hukou_county, residence_county, org_id, "
        "status, member_no, joined_on, reminders_opt_out, created_at, updated_at, "
        "user_id"
    )
    # A phone another person already holds (unique blind index) is left out of
    # the new record instead of rejecting the row: the rejection would tell the
    # platform that someone the union knows has this phone. The notice to the
    # new person then lacks a phone and is dead-lettered as `no_phone`, which
    # staff see.
    taken = f"EXISTS (SELECT 1 FROM {MEMBER} p WHERE p.phone_hmac = s.phone_hmac)"
    select = (
        "s.name, s.id_enc, s.id_hmac, s.birth_date, s.gender, "
        f"CASE WHEN {taken} THEN '' ELSE s.phone_enc END, "
        f"CASE WHEN {taken} THEN NULL ELSE s.phone_hmac END, "
        "s.occupation, '', '', s.city_code, s.org_id, 'applicant', "
        "NULL, NULL, FALSE, %s, %s, NULL"
    )
    _execute(cursor, f"DROP TABLE IF EXISTS {CM}")
    if connection.vendor == "postgresql":
        _execute(
            cursor,
            f"CREATE TEMPORARY TABLE {CM} (row_no integer, member_id bigint, "
            "member_new boolean) ON COMMIT DROP",
        )
        _execute(
            cursor,
            f"""
            WITH ins AS (
                INSERT INTO {MEMBER} ({columns})
                SELECT {select} FROM {STAGE} s
                 WHERE {_RANGE} AND s.outcome IS NULL
                 ORDER BY s.id_hmac
                ON CONFLICT (id_number_hmac) DO NOTHING
                RETURNING id, id_number_hmac)
            INSERT INTO {CM} (row_no, member_id, member_new)
            SELECT s.row_no, ins.id, TRUE
              FROM ins JOIN {STAGE} s ON s.id_hmac = ins.id_number_hmac
             WHERE {_RANGE} AND s.outcome IS NULL
            """,
            [now, now, *rng, *rng],
        )
        # People the union already knows: one index probe each (OFFSET 0), so
        # the cost follows the chunk, not the number of members.
        _execute(
            cursor,
            f"""
            INSERT INTO {CM} (row_no, member_id, member_new)
            SELECT s.row_no, (SELECT m.id FROM {MEMBER} m
                               WHERE m.id_number_hmac = s.id_hmac OFFSET 0), FALSE
              FROM {STAGE} s
             WHERE {_RANGE} AND s.outcome IS NULL
               AND NOT EXISTS (SELECT 1 FROM {CM} x WHERE x.row_no = s.row_no)
            """,
            rng,
        )
        _execute(cursor, f"ANALYZE {CM}")
        return
    # SQLite has one writer at a time, so marking first is exact.
    _execute(
        cursor,
        f"""
        UPDATE {STAGE} AS s SET member_new = TRUE
         WHERE {_RANGE} AND s.outcome IS NULL
           AND NOT EXISTS (SELECT 1 FROM {MEMBER} m
                            WHERE m.id_number_hmac = s.id_hmac)
        """,
        rng,
    )
    _execute(
        cursor,
        f"""
        INSERT INTO {MEMBER} ({columns})
        SELECT {select} FROM {STAGE} s
         WHERE {_RANGE} AND s.outcome IS NULL AND s.member_new
        ON CONFLICT (id_number_hmac) DO NOTHING
        """,
        [now, now, *rng],
    )
    _execute(
        cursor,
        f"CREATE TEMPORARY TABLE {CM} (row_no integer, member_id bigint, "
        "member_new boolean)",
    )
    _execute(
        cursor,
        f"""
        INSERT INTO {CM} (row_no, member_id, member_new)
        SELECT s.row_no, (SELECT m.id FROM {MEMBER} m
                           WHERE m.id_number_hmac = s.id_hmac), s.member_new
          FROM {STAGE} s
         WHERE {_RANGE} AND s.outcome IS NULL
        """,
        rng,
    )


def _upsert_riders(cursor, *, rng: list, platform_id: int, now: datetime) -> None:
    insert = f"""
        INSERT INTO {RIDER} (platform_id, member_id, platform_rider_id,
                             joined_platform_on, offboarded_on, consent_ref,
                             consented_at, created_at, updated_at)
        SELECT %s, c.member_id, s.rider_id, s.joined_on, NULL, s.consent_ref,
               s.consented_at, %s, %s
          FROM {_LIVE}
         WHERE {_RANGE} AND s.outcome IS NULL AND """
    # Members this transaction created cannot have a rider row yet: a plain
    # INSERT spares ON CONFLICT's pre-check of both unique indexes per row. (A
    # rider id taken meanwhile by another person's concurrent enrollment fails
    # the chunk with IntegrityError; the retry rejects the row as a conflict.)
    _execute(cursor, insert + "c.member_new", [platform_id, now, now, *rng])
    _execute(
        cursor,
        insert + "NOT c.member_new ON CONFLICT DO NOTHING",
        [platform_id, now, now, *rng],
    )
    # A rider enrolled again is back on the platform, with a fresh consent record.
    # Only people the union knew before this chunk can have an earlier rider row:
    # new members are not probed at all.
    _execute(
        cursor,
        f"""
        UPDATE {RIDER} AS r
           SET offboarded_on = NULL, consent_ref = x.consent_ref,
               consented_at = x.consented_at,
               joined_platform_on = COALESCE(x.joined_on, r.joined_platform_on),
               updated_at = %s
          FROM (SELECT s.consent_ref, s.consented_at, s.joined_on,
                       (SELECT r2.id FROM {RIDER} r2
                         WHERE r2.platform_id = %s
                           AND r2.platform_rider_id = s.rider_id
                           AND r2.member_id = c.member_id
                           AND r2.created_at < %s OFFSET 0) AS rider_pk
                  FROM {_LIVE}
                 WHERE {_RANGE} AND s.outcome IS NULL AND NOT c.member_new
                OFFSET 0) AS x
         WHERE r.id = x.rider_pk
        """,
        [now, platform_id, now, *rng],
    )


def _batch_rule_failures_sql(
    *, rng: list, platform: Platform, program: Program, on: date
) -> tuple[str, list]:
    """Eligibility failures of this chunk's rows, as (member_id, reason) rows:

    * the program's own rules, evaluated in SQL by the eligibility engine
      (`program_reasons_expression`: age, occupation, tenure, region,
      membership, effective dates), joined to the chunk so only its rows are
      judged;
    * the batch's own rules: the occupation is one the platform declared, and
      the rider is 16-70 years old.

    The rules judge what the platform submitted, never what the union holds
    about the person: the row's occupation, city and birth date, tenure on THIS
    platform only, and no union membership (a platform cannot attest it). So the
    answer is the same whether the ID number is new to the union or belongs to a
    member or another platform's rider (docs/api.md "Privacy"); the nightly
    re-check judges the enrollment on the person's full record afterwards.
    """
    from services.selectors.eligibility import program_reasons_expression

    expression, expression_params = program_reasons_expression(
        program=program, on=on, platform_id=platform.pk
    )
    # The row's facts under the column names the engine reads from `m`.
    submitted = (
        "SELECT c.member_id AS id, s.occupation AS occupation, "
        "s.birth_date AS birth_date, s.city_code AS residence_county, "
        f"%s AS status FROM {_LIVE} WHERE {_RANGE} AND s.outcome IS NULL"
    )
    parts = [
        f"SELECT r.member_id AS member_id, SUBSTR(r.reasons, 2) AS reason "
        f"FROM (SELECT m.id AS member_id, {expression} AS reasons "
        f"FROM ({submitted}) AS m) AS r WHERE r.reasons <> ''"
    ]
    params: list = [*expression_params, MemberStatus.APPLICANT.value, *rng]
    occupations = [str(o) for o in (platform.occupations or [])]
    if occupations:
        marks = ", ".join(["%s"] * len(occupations))
        parts.append(
            f"SELECT c.member_id AS member_id, "
            f"'职业不在本平台登记的从业职业范围内。' AS reason "
            f"FROM {_LIVE} WHERE {_RANGE} AND s.outcome IS NULL "
            f"AND s.occupation NOT IN ({marks})"
        )
        params += [*rng, *occupations]
    # Nobody under 16 (or over 70) becomes a member record at all (domain.md
    # BR-V1, security.md PI1), whatever the program's own age rule says.
    youngest = _years_before(on, 16)
    oldest = _years_before(on, 71)
    parts.append(
        f"SELECT c.member_id AS member_id, '年龄不在16至70周岁之间。' AS reason "
        f"FROM {_LIVE} "
        f"WHERE {_RANGE} AND s.outcome IS NULL "
        "AND (s.birth_date > %s OR s.birth_date <= %s)"
    )
    params += [*rng, youngest, oldest]
    return " UNION ALL ".join(parts), params


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _reject_ineligible(cursor, *, rng: list, failures: tuple[str, list]) -> None:
    """THE eligibility step: every row whose member appears in `failures`, a SQL
    source of (member_id, reason) rows, is rejected as `not_eligible` with the
    reason as its message, and gets no enrollment."""
    sql, params = failures
    _execute(
        cursor,
        f"""
        UPDATE {STAGE} AS s
           SET outcome = 'rejected', err_code = 'not_eligible', err_field = '',
               err_message = f.reason
          FROM (SELECT x.member_id AS member_id, MIN(x.reason) AS reason
                  FROM ({sql}) AS x
                 GROUP BY x.member_id) AS f, {CM} c
         WHERE {_RANGE} AND s.outcome IS NULL AND c.row_no = s.row_no
           AND c.member_id = f.member_id
        """,
        [*params, *rng],
    )


# Answers for a person whose enrollment of this period no longer covers them
# (docs/api.md §2 and "Privacy"). The worker withdrew from an enrollment this
# platform arranged (the platform reads that status in GET /riders/ anyway):
WITHDRAWN_BY_WORKER = (
    "骑手本人已退出本保障期的该计划,平台不能代为重新报名;"
    "如需重新参保,请骑手本人在工会服务平台报名。"
)
# Every other enrollment of this period that does not cover (withdrawn from an
# enrollment someone else arranged, lapsed after staff review, ended): one
# answer that does not say which, by whom, or why.
SELF_ENROLLMENT_REQUIRED = (
    "此人本保障期参加该计划只能由本人在工会服务平台办理,平台不能代为报名。"
)


def _reject_not_covered(
    cursor, *, rng: list, program: Program, platform_id: int, period_start: date
) -> None:
    """Rows whose person already holds this period's enrollment in a status
    that does not cover (withdrawn, lapsed, ended) are rejected: the unique
    (member, program, period_start) row cannot be inserted again, and taking it
    over would undo the worker's own withdrawal or staff's decision, so
    answering `created` or `already_enrolled` would be false.

    The code says no more than the platform may know (docs/api.md "Privacy"):
    `withdrawn_by_worker` only for an enrollment this platform arranged (its
    status is in the platform's rider look-up); anything else is the one code
    `self_enrollment_required`, whether the worker withdrew, staff lapsed it or
    it ended, and whoever arranged it. The rule reads only the enrollment, not
    whether the person was this platform's rider, so submitting a row again
    (which makes the person a rider) never changes the answer.

    One UPDATE over the chunk; one index probe per row of a person known before
    this chunk (OFFSET 0; people created here hold no enrollment)."""
    _execute(
        cursor,
        f"""
        UPDATE {STAGE} AS s
           SET outcome = 'rejected', err_field = '',
               err_code = CASE WHEN x.own_withdrawal = 1
                               THEN 'withdrawn_by_worker'
                               ELSE 'self_enrollment_required' END,
               err_message = CASE WHEN x.own_withdrawal = 1 THEN %s ELSE %s END
          FROM (SELECT c.row_no,
                       (SELECT CASE WHEN e.status = %s AND e.platform_id = %s
                                    THEN 1 ELSE 0 END
                          FROM {ENROLLMENT} e
                         WHERE e.member_id = c.member_id AND e.program_id = %s
                           AND e.period_start = %s AND e.status NOT IN (%s, %s)
                        OFFSET 0) AS own_withdrawal
                  FROM {CM} c
                 WHERE NOT c.member_new OFFSET 0) AS x
         WHERE {_RANGE} AND s.outcome IS NULL AND s.row_no = x.row_no
           AND x.own_withdrawal IS NOT NULL
        """,
        [
            WITHDRAWN_BY_WORKER,
            SELF_ENROLLMENT_REQUIRED,
            EnrollmentStatus.WITHDRAWN.value,
            platform_id,
            program.pk,
            period_start,
            *(status.value for status in COVERING_STATUSES),
            *rng,
        ],
    )


def _insert_enrollments(
    cursor,
    *,
    rng: list,
    program: Program,
    platform_id: int,
    period: tuple[date, date],
    now: datetime,
    per_row: bool,
) -> int:
    """Enroll the chunk's live rows; return how many rows are `created`.
    With `per_row` each row also gets its outcome (created / already_enrolled)
    in the staging table, for the synchronous API's answer; a file batch only
    needs the counts, so it skips rewriting 20k staged rows.

    The outcome is what the platform may know: `already_enrolled` only when the
    person was already this platform's rider (before this chunk) and holds this
    period's enrollment; a person enrolled by themselves or through another
    platform, and not yet this platform's rider, is `created` like anyone new
    (the enrollment row is shared: one per member, program and period), so the
    answer does not reveal that the union knew them (docs/api.md "Privacy").
    Rows whose person holds this period's enrollment in a status that does not
    cover were rejected before (`_reject_not_covered`), so a row this leaves
    without an enrollment meets one that covers (active or needs_review)."""
    # Was this platform's rider before this chunk (rows it inserted carry `now`).
    was_rider = (
        f"EXISTS (SELECT 1 FROM {RIDER} r WHERE r.platform_id = %s "
        "AND r.member_id = c.member_id AND r.created_at < %s OFFSET 0)"
    )
    columns = (
        "member_id, program_id, period_start, period_end, status, status_reason, "
        "source, platform_id, created_at, updated_at"
    )
    select = f"c.member_id, %s, %s, %s, '{EnrollmentStatus.ACTIVE}', '', " + (
        f"'{EnrollmentSource.PLATFORM}', %s, %s, %s"
    )
    values = [program.pk, period[0], period[1], platform_id, now, now]
    if connection.vendor == "postgresql":
        # Members this transaction created cannot be enrolled yet: their rows
        # go in with a plain INSERT (no ON CONFLICT pre-check per row); only
        # people known before may already hold this period's enrollment.
        insert = f"""
            INSERT INTO {ENROLLMENT} ({columns})
            SELECT {select} FROM {_LIVE}
             WHERE {_RANGE} AND s.outcome IS NULL AND %s c.member_new
             ORDER BY c.member_id"""
        both = (
            f"WITH ins_new AS ({insert.replace('%s c.', 'c.')} RETURNING member_id), "
            f"ins_known AS ({insert.replace('%s c.', 'NOT c.')} "
            "ON CONFLICT DO NOTHING RETURNING member_id)"
        )
        both_params = [*values, *rng, *values, *rng]
        if per_row:
            _execute(
                cursor,
                f"""
                {both}
                UPDATE {STAGE} AS s SET outcome = 'created'
                  FROM (SELECT member_id FROM ins_new
                        UNION ALL SELECT member_id FROM ins_known) AS ins, {CM} c
                 WHERE {_RANGE} AND s.outcome IS NULL AND c.row_no = s.row_no
                   AND c.member_id = ins.member_id
                """,
                [*both_params, *rng],
            )
        else:
            # Created: every row that got an enrollment now, plus the known
            # people who were not this platform's riders (see above).
            _execute(
                cursor,
                f"{both} SELECT (SELECT COUNT(*) FROM ins_new) "
                "+ (SELECT COUNT(*) FROM ins_known) "
                f"+ (SELECT COUNT(*) FROM {_LIVE} WHERE {_RANGE} "
                "AND s.outcome IS NULL AND NOT c.member_new "
                "AND NOT EXISTS (SELECT 1 FROM ins_known k "
                "WHERE k.member_id = c.member_id) "
                f"AND NOT {was_rider})",
                [*both_params, *rng, platform_id, now],
            )
            return cursor.fetchone()[0]
    else:
        _execute(
            cursor,
            f"""
            UPDATE {STAGE} AS s SET outcome = 'created'
             WHERE {_RANGE} AND s.outcome IS NULL
               AND NOT EXISTS (SELECT 1 FROM {ENROLLMENT} e, {CM} c
                                WHERE c.row_no = s.row_no
                                  AND e.member_id = c.member_id
                                  AND e.program_id = %s AND e.period_start = %s)
            """,
            [*rng, program.pk, period[0]],
        )
        _execute(
            cursor,
            f"""
            INSERT INTO {ENROLLMENT} ({columns})
            SELECT {select} FROM {_LIVE}
             WHERE {_RANGE} AND s.outcome = 'created'
            ON CONFLICT DO NOTHING
            """,
            [*values, *rng],
        )
    _execute(
        cursor,
        f"""
        UPDATE {STAGE} AS s
           SET outcome = CASE WHEN EXISTS (SELECT 1 FROM {CM} c
                                            WHERE c.row_no = s.row_no
                                              AND {was_rider})
                              THEN 'already_enrolled' ELSE 'created' END
         WHERE {_RANGE} AND s.outcome IS NULL
        """,
        [platform_id, now, *rng],
    )
    _execute(
        cursor,
        f"SELECT COUNT(*) FROM {STAGE} s WHERE {_RANGE} AND s.outcome = 'created'",
        rng,
    )
    return cursor.fetchone()[0]


def _enqueue_notices(
    cursor, *, rng: list, platform: Platform, program: Program, now: datetime
) -> None:
    """The union's own notice (PIPL art. 23) to each person this batch added,
    once per member and platform (dedupe key), through the outbox. Only members
    this transaction created get one, and no notice can exist for them yet (the
    dedupe key holds the member id): a plain INSERT, no ON CONFLICT pre-check."""
    params = json.dumps(
        {"platform": platform.name, "program": program.name}, ensure_ascii=False
    )
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    _execute(
        cursor,
        f"""
        INSERT INTO {NOTIFICATION} (user_id, member_id, channel, category,
                                    template_code, params, dedupe_key, due_at,
                                    status, attempts, claimed_at, sent_at,
                                    last_error, read_at, created_at)
        SELECT NULL, c.member_id, 'sms', 'legal', %s, %s{cast},
               %s || c.member_id || ':' || %s, %s, 'pending', 0, NULL, NULL, '',
               NULL, %s
          FROM {_LIVE}
         WHERE {_RANGE} AND c.member_new
        """,
        [
            NOTICE_TEMPLATE,
            params,
            f"{NOTICE_TEMPLATE}:",
            str(platform.pk),
            now,
            now,
            *rng,
        ],
    )


def _record_errors(cursor, *, rng: list) -> None:
    _execute(
        cursor,
        f"""
        INSERT INTO {ROW_ERROR} (batch_id, "row", field, code, message)
        SELECT s.batch_id, s.row_no, COALESCE(s.err_field, ''), s.err_code,
               s.err_message
          FROM {STAGE} s
         WHERE {_RANGE} AND s.outcome = 'rejected'
        ON CONFLICT DO NOTHING
        """,
        rng,
    )


def apply_staged(
    *,
    batch: EnrollmentBatch,
    lo: int,
    hi: int,
    now: datetime,
    per_row: bool = False,
) -> Counts:
    """Apply the staged rows lo..hi of the batch (every earlier row of the file
    must be staged). Runs inside the caller's transaction. With `per_row`, every
    staged row ends with its outcome (see _insert_enrollments)."""
    program = batch.program
    platform = batch.platform
    rng = [batch.pk, lo, hi]
    on = timezone.localdate(now)
    timer = _StepTimer()
    with connection.cursor() as cursor:
        _mark_duplicates(cursor, rng=rng)
        timer.lap("duplicates")
        _mark_conflicts(cursor, rng=rng, platform_id=platform.pk)
        timer.lap("conflicts")
        _upsert_members(cursor, rng=rng, now=now)
        timer.lap("members")
        _upsert_riders(cursor, rng=rng, platform_id=platform.pk, now=now)
        timer.lap("riders")
        _reject_ineligible(
            cursor,
            rng=rng,
            failures=_batch_rule_failures_sql(
                rng=rng, platform=platform, program=program, on=on
            ),
        )
        timer.lap("eligibility")
        period = coverage_period(program=program, on=on)
        _reject_not_covered(
            cursor,
            rng=rng,
            program=program,
            platform_id=platform.pk,
            period_start=period[0],
        )
        timer.lap("not-covered")
        created = _insert_enrollments(
            cursor,
            rng=rng,
            program=program,
            platform_id=platform.pk,
            period=period,
            now=now,
            per_row=per_row or connection.vendor != "postgresql",
        )
        timer.lap("enrollments")
        _enqueue_notices(cursor, rng=rng, platform=platform, program=program, now=now)
        timer.lap("notices")
        _record_errors(cursor, rng=rng)
        timer.lap("errors")
        _execute(
            cursor,
            f"SELECT COUNT(*), SUM(CASE WHEN s.outcome = 'rejected' THEN 1 ELSE 0 END)"
            f" FROM {STAGE} s WHERE {_RANGE}",
            rng,
        )
        total, rejected = cursor.fetchone()
        if connection.vendor != "postgresql":
            _execute(cursor, f"DROP TABLE IF EXISTS {CM}")
        logger.info("batch %s rows %s-%s: %s", batch.pk, lo, hi, timer)
    rejected = rejected or 0
    return Counts(
        created=created,
        already_enrolled=total - created - rejected,
        rejected=rejected,
    )


# --- the synchronous JSON path ---


@dataclass(frozen=True)
class RowOutcome:
    row: int
    platform_rider_id: str
    outcome: str
    code: str
    field: str
    message: str


@transaction.atomic
def enrollments_submit(
    *,
    platform: Platform,
    program: Program,
    riders: list[dict],
    idempotency_key: str,
    request_hash: str,
) -> tuple[EnrollmentBatch, list[RowOutcome]]:
    """Up to 1,000 riders, answered synchronously: the same pipeline as a file,
    run as one chunk inside this transaction."""
    now = timezone.now()
    batch = EnrollmentBatch.objects.create(
        platform=platform,
        program=program,
        source=BatchSource.JSON,
        status=BatchStatus.PROCESSING,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        total_rows=len(riders),
        started_at=now,
    )
    ctx = RowContext(today=timezone.localdate(now), now=now)
    values = [[str(r.get(c) or "") for c in CSV_COLUMNS] for r in riders]
    with connection.cursor() as cursor:
        stage_into(cursor, batch_id=batch.pk, first_row=1, rows=values, ctx=ctx)
        _ensure_staging_statistics(cursor)
    counts = apply_staged(batch=batch, lo=1, hi=len(riders), now=now, per_row=True)
    staged = (
        BatchStagingRow.objects.filter(batch_id=batch.pk)
        .order_by("row_no")
        .values_list("row_no", "outcome", "err_code", "err_field", "err_message")
    )
    outcomes = [
        RowOutcome(
            row=row_no,
            platform_rider_id=str(riders[row_no - 1].get("platform_rider_id") or ""),
            outcome=outcome,
            code=code or "",
            field=field_name or "",
            message=message or "",
        )
        for row_no, outcome, code, field_name, message in staged
    ]
    EnrollmentBatch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.DONE,
        processed_rows=counts.total,
        created=counts.created,
        already_enrolled=counts.already_enrolled,
        rejected=counts.rejected,
        finished_at=timezone.now(),
    )
    BatchStagingRow.objects.filter(batch_id=batch.pk).delete()
    audit_record(
        action="platform_enrollments_submit",
        object_type="enrollment_batch",
        object_id=batch.pk,
        detail={
            "platform": platform.code,
            "program": program.code,
            "rows": counts.total,
            "created": counts.created,
            "rejected": counts.rejected,
        },
    )
    batch.refresh_from_db()
    return batch, outcomes


def program_for_platform(*, code: str, on: date) -> Program:
    program = Program.objects.filter(code=code).first()
    if program is None:
        raise ApplicationError("保障计划不存在。", code="unknown_program")
    if not program_open_for_enrollment(program=program, on=on):
        raise ApplicationError("该保障计划当前不接受报名。", code="program_closed")
    return program
