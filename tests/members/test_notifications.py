"""The outbox → dispatcher → channels path (issue #4), with the clock passed in."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from members.actions.notifications import (
    OUTCOME_UNKNOWN,
    NoticeSpec,
    _claim_due_portable,
    notification_enqueue,
    notifications_claim_due,
    notifications_dispatch,
    notifications_enqueue_many,
    notifications_requeue_dead,
    notifications_send_batch,
    notifications_sweep_stuck,
    quiet_hours_end,
    retry_delay_seconds,
)
from members.models import (
    AuditLog,
    Notification,
    NotificationCategory,
    NotificationChannel,
)
from members.sms import SmsError
from tests.factories import make_staff

SH = ZoneInfo("Asia/Shanghai")
DAYTIME = datetime(2026, 3, 4, 10, 0, tzinfo=SH)  # a Wednesday, 10:00 Shanghai


def sms_notices(member, n, *, category=NotificationCategory.SERVICE, prefix="t"):
    notifications_enqueue_many(
        specs=[
            NoticeSpec(
                template_code="notice_generic",
                channel=NotificationChannel.SMS,
                dedupe_key=f"{prefix}:{i}",
                member_id=member.pk,
                params={"title": "通知", "body": f"第{i}条"},
                category=category,
                due_at=DAYTIME - timedelta(minutes=1),
            )
            for i in range(n)
        ]
    )
    return list(
        Notification.objects.filter(dedupe_key__startswith=f"{prefix}:").order_by("id")
    )


class RecordingBackend:
    """Counts per out_id; fails the first `fail_first` calls (transient)."""

    def __init__(self, *, fail_first=0, permanent=False, lookup_result=None):
        self.calls: dict[str, int] = {}
        self.failures = 0
        self.fail_first = fail_first
        self.permanent = permanent
        self.lookup_result = lookup_result
        self.lock = threading.Lock()

    def send_template(self, phone, *, out_id, text, **_):
        with self.lock:
            if self.failures < self.fail_first:
                self.failures += 1
                raise SmsError("503 Service Unavailable", transient=not self.permanent)
            self.calls[out_id] = self.calls.get(out_id, 0) + 1

    def lookup(self, out_id):
        if self.lookup_result is None:
            return out_id in self.calls
        return self.lookup_result


def deliver(now, backend=None):
    """Claim and send everything due at `now`, with the clock frozen at `now`."""
    with transaction.atomic():
        token, ids = notifications_claim_due(limit=1000, now=now)
    if not ids:
        return 0
    notifications_send_batch(ids=ids, claim_token=token, now=now, sms_backend=backend)
    return len(ids)


# --- enqueue -------------------------------------------------------------------


@pytest.mark.django_db
def test_enqueue_twice_with_one_dedupe_key_stores_one_row(worker):
    for _ in range(2):
        notification_enqueue(
            template_code="notice_generic",
            dedupe_key="k1",
            member=worker,
            channel=NotificationChannel.SMS,
            params={"title": "a", "body": "b"},
        )
    assert Notification.objects.filter(dedupe_key="k1").count() == 1


@pytest.mark.django_db(transaction=True)
def test_rolled_back_transaction_creates_no_notification_and_no_task(worker):
    # given an event that enqueues a notice and then fails
    with pytest.raises(RuntimeError), transaction.atomic():
        notification_enqueue(
            template_code="notice_generic",
            dedupe_key="rolled-back",
            member=worker,
            params={"title": "a", "body": "b"},
        )
        raise RuntimeError("the event failed")
    # then nothing was stored and nothing will be dispatched
    assert Notification.objects.filter(dedupe_key="rolled-back").count() == 0
    assert notifications_dispatch(now=timezone.now()) == 0


@pytest.mark.django_db
def test_dispatch_enqueues_no_task_when_its_transaction_rolls_back(
    worker, django_capture_on_commit_callbacks
):
    sms_notices(worker, 3)
    with (
        django_capture_on_commit_callbacks(execute=False) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        notifications_dispatch(now=DAYTIME)
        raise RuntimeError("boom")
    assert callbacks == []
    assert Notification.objects.filter(status="pending").count() == 3


# --- dispatch and send -----------------------------------------------------------


@pytest.mark.django_db
def test_dispatch_sends_each_due_sms_once_with_rendered_text(
    worker, sms_outbox, django_capture_on_commit_callbacks
):
    rows = sms_notices(worker, 3)
    notifications_enqueue_many(
        specs=[
            NoticeSpec(
                template_code="notice_generic",
                channel=NotificationChannel.SMS,
                dedupe_key="later",
                member_id=worker.pk,
                params={"title": "x", "body": "y"},
                due_at=DAYTIME + timedelta(hours=1),
            )
        ]
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        claimed = notifications_dispatch(now=DAYTIME, batch_size=2)
    assert claimed == 3
    assert len(callbacks) == 2  # one send task per batch, not per message
    assert sorted(sms_outbox) == [("13812345678", f"第{i}条") for i in range(3)]
    for row in rows:
        row.refresh_from_db()
        assert (row.status, row.attempts, row.last_error) == ("sent", 1, "")
        assert row.sent_at is not None
    assert Notification.objects.get(dedupe_key="later").status == "pending"


@pytest.mark.django_db
def test_a_duplicate_send_task_calls_the_gateway_once(worker):
    rows = sms_notices(worker, 4)
    backend = RecordingBackend()
    with transaction.atomic():
        token, ids = notifications_claim_due(limit=10, now=DAYTIME)
    first = notifications_send_batch(
        ids=ids, claim_token=token, now=DAYTIME, sms_backend=backend
    )
    second = notifications_send_batch(
        ids=ids, claim_token=token, now=DAYTIME, sms_backend=backend
    )
    assert first["sent"] == 4
    assert sum(second.values()) == 0
    assert backend.calls == {f"notification-{r.pk}": 1 for r in rows}


@pytest.mark.django_db
def test_a_stale_claim_token_sends_nothing(worker):
    sms_notices(worker, 2)
    backend = RecordingBackend()
    with transaction.atomic():
        _, ids = notifications_claim_due(limit=10, now=DAYTIME)
    result = notifications_send_batch(
        ids=ids, claim_token=uuid.uuid4(), now=DAYTIME, sms_backend=backend
    )
    assert sum(result.values()) == 0
    assert backend.calls == {}
    assert set(Notification.objects.values_list("status", flat=True)) == {"sending"}


@pytest.mark.django_db
@pytest.mark.parametrize("n", [5, 40])
def test_sending_a_chunk_runs_a_constant_number_of_queries(worker, settings, n):
    from django.test.utils import CaptureQueriesContext

    settings.NOTIFICATION_SEND_CHUNK = 100
    sms_notices(worker, n)
    with transaction.atomic():
        token, ids = notifications_claim_due(limit=100, now=DAYTIME)
    with CaptureQueriesContext(connection) as ctx:
        notifications_send_batch(
            ids=ids, claim_token=token, now=DAYTIME, sms_backend=RecordingBackend()
        )
    # select-for-update, ledger mark, outcome (+ savepoint bookkeeping): no per-row
    # queries, whatever the batch size
    assert len(ctx.captured_queries) <= 8


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_row_briefly_locked_elsewhere_is_still_sent_by_its_claimant(worker):
    """A concurrent claim's SKIP LOCKED scan can hold a lock on a row it rejects;
    the claimant waits for it instead of stranding the row in `sending`."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    rows = sms_notices(worker, 3)
    with transaction.atomic():
        token, ids = notifications_claim_due(limit=10, now=DAYTIME)
    assert sorted(ids) == sorted(r.pk for r in rows)
    backend = RecordingBackend()
    locked = threading.Event()
    release = threading.Event()

    def hold_lock():
        from django.db import connections

        with transaction.atomic():
            list(Notification.objects.select_for_update().filter(pk=ids[0]))
            locked.set()
            release.wait(10)
        connections.close_all()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    assert locked.wait(10)
    threading.Timer(0.3, release.set).start()
    notifications_send_batch(
        ids=ids, claim_token=token, now=DAYTIME, sms_backend=backend
    )
    holder.join(10)

    assert backend.calls == {f"notification-{pk}": 1 for pk in ids}
    assert not Notification.objects.filter(status="sending").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_send_one_sms_per_notification(worker):
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED needs PostgreSQL")
    rows = sms_notices(worker, 120)
    backend = RecordingBackend()
    barrier = threading.Barrier(2)
    claimed: list[int] = []

    def run():
        from django.db import connections

        barrier.wait()
        total = 0
        for _ in range(40):
            with transaction.atomic():
                token, ids = notifications_claim_due(limit=7, now=DAYTIME)
            if not ids:
                break
            total += len(ids)
            notifications_send_batch(
                ids=ids, claim_token=token, now=DAYTIME, sms_backend=backend
            )
        claimed.append(total)
        connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(claimed) == 120
    assert backend.calls == {f"notification-{r.pk}": 1 for r in rows}
    assert Notification.objects.filter(status="sent").count() == 120


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_copies_of_one_batch_at_once_call_the_gateway_once_per_row(worker):
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED needs PostgreSQL")
    rows = sms_notices(worker, 60)
    backend = RecordingBackend()
    with transaction.atomic():
        token, ids = notifications_claim_due(limit=100, now=DAYTIME)
    barrier = threading.Barrier(2)

    def run():
        from django.db import connections

        barrier.wait()
        notifications_send_batch(
            ids=ids, claim_token=token, now=DAYTIME, sms_backend=backend
        )
        connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert backend.calls == {f"notification-{r.pk}": 1 for r in rows}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_relaxed_commit_only_for_our_own_outermost_transaction():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL setting")
    from members.actions.notifications import _relaxed_commit

    def current():
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    with transaction.atomic():
        _relaxed_commit()
        assert current() == "off"
        with transaction.atomic():
            assert current() == "off"
    assert current() == "on"
    with transaction.atomic(), transaction.atomic():  # a caller's transaction
        _relaxed_commit()
        assert current() == "on"


@pytest.mark.django_db
def test_portable_claim_fallback_claims_each_row_once(worker):
    # The SQLite path is plain ORM: exercise it here on whatever backend runs.
    sms_notices(worker, 5)
    token_a, token_b = uuid.uuid4(), uuid.uuid4()
    first = _claim_due_portable(limit=3, now=DAYTIME, token=token_a)
    second = _claim_due_portable(limit=10, now=DAYTIME, token=token_b)
    third = _claim_due_portable(limit=10, now=DAYTIME, token=uuid.uuid4())
    assert len(first) == 3
    assert len(second) == 2
    assert set(first).isdisjoint(second)
    assert third == []
    assert Notification.objects.filter(claim_token=token_a).count() == 3


# --- retries and dead letters ------------------------------------------------------


def drain(backend, *, rounds=12):
    """Run the dispatcher repeatedly, each time an hour later (retry due times are
    at most 10 minutes away)."""
    clock = DAYTIME
    for _ in range(rounds):
        clock += timedelta(hours=1)
        with transaction.atomic():
            token, ids = notifications_claim_due(
                limit=1000, now=timezone.now() + (clock - DAYTIME)
            )
        if ids:
            notifications_send_batch(
                ids=ids, claim_token=token, now=clock, sms_backend=backend
            )


@pytest.mark.django_db
def test_gateway_failing_for_a_while_then_every_notice_sent_once(worker):
    rows = sms_notices(worker, 10)
    backend = RecordingBackend(fail_first=25)  # 2.5 rounds of 503s
    drain(backend)
    assert backend.calls == {f"notification-{r.pk}": 1 for r in rows}
    assert Notification.objects.filter(status="sent").count() == 10
    assert Notification.objects.filter(status="dead").count() == 0
    # retries were counted per row: 10 first tries + 25 failures
    assert sum(Notification.objects.values_list("attempts", flat=True)) == 35


@pytest.mark.django_db
def test_gateway_failing_past_max_attempts_dead_letters_every_row(worker, settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    sms_notices(worker, 4)
    backend = RecordingBackend(fail_first=10_000)
    drain(backend)
    dead = Notification.objects.filter(status="dead")
    assert dead.count() == 4
    assert set(dead.values_list("attempts", flat=True)) == {3}
    assert backend.failures == 12  # 4 rows × 3 attempts, then no more calls
    assert backend.calls == {}
    assert all("503" in e for e in dead.values_list("last_error", flat=True))


@pytest.mark.django_db
def test_outage_longer_than_some_rows_can_wait_counts_dead_letters(worker, settings):
    # given 3 attempts per row and a gateway down for the first 25 calls
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    settings.NOTIFICATION_SEND_THREADS = 1  # deterministic order of the failures
    rows = sms_notices(worker, 10)
    backend = RecordingBackend(fail_first=25)
    # when the dispatcher keeps running until the outage is over
    drain(backend)
    # then 5 rows failed 3 times and are dead letters, the other 5 were sent once:
    # no row is lost silently and none was sent twice
    dead = Notification.objects.filter(status="dead")
    sent = Notification.objects.filter(status="sent")
    assert (dead.count(), sent.count()) == (5, 5)
    assert backend.calls == {
        f"notification-{pk}": 1 for pk in sent.values_list("pk", flat=True)
    }
    assert set(dead.values_list("attempts", flat=True)) == {3}
    assert len(rows) == dead.count() + sent.count()


@pytest.mark.django_db
def test_permanent_gateway_error_dead_letters_at_once(worker):
    sms_notices(worker, 2)
    backend = RecordingBackend(fail_first=2, permanent=True)
    drain(backend, rounds=3)
    assert list(Notification.objects.values_list("status", "attempts")) == [
        ("dead", 1),
        ("dead", 1),
    ]


@pytest.mark.django_db
def test_retry_waits_back_off_with_jitter_within_the_cap():
    import random

    rng = random.Random(4)
    first = [retry_delay_seconds(attempts=1, rng=rng) for _ in range(50)]
    late = [retry_delay_seconds(attempts=9, rng=rng) for _ in range(50)]
    assert all(15 <= d <= 30 for d in first)
    assert all(300 <= d <= 600 for d in late)
    assert len(set(first)) > 40  # jitter


@pytest.mark.django_db
def test_unknown_template_and_missing_phone_are_dead_letters(worker, other_worker):
    other_worker.set_phone("")
    other_worker.save()
    notification_enqueue(
        template_code="no_such_template",
        dedupe_key="a",
        member=worker,
        channel=NotificationChannel.SMS,
    )
    notification_enqueue(
        template_code="notice_generic",
        dedupe_key="b",
        member=other_worker,
        channel=NotificationChannel.SMS,
        params={"title": "t", "body": "b"},
    )
    deliver(timezone.now())
    rows = dict(Notification.objects.values_list("dedupe_key", "last_error"))
    assert rows == {"a": "unknown template 'no_such_template'", "b": "no_phone"}
    assert set(Notification.objects.values_list("status", flat=True)) == {"dead"}


@pytest.mark.django_db
def test_staff_requeue_dead_letters_is_audited(worker, reviewer_nanshan):
    rows = sms_notices(worker, 2)
    Notification.objects.update(status="dead", attempts=5, last_error="x")
    count = notifications_requeue_dead(ids=[rows[0].pk], actor=reviewer_nanshan)
    rows[0].refresh_from_db()
    assert count == 1
    assert (rows[0].status, rows[0].attempts, rows[0].last_error) == ("pending", 0, "")
    assert Notification.objects.get(pk=rows[1].pk).status == "dead"
    assert AuditLog.objects.filter(action="notification_requeue").count() == 1


# --- sweeper -----------------------------------------------------------------------


@pytest.mark.django_db
def test_sweeper_returns_unmarked_stuck_rows_and_leaves_fresh_ones(worker):
    sms_notices(worker, 3)
    with transaction.atomic():
        notifications_claim_due(limit=2, now=timezone.now() - timedelta(minutes=11))
    with transaction.atomic():
        notifications_claim_due(limit=1, now=timezone.now())  # a fresh claim
    counts = notifications_sweep_stuck()
    assert counts["requeued"] == 2
    statuses = sorted(Notification.objects.values_list("status", flat=True))
    assert statuses == ["pending", "pending", "sending"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("category", "lookup", "expected"),
    [
        (NotificationCategory.SERVICE, True, "sent"),
        (NotificationCategory.SERVICE, False, "pending"),
        (NotificationCategory.SERVICE, None, "dead"),
        (NotificationCategory.LEGAL, None, "pending"),
    ],
)
def test_sweeper_settles_a_send_interrupted_mid_call(
    worker, category, lookup, expected
):
    # given a row whose worker died after the ledger mark, before the outcome
    (row,) = sms_notices(worker, 1, category=category)
    with transaction.atomic():
        notifications_claim_due(limit=1, now=DAYTIME)
    Notification.objects.filter(pk=row.pk).update(
        gateway_started_at=timezone.now(), attempts=1
    )

    class Gateway:
        def send(self, phone, text):
            raise AssertionError("the sweeper never sends")

    if lookup is not None:
        Gateway.lookup = lambda self, out_id: lookup
    counts = notifications_sweep_stuck(
        older_than=timedelta(0),
        now=timezone.now() + timedelta(seconds=1),
        sms_backend=Gateway(),
    )
    row.refresh_from_db()
    assert row.status == expected
    assert sum(counts.values()) == 1
    if expected == "dead":
        assert row.last_error == OUTCOME_UNKNOWN
    if expected == "pending":
        assert (row.claim_token, row.gateway_started_at) == (None, None)


# --- quiet hours and opt-out ----------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ((2026, 3, 4, 20, 59), None),
        ((2026, 3, 4, 21, 0), (2026, 3, 5, 8, 0)),
        ((2026, 3, 4, 23, 30), (2026, 3, 5, 8, 0)),
        ((2026, 3, 5, 0, 10), (2026, 3, 5, 8, 0)),
        ((2026, 3, 5, 7, 59), (2026, 3, 5, 8, 0)),
        ((2026, 3, 5, 8, 0), None),
    ],
)
def test_quiet_hours_end(local, expected):
    now = datetime(*local, tzinfo=SH).astimezone(ZoneInfo("UTC"))
    result = quiet_hours_end(now=now)
    assert result == (datetime(*expected, tzinfo=SH) if expected else None)


@pytest.mark.django_db
def test_reminder_sms_in_quiet_hours_waits_until_8_legal_goes_out(worker, sms_outbox):
    # given a reminder and a legal notice due at 22:30 Shanghai
    night = datetime(2026, 3, 4, 22, 30, tzinfo=SH)
    for key, category in (("r", "reminder"), ("l", "legal")):
        notification_enqueue(
            template_code="notice_generic",
            dedupe_key=key,
            member=worker,
            channel=NotificationChannel.SMS,
            category=category,
            params={"title": "t", "body": key},
            due_at=night - timedelta(minutes=1),
        )
    # when the dispatcher runs at 22:30
    deliver(night)
    # then only the legal notice went out; the reminder waits for 08:00
    reminder = Notification.objects.get(dedupe_key="r")
    assert sms_outbox == [("13812345678", "l")]
    assert reminder.status == "pending"
    assert reminder.due_at == datetime(2026, 3, 5, 8, 0, tzinfo=SH)
    assert reminder.attempts == 0
    # and at 07:59 nothing is due; at 08:00 it is sent
    assert deliver(datetime(2026, 3, 5, 7, 59, tzinfo=SH)) == 0
    deliver(datetime(2026, 3, 5, 8, 0, tzinfo=SH))
    assert sms_outbox == [("13812345678", "l"), ("13812345678", "r")]


@pytest.mark.django_db
def test_opted_out_member_gets_no_reminder_sms_but_legal_notices(worker, sms_outbox):
    worker.reminders_opt_out = True
    worker.save()
    for key, category in (("r", "reminder"), ("l", "legal"), ("s", "service")):
        notification_enqueue(
            template_code="notice_generic",
            dedupe_key=key,
            member=worker,
            channel=NotificationChannel.SMS,
            category=category,
            params={"title": "t", "body": key},
            due_at=DAYTIME,
        )
    deliver(DAYTIME)
    statuses = dict(Notification.objects.values_list("dedupe_key", "status"))
    assert statuses == {"r": "skipped", "l": "sent", "s": "sent"}
    assert sorted(text for _, text in sms_outbox) == ["l", "s"]


# --- channels: inbox and email ---------------------------------------------------


@pytest.mark.django_db
def test_inbox_notice_to_a_member_lands_in_their_account(worker, sms_outbox):
    notification_enqueue(
        template_code="notice_generic",
        dedupe_key="i",
        member=worker,
        params={"title": "标题", "body": "正文"},
    )
    deliver(timezone.now())
    row = Notification.objects.get(dedupe_key="i")
    assert (row.status, row.user_id) == ("sent", worker.user_id)
    assert sms_outbox == []


@pytest.mark.django_db
def test_email_goes_to_staff_address_read_at_send_time(nanshan):
    staff = make_staff(org=nanshan, email="old@example.cn")
    notification_enqueue(
        template_code="reminder_applications_waiting",
        dedupe_key="e",
        user=staff,
        channel=NotificationChannel.EMAIL,
        params={"count": 2, "days": 3},
    )
    staff.email = "new@example.cn"
    staff.save()
    deliver(timezone.now())
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new@example.cn"]
    assert "2份入会申请" in mail.outbox[0].body
    assert "old@example.cn" not in str(Notification.objects.get().params)


@pytest.mark.django_db
def test_email_to_a_member_uses_their_account_address(worker, settings):
    settings.NOTIFICATION_SEND_THREADS = 4
    worker.user.email = "rider@example.cn"
    worker.user.save()
    for i in range(3):
        notification_enqueue(
            template_code="notice_generic",
            dedupe_key=f"m{i}",
            member=worker,
            channel=NotificationChannel.EMAIL,
            params={"title": f"主题{i}", "body": "正文"},
        )
    deliver(timezone.now())
    assert sorted(m.subject for m in mail.outbox) == [
        f"[工会会员服务门户] 主题{i}" for i in range(3)
    ]
    assert {tuple(m.to) for m in mail.outbox} == {("rider@example.cn",)}
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}


def test_settings_keep_the_sweeper_behind_the_hard_time_limit(settings):
    assert settings.NOTIFICATION_STUCK_MINUTES * 60 > settings.CELERY_TASK_TIME_LIMIT
    assert settings.CELERY_VISIBILITY_TIMEOUT > settings.CELERY_TASK_TIME_LIMIT
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert settings.TASK_RETRY_POLICY["retry_backoff_max"] <= 300
    transport = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert transport == settings.CELERY_VISIBILITY_TIMEOUT


def test_tasks_route_otp_and_notifications_to_their_own_queues():
    from portal.celery import app

    router = app.amqp.router
    for name, queue in (
        ("members.tasks.notification_dispatch", "notifications"),
        ("members.tasks.notification_send_batch", "notifications"),
        ("members.tasks.notification_sweep", "notifications"),
        ("members.tasks.otp_send", "otp"),
        ("services.tasks.batch_process", "bulk"),
    ):
        assert router.route({}, name)["queue"].name == queue


class EchoingBackend(RecordingBackend):
    """A gateway whose error text echoes the number it was given."""

    def send_template(self, phone, *, out_id, text, **_):
        raise SmsError(f"invalid mobile {phone} (card 6222021234567890128)")


@pytest.mark.django_db
def test_a_gateway_error_echoing_the_number_is_stored_masked(worker, settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 1
    sms_notices(worker, 1)
    phone = worker.phone

    drain(EchoingBackend())

    error = Notification.objects.get().last_error
    assert "invalid mobile" in error
    assert phone not in error
    assert f"{phone[:3]}****{phone[-4:]}" in error
    assert "6222021234567890128" not in error
