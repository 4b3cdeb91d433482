"""Nearest-station benchmark (issue #7).

186,000 stations spread over China go straight into a dedicated PostgreSQL
database with COPY; 1,000 random query points (mostly in cities, some anywhere)
then ask for the 10 nearest within 5 km:

* SQL: the selector's own query (bounding box on the (latitude, longitude) index,
  haversine in SQL, ORDER BY distance LIMIT 10), compiled once per point outside
  the timer; the timer covers execute + fetch. The full ORM call (compile, execute,
  build model objects) is reported beside it.
* Naive Python scan (the reference): all coordinates in a Python list, haversine
  over every row, keep the 10 nearest within 5 km. Run on a bounded sample.
* HTTP: GET /api/v1/stations/ against gunicorn started here on a local port
  (2 workers x 4 threads, Redis cache for the throttle), 20 concurrent keep-alive
  clients sharing the 1,000 points; gunicorn is stopped afterwards.

Usage:  .venv/bin/python bench/stations.py [--stations 186000] [--queries 1000]
        [--db-url postgres://postgres@127.0.0.1:5432/portal_bench_stations]
        [--redis-url redis://127.0.0.1:6379/3] [--port 8103]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_ENV = {
    "PORTAL_SKIP_DOTENV": "1",
    "DEBUG": "False",
    "SECRET_KEY": "bench-only-secret-key-" + "b" * 40,
    "FIELD_ENCRYPTION_KEYS": "bench1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY",
    "BLIND_INDEX_KEY": "bench-only-blind-index-key",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "False",
    "SECURE_COOKIES": "False",
    "STATIONS_API_RATE": "100000000/min",  # the throttle still runs, never trips
    "LOG_LEVEL": "WARNING",
    "DJANGO_SETTINGS_MODULE": "portal.settings",
}

CHINA_LAT = (20.0, 45.0)
CHINA_LNG = (100.0, 122.0)
CITY_COUNT = 400


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[k]


def ensure_database(db_url: str) -> None:
    import psycopg2

    url = urlparse(db_url)
    name = url.path.lstrip("/")
    admin = psycopg2.connect(
        host=url.hostname, port=url.port or 5432, user=url.username, dbname="postgres"
    )
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not cur.fetchone():
            cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def cities(rng: random.Random) -> list[tuple[float, float]]:
    return [
        (rng.uniform(21.0, 44.0), rng.uniform(101.0, 121.0)) for _ in range(CITY_COUNT)
    ]


def load_stations(n: int, rng: random.Random, centres) -> None:
    """COPY n stations: 80 % around city centres (sigma ~15 km), 20 % anywhere."""
    from django.db import connection

    from services.models import Station

    table = Station._meta.db_table
    columns = [
        "name",
        "operator_name",
        "address",
        "county_code",
        "latitude",
        "longitude",
        "is_24h",
        *[f.column for f in Station._meta.fields if f.name.startswith("has_")],
        "phone",
        "access_method",
        "access_note",
        "is_active",
        "created_at",
        "updated_at",
    ]
    n_amen = len(columns) - 13
    buf = io.StringIO()
    for i in range(n):
        if rng.random() < 0.8:
            clat, clng = rng.choice(centres)
            lat, lng = rng.gauss(clat, 0.135), rng.gauss(clng, 0.145)
        else:
            lat, lng = rng.uniform(*CHINA_LAT), rng.uniform(*CHINA_LNG)
        amen = ["t" if rng.random() < 0.4 else "f" for _ in range(n_amen)]
        is_24h = "t" if rng.random() < 0.065 else "f"  # 12,100 of 186,100
        row = [
            f"驿站{i}",
            "总工会",
            f"测试路 {i} 号",
            "110101",
            f"{lat:.6f}",
            f"{lng:.6f}",
            is_24h,
            *amen,
            "",
            "open",
            "",
            "t",
            "2025-01-01 00:00:00+00",
            "2025-01-01 00:00:00+00",
        ]
        buf.write("\t".join(row) + "\n")
    buf.seek(0)
    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {table} RESTART IDENTITY CASCADE")
        cur.cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buf)
        cur.execute(f"ANALYZE {table}")


HOUR_PATTERNS = [
    ([(8, 20)], range(7)),  # day
    ([(9, 18)], range(5)),  # office days
    ([(7, 11), (16, 23)], range(7)),  # split
    ([(10, 2)], range(7)),  # past midnight
]


def load_hours(rng: random.Random) -> int:
    """Weekly hours for every station that is not 24 h (~1.2 M rows), by COPY."""
    from django.db import connection

    from services.models import Station, StationHours

    buf = io.StringIO()
    rows = 0
    ids = Station.objects.filter(is_24h=False).values_list("id", flat=True)
    for pk in ids.iterator(chunk_size=10_000):
        intervals, days = HOUR_PATTERNS[rng.randrange(len(HOUR_PATTERNS))]
        for day in days:
            for opens, closes in intervals:
                buf.write(f"{pk}\t{day}\t{opens:02d}:00\t{closes:02d}:00\n")
                rows += 1
    buf.seek(0)
    table = StationHours._meta.db_table
    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {table} RESTART IDENTITY")
        cur.cursor.copy_expert(
            f"COPY {table} (station_id, weekday, opens, closes) FROM STDIN", buf
        )
        cur.execute(f"ANALYZE {table}")
    return rows


def query_points(n: int, rng: random.Random, centres) -> list[tuple[float, float]]:
    points = []
    for _ in range(n):
        if rng.random() < 0.8:
            clat, clng = rng.choice(centres)
            points.append((rng.gauss(clat, 0.1), rng.gauss(clng, 0.1)))
        else:
            points.append((rng.uniform(*CHINA_LAT), rng.uniform(*CHINA_LNG)))
    return points


def bench_sql(points) -> dict:
    from django.db import connection

    from services.selectors.stations import station_nearby_queryset

    sql_ms, orm_ms, found = [], [], []
    with connection.cursor() as cur:
        for lat, lng in points:
            qs = station_nearby_queryset(lat=lat, lng=lng, radius_km=5)[:10]
            sql, params = qs.query.sql_with_params()
            t0 = time.perf_counter()
            cur.execute(sql, params)
            rows = cur.fetchall()
            sql_ms.append((time.perf_counter() - t0) * 1000)
            found.append(len(rows))
        for lat, lng in points:
            t0 = time.perf_counter()
            list(station_nearby_queryset(lat=lat, lng=lng, radius_km=5)[:10])
            orm_ms.append((time.perf_counter() - t0) * 1000)
        # Server-side execution time, immune to client scheduling on a busy box.
        server_ms = []
        for lat, lng in points:
            qs = station_nearby_queryset(lat=lat, lng=lng, radius_km=5)[:10]
            sql, params = qs.query.sql_with_params()
            cur.execute("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + sql, params)
            server_ms.append(cur.fetchone()[0][0]["Execution Time"])
        lat, lng = points[0]
        qs = station_nearby_queryset(lat=lat, lng=lng, radius_km=5)[:10]
        sql, params = qs.query.sql_with_params()
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        plan = "\n".join(r[0] for r in cur.fetchall())
    return {
        "sql": sql_ms,
        "orm": orm_ms,
        "server": server_ms,
        "found": found,
        "plan": plan,
    }


def bench_open_now(points) -> dict:
    """The same search with open_now=True (correlated EXISTS over the hours and
    holidays of the stations inside the box only)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from django.db import connection

    from services.selectors.stations import station_nearby_queryset

    at = datetime(2025, 1, 3, 23, 30, tzinfo=ZoneInfo("Asia/Shanghai"))  # Fri night
    server_ms, found = [], []
    with connection.cursor() as cur:
        for lat, lng in points:
            qs = station_nearby_queryset(
                lat=lat, lng=lng, radius_km=5, open_now=True, at=at
            )[:10]
            sql, params = qs.query.sql_with_params()
            cur.execute("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + sql, params)
            server_ms.append(cur.fetchone()[0][0]["Execution Time"])
            cur.execute(sql, params)
            found.append(len(cur.fetchall()))
        lat, lng = points[0]
        qs = station_nearby_queryset(
            lat=lat, lng=lng, radius_km=5, open_now=True, at=at
        )
        sql, params = qs[:10].query.sql_with_params()
        cur.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql, params)
        plan = "\n".join(r[0] for r in cur.fetchall())
    return {"server": server_ms, "found": found, "plan": plan}


def bench_naive(points, sample: int) -> list[float]:
    from services.geo import haversine_km
    from services.models import Station

    coords = [
        (pk, float(a), float(b))
        for pk, a, b in Station.objects.values_list("id", "latitude", "longitude")
    ]
    out = []
    for lat, lng in points[:sample]:
        t0 = time.perf_counter()
        hits = []
        for pk, a, b in coords:
            d = haversine_km(lat, lng, a, b)
            if d <= 5:
                hits.append((d, pk))
        hits.sort()
        _ = hits[:10]
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def _client(port: int, points, latencies: list[float], errors: list[str]):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for lat, lng in points:
            path = f"/api/v1/stations/?lat={lat:.6f}&lng={lng:.6f}&radius_km=5&limit=10"
            request = (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Connection: keep-alive\r\n\r\n"
            )
            t0 = time.perf_counter()
            writer.write(request.encode())
            await writer.drain()
            status = await reader.readline()
            length = 0
            close = False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                if name.lower() == "connection" and "close" in value.lower():
                    close = True
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - t0) * 1000)
            if b" 200 " not in status:
                errors.append(status.decode().strip())
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


async def _load(
    port: int, points, clients: int
) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    shards = [points[i::clients] for i in range(clients)]
    t0 = time.perf_counter()
    await asyncio.gather(*(_client(port, s, latencies, errors) for s in shards))
    return latencies, errors, time.perf_counter() - t0


def bench_handler_cpu(points, sample: int = 200) -> list[float]:
    """CPU time of the whole Django request (middleware, view, ORM, JSON) in this
    process, per request: unlike wall time, it barely moves with machine load."""
    from django.test import Client
    from django.test.utils import override_settings

    with override_settings(ALLOWED_HOSTS=["testserver"]):
        client = Client()
        out = []
        for lat, lng in points[:sample]:
            url = f"/api/v1/stations/?lat={lat:.6f}&lng={lng:.6f}&radius_km=5&limit=10"
            t0 = time.process_time()
            response = client.get(url)
            out.append((time.process_time() - t0) * 1000)
            assert response.status_code == 200, response.status_code
    return out


def bench_http(points, *, port: int, clients: int, env: dict) -> dict:
    cmd = [
        str(ROOT / ".venv/bin/gunicorn"),
        "portal.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--threads",
        "4",
        "--worker-class",
        "gthread",
        "--keep-alive",
        "30",
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(cmd, cwd=ROOT, env=env)  # noqa: S603
    try:
        for _ in range(100):  # wait up to 10 s for the port
            try:
                asyncio.run(_load(port, points[:4], 1))
                break
            except OSError:
                time.sleep(0.1)
        asyncio.run(_load(port, points[:200], clients))  # warm-up, not measured
        latencies, errors, elapsed = asyncio.run(_load(port, points, clients))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return {"lat": latencies, "errors": errors, "rps": len(latencies) / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stations", type=int, default=186_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--naive-sample", type=int, default=50)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--port", type=int, default=8103)
    parser.add_argument(
        "--db-url", default="postgres://postgres@127.0.0.1:5432/portal_bench_stations"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()

    env = {**os.environ, **BENCH_ENV, "DATABASE_URL": args.db_url}
    env["REDIS_URL"] = args.redis_url
    os.environ.update(env)
    ensure_database(args.db_url)

    import django

    django.setup()
    from django.core.management import call_command

    from services.models import Station

    call_command("migrate", verbosity=0)
    rng = random.Random(186_100)
    centres = cities(rng)
    if Station.objects.count() != args.stations:
        t0 = time.perf_counter()
        load_stations(args.stations, rng, centres)
        print(f"loaded {args.stations:,} stations in {time.perf_counter() - t0:.1f} s")
    from services.models import StationHours

    if not StationHours.objects.exists():
        t0 = time.perf_counter()
        n_hours = load_hours(random.Random(24))
        print(
            f"loaded {n_hours:,} opening-hours rows in {time.perf_counter() - t0:.1f} s"
        )
    points = query_points(args.queries, random.Random(7), centres)

    sql = bench_sql(points)
    naive = bench_naive(points, args.naive_sample)
    sql_p50, sql_p95 = pct(sql["sql"], 50), pct(sql["sql"], 95)
    naive_p50 = pct(naive, 50)
    print(f"stations: {Station.objects.count():,}; query points: {len(points):,}")
    print(
        "points with >=1 station within 5 km: "
        f"{sum(1 for f in sql['found'] if f)}; "
        f"mean hits {statistics.mean(sql['found']):.1f}"
    )
    print(f"SQL  10 nearest within 5 km: p50 {sql_p50:.3f} ms  p95 {sql_p95:.3f} ms")
    print(
        f"SQL  server execution (EXPLAIN ANALYZE): p50 {pct(sql['server'], 50):.3f} ms"
        f"  p95 {pct(sql['server'], 95):.3f} ms"
    )
    print(
        f"ORM  same call incl. compile: p50 {pct(sql['orm'], 50):.3f} ms  "
        f"p95 {pct(sql['orm'], 95):.3f} ms"
    )
    print(
        f"naive Python scan ({len(naive)} points): p50 {naive_p50:.1f} ms  "
        f"p95 {pct(naive, 95):.1f} ms  -> SQL is {naive_p50 / sql_p50:,.0f}x faster"
    )
    open_now = bench_open_now(points)
    print(
        "SQL  open_now=True (Fri 23:30), server execution: "
        f"p50 {pct(open_now['server'], 50):.3f} ms  "
        f"p95 {pct(open_now['server'], 95):.3f} ms; "
        f"mean open hits {statistics.mean(open_now['found']):.1f}"
    )
    cpu = bench_handler_cpu(points)
    print(
        f"API handler CPU per request (in-process, {len(cpu)} calls): "
        f"p50 {pct(cpu, 50):.2f} ms  p95 {pct(cpu, 95):.2f} ms"
    )
    if not args.skip_http:
        http = bench_http(points, port=args.port, clients=args.clients, env=env)
        print(
            f"HTTP {args.clients} clients, {len(http['lat'])} requests: "
            f"p50 {pct(http['lat'], 50):.1f} ms  p95 {pct(http['lat'], 95):.1f} ms  "
            f"{http['rps']:.0f} req/s  non-200: {len(http['errors'])}"
        )
        print(f"HTTP p50 / SQL p50 ratio: {pct(http['lat'], 50) / sql_p50:.0f}x")
    print(f"load average at the end: {os.getloadavg()}")
    print("plan for the first point:")
    print(sql["plan"])
    print("open_now plan for the first point:")
    print(open_now["plan"])


if __name__ == "__main__":
    main()
