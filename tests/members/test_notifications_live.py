"""Delivery with real `celery -A portal worker` subprocesses on Redis (F1/F9/CE1)."""

from __future__ import annotations

import time
import uuid
import warnings
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from members.actions.notifications import (
    NoticeSpec,
    notifications_enqueue_many,
    notifications_sweep_stuck,
)
from members.models import Notification, NotificationChannel
from members.sms_counting import RedisCountingSmsBackend
from tests.workers import SubprocessWorker, purge_queues

pytestmark = [
    pytest.mark.celery_live,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return (
        f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    )


@pytest.fixture
def live_env():
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis")
    purge_queues(settings.REDIS_URL)
    key = f"test_sms_{uuid.uuid4().hex[:8]}"
    gateway = RedisCountingSmsBackend(redis_url=settings.REDIS_URL, key=key)
    yield (
        gateway,
        {
            "SMS_BACKEND": "members.sms_counting.RedisCountingSmsBackend",
            "COUNTING_SMS_KEY": key,
            "COUNTING_SMS_REDIS_URL": settings.REDIS_URL,
        },
    )
    gateway.reset()
    purge_queues(settings.REDIS_URL)


def _enqueue(member, n: int) -> list[int]:
    notifications_enqueue_many(
        specs=[
            NoticeSpec(
                template_code="notice_generic",
                channel=NotificationChannel.SMS,
                dedupe_key=f"live:{i}",
                member_id=member.pk,
                params={"title": "t", "body": f"{i}"},
                due_at=timezone.now() - timedelta(seconds=1),
            )
            for i in range(n)
        ]
    )
    return list(Notification.objects.values_list("id", flat=True))


def _dispatch_via_broker() -> None:
    from portal.celery import app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "always_eager has no effect on send_task"
        app.send_task("members.tasks.notification_dispatch", queue="notifications")


def _wait(predicate, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_kill_9_mid_batch_then_restart_sends_every_notification_once(worker, live_env):
    # given 300 due SMS notices and a worker with a slowish gateway (20 ms/call)
    gateway, env = live_env
    ids = _enqueue(worker, 300)
    env = {
        **env,
        "COUNTING_SMS_DELAY_MS": "20",
        "NOTIFICATION_BATCH_SIZE": "50",
        "NOTIFICATION_SEND_CHUNK": "5",
    }
    proc = SubprocessWorker(
        database_url=_database_url(), redis_url=settings.REDIS_URL, env=env
    )
    try:
        proc.start()
        # when the worker is SIGKILLed (with its pool children) mid-run
        _dispatch_via_broker()
        _wait(lambda: len(gateway.counts()) >= 60, timeout=60, what="60 sends")
        proc.kill9()
        sent_before_kill = len(gateway.counts())
        assert sent_before_kill < 300, "the kill came too late to test anything"
        stuck = Notification.objects.filter(status="sending").count()
        assert stuck > 0

        # and the sweeper (CE9) takes back the stuck rows; the worker restarts
        swept = notifications_sweep_stuck(older_than=timedelta(0), sms_backend=gateway)
        assert sum(swept.values()) == stuck
        proc.start()
        _dispatch_via_broker()
        _wait(
            lambda: Notification.objects.filter(status="sent").count() == 300,
            timeout=90,
            what="all 300 sent",
        )
    finally:
        proc.stop()
    # then every notification reached the gateway exactly once
    counts = gateway.counts()
    assert counts == {f"notification-{pk}": 1 for pk in ids}
    assert Notification.objects.exclude(status="sent").count() == 0
    proc.remove_log()


def test_two_beat_ticks_at_once_send_one_sms_per_notification(worker, live_env):
    # given 200 due notices and a real worker
    gateway, env = live_env
    ids = _enqueue(worker, 200)
    env = {**env, "NOTIFICATION_BATCH_SIZE": "20", "COUNTING_SMS_DELAY_MS": "2"}
    with SubprocessWorker(
        database_url=_database_url(), redis_url=settings.REDIS_URL, env=env
    ) as proc:
        # when beat ticks three times at once (duplicate beat processes, F9)
        for _ in range(3):
            _dispatch_via_broker()
        _wait(
            lambda: Notification.objects.filter(status="sent").count() == 200,
            timeout=60,
            what="all 200 sent",
        )
    # then each notification was sent once
    assert gateway.counts() == {f"notification-{pk}": 1 for pk in ids}
    proc.remove_log()


def test_kill_9_of_a_pool_child_requeues_its_batch_and_sends_each_once(
    worker, live_env
):
    # given 300 due notices and a worker whose gateway takes 20 ms per call
    gateway, env = live_env
    ids = _enqueue(worker, 300)
    env = {
        **env,
        "COUNTING_SMS_DELAY_MS": "20",
        "NOTIFICATION_BATCH_SIZE": "50",
        "NOTIFICATION_SEND_CHUNK": "5",
        "NOTIFICATION_SEND_THREADS": "1",
    }
    proc = SubprocessWorker(
        database_url=_database_url(), redis_url=settings.REDIS_URL, env=env
    )
    try:
        proc.start()
        _dispatch_via_broker()
        _wait(lambda: len(gateway.counts()) >= 40, timeout=60, what="40 sends")
        # when one pool process is SIGKILLed mid-batch (acks_late +
        # reject_on_worker_lost put its message back on the queue)
        proc.kill9_child()
        _wait(_settled, timeout=90, what="the worker to go quiet")
        assert proc.process.poll() is None  # the worker itself survived
        # and the sweeper settles the rows the dead child had marked: at most one
        # chunk, because the requeued batch message re-ran the rest of its batch
        swept = notifications_sweep_stuck(older_than=timedelta(0), sms_backend=gateway)
        assert sum(swept.values()) <= 5
        _dispatch_via_broker()
        _wait(
            lambda: Notification.objects.filter(status="sent").count() == 300,
            timeout=90,
            what="all 300 sent",
        )
    finally:
        proc.stop()
    # then every notification reached the gateway exactly once
    assert gateway.counts() == {f"notification-{pk}": 1 for pk in ids}
    proc.remove_log()


def test_a_hung_gateway_is_ended_by_the_time_limit_and_every_notice_sent_once(
    worker, live_env
):
    """security.md CE5: a gateway call that never returns is ended by the task's
    time limit (the worker lives on), and every notice, the hung one included,
    is still sent exactly once: the sweeper settles the rows the ended task had
    claimed (the gateway's lookup says the hung one never got through)."""
    # given 20 due notices and a gateway whose first call never answers
    gateway, env = live_env
    ids = _enqueue(worker, 20)
    env = {
        **env,
        "COUNTING_SMS_HANG_ONCE": "1",
        "CELERY_TASK_SOFT_TIME_LIMIT": "3",
        "CELERY_TASK_TIME_LIMIT": "5",
        "NOTIFICATION_BATCH_SIZE": "10",
        "NOTIFICATION_SEND_CHUNK": "5",
        "NOTIFICATION_SEND_THREADS": "1",
    }
    proc = SubprocessWorker(
        database_url=_database_url(), redis_url=settings.REDIS_URL, env=env
    )
    try:
        proc.start()
        _dispatch_via_broker()
        _wait(lambda: gateway.hung_on() is not None, timeout=60, what="the hang")
        # when the time limit ends the hung call: the soft limit (3 s) raises in
        # the task (the send runs on its thread), else the hard limit (5 s)
        # kills the pool child; either way the batch's claimed rows are left
        # `sending` for the sweeper, which asks the gateway and re-queues them
        _wait(
            lambda: "time limit (" in proc.log_text(),
            timeout=60,
            what="the task's time limit",
        )
        _wait(_settled, timeout=90, what="the worker to go quiet")
        assert proc.process.poll() is None  # the worker itself survived
        swept = notifications_sweep_stuck(older_than=timedelta(0), sms_backend=gateway)
        # the ended batch's 10 rows: none reached the gateway (its first call hung)
        assert dict(swept) == {"requeued": 10}
        _dispatch_via_broker()
        _wait(
            lambda: Notification.objects.filter(status="sent").count() == 20,
            timeout=90,
            what="all 20 sent",
        )
    finally:
        proc.stop()
    # then every notification reached the gateway exactly once, the hung one
    # included (its call never got through; the retry's did)
    assert gateway.counts() == {f"notification-{pk}": 1 for pk in ids}
    proc.remove_log()


def _settled() -> bool:
    """No row changed state for 2 s (the requeued batch has been processed)."""
    before = list(Notification.objects.values_list("status").order_by("status"))
    time.sleep(2)
    after = list(Notification.objects.values_list("status").order_by("status"))
    return (
        before == after and not Notification.objects.filter(status="pending").exists()
    )
