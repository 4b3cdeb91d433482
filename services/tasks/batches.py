"""Celery tasks of platform enrollment batches (queue `bulk`). Thin: ids in,
actions do the work. Every task is idempotent (see services/actions/batches.py),
so acks_late + reject_on_worker_lost may deliver them again safely."""

from __future__ import annotations

from functools import partial

from celery import shared_task
from django.conf import settings
from django.db import OperationalError, transaction
from django.db.utils import IntegrityError

TRANSIENT = (OperationalError, OSError)


@shared_task(
    name="services.tasks.batch_split",
    bind=True,
    autoretry_for=TRANSIENT,
    acks_late=True,
    **settings.TASK_RETRY_POLICY,
)
def batch_split(self, batch_id: int) -> None:
    from services.actions.batches import batch_split as split
    from services.actions.batches import open_chunk_ids

    if split(batch_id=batch_id) is not None:
        # Every open chunk at once, in file order: with more than one worker
        # process on the bulk queue, chunks are staged (parsed, encrypted,
        # COPYed) in parallel and applied as soon as all earlier ones are staged.
        # Outside an atomic block on_commit publishes at once; inside one (eager
        # mode in tests) it waits for the commit, like every other enqueue.
        for chunk_id in open_chunk_ids(batch_id=batch_id):
            transaction.on_commit(partial(batch_chunk_process.delay, chunk_id))


@shared_task(
    name="services.tasks.batch_chunk_process",
    bind=True,
    autoretry_for=(*TRANSIENT, IntegrityError),
    acks_late=True,
    **settings.TASK_RETRY_POLICY,
)
def batch_chunk_process(self, chunk_id: int) -> None:
    """A unique-constraint race with another platform's concurrent batch (same
    person, same phone) rolls the chunk back; the retry sees the committed row."""
    from services.actions.batches import batch_chunk_process as process

    next_chunk = process(chunk_id=chunk_id)
    # The earliest open chunk is normally already queued (batch_split queues them
    # all); queueing it again is harmless and keeps a batch moving when its
    # message was lost and the sweeper re-queued only one chunk.
    if next_chunk is not None and next_chunk != chunk_id:
        # Outside an atomic block on_commit publishes at once; inside one (eager
        # mode in tests) it waits for the commit, like every other enqueue.
        transaction.on_commit(partial(batch_chunk_process.delay, next_chunk))


@shared_task(
    name="services.tasks.batch_cleanup",
    acks_late=True,
    autoretry_for=TRANSIENT,
    max_retries=3,
)
def batch_cleanup(batch_id: int) -> None:
    from services.actions.batches import batch_cleanup as cleanup

    cleanup(batch_id=batch_id)


@shared_task(name="services.tasks.batch_sweep", acks_late=True)
def batch_sweep() -> int:
    """Beat, every minute: re-queue stalled batches and chunks; purge expired
    idempotency records."""
    from services.actions.batches import batch_sweep as sweep
    from services.actions.idempotency import idempotency_purge

    work = sweep()
    for kind, pk in work:
        task = {"split": batch_split, "cleanup": batch_cleanup}.get(
            kind, batch_chunk_process
        )
        transaction.on_commit(partial(task.delay, pk))
    idempotency_purge()
    return len(work)
