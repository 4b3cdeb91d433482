"""security.md L1: 50 simulated workers for 10 minutes against the production
server on this (2-core) machine: register / log in / apply / enroll / browse.

Goal: 0 responses 5xx; p95 < 1 s for every endpoint outside login (the password
POSTs hash with PBKDF2, ~228 ms of CPU each: they may queue, never fail).

What runs (all started here, stopped at the end, nothing left behind):
* a scratch PostgreSQL database (bench/_scratch.py helpers), migrated, with the
  demo data (members.demo / services.demo, as `seed_demo`), the default beat
  schedules, and --accounts approved members (sanitation / construction /
  domestic workers, so each has a named program to enroll in) sharing one
  password, hashed once with the production hasher (PBKDF2);
* `collectstatic` when static/ changed since the last one (DEBUG=False serves
  the hashed names through WhiteNoise);
* granian as in production (WSGI, --workers 2, 1 blocking thread, no access log)
  with DEBUG=False, production password hashers, Redis (own DB) for cache,
  throttles and Celery, PROXY_COUNT=1 (the simulated phones send their own
  X-Forwarded-For, as behind the production proxy), and the console SMS backend
  (members.sms.ConsoleSmsBackend) whose output the simulated workers read;
* a Celery worker (queues default, otp, notifications, bulk) and one beat: the
  journeys write outbox rows (application submitted, enrolled, withdrawn) that
  beat dispatches every minute and the worker delivers to /messages/;
* locust (bench/locustfile.py: the journeys) headless with --users simulated
  workers plus one /healthz probe, for --minutes.

Reference measured in the same run: /healthz on the idle server just before
the load (closed loop, 2 keep-alive connections, --ref-seconds) gives its
throughput and median; under the load the probe asks /healthz once a second.
Each endpoint's median is printed as a multiple of the probe's median.

Prints per endpoint: count, p50/p95/p99/max (exact, from every request), 5xx,
429 and other 4xx counts; journeys completed; CPU seconds used by the server,
Celery, PostgreSQL backends and locust; ERROR lines in the server log. Exits
non-zero on any 5xx or connection error (or if no journey completed).

Usage:  flock /tmp/heavy.lock .venv/bin/python bench/load_l1.py
        [--minutes 10] [--users 50] [--spawn-rate 5] [--think 1,3]
        [--accounts 800] [--port 8420] [--ref-seconds 10] [--keep-db]
        [--workers 2] [--blocking-threads 1]
        [--db-url postgres://postgres@127.0.0.1:5432/portal_bench_loadtest]
        [--redis-url redis://127.0.0.1:6379/4] [--json out.json]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _scratch import create_database, drop_database  # noqa: E402

BENCH_ENV = {
    "PORTAL_SKIP_DOTENV": "1",
    "DJANGO_SETTINGS_MODULE": "portal.settings",
    "DEBUG": "False",
    "SECRET_KEY": "bench-only-secret-key-" + "l" * 40,
    "FIELD_ENCRYPTION_KEYS": "bench1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY",
    "BLIND_INDEX_KEY": "bench-only-blind-index-key",
    "AUDIT_SHIP_HMAC_KEY": "bench-only-audit-ship-key",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    # Behind the production proxy: client address from X-Forwarded-For, HTTPS
    # from X-Forwarded-Proto (so SSL redirect, HSTS and Secure cookies stay on).
    "PROXY_COUNT": "1",
    "SMS_BACKEND": "members.sms.ConsoleSmsBackend",
    "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
    "LOG_LEVEL": "WARNING",
}
HASHING = ("POST /login/ [password]", "POST /register/ [register]")
P95_GOAL_MS = 1000.0


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[k]


# --- seeding -------------------------------------------------------------------

OCCUPATIONS = [  # (occupation, named program it may enroll in, birth year)
    ("sanitation", "sanitation", 1978),
    ("construction", "construction", 1985),
    ("domestic", "domestic", 1975),
]


def account_phone(i: int) -> str:
    # 139 0000 NNNN: the masked form 139****NNNN is unique for i < 10,000.
    return f"1390000{i:04d}"


def seed(*, accounts: int, password: str) -> dict:
    """Demo data + `accounts` approved members. Returns what the journeys need:
    {"password", "phones", "programs" (phone → program code), "stations"}."""
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command

    from members import demo as members_demo
    from members.models import EmploymentCategory, Member, MemberStatus, User
    from members.validators import id_check_char
    from services import demo as services_demo
    from services.models import Station
    from services.reference_data import shenzhen_federation

    out = io.StringIO()
    members_demo.seed(stdout=out)
    services_demo.seed(stdout=out)
    call_command("sync_schedules", stdout=out)
    from members.models import UnionOrg

    org = shenzhen_federation(union_org_model=UnionOrg)
    hashed = make_password(password)  # the production hasher, once for all
    phones, programs = [], {}
    users = []
    for i in range(accounts):
        phone = account_phone(i)
        user = User(username=f"l1_{i:05d}", password=hashed)
        user.set_phone(phone)
        user.phone_verified_at = user.date_joined
        users.append(user)
        phones.append(phone)
    User.objects.bulk_create(users, batch_size=1000)
    users = {u.username: u for u in User.objects.filter(username__startswith="l1_")}
    members = []
    today = date.today()  # noqa: DTZ011 - a calendar date for ages
    for i, phone in enumerate(phones):
        occupation, program, year = OCCUPATIONS[i % len(OCCUPATIONS)]
        born = date(year, 1, 1) + timedelta(days=i % 365)
        first17 = f"440305{born:%Y%m%d}{i % 1000:03d}"
        member = Member(
            user=users[f"l1_{i:05d}"],
            name="负载" + "甲乙丙丁戊"[i % 5] + "师傅",
            birth_date=born,
            gender="M" if i % 2 else "F",
            occupation=occupation,
            employment_category=EmploymentCategory.WRITTEN_AGREEMENT,
            hukou_county="440305",
            residence_county="440305",
            org=org,
            status=MemberStatus.ACTIVE,
            member_no=f"L1{i:08d}",
            joined_on=today - timedelta(days=30),
        )
        member.set_id_number(first17 + id_check_char(first17))
        member.set_phone(phone)
        members.append(member)
        programs[phone] = program
    Member.objects.bulk_create(members, batch_size=1000)
    stations = list(Station.objects.values_list("id", flat=True))
    return {
        "password": password,
        "phones": phones,
        "programs": programs,
        "stations": stations,
    }


def static_stale() -> bool:
    """collectstatic (compressing ~44 MB, minutes on 2 cores) only when the
    manifest is missing or older than a file under static/."""
    from django.conf import settings

    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    return any(
        p.stat().st_mtime > built for p in (ROOT / "static").rglob("*") if p.is_file()
    )


# --- processes -------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _tree(pid: int) -> list[int]:
    """pid and its descendants."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, []))
    return out


def _machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(x) for x in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class Cpu:
    """CPU seconds of process trees and PostgreSQL backends of one database."""

    def __init__(self, dbname: str):
        self.dbname = dbname
        self.backends: dict[int, float] = {}
        self.start: dict[int, float] = {}

    def _backends(self) -> list[int]:
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s"
                " AND pid <> pg_backend_pid()",
                [self.dbname],
            )
            return [r[0] for r in cur.fetchall()]

    def pg_snapshot(self) -> None:
        for pid in self._backends():
            cpu = _proc_cpu(pid)
            self.start.setdefault(pid, cpu)
            self.backends[pid] = cpu

    def pg_used(self) -> float:
        return sum(self.backends[p] - self.start[p] for p in self.backends)


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    handle = open(log, "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(  # noqa: S603
        cmd, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
    )


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _get(port: int, path: str, headers: dict, conn=None):
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    return conn, response.status


def wait_ready(port: int, proc: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server exited ({proc.returncode}); see its log")
        try:
            conn, status = _get(port, "/healthz", PROXY_HEADERS)
            conn.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit("the server did not answer /healthz")


PROXY_HEADERS = {"X-Forwarded-For": "10.255.255.253", "X-Forwarded-Proto": "https"}


def healthz_reference(port: int, seconds: float, connections: int = 2) -> dict:
    """/healthz on the idle server: closed loop, keep-alive connections."""
    latencies: list[float] = []
    errors = [0]
    stop_at = time.monotonic() + seconds

    def loop() -> None:
        conn = None
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            try:
                conn, status = _get(port, "/healthz", PROXY_HEADERS, conn)
            except OSError:
                errors[0] += 1
                conn = None
                continue
            latencies.append((time.perf_counter() - t0) * 1000)
            if status != 200:
                errors[0] += 1

    threads = [threading.Thread(target=loop) for _ in range(connections)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": pct(latencies, 50),
        "p95": pct(latencies, 95),
        "errors": errors[0],
    }


def run_locust(
    *,
    host: str,
    seconds: int,
    users: int,
    spawn_rate: float,
    think: str,
    accounts_file: Path,
    sms_log: Path,
    result_file: Path,
    log: Path,
    seed_value: int = 1,
) -> subprocess.Popen:
    env = {
        **os.environ,
        "L1_SMS_LOG": str(sms_log),
        "L1_RESULT": str(result_file),
        "L1_ACCOUNTS": str(accounts_file),
        "L1_THINK": think,
        "L1_SEED": str(seed_value),
    }
    cmd = [
        str(Path(sys.executable).parent / "locust"),
        "-f",
        str(ROOT / "bench" / "locustfile.py"),
        "--headless",
        "--users",
        str(users + 1),  # + the /healthz probe
        "--spawn-rate",
        str(spawn_rate),
        "--run-time",
        f"{seconds}s",
        "--host",
        host,
        "--stop-timeout",
        "30",
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--exit-code-on-error",
        "0",
    ]
    return start(cmd, env, log)


# --- report -----------------------------------------------------------------------


def summarise(result: dict, probe_p50: float | None) -> tuple[list[dict], dict]:
    rows = []
    totals = {"requests": 0, "5xx": 0, "429": 0, "4xx": 0, "conn": 0}
    for name, entry in sorted(result["requests"].items()):
        status = {int(k): v for k, v in entry["status"].items()}
        ms = entry["ms"]
        row = {
            "name": name,
            "count": len(ms),
            "p50": pct(ms, 50),
            "p95": pct(ms, 95),
            "p99": pct(ms, 99),
            "max": max(ms) if ms else float("nan"),
            "5xx": sum(v for k, v in status.items() if k >= 500),
            "429": status.get(429, 0),
            "4xx": sum(v for k, v in status.items() if 400 <= k < 500 and k != 429),
            "conn": status.get(0, 0),
            "status": status,
            "errors": entry.get("errors", {}),
        }
        row["x_probe"] = row["p50"] / probe_p50 if probe_p50 else float("nan")
        rows.append(row)
        totals["requests"] += row["count"]
        for k in ("5xx", "429", "4xx", "conn"):
            totals[k] += row[k]
    return rows, totals


def print_table(rows: list[dict]) -> None:
    head = (
        f"{'endpoint':<52} {'count':>6} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}"
        f" {'5xx':>4} {'429':>4} {'4xx':>4} {'x probe':>7}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['name'][:52]:<52} {r['count']:>6} {r['p50']:>7.1f} {r['p95']:>7.1f}"
            f" {r['p99']:>7.1f} {r['max']:>7.1f} {r['5xx']:>4} {r['429']:>4}"
            f" {r['4xx']:>4} {r['x_probe']:>7.1f}"
        )


def server_errors(log: Path) -> list[str]:
    """ERROR / CRITICAL records and tracebacks in a JSON-lines server log."""
    out = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("Traceback") or any(
            f'"level": "{level}"' in line for level in ("ERROR", "CRITICAL")
        ):
            out.append(line[:400])
    return out


def db_counts() -> dict:
    from members.models import MembershipApplication, Notification, User
    from services.models import Enrollment

    return {
        "accounts registered": User.objects.filter(
            username__startswith="w", is_staff=False
        ).count(),
        "join applications": MembershipApplication.objects.count(),
        "enrollments (rows)": Enrollment.objects.count(),
        "notices sent": Notification.objects.filter(status="sent").count(),
        "notices pending": Notification.objects.filter(status="pending").count(),
        "notices other": Notification.objects.exclude(
            status__in=["sent", "pending"]
        ).count(),
    }


# --- main ---------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=float, default=5)
    parser.add_argument("--think", default="1,3", help="seconds between pages")
    parser.add_argument("--accounts", type=int, default=800)
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--workers", type=int, default=2, help="granian workers")
    parser.add_argument(
        "--blocking-threads", type=int, default=1, help="granian threads per worker"
    )
    parser.add_argument("--ref-seconds", type=float, default=10)
    parser.add_argument(
        "--db-url", default="postgres://postgres@127.0.0.1:5432/portal_bench_loadtest"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/4")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--json", help="write the figures here as JSON")
    args = parser.parse_args()
    if args.accounts > 10_000:
        sys.exit("--accounts: at most 10,000 (masked phones must stay unique)")

    dbname = urlparse(args.db_url).path.lstrip("/")
    if not dbname.startswith("portal_bench"):
        sys.exit("refusing: the bench database name must start with portal_bench")
    drop_database(args.db_url, dbname)  # a fresh database every run
    create_database(args.db_url, dbname)
    server_env = {**os.environ, **BENCH_ENV, "DATABASE_URL": args.db_url}
    server_env["REDIS_URL"] = args.redis_url
    # This process: the same settings without Redis (eager, local cache).
    os.environ.update({**BENCH_ENV, "DATABASE_URL": args.db_url})
    os.environ.pop("REDIS_URL", None)

    import django

    django.setup()
    import redis
    from django.core.management import call_command

    redis.Redis.from_url(args.redis_url).flushdb()  # this run's own Redis DB
    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    if static_stale():
        call_command("collectstatic", verbosity=0, interactive=False)
    password = "负载测试用的一句长密码-" + os.urandom(4).hex()
    seeded = seed(accounts=args.accounts, password=password)
    print(
        f"database {dbname}: migrated and seeded in {time.perf_counter() - t0:.1f} s"
        f" ({len(seeded['phones'])} members, {len(seeded['stations'])} stations)"
    )

    work = Path(tempfile.mkdtemp(prefix="l1-"))
    accounts_file = work / "accounts.json"
    accounts_file.write_text(json.dumps(seeded), encoding="utf-8")
    sms_log, server_log = work / "server.out", work / "server.err"
    celery_log, locust_log = work / "celery.log", work / "locust.log"
    result_file = work / "result.json"
    bin_dir = Path(sys.executable).parent
    granian_cmd = [
        str(bin_dir / "granian"),
        "--interface",
        "wsgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
        "--workers",
        str(args.workers),
        "--blocking-threads",
        str(args.blocking_threads),
        "--respawn-failed-workers",
        "--log-level",
        "warning",
        "--no-access-log",
        "portal.wsgi:application",
    ]
    # stdout (the console SMS backend's lines) and stderr (JSON log) apart.
    sms_handle = open(sms_log, "ab")  # noqa: SIM115
    err_handle = open(server_log, "ab")  # noqa: SIM115
    procs: dict[str, subprocess.Popen] = {}
    cpu = Cpu(dbname)
    exit_code = 0
    try:
        procs["server"] = subprocess.Popen(  # noqa: S603
            granian_cmd, cwd=ROOT, env=server_env, stdout=sms_handle, stderr=err_handle
        )
        procs["celery worker"] = start(
            [
                str(bin_dir / "celery"),
                "-A",
                "portal",
                "worker",
                "-Q",
                "default,otp,notifications,bulk",
                "-c",
                "2",
                "-n",
                f"l1-{os.getpid()}@%h",
                "--loglevel",
                "WARNING",
            ],
            server_env,
            celery_log,
        )
        procs["celery beat"] = start(
            [
                str(bin_dir / "celery"),
                "-A",
                "portal",
                "beat",
                "--loglevel",
                "WARNING",
                "--schedule",
                str(work / "beat-schedule"),
                "--pidfile",
                str(work / "beat.pid"),
            ],
            server_env,
            celery_log,
        )
        wait_ready(args.port, procs["server"])
        ref = healthz_reference(args.port, args.ref_seconds)
        print(
            f"reference, idle server: /healthz {ref['rps']:.0f} req/s (2 keep-alive"
            f" connections, {ref['requests']} requests), p50 {ref['p50']:.2f} ms,"
            f" p95 {ref['p95']:.2f} ms, errors {ref['errors']}"
        )
        load_before = os.getloadavg()
        seconds = round(args.minutes * 60)
        cpu.pg_snapshot()
        trees_before = {
            k: sum(_proc_cpu(p) for p in _tree(v.pid)) for k, v in procs.items()
        }
        busy0, total0 = _machine_busy()
        started = time.perf_counter()
        procs["locust"] = run_locust(
            host=f"http://127.0.0.1:{args.port}",
            seconds=seconds,
            users=args.users,
            spawn_rate=args.spawn_rate,
            think=args.think,
            accounts_file=accounts_file,
            sms_log=sms_log,
            result_file=result_file,
            log=locust_log,
        )
        print(
            f"load: {args.users} simulated workers + 1 probe for {seconds} s"
            f" (think {args.think} s), load average before {load_before}"
        )
        print("server: granian " + " ".join(granian_cmd[1:]), flush=True)
        loads = []
        locust_cpu = 0.0
        while procs["locust"].poll() is None:
            time.sleep(5)
            cpu.pg_snapshot()
            loads.append(os.getloadavg()[0])
            locust_cpu = max(
                locust_cpu, sum(_proc_cpu(p) for p in _tree(procs["locust"].pid))
            )
            if time.perf_counter() - started > seconds + 120:
                print("locust overran by 2 minutes: stopping it")
                stop(procs["locust"])
        elapsed = time.perf_counter() - started
        busy1, total1 = _machine_busy()
        cpu.pg_snapshot()
        trees_after = {
            k: sum(_proc_cpu(p) for p in _tree(v.pid))
            for k, v in procs.items()
            if k != "locust"
        }
        if not result_file.exists():
            print(locust_log.read_text(errors="replace")[-3000:])
            sys.exit("locust wrote no results")
        result = json.loads(result_file.read_text(encoding="utf-8"))
        probe = result["requests"].get("GET /healthz [probe]", {}).get("ms", [])
        probe_p50 = pct(probe, 50) if probe else None
        rows, totals = summarise(result, probe_p50)
        print()
        print(
            f"{totals['requests']:,} requests in {elapsed:.0f} s"
            f" ({totals['requests'] / elapsed:.1f} req/s); times in ms; x probe ="
            " p50 / the /healthz probe's p50 under the same load"
        )
        print_table(rows)
        print()
        print("journeys:", json.dumps(result["journeys"], ensure_ascii=False))
        counts = db_counts()
        print("database:", json.dumps(counts, ensure_ascii=False))
        used = {k: trees_after[k] - trees_before[k] for k in trees_after}
        used["postgres (this database)"] = cpu.pg_used()
        used["locust"] = locust_cpu
        machine = (busy1 - busy0) / _TICK
        print(
            "CPU seconds during the load: "
            + ", ".join(f"{k} {v:.1f}" for k, v in used.items())
            + f"; whole machine {machine:.1f} of {(total1 - total0) / _TICK:.1f}"
            f" ({os.cpu_count()} cores)"
        )
        print(
            f"load average (1 min) during the run: min {min(loads, default=0):.2f}"
            f" max {max(loads, default=0):.2f}; at the end {os.getloadavg()}"
        )
        errors = server_errors(server_log)
        print(f"server log ERROR lines: {len(errors)}")
        for line in errors[:10]:
            print("  " + line)
        others = [
            r for r in rows if r["name"] not in HASHING and "[probe]" not in r["name"]
        ]
        worst = max(others, key=lambda r: r["p95"], default=None)
        hashing = [r for r in rows if r["name"] in HASHING]
        print()
        print(
            f"5xx: {totals['5xx']}; connection errors: {totals['conn']};"
            f" 429: {totals['429']}; other 4xx: {totals['4xx']}"
        )
        if worst is not None:
            verdict = "met" if worst["p95"] < P95_GOAL_MS else "NOT met"
            print(
                f"p95 outside login: worst {worst['name']} {worst['p95']:.1f} ms"
                f" -> goal < {P95_GOAL_MS:.0f} ms {verdict}"
            )
        for r in hashing:
            print(f"hashing endpoint {r['name']}: p95 {r['p95']:.1f} ms")
        completed = sum(
            v
            for k, v in result["journeys"].items()
            if k in ("registered", "login (new device, SMS)", "login (trusted device)")
        )
        if totals["5xx"] or totals["conn"]:
            exit_code = 1
            print("FAIL: 5xx responses or connection errors")
        elif not completed:
            exit_code = 1
            print("FAIL: no journey completed")
        if args.json:
            Path(args.json).write_text(
                json.dumps(
                    {
                        "reference": ref,
                        "rows": rows,
                        "totals": totals,
                        "journeys": result["journeys"],
                        "database": counts,
                        "cpu_seconds": used,
                        "machine_cpu_seconds": machine,
                        "elapsed": elapsed,
                        "server_errors": errors,
                    },
                    ensure_ascii=False,
                    indent=1,
                ),
                encoding="utf-8",
            )
        print(f"logs: {work}")
    finally:
        for name in ("locust", "celery beat", "celery worker", "server"):
            if name in procs:
                stop(procs[name])
        sms_handle.close()
        err_handle.close()
        from django.db import connection

        connection.close()
        if not args.keep_db:
            drop_database(args.db_url, dbname)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
