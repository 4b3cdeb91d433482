"""Benchmark: the nightly program re-check over 1,000,000 members.

Generates members, platform accounts and one active enrollment each straight into
a dedicated PostgreSQL database with generate_series (no ORM per row), then times

* the set-based nightly re-check (services.actions.programs.programs_recheck) over
  every enrollment, and a second run (idempotency: it must change nothing);
* a naive per-row Python loop (load member + platform accounts, evaluate the rules
  in Python, update, write history and a notice) over a 10,000-enrollment sample,
  rolled back afterwards so both runs see the same data;

and prints both, the naive loop projected to the full population, and the ratio.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_programs \\
        .venv/bin/python bench/recheck.py [--members 1000000] [--sample 10000] [--keep]

The database is created if missing and dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _scratch import run_in_scratch_database  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_programs"
ON = date(2026, 6, 15)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the bench DB")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="reuse data kept by --keep (reset enrollments instead of regenerating)",
    )
    args = parser.parse_args()

    run_in_scratch_database(DEFAULT_URL, lambda: run(args), keep=args.keep)


GENERATE = """
TRUNCATE services_enrollmentevent, services_enrollment, members_notification,
         members_platformrider, members_member CASCADE;
DELETE FROM members_platform WHERE code = 'bench';
INSERT INTO members_platform (code, name, credit_code, occupations, is_active,
    allowed_networks, created_at)
    VALUES ('bench', '基准平台', '', '[]', true, '[]', now());

-- Occupations cycle through all eight; ~2%% live outside Shenzhen; 10%% are
-- applicants; birth dates spread over 1950-2009.
INSERT INTO members_member (name, id_number, id_number_hmac, birth_date, gender,
    phone, phone_hmac, occupation, employment_category, hukou_county,
    residence_county, org_id, status, member_no, joined_on, reminders_opt_out,
    created_at, updated_at, user_id)
SELECT '基准', %(id_cipher)s, md5('bench-' || g),
    date '1950-01-01' + (g::bigint * 7919 %% 21900)::int,
    CASE WHEN g %% 2 = 0 THEN 'M' ELSE 'F' END, '', NULL,
    (ARRAY['courier','food_delivery','ride_hailing','freight','domestic',
           'construction','sanitation','other'])[1 + g %% 8],
    '', '', CASE WHEN g %% 50 = 0 THEN '440106' ELSE '440305' END,
    %(org)s, CASE WHEN g %% 10 = 0 THEN 'applicant' ELSE 'active' END,
    CASE WHEN g %% 10 = 0 THEN NULL ELSE 'B' || g END, NULL, false, now(), now(), NULL
FROM generate_series(1, %(n)s) g;

-- Riders get a platform account; some joined recently, some have left.
INSERT INTO members_platformrider (platform_id, member_id, platform_rider_id,
    joined_platform_on, offboarded_on, consent_ref, consented_at, created_at,
    updated_at)
SELECT p.id, m.id, 'r' || m.id, date '2020-01-01' + (m.id * 31 %% 2350)::int,
    CASE WHEN m.id %% 37 = 0 THEN date '2026-03-01' END, '', NULL, now(), now()
FROM members_member m, members_platform p
WHERE p.code = 'bench'
  AND m.occupation IN ('courier', 'food_delivery', 'ride_hailing', 'freight');

-- One active 2026 enrollment each, in the program of their occupation;
-- 'other' workers sit in 建工守护 (they changed jobs: they must lapse).
INSERT INTO services_enrollment (member_id, program_id, period_start, period_end,
    status, status_reason, source, platform_id, created_at, updated_at)
SELECT m.id, pr.id, date '2026-01-01', date '2026-12-31', 'active', '', 'platform',
    NULL, now(), now()
FROM members_member m JOIN services_program pr ON pr.code = CASE
    WHEN m.occupation IN ('courier', 'food_delivery', 'ride_hailing', 'freight')
        THEN 'e_road'
    WHEN m.occupation = 'domestic' THEN 'domestic'
    WHEN m.occupation = 'sanitation' THEN 'sanitation'
    ELSE 'construction' END;
"""


def generate(n: int) -> float:
    from django.db import connection, transaction

    from members.models import UnionOrg
    from portal.crypto import encrypt
    from services.reference_data import SHENZHEN_FEDERATION

    org = UnionOrg.objects.get(name=SHENZHEN_FEDERATION)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        # One real ciphertext for every row: the naive loop decrypts on load.
        cipher = encrypt("440305199001010000", purpose="member.id_number")
        cursor.execute(GENERATE, {"org": org.pk, "n": n, "id_cipher": cipher})
    with connection.cursor() as cursor:
        for table in ("members_member", "members_platformrider", "services_enrollment"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - started


def _member_count() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM members_member")
        return cursor.fetchone()[0]


def reset() -> float:
    from django.db import connection, transaction

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE services_enrollmentevent, members_notification")
        cursor.execute(
            "UPDATE services_enrollment SET status = 'active', status_reason = ''"
            " WHERE status <> 'active'"
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE services_enrollment")
    return time.perf_counter() - started


def naive_loop(sample: int) -> tuple[float, int]:
    """What a straightforward implementation does: one enrollment at a time."""
    from django.db import transaction

    from members.actions.notifications import notification_enqueue
    from services.models import Enrollment, EnrollmentEvent, Program
    from services.selectors.eligibility import (
        eligibility_reasons,
        programs_with_rules,
    )

    programs = {
        p.pk: p for p in Program.objects.prefetch_related(programs_with_rules())
    }
    ids = list(
        Enrollment.objects.filter(status="active")
        .order_by("id")
        .values_list("id", flat=True)[:sample]
    )
    lapsed = 0
    started = time.perf_counter()
    with transaction.atomic():
        for enrollment_id in ids:
            enrollment = Enrollment.objects.select_related("member").get(
                pk=enrollment_id
            )
            program = programs[enrollment.program_id]
            reasons = eligibility_reasons(
                program=program, member=enrollment.member, on=ON
            )
            if reasons:
                enrollment.status = "needs_review"
                enrollment.status_reason = ";".join(reasons)
                enrollment.save(update_fields=["status", "status_reason", "updated_at"])
                EnrollmentEvent.objects.create(
                    enrollment=enrollment,
                    from_status="active",
                    to_status="needs_review",
                    reason=enrollment.status_reason,
                    source="nightly",
                )
                notification_enqueue(
                    template_code="programs.enrollment_under_review",
                    dedupe_key=f"naive-review:{enrollment.pk}",
                    member=enrollment.member,
                    params={"enrollment_id": enrollment.pk},
                )
                lapsed += 1
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed, lapsed


def run(args) -> None:
    from django.db import connection

    from services.actions.programs import programs_recheck

    if args.reuse and _member_count() == args.members:
        print("reusing kept data: resetting enrollments ...", flush=True)
        gen = reset()
    else:
        print(f"generating {args.members:,} members with enrollments ...", flush=True)
        gen = generate(args.members)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM services_enrollment")
        enrollments = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM members_platformrider")
        riders = cursor.fetchone()[0]
    print(
        f"  {args.members:,} members, {riders:,} platform accounts,"
        f" {enrollments:,} enrollments in {gen:.1f} s"
    )

    naive, naive_lapsed = naive_loop(args.sample)
    per_row = naive / args.sample
    projected = per_row * enrollments
    print(
        f"naive per-row loop: {args.sample:,} enrollments in {naive:.2f} s"
        f" ({naive_lapsed:,} under review; {per_row * 1000:.2f} ms/row;"
        f" projected {projected:,.0f} s for {enrollments:,})"
    )

    started = time.perf_counter()
    first = programs_recheck(on=ON)
    set_based = time.perf_counter() - started
    print(
        f"set-based re-check: {enrollments:,} enrollments in {set_based:.2f} s"
        f" (ended {first.ended:,}, under review {first.under_review:,},"
        f" notices {first.notices:,})"
    )
    started = time.perf_counter()
    second = programs_recheck(on=ON)
    again = time.perf_counter() - started
    print(
        f"second run (idempotent): {again:.2f} s, under review {second.under_review:,},"
        f" notices {second.notices:,}"
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average now (1/5/15 min, shared 2-core machine): {load}")
    sample_ratio = (naive / args.sample) / (set_based / enrollments)
    print(
        f"ratio (naive per row / set-based per row): {sample_ratio:,.0f}x;"
        f" goal <= 30 s for 1M: {'met' if set_based <= 30 else 'NOT met'};"
        f" goal >= 20x: {'met' if sample_ratio >= 20 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
