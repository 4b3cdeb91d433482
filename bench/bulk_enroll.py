"""Benchmark: N platform riders through the whole batch path vs a raw COPY.

    .venv/bin/python bench/bulk_enroll.py --rows 100000

Creates a fresh PostgreSQL database (default portal_bench_api), migrates it,
issues a platform key, writes an N-row CSV, starts gunicorn and a real
`celery -A portal worker` subprocess (Redis DB from --redis), uploads the file
over HTTP and polls the batch until it is done. In the same run it COPYs the same
file into a scratch table (the reference). Prints riders/s for both, their ratio
and the worker's peak RSS (polled from /proc every 50 ms).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = ROOT / ".venv" / "bin"
HEADER = (
    "name,id_number,phone,occupation,city_code,platform_rider_id,"
    "joined_platform_on,consent_ref,consented_at"
)
W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"


def id_number(i: int) -> str:
    born = date(1970, 1, 1) + timedelta(days=i // 900)
    first17 = f"440305{born:%Y%m%d}{i % 900 + 100:03d}"
    return (
        first17
        + "10X98765432"[sum(int(c) * w for c, w in zip(first17, W, strict=True)) % 11]
    )


def write_csv(path: Path, rows: int) -> None:
    occupations = ("外卖员", "快递员", "网约车司机", "货车司机")
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(HEADER + "\n")
        for i in range(rows):
            fh.write(
                f"{SURNAMES[i % 20]}骑手,{id_number(i)},13{i % 10}{i:08d},"
                f"{occupations[i % 4]},440305,BENCH{i},2024-01-01,C{i},"
                "2026-01-01 10:00:00\n"
            )


def bench_env(db_url: str, redis_url: str, storage: str) -> dict:
    key = base64.urlsafe_b64encode(b"b" * 32).decode().rstrip("=")
    env = dict(os.environ)
    env.update(
        {
            "PORTAL_SKIP_DOTENV": "1",
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "bench-only-secret-" + "x" * 40,
            "FIELD_ENCRYPTION_KEYS": f"bench:{key}",
            "BLIND_INDEX_KEY": "bench-blind-index-key",
            "DEBUG": "False",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "False",
            "SECURE_COOKIES": "False",
            "PRIVATE_STORAGE_ROOT": storage,
            "LOG_LEVEL": "INFO",
            "CELERY_TASK_SOFT_TIME_LIMIT": "3000",
            "CELERY_TASK_TIME_LIMIT": "3600",
            # settings.py (since the notifications merge) refuses to start unless both
            # of these exceed CELERY_TASK_TIME_LIMIT.
            "CELERY_VISIBILITY_TIMEOUT": "4000",
            "NOTIFICATION_STUCK_MINUTES": "70",
        }
    )
    return env


class RssPoller(threading.Thread):
    """Peak resident set of a process and its children, from /proc: the largest
    single process (peak_kb), and the largest total over all of them, as RSS
    (counts pages shared after fork in every process) and as PSS (shares them)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self.peak_sum_kb = 0
        self.peak_pss_kb = 0
        self.stop = False

    def _pids(self) -> list[int]:
        pids = [self.pid]
        try:
            for task in Path(f"/proc/{self.pid}/task").iterdir():
                children = (task / "children").read_text().split()
                pids += [int(c) for c in children]
        except OSError:
            pass
        return pids

    def run(self) -> None:
        while not self.stop:
            total = pss = 0
            for pid in self._pids():
                try:
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            rss = int(line.split()[1])
                            self.peak_kb = max(self.peak_kb, rss)
                            total += rss
                    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
                    for line in rollup.splitlines():
                        if line.startswith("Pss:"):
                            pss += int(line.split()[1])
                except OSError:
                    pass
            self.peak_sum_kb = max(self.peak_sum_kb, total)
            self.peak_pss_kb = max(self.peak_pss_kb, pss)
            time.sleep(0.05)


def create_e_road_program():
    """The union tree and program a bench batch enrolls into: the national
    federation, Nanshan's gig-worker pool and E路守护 (named enrollment)."""
    from members.models import OrgKind, OrgLevel, UnionOrg
    from services.models import EnrollmentMode, Program

    root = UnionOrg.objects.create(
        name="中华全国总工会",
        level=OrgLevel.NATIONAL,
        kind=OrgKind.FEDERATION,
        region_code="100000",
        path="/1/",
    )
    pool = UnionOrg.objects.create(
        name="南山区新业态联合工会",
        level=OrgLevel.STREET,
        kind=OrgKind.ALLIANCE,
        region_code="440305",
        parent=root,
        is_gig_pool=True,
    )
    return Program.objects.create(
        code="e-road",
        name="E路守护",
        sponsor_org=pool,
        region_prefix="4403",
        enrollment_mode=EnrollmentMode.NAMED,
        starts_on=date(2021, 1, 1),
    )


def upload(port: int, key: str, path: Path, program: str) -> dict:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="program"\r\n\r\n'
        f"{program}\r\n--{boundary}\r\nContent-Disposition: form-data; "
        f'name="file"; filename="riders.csv"\r\nContent-Type: text/csv\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = len(head) + path.stat().st_size + len(tail)

    def body():
        yield head
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                yield chunk
        yield tail

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request(
        "POST",
        "/api/v1/enrollment-batches/",
        body=body(),
        headers={
            "Authorization": f"Bearer {key}",
            "Idempotency-Key": uuid.uuid4().hex,
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(size),
        },
    )
    response = conn.getresponse()
    payload = response.read()
    if response.status != 202:
        raise SystemExit(f"upload failed: {response.status} {payload[:500]!r}")
    return json.loads(payload)


def get_json(port: int, key: str, path: str) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers={"Authorization": f"Bearer {key}"})
    response = conn.getresponse()
    return json.loads(response.read())


def wait_http(port: int) -> None:
    for _ in range(200):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--db", default="portal_bench_api")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--port", type=int, default=8105)
    parser.add_argument("--workers", type=int, default=2, help="celery concurrency")
    args = parser.parse_args()

    db_url = f"{args.pg}/{args.db}"
    work = Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    env = bench_env(db_url, args.redis, str(work / "private"))
    os.environ.update(env)

    import psycopg2

    admin = psycopg2.connect(f"{args.pg}/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{args.db}"')
        cur.execute(f'CREATE DATABASE "{args.db}"')
    admin.close()
    subprocess.run(
        [BIN / "python", "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True
    )
    subprocess.run(
        [
            BIN / "redis-cli" if (BIN / "redis-cli").exists() else "redis-cli",
            "-u",
            args.redis,
            "FLUSHDB",
        ],
        check=False,
        stdout=subprocess.DEVNULL,
    )

    import django

    django.setup()
    from members.actions.api_keys import platform_key_issue, platform_networks_set
    from members.ip_allowlist import LOOPBACK

    create_e_road_program()
    issued = platform_key_issue(platform_code="bench", name="bench")
    # gunicorn below listens on 127.0.0.1 only (security.md AP2 allow-list)
    platform_networks_set(platform=issued.key.platform, networks=list(LOOPBACK))
    key = issued.plaintext

    csv_path = work / "riders.csv"
    t = time.perf_counter()
    write_csv(csv_path, args.rows)
    print(
        f"generated {args.rows} rows ({csv_path.stat().st_size / 1e6:.1f} MB) "
        f"in {time.perf_counter() - t:.1f}s"
    )

    # Reference: a raw COPY of the same file into a scratch table.
    conn = psycopg2.connect(db_url)
    with conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE bench_raw_copy (name text, id_number text, phone text, "
            "occupation text, city_code text, platform_rider_id text, "
            "joined_platform_on text, consent_ref text, consented_at text)"
        )
    t = time.perf_counter()
    with conn, conn.cursor() as cur, csv_path.open("rb") as fh:
        cur.copy_expert("COPY bench_raw_copy FROM STDIN WITH (FORMAT csv, HEADER)", fh)
    copy_s = time.perf_counter() - t
    conn.close()

    logs = work / "logs"
    logs.mkdir()
    gunicorn = subprocess.Popen(
        [
            BIN / "gunicorn",
            "portal.wsgi",
            "-b",
            f"127.0.0.1:{args.port}",
            "-w",
            "2",
            "--timeout",
            "600",
        ],
        cwd=ROOT,
        env=env,
        stdout=(logs / "gunicorn.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    worker = subprocess.Popen(
        [
            BIN / "celery",
            "-A",
            "portal",
            "worker",
            "-Q",
            "bulk,default",
            "-c",
            str(args.workers),
            "-l",
            "INFO",
            "-n",
            f"bench-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=(logs / "worker.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    poller = RssPoller(worker.pid)
    poller.start()
    try:
        wait_http(args.port)
        time.sleep(3)  # let the worker connect
        idle_kb = poller.peak_kb
        t = time.perf_counter()
        accepted = upload(args.port, key, csv_path, "e-road")
        upload_s = time.perf_counter() - t
        path = f"/api/v1/enrollment-batches/{accepted['id']}/"
        last = None
        while True:
            detail = get_json(args.port, key, path)
            if detail["processed_rows"] != last:
                last = detail["processed_rows"]
                print(
                    f"  {time.perf_counter() - t:6.1f}s {detail['status']:10} "
                    f"{detail['processed_rows']}/{detail['total_rows']}"
                )
            if detail["status"] in ("done", "failed"):
                break
            time.sleep(0.25)
        total_s = time.perf_counter() - t
    finally:
        poller.stop = True
        for proc in (gunicorn, worker):
            proc.terminate()
        for proc in (gunicorn, worker):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    # Step timers of the chunks (services/actions/batches.py logs them at INFO).
    for line in (logs / "worker.log").read_text(errors="replace").splitlines():
        step = "staged:" in line or " rows " in line
        if "services.actions.batches" in line and step:
            try:
                print("  step", json.loads(line[line.index("{") :])["msg"])
            except ValueError:
                print("  step", line[-200:])
    rate = args.rows / total_s
    copy_rate = args.rows / copy_s
    print(
        f"batch: status={detail['status']} created={detail['created']} "
        f"already={detail['already_enrolled']} rejected={detail['rejected']}"
    )
    print(f"upload (HTTP, streamed): {upload_s:.2f}s")
    print(f"whole path: {total_s:.2f}s = {rate:,.0f} riders/s")
    print(f"raw COPY:   {copy_s:.2f}s = {copy_rate:,.0f} rows/s")
    print(f"ratio whole path / raw COPY = {rate / copy_rate:.3f}")
    print(
        f"worker peak RSS: {poller.peak_kb / 1024:.0f} MB per process "
        f"(idle before upload {idle_kb / 1024:.0f} MB); all {args.workers + 1} "
        f"processes together: RSS {poller.peak_sum_kb / 1024:.0f} MB, "
        f"PSS {poller.peak_pss_kb / 1024:.0f} MB"
    )


if __name__ == "__main__":
    main()
