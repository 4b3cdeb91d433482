"""Floor analysis for the bulk enrollment goal (issue #6: ≥ 0.33 × raw COPY).

    flock /tmp/heavy.lock .venv/bin/python bench/bulk_floor.py [--rows 100000]

In one run, for the same N generated riders (bench/bulk_enroll.py's generator):

  (a) the reference: a raw COPY of the CSV file into an unindexed 9-column text
      table, exactly as bench/bulk_enroll.py does it;
  (b) the mandatory per-row Python work alone, in this one process (one core):
      read + csv parse + normalise + validate (ID check digit, phone, dates,
      occupation, city) + AES-256-GCM of ID number and phone + their HMAC blind
      indexes, with the pipeline's own function
      (services.actions.batch_rows.copy_lines, 20k-row chunks as in a batch);
      the crypto alone and the csv parse alone are printed as parts of it;
  (c) the database floor: COPY of already prepared final rows straight into the
      real destination tables of a migrated scratch database — members, riders,
      enrollments, one notice per rider — with all their indexes, checks and
      foreign keys (Django's DEFERRABLE INITIALLY DEFERRED; once as declared,
      checked at commit, once with SET CONSTRAINTS ALL IMMEDIATE). No staging
      table, no duplicate or conflict check, no ON CONFLICT, no RETURNING: only
      what must be written.

Each is printed as rows/s and as a ratio to (a), with the PostgreSQL backend's
CPU time (from /proc) next to the wall time. From them: the best ratio any
implementation could reach on this machine, assuming perfect overlap of the
Python and database work on all cores (`--cores`, default os.cpu_count()).

Uses a scratch database (BENCH_DATABASE_URL, default portal_bench_bulk_floor),
dropped afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _scratch import run_in_scratch_database  # noqa: E402
from bulk_enroll import create_e_road_program, write_csv  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_bulk_floor"
CHUNK = 20_000
CLK = os.sysconf("SC_CLK_TCK")


def backend_cpu(pid: int) -> float:
    """utime + stime of a PostgreSQL backend, in seconds (same machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


class Clock:
    """Wall time and backend CPU of one connection around a block."""

    def __init__(self, conn) -> None:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            self.pid = cur.fetchone()[0]

    def __enter__(self):
        self.wall = time.perf_counter()
        self.cpu = backend_cpu(self.pid)
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = backend_cpu(self.pid) - self.cpu


def connect():
    import psycopg2

    return psycopg2.connect(os.environ["DATABASE_URL"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    run_in_scratch_database(
        DEFAULT_URL, lambda: run(args.rows, args.cores), keep=args.keep
    )


def setup():
    from members.models import Platform

    program = create_e_road_program()
    platform = Platform.objects.create(code="bench", name="bench")
    return program, platform


def raw_copy(csv_path: Path) -> tuple[float, float]:
    """(a) exactly as bench/bulk_enroll.py: a new connection, CREATE TABLE in
    one transaction, then COPY ... FORMAT csv, HEADER of the file and commit."""
    conn = connect()
    with conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_raw_copy")
        cur.execute(
            "CREATE TABLE bench_raw_copy (name text, id_number text, phone text, "
            "occupation text, city_code text, platform_rider_id text, "
            "joined_platform_on text, consent_ref text, consented_at text)"
        )
    clock = Clock(conn)
    with clock, conn, conn.cursor() as cur, csv_path.open("rb") as fh:
        cur.copy_expert("COPY bench_raw_copy FROM STDIN WITH (FORMAT csv, HEADER)", fh)
    conn.close()
    return clock.wall, clock.cpu


def chunk_texts(csv_path: Path, chunk: int):
    """The file as the pipeline reads it: 20k-row byte ranges, decoded."""
    with csv_path.open("rb") as fh:
        fh.readline()
        lines = fh.readlines()
    for i in range(0, len(lines), chunk):
        yield b"".join(lines[i : i + chunk])


def python_work(csv_path: Path) -> tuple[dict, list[str]]:
    """(b) on one core: the pipeline's own per-row function over the file."""
    from django.utils import timezone

    from members.models.people import ID_NUMBER_INDEX, PHONE_INDEX
    from portal.crypto import BulkCrypto
    from services.actions.batch_rows import ID_AAD, PHONE_AAD, RowContext, copy_lines

    pieces = list(chunk_texts(csv_path, CHUNK))
    now = timezone.now()
    ctx = RowContext(today=timezone.localdate(now), now=now)
    ctx.org_for_city("440305")  # the one DB lookup, outside the clock

    results: dict[str, float] = {}
    # csv parse alone (decode + csv.reader), as _read_chunk_rows does it
    wall, cpu = time.perf_counter(), time.process_time()
    parsed = []
    for raw in pieces:
        text = raw.decode("utf-8")
        parsed.append([r for r in csv.reader(io.StringIO(text, newline="")) if r])
    results["csv parse"] = time.process_time() - cpu
    results["csv parse wall"] = time.perf_counter() - wall

    # the crypto alone: 2 × AES-256-GCM + 2 × HMAC-SHA256 blind index per row
    bulk = BulkCrypto()
    id_index, phone_index = bulk.indexer(ID_NUMBER_INDEX), bulk.indexer(PHONE_INDEX)
    encrypt = bulk.encrypt
    cpu = time.process_time()
    for rows in parsed:
        nonces = bulk.nonces(2 * len(rows))
        for i, r in enumerate(rows):
            id_index(r[1])
            phone_index(r[2])
            encrypt(r[1], aad=ID_AAD, nonce=nonces[24 * i : 24 * i + 12])
            encrypt(r[2], aad=PHONE_AAD, nonce=nonces[24 * i + 12 : 24 * i + 24])
    results["crypto"] = time.process_time() - cpu

    # the whole per-row step of the pipeline: parse + validate + crypto + line
    wall, cpu = time.perf_counter(), time.process_time()
    staged: list[str] = []
    first = 1
    for raw in pieces:
        text = raw.decode("utf-8")
        rows = [r for r in csv.reader(io.StringIO(text, newline="")) if r]
        staged += copy_lines(batch_id=1, first_row=first, rows=rows, ctx=ctx)
        first += len(rows)
    results["all"] = time.process_time() - cpu
    results["all wall"] = time.perf_counter() - wall
    return results, staged


def final_rows(staged: list[str], *, program, platform) -> dict:
    """COPY text of the rows the tables must end with (not timed): members with
    ids 1..N, their riders, enrollments and notices, as apply_staged writes them."""
    from django.utils import timezone

    from services.actions.batches import NOTICE_TEMPLATE, coverage_period

    now = timezone.now()
    ts = now.isoformat()
    period = coverage_period(program=program, on=timezone.localdate(now))
    params = json.dumps(
        {"platform": platform.name, "program": program.name}, ensure_ascii=False
    )
    members, riders, enrollments, notices = [], [], [], []
    for member_id, line in enumerate(staged, start=1):
        f = line.rstrip("\n").split("\t")
        # STAGE_COLUMNS: batch_id row_no name id_hmac id_enc phone_hmac phone_enc
        # birth_date gender occupation city_code org_id rider_id joined_on
        # consent_ref consented_at ...
        (name, id_hmac, id_enc, phone_hmac, phone_enc, born, gender, occ, city) = f[
            2:11
        ]
        org_id, rider_id, joined, consent_ref, consented_at = f[11:16]
        members.append(
            f"{member_id}\t{name}\t{id_enc}\t{id_hmac}\t{born}\t{gender}\t"
            f"{phone_enc}\t{phone_hmac}\t{occ}\t\t\t{city}\t{org_id}\tapplicant\t"
            f"\\N\t\\N\tf\t{ts}\t{ts}\t\\N\n"
        )
        riders.append(
            f"{platform.pk}\t{member_id}\t{rider_id}\t{joined}\t\\N\t{consent_ref}\t"
            f"{consented_at}\t{ts}\t{ts}\n"
        )
        enrollments.append(
            f"{member_id}\t{program.pk}\t{period[0]}\t{period[1]}\tactive\t\t"
            f"platform\t{platform.pk}\t{ts}\t{ts}\n"
        )
        notices.append(
            f"\\N\t{member_id}\tsms\tlegal\t{NOTICE_TEMPLATE}\t{params}\t"
            f"{NOTICE_TEMPLATE}:{member_id}:{platform.pk}\t{ts}\tpending\t0\t\\N\t"
            f"\\N\t\t\\N\t{ts}\n"
        )
    return {
        "members": (
            "members_member (id, name, id_number, id_number_hmac, birth_date, "
            "gender, phone, phone_hmac, occupation, employment_category, "
            "hukou_county, residence_county, org_id, status, member_no, joined_on, "
            "reminders_opt_out, created_at, updated_at, user_id)",
            "".join(members),
        ),
        "riders": (
            "members_platformrider (platform_id, member_id, platform_rider_id, "
            "joined_platform_on, offboarded_on, consent_ref, consented_at, "
            "created_at, updated_at)",
            "".join(riders),
        ),
        "enrollments": (
            "services_enrollment (member_id, program_id, period_start, period_end, "
            "status, status_reason, source, platform_id, created_at, updated_at)",
            "".join(enrollments),
        ),
        "notices": (
            "members_notification (user_id, member_id, channel, category, "
            "template_code, params, dedupe_key, due_at, status, attempts, "
            "claimed_at, sent_at, last_error, read_at, created_at)",
            "".join(notices),
        ),
    }


TABLES = (
    "members_notification",
    "services_enrollment",
    "members_platformrider",
    "members_member",
)


def database_floor(
    tables: dict, *, immediate: bool, chunk: int | None, fk_off: bool = False
) -> dict:
    """(c) COPY the prepared rows into the four real tables, one transaction,
    commit included (deferred FK checks run there). With `chunk`, one COPY per
    table per chunk of rows (as a pipeline would), else one COPY per table."""
    conn = connect()
    with conn, conn.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    with conn.cursor() as cur:
        cur.execute("CHECKPOINT")
    conn.commit()
    clock = Clock(conn)
    times: dict[str, float] = {}
    with clock:
        with conn.cursor() as cur:
            if immediate:
                cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
            if fk_off:  # superuser only; fires no trigger, so no FK check
                cur.execute("SET LOCAL session_replication_role = replica")
            for name, (target, text) in tables.items():
                t = time.perf_counter()
                lines = text.splitlines(keepends=True)
                step = chunk or len(lines)
                for i in range(0, len(lines), step):
                    cur.copy_expert(
                        f"COPY {target} FROM STDIN",
                        io.StringIO("".join(lines[i : i + step])),
                        size=1 << 16,
                    )
                times[name] = time.perf_counter() - t
        t = time.perf_counter()
        conn.commit()
        times["commit"] = time.perf_counter() - t
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM members_notification")
        assert cur.fetchone()[0] == len(tables["notices"][1].splitlines())
    conn.close()
    times["total"] = clock.wall
    times["cpu"] = clock.cpu
    return times


def run(n: int, cores: int) -> None:
    program, platform = setup()
    work = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    csv_path = work / "riders.csv"
    write_csv(csv_path, n)
    print(f"load average before: {os.getloadavg()}")
    print(f"{n} rows, {csv_path.stat().st_size / 1e6:.1f} MB, {cores} cores")

    runs = sorted(raw_copy(csv_path) for _ in range(3))
    a_wall, a_cpu = runs[1]
    a_rate = n / a_wall
    print(
        f"(a) raw COPY (median of {', '.join(f'{w:.3f}' for w, _ in runs)} s): "
        f"{a_wall:.3f} s = {a_rate:,.0f} rows/s (backend CPU {a_cpu:.2f} s)"
    )

    py, staged = python_work(csv_path)
    valid = "\tt\t\\N\t\\N\t\\N\t\\N\tf\t\\N\n"  # valid, no error, no outcome
    assert len(staged) == n and all(s.endswith(valid) for s in staged)
    b_rate = n / py["all"]
    print(
        f"(b) Python per row, one core: {py['all']:.2f} s CPU "
        f"({py['all wall']:.2f} s wall) = {b_rate:,.0f} rows/s "
        f"= {py['all'] / n * 1e6:.1f} µs/row; ratio to (a) {b_rate / a_rate:.3f}"
    )
    print(
        f"    of which csv parse {py['csv parse'] / n * 1e6:.1f} µs/row, "
        f"2 × AES-GCM + 2 × HMAC {py['crypto'] / n * 1e6:.1f} µs/row"
    )

    tables = final_rows(staged, program=program, platform=platform)
    del staged
    floors = []
    for immediate in (False, True):
        for chunk in (None, CHUNK):
            t = database_floor(tables, immediate=immediate, chunk=chunk)
            floors.append(t)
            label = (
                f"FKs {'immediate' if immediate else 'deferred'}, "
                f"{'one COPY per table' if chunk is None else f'{chunk}-row COPYs'}"
            )
            steps = (
                " ".join(
                    f"{k} {t[k]:.2f}" for k in ("members", "riders", "enrollments")
                )
                + f" notices {t['notices']:.2f} commit {t['commit']:.2f}"
            )
            print(
                f"(c) {label}: {t['total']:.2f} s = {n / t['total']:,.0f} rows/s "
                f"(backend CPU {t['cpu']:.2f} s); ratio to (a) "
                f"{n / t['total'] / a_rate:.3f}  [{steps}]"
            )
    t = database_floor(tables, immediate=False, chunk=None, fk_off=True)
    print(
        f"    for reference only, FK checks skipped (session_replication_role = "
        f"replica; not an option for the app): {t['total']:.2f} s = "
        f"{n / t['total']:,.0f} rows/s (backend CPU {t['cpu']:.2f} s); ratio to (a) "
        f"{n / t['total'] / a_rate:.3f}"
    )
    # The bound uses CPU time (this process's for (b), the backend's for (c)):
    # on a shared machine the wall clock also counts other people's work.
    best = min(floors, key=lambda t: t["cpu"])
    db_us = best["cpu"] / n * 1e6
    py_us = py["all"] / n * 1e6
    print(
        f"database floor (least backend CPU of the four): {best['cpu']:.2f} s CPU "
        f"= {n / best['cpu']:,.0f} rows/s on one core = {db_us:.1f} µs/row; "
        f"ratio to (a) {n / best['cpu'] / a_rate:.3f}"
    )
    bound = cores / ((py_us + db_us) / 1e6)
    print(
        f"upper bound, {cores} cores, Python and database perfectly overlapped: "
        f"{cores} / ({py_us:.1f} + {db_us:.1f} µs) = {bound:,.0f} rows/s; "
        f"ratio to (a) {bound / a_rate:.3f} (goal 0.33 = {0.33 * a_rate:,.0f} rows/s)"
    )
    print(
        f"even with free Python, the database alone on {cores} cores: "
        f"{cores * n / best['cpu']:,.0f} rows/s; ratio "
        f"{cores * n / best['cpu'] / a_rate:.3f}; the crypto alone on {cores} cores: "
        f"{cores * n / py['crypto']:,.0f} rows/s; ratio "
        f"{cores * n / py['crypto'] / a_rate:.3f}"
    )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
