"""Benchmark: the daily retention job (security.md PI8) on a large database.

Generates straight into a dedicated PostgreSQL database with generate_series:
`--members` members of whom 10 % left the union long ago (to be anonymised, with
a platform account each), `--notices` finished outbox rows older than the period
plus 20 % recent ones, and `--codes` stale OTP rows. Then times

* `members.actions.retention.retention_run` (chunks of RETENTION_CHUNK), wall and
  this process's CPU time, and a second run (must change nothing);
* a naive per-row ORM loop (load, change, save, audit row / `.delete()` per row)
  on a sample of ex-members and notices, rolled back, projected to the totals.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_retention \\
        .venv/bin/python bench/retention.py [--members 1000000] [--notices 1000000]

The database is created if missing and dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _scratch import run_in_scratch_database  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_retention"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--notices", type=int, default=1_000_000)
    parser.add_argument("--codes", type=int, default=300_000)
    parser.add_argument("--sample", type=int, default=2_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    run_in_scratch_database(DEFAULT_URL, lambda: run(args), keep=args.keep)


GENERATE = """
TRUNCATE members_notification, members_onetimecode, members_platformrider,
         members_auditlog, members_member CASCADE;
DELETE FROM members_platform WHERE code = 'bench';
INSERT INTO members_platform (code, name, credit_code, occupations, is_active,
    created_at) VALUES ('bench', '基准平台', '', '[]', true, now());

-- 1 in 10 left (withdrawn / lapsed / expelled) two years ago.
INSERT INTO members_member (name, id_number, id_number_hmac, birth_date, gender,
    phone, phone_hmac, occupation, employment_category, hukou_county,
    residence_county, org_id, status, member_no, joined_on, reminders_opt_out,
    created_at, updated_at, user_id, left_at, anonymised_at)
SELECT '基准', %(id_cipher)s, md5('bench-' || g),
    date '1950-01-01' + (g::bigint * 7919 %% 21900)::int, 'M', %(phone_cipher)s,
    md5('phone-' || g), 'food_delivery', '', '', '440305', %(org)s,
    CASE WHEN g %% 10 <> 0 THEN 'active'
         ELSE (ARRAY['withdrawn','lapsed','expelled'])[1 + (g / 10) %% 3] END,
    'B' || g, NULL, false, now(), now(), NULL,
    CASE WHEN g %% 10 = 0 THEN now() - interval '730 days' END, NULL
FROM generate_series(1, %(n)s) g;

INSERT INTO members_platformrider (platform_id, member_id, platform_rider_id,
    joined_platform_on, offboarded_on, consent_ref, consented_at, created_at,
    updated_at)
SELECT p.id, m.id, 'r' || m.id, date '2020-01-01', NULL, 'c' || m.id, now(), now(),
    now()
FROM members_member m, members_platform p
WHERE p.code = 'bench' AND m.status <> 'active';

-- Finished notices: 5 in 6 older than the period, the rest recent.
INSERT INTO members_notification (user_id, member_id, channel, category,
    template_code, params, dedupe_key, due_at, status, attempts, claimed_at,
    claim_token, gateway_started_at, sent_at, last_error, read_at, created_at)
SELECT NULL, (SELECT min(id) FROM members_member) + g %% %(n)s, 'inbox', 'service',
    'data_request_received', '{"request_id": 1, "kind": "export"}', 'bench-' || g,
    now(), 'sent', 1, NULL, NULL, NULL, now(), '', NULL,
    CASE WHEN g %% 6 = 0 THEN now() - interval '10 days'
         ELSE now() - interval '400 days' END
FROM generate_series(1, %(notices)s) g;

INSERT INTO members_onetimecode (phone_hmac, purpose, code_hash, created_at,
    expires_at, attempts, used_at)
SELECT md5('otp-' || g), 'login', md5('c' || g), now() - interval '200 days',
    now() - interval '200 days', 0, NULL
FROM generate_series(1, %(codes)s) g;
"""


def generate(args) -> float:
    from django.db import connection, transaction

    from members.models import UnionOrg
    from portal.crypto import encrypt
    from services.reference_data import SHENZHEN_FEDERATION

    org = UnionOrg.objects.get(name=SHENZHEN_FEDERATION)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            GENERATE,
            {
                "org": org.pk,
                "n": args.members,
                "notices": args.notices,
                "codes": args.codes,
                "id_cipher": encrypt("440305199001010000", purpose="member.id_number"),
                "phone_cipher": encrypt("13800138000", purpose="member.phone"),
            },
        )
    with connection.cursor() as cursor:
        for table in (
            "members_member",
            "members_platformrider",
            "members_notification",
            "members_onetimecode",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - started


class _Rollback(Exception):
    pass


def naive(sample: int) -> tuple[float, float]:
    """Per-row ORM: anonymise `sample` ex-members (load, set, save, rider save,
    audit row) and delete `sample` old notices one by one; rolled back.
    Returns seconds per member and per notice."""
    from django.db import transaction
    from django.utils import timezone

    from members.audit import audit_record
    from members.models import EX_MEMBER_STATUSES, Member, Notification

    cutoff = timezone.now() - timedelta(days=365)
    per_member = per_notice = 0.0
    try:
        with transaction.atomic():
            started = time.perf_counter()
            qs = Member.objects.filter(
                status__in=EX_MEMBER_STATUSES,
                anonymised_at__isnull=True,
                left_at__lt=cutoff,
            )[:sample]
            for member in qs:
                member.name = "已匿名"
                member.id_number = ""
                member.id_number_hmac = f"anon:{member.pk}"
                member.phone = ""
                member.phone_hmac = None
                member.user = None
                member.anonymised_at = timezone.now()
                member.save()
                for rider in member.platform_links.all():
                    rider.platform_rider_id = f"anon:{rider.pk}"
                    rider.consent_ref = ""
                    rider.save()
                audit_record(action="retention_anonymise", member=member)
            per_member = (time.perf_counter() - started) / sample
            started = time.perf_counter()
            for notice in Notification.objects.filter(created_at__lt=cutoff)[:sample]:
                notice.delete()
            per_notice = (time.perf_counter() - started) / sample
            raise _Rollback
    except _Rollback:
        pass
    return per_member, per_notice


def run(args) -> None:
    from django.conf import settings

    from members.actions.retention import retention_run

    print(f"load average: {os.getloadavg()}")
    print(f"generate: {generate(args):.1f} s")
    per_member, per_notice = naive(args.sample)
    print(
        f"naive per row: {per_member * 1000:.2f} ms/member, "
        f"{per_notice * 1000:.2f} ms/notice (sample {args.sample}, rolled back)"
    )
    print(f"load average: {os.getloadavg()}  chunk={settings.RETENTION_CHUNK}")
    wall, cpu = time.perf_counter(), time.process_time()
    results = retention_run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    counts = {r.category: r.count for r in results}
    print(f"retention run: {wall:.1f} s wall, {cpu:.1f} s CPU in Python; {counts}")
    members, notices = counts["ex_members"], counts["notifications"]
    projected = members * per_member + notices * per_notice
    print(
        f"naive projected for {members} members + {notices} notices: "
        f"{projected:.0f} s ({projected / wall:.0f}x)"
    )
    wall, cpu = time.perf_counter(), time.process_time()
    again = {r.category: r.count for r in retention_run()}
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"second run: {wall:.1f} s wall, {cpu:.2f} s CPU; {again}")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
