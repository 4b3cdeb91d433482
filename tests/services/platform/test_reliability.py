"""Idempotency under concurrency and a worker killed mid-batch (real PostgreSQL,
real Redis, a real `celery -A portal worker` subprocess)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from rest_framework.test import APIClient

from members.models import Member, Notification
from services.models import (
    EnrollmentBatch,
    EnrollmentBatchChunk,
    IdempotencyRecord,
)
from tests.services.platform.builders import csv_bytes, rider_row

URL = "/api/v1/enrollment-batches/"
ROOT = Path(__file__).resolve().parents[3]


def _require_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_three_concurrent_requests_with_one_key_make_one_batch(alpha_key, program):
    _require_postgres()
    body = csv_bytes(
        [rider_row(rider_id=f"C{i}", phone=f"1380000{i:04d}") for i in range(50)]
    )
    barrier = threading.Barrier(3)
    results: list = []

    def call():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha_key.plaintext}")
        barrier.wait()
        try:
            response = client.post(
                URL,
                {"file": io.BytesIO(body), "program": "e-road"},
                format="multipart",
                HTTP_IDEMPOTENCY_KEY="same-key",
            )
            results.append(
                (
                    response.status_code,
                    response.get("Idempotent-Replayed"),
                    response.content,
                )
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    # then: one execution; the others were told it is in flight or got a replay
    assert EnrollmentBatch.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1
    statuses = sorted(status for status, _, _ in results)
    assert len(statuses) == 3 and set(statuses) <= {202, 409}
    first = [r for r in results if r[0] == 202 and r[1] is None]
    assert len(first) == 1
    # and after completion, two more calls replay the first answer byte for byte
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha_key.plaintext}")
    for _ in range(2):
        again = client.post(
            URL,
            {"file": io.BytesIO(body), "program": "e-road"},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="same-key",
        )
        assert again.status_code == 202
        assert again["Idempotent-Replayed"] == "true"
        assert again.content == first[0][2]
    # same key, different file -> 422
    other = client.post(
        URL,
        {"file": io.BytesIO(body + body[-80:]), "program": "e-road"},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="same-key",
    )
    assert other.status_code == 422
    assert EnrollmentBatch.objects.count() == 1


def _start_worker(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "-Q",
            "bulk",
            "-c",
            "1",
            "-l",
            "WARNING",
            "-n",
            f"killtest-{os.getpid()}-{time.monotonic_ns()}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait(predicate, *, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


@pytest.mark.postgres
@pytest.mark.celery_live
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_batch_loses_nothing(alpha, program, settings):
    _require_postgres()
    if not settings.REDIS_URL:
        pytest.skip("needs Redis")
    from portal.celery import app
    from services.actions.batches import batch_sweep
    from services.tasks.batches import batch_chunk_process

    # given: tasks go to Redis, and a worker subprocess on the test database
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("bulk")
    db = connection.settings_dict
    env = {
        **os.environ,
        "PORTAL_SKIP_DOTENV": "1",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "SECRET_KEY": django_settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": ",".join(django_settings.FIELD_ENCRYPTION_KEYS),
        "BLIND_INDEX_KEY": django_settings.BLIND_INDEX_KEY,
        "PRIVATE_STORAGE_ROOT": str(django_settings.PRIVATE_STORAGE_ROOT),
        "PLATFORM_BATCH_CHUNK_ROWS": "300",
        "ALLOWED_HOSTS": "testserver",
    }
    rows = 4500
    body = csv_bytes(
        [
            rider_row(
                name=f"骑手{i}",
                id_number=_id(i),
                phone=f"137{i:08d}",
                rider_id=f"K{i}",
            )
            for i in range(rows)
        ]
    )
    worker = _start_worker(env)
    try:
        # when: the batch is accepted and the worker is killed -9 mid-batch
        response = alpha.post(
            URL,
            {"file": io.BytesIO(body), "program": "e-road"},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="kill-1",
        )
        assert response.status_code == 202
        batch_id = response.json()["id"]

        def progressed():
            batch = EnrollmentBatch.objects.get(pk=batch_id)
            return batch.processed_rows >= 600

        assert _wait(progressed, timeout=120)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        killed_at = EnrollmentBatch.objects.get(pk=batch_id)
        assert killed_at.status == "processing"
        assert killed_at.processed_rows < rows

        # then: a restarted worker and the sweeper finish it, every row once
        worker = _start_worker(env)
        for kind, pk in batch_sweep(stalled_after=timedelta(0)):
            assert kind == "chunk"
            batch_chunk_process.delay(pk)

        def done():
            return EnrollmentBatch.objects.get(pk=batch_id).status == "done"

        assert _wait(done, timeout=240, step=0.2)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        app.conf.task_always_eager = True

    batch = EnrollmentBatch.objects.get(pk=batch_id)
    assert (batch.total_rows, batch.processed_rows) == (rows, rows)
    assert (batch.created, batch.already_enrolled, batch.rejected) == (rows, 0, 0)
    assert Member.objects.count() == rows
    assert Notification.objects.count() == rows
    chunks = EnrollmentBatchChunk.objects.filter(batch_id=batch_id)
    # 4500 rows of at most 300: 15 chunks, rounded up to a multiple of the two
    # workers (PLATFORM_BATCH_PARALLEL) = 16 equal ones
    assert chunks.count() == 16
    assert sum(c.created for c in chunks) == rows


def _id(i: int) -> str:
    from datetime import date

    from members.validators import id_check_char

    born = date(1980, 1, 1) + timedelta(days=i // 900)
    first17 = f"440305{born:%Y%m%d}{i % 900 + 100:03d}"
    return first17 + id_check_char(first17)
