"""Benchmark: drain 100,000 due SMS notifications through the real pipeline.

PostgreSQL outbox → one beat tick (`members.tasks.notification_dispatch`) → batch
tasks on Redis → a real `celery -A portal worker` subprocess → a counting fake
gateway (Redis hash per out_id). Prints the time to drain and the sent /
duplicated / lost counts, plus the ratio to a reference measured in the same run:
the same number of fake-gateway calls made in a plain loop in this process (no
database, no Celery), i.e. the floor for "one gateway call per message".

    .venv/bin/python bench/reminders.py [--count 100000] [--concurrency 2]

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/
portal_bench_notify; created and migrated if missing), BENCH_REDIS_URL (default
redis://127.0.0.1:6379/2). Goal (issue #4): ≤ 30 s, 0 duplicated, 0 lost.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal_bench_notify"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/2")
os.environ.update(
    DATABASE_URL=DB_URL,
    REDIS_URL=REDIS_URL,
    DJANGO_SETTINGS_MODULE="tests.worker_settings",
    PORTAL_SKIP_DOTENV="1",
    SMS_BACKEND="members.sms_counting.RedisCountingSmsBackend",
    COUNTING_SMS_KEY="bench_reminders_sms",
    COUNTING_SMS_REDIS_URL=REDIS_URL,
)


def ensure_database() -> None:
    import psycopg2

    url = urlparse(DB_URL)
    name = url.path.lstrip("/")
    conn = psycopg2.connect(
        host=url.hostname, port=url.port or 5432, user=url.username, dbname="postgres"
    )
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()

    ensure_database()
    import django

    django.setup()
    from datetime import timedelta

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    call_command("migrate", verbosity=0)

    from members.actions.notifications import NoticeSpec, notifications_enqueue_many
    from members.models import Member, Notification, NotificationChannel
    from members.sms_counting import RedisCountingSmsBackend
    from portal.celery import app
    from tests.factories import make_member
    from tests.workers import SubprocessWorker, purge_queues

    gateway = RedisCountingSmsBackend()
    n = args.count

    # Reference: n fake-gateway calls in a plain loop (one Redis round trip each).
    gateway.reset()
    started = time.perf_counter()
    for i in range(n):
        gateway.send_template("13800000000", out_id=f"ref-{i}", text="x")
    reference = time.perf_counter() - started
    gateway.reset()

    # Data: n due SMS notices (one test member; each notice has its own out_id).
    Notification.objects.all().delete()
    member = Member.objects.filter(name="压测会员").first() or make_member(
        name="压测会员", phone="13800138000"
    )
    started = time.perf_counter()
    due = timezone.now() - timedelta(seconds=1)
    notifications_enqueue_many(
        specs=(
            NoticeSpec(
                template_code="notice_generic",
                channel=NotificationChannel.SMS,
                dedupe_key=f"bench:{i}",
                member_id=member.pk,
                params={"title": "提醒", "body": f"第{i}条提醒"},
                due_at=due,
            )
            for i in range(n)
        )
    )
    insert_s = time.perf_counter() - started
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE members_notification")
    connection.close()

    purge_queues(REDIS_URL)
    worker = SubprocessWorker(
        database_url=DB_URL,
        redis_url=REDIS_URL,
        concurrency=args.concurrency,
        queues=("notifications",),
        env={"LOG_LEVEL": "WARNING"},
    )
    worker.start()
    try:
        started = time.perf_counter()
        app.send_task("members.tasks.notification_dispatch", queue="notifications")
        deadline = started + args.timeout
        sent = 0
        # Poll the gateway counter (O(1) HLEN) first, then the database, so the
        # benchmark's own polling does not scan the table several times a second.
        while time.perf_counter() < deadline and gateway.redis.hlen(gateway.key) < n:
            time.sleep(0.1)
        while time.perf_counter() < deadline:
            sent = Notification.objects.filter(status="sent").count()
            if sent >= n:
                break
            time.sleep(0.1)
        drain = time.perf_counter() - started
    finally:
        worker.stop()
    counts = gateway.counts()
    duplicated = sum(c - 1 for c in counts.values() if c > 1)
    ids = set(Notification.objects.values_list("id", flat=True))
    lost = len({f"notification-{pk}" for pk in ids} - set(counts))
    statuses = dict(
        Notification.objects.values_list("status").annotate(
            c=__import__("django.db.models", fromlist=["Count"]).Count("id")
        )
    )
    print(f"notifications:        {n}")
    print(f"insert (bulk) time:   {insert_s:.1f} s")
    print(f"worker concurrency:   {args.concurrency} (prefork)")
    print(f"time to drain:        {drain:.1f} s  ({n / drain:,.0f} msg/s)")
    print(f"gateway calls:        {sum(counts.values())}")
    print(f"sent (DB status):     {sent}   statuses: {statuses}")
    print(f"duplicated:           {duplicated}")
    print(f"lost:                 {lost}")
    print(f"reference loop:       {reference:.1f} s for {n} bare gateway calls")
    print(f"ratio drain/reference: {drain / reference:.2f}")
    ok = drain <= 30 and duplicated == 0 and lost == 0
    print("goal (<= 30 s, 0 duplicated, 0 lost):", "MET" if ok else "NOT MET")
    gateway.reset()
    worker.remove_log() if ok else print(f"worker log: {worker.log_path}")


if __name__ == "__main__":
    main()
