"""Benchmark: the nightly program renewal over consecutive nights of the window.

Generates N members (default 200,000) with one active 2026 enrollment each, the
same data as bench/recheck.py (generate_series, no ORM per row; about 21 % fail a
rule: changed occupation, age, region, applicants, offboarded riders), so every
enrollment's period ends on 2026-12-31, inside the renewal window from
2026-12-01 (programs' `renewal_lead_days`, default 30). Then it times, with the
state carried over from night to night (no rollback between nights):

* scenario A, night 1 without the re-check: programs_renew(on=2026-12-01) alone
  on fresh data (the ineligible are still active when the renewal judges them);
* the data is reset (renewed rows deleted, statuses back to active, history and
  outbox emptied, VACUUM ANALYZE: bench setup, not part of any night);
* scenario B, nights 1-3 (2026-12-01/02/03): programs_recheck then
  programs_renew each night, as the beat schedule runs them (02:30, 03:30).
  Between nights nothing is settled beyond what the jobs do themselves
  (autovacuum is off on the bench server; `--settle` runs VACUUM ANALYZE of the
  touched tables between nights instead, as autovacuum would during a day).

The reference, measured in the same run: a plain INSERT ... SELECT of as many
enrollment rows as end in the window, into services_enrollment itself (its
indexes, constraints and foreign keys), rolled back. Each job's time is printed
with its ratio to it.

Works against old code too (RenewResult without under_review / notices: printed
as "-"), so the same script compares branches:

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_renew \\
        .venv/bin/python bench/renew.py [--members 200000] [--settle] [--keep]

The database is created if missing and dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _scratch import run_in_scratch_database  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_renew"
NIGHTS = (date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 3))
TOUCHED = (
    "services_enrollment",
    "services_enrollmentevent",
    "members_notification",
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument(
        "--settle",
        action="store_true",
        help="VACUUM ANALYZE the touched tables between nights (autovacuum's day)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench DB")
    args = parser.parse_args()

    run_in_scratch_database(DEFAULT_URL, lambda: run(args), keep=args.keep)


def _code_version() -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()[:80]
    except (OSError, subprocess.CalledProcessError):
        return "?"


def reset() -> float:
    """Back to the generated state: one active 2026 enrollment per member."""
    from django.db import connection, transaction

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE services_enrollmentevent, members_notification")
        cursor.execute(
            "DELETE FROM services_enrollment WHERE period_start > date '2026-01-01'"
        )
        cursor.execute(
            "UPDATE services_enrollment SET status = 'active', status_reason = '',"
            " restored_on = NULL WHERE status <> 'active' OR restored_on IS NOT NULL"
        )
    settle()
    return time.perf_counter() - started


def settle() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in TOUCHED:
            cursor.execute(f"VACUUM ANALYZE {table}")


def reference(rows: int) -> float:
    """A plain INSERT ... SELECT of `rows` enrollment rows into the real table
    (a period nobody has: no conflict), rolled back. Median of 3."""
    from django.db import connection, transaction

    times = []
    for _ in range(3):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
            started = time.perf_counter()
            cursor.execute(
                "INSERT INTO services_enrollment (member_id, program_id,"
                " period_start, period_end, status, status_reason, source,"
                " platform_id, created_at, updated_at)"
                " SELECT member_id, program_id, date '2030-01-01',"
                " date '2030-12-31', 'active', '', 'renewal', platform_id,"
                " now(), now() FROM services_enrollment"
                " WHERE period_start = date '2026-01-01' LIMIT %s",
                [rows],
            )
            # Deferred foreign keys are checked at commit: check them here.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            times.append(time.perf_counter() - started)
            transaction.set_rollback(True)
    return sorted(times)[1]


def _counts() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE period_start = date '2027-01-01'),"
            " count(*) FILTER (WHERE period_start = date '2026-01-01'"
            "  AND status = 'needs_review')"
            " FROM services_enrollment"
        )
        successors, reviewing = cursor.fetchone()
    return {"successors": successors, "reviewing": reviewing}


def _fmt(value) -> str:
    return "-" if value is None else f"{value:,}"


def timed(fn, on: date):
    started = time.perf_counter()
    result = fn(on=on)
    return time.perf_counter() - started, result


def run(args) -> None:
    from django.db import connection
    from recheck import generate

    from services.actions.programs import programs_recheck, programs_renew

    print(f"code: {_code_version()}", flush=True)
    print(f"generating {args.members:,} members with enrollments ...", flush=True)
    gen = generate(args.members)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM services_enrollment")
        enrollments = cursor.fetchone()[0]
        cursor.execute(
            "SELECT string_agg(code || ':' || renewal_lead_days, ' ' ORDER BY code)"
            " FROM services_program"
        )
        leads = cursor.fetchone()[0]
    print(
        f"  {args.members:,} members, {enrollments:,} enrollments ending 2026-12-31"
        f" in {gen:.1f} s (renewal_lead_days {leads})"
    )
    ref = reference(enrollments)
    print(
        f"reference: INSERT ... SELECT of {enrollments:,} enrollment rows"
        f" (rolled back, median of 3): {ref:.2f} s"
    )
    rows: list[tuple] = []

    def report(label: str, job: str, seconds: float, result) -> None:
        renewed = getattr(result, "renewed", None)
        reminders = getattr(result, "reminders", None)
        under_review = getattr(result, "under_review", None)
        notices = getattr(result, "notices", None)
        counts = _counts()
        rows.append((label, job, seconds, renewed, under_review, notices, reminders))
        print(
            f"{label:<24} {job:<8} {seconds:8.2f} s  {seconds / ref:6.1f}x ref"
            f"  renewed {_fmt(renewed):>8}  under review {_fmt(under_review):>8}"
            f"  notices {_fmt(notices):>8}  reminders {_fmt(reminders):>8}"
            f"  | 2027 rows {counts['successors']:,},"
            f" 2026 under review {counts['reviewing']:,}",
            flush=True,
        )

    # Scenario A: the first night of the window without the re-check.
    seconds, result = timed(programs_renew, NIGHTS[0])
    report("A night 1, no re-check", "renew", seconds, result)

    reset()
    print("reset to the generated state (VACUUM ANALYZE; not timed)", flush=True)

    # Scenario B: re-check then renewal, three consecutive nights.
    for number, on in enumerate(NIGHTS, start=1):
        if number > 1 and args.settle:
            settle()
        label = f"B night {number} ({on:%m-%d})"
        seconds, result = timed(programs_recheck, on)
        report(label, "recheck", seconds, result)
        seconds, result = timed(programs_renew, on)
        report(label, "renew", seconds, result)

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average now (1/5/15 min, shared 2-core machine): {load}")
    print(
        f"settle between nights: {'VACUUM ANALYZE' if args.settle else 'none'};"
        f" reference {ref:.2f} s"
    )


if __name__ == "__main__":
    main()
