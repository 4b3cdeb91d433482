"""Nearest-station benchmark (issue #7).

186,000 stations spread over China go straight into a dedicated PostgreSQL
database with COPY (once; later runs reuse it); 1,000 random query points (mostly
in cities, some anywhere) then ask for the 10 nearest within 5 km:

* SQL: the API's own statement (services.selectors.stations.nearby_stations: the
  10 nearest through the (lat_cell, longitude, latitude) index, haversine in SQL,
  each row carrying its weekly hours and holidays as text), PREPAREd once and
  EXECUTEd as the app does. Timed as execute + fetch from Python, as PostgreSQL's
  own execution time (EXPLAIN ANALYZE, TIMING OFF), and as the whole
  nearby_stations() call; the same with open_now=True.
* Naive Python scan (the reference): all coordinates in a Python list, haversine
  over every row, keep the 10 nearest within 5 km. Run on a bounded sample.
* Request CPU in process: the WSGI handler called directly, process time per
  request (load-independent, unlike wall time).
* HTTP: GET /api/v1/stations/ against granian (default: the production server,
  Rust HTTP, WSGI interface, 2 workers x 1 blocking thread) or gunicorn
  (--server gunicorn: sync worker class, 3 workers) started here, Redis for the
  throttle, 20 closed-loop keep-alive
  connections from wrk (C, one thread, a Lua script cycling through the 1,000
  points; p50/p95/p99 from wrk's histogram) after a 3 s warm-up; the asyncio
  Python client is the fallback when wrk is missing (--python-client forces it).
  No response cache anywhere: every request runs the query.

Usage:  flock /tmp/heavy.lock .venv/bin/python bench/stations.py
        [--stations 186000] [--queries 1000] [--seconds 20] [--clients 20]
        [--server granian|gunicorn] [--workers 2|3]
        [--worker-class sync|gthread] [--threads 2]  (gunicorn)
        [--blocking-threads 1] [--backpressure N]    (granian)
        [--skip-sql] [--skip-http] [--python-client]
        [--db-url postgres://postgres@127.0.0.1:5432/portal_bench_stations]
        [--redis-url redis://127.0.0.1:6379/1] [--port 8310]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import math
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
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

WRK = shutil.which("wrk")
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


# Weekly hours drawn the way real stations keep them: many opening and closing
# times, open every day / on weekdays / Monday to Saturday, some with a lunch
# break, some past midnight: 608 distinct weeks over 174k stations, so nothing that
# remembers a week's status (services.opening_hours.SecondMemo) sees only a few.
HOURS_VERSION = "bench-hours-v2"
OPENS = [(6, 0), (6, 30), (7, 0), (7, 30), (8, 0), (8, 30), (9, 0), (10, 0)]
CLOSES = [(17, 0), (17, 30), (18, 0), (19, 0), (20, 0), (21, 0), (22, 0), (23, 0)]
NIGHT_CLOSES = [(0, 0), (1, 0), (2, 0)]
DAY_SETS = [(range(7), 0.6), (range(5), 0.2), (range(6), 0.15), (range(5), 0.05)]


def hours_pattern(rng: random.Random) -> list[tuple[int, tuple, tuple]]:
    """[(weekday, (h, m) opens, (h, m) closes)] for one station."""
    opens = rng.choice(OPENS)
    closes = rng.choice(NIGHT_CLOSES if rng.random() < 0.1 else CLOSES)
    days = rng.choices([d for d, _ in DAY_SETS], [w for _, w in DAY_SETS])[0]
    if rng.random() < 0.15 and closes[0] > 14:  # closed 12:00-14:00
        intervals = [(opens, (12, 0)), ((14, 0), closes)]
    else:
        intervals = [(opens, closes)]
    rows = [(day, o, c) for day in days for o, c in intervals]
    if len(days) == 5 and rng.random() < 0.25:  # a short weekend
        rows += [(day, (10, 0), (16, 0)) for day in (5, 6)]
    return rows


def hours_loaded() -> bool:
    from django.db import connection

    from services.models import StationHours

    table = StationHours._meta.db_table
    with connection.cursor() as cur:
        cur.execute(f"SELECT obj_description('{table}'::regclass, 'pg_class')")
        return cur.fetchone()[0] == HOURS_VERSION


def load_hours(rng: random.Random) -> int:
    """Weekly hours for every station that is not 24 h (~1.1 M rows), by COPY."""
    from django.db import connection

    from services.models import Station, StationHours

    buf = io.StringIO()
    rows = 0
    # In station order, as the admin saves a station's week together: one heap
    # page holds a station's rows (the API reads 10 stations' hours per request).
    ids = (
        Station.objects.filter(is_24h=False).order_by("id").values_list("id", flat=True)
    )
    for pk in ids.iterator(chunk_size=10_000):
        for day, (oh, om), (ch, cm) in hours_pattern(rng):
            buf.write(f"{pk}\t{day}\t{oh:02d}:{om:02d}\t{ch:02d}:{cm:02d}\n")
            rows += 1
    buf.seek(0)
    table = StationHours._meta.db_table
    with connection.cursor() as cur:
        # TRUNCATE fires no row or statement DELETE trigger: clear the stations'
        # derived week (Station.week_hours) by hand; the COPY's statement trigger
        # then writes it for every station that gets hours.
        cur.execute(f"UPDATE {Station._meta.db_table} SET week_hours = ''")
        cur.execute(f"TRUNCATE {table} RESTART IDENTITY")
        cur.cursor.copy_expert(
            f"COPY {table} (station_id, weekday, opens, closes) FROM STDIN", buf
        )
        cur.execute(f"COMMENT ON TABLE {table} IS '{HOURS_VERSION}'")
        cur.execute(f"VACUUM (ANALYZE) {table}")  # as autovacuum would, soon
    return rows


def settle_tables() -> None:
    """Bring freshly COPYed tables to the state autovacuum keeps in production:
    hint bits and visibility map set (else the first reads of each page dirty and
    write it), statistics current, and the hours of one station on one page (a
    database loaded before load_hours wrote in station order is CLUSTERed once)."""
    from django.db import connection

    from services.models import Station, StationHoliday, StationHours

    tables = [m._meta.db_table for m in (Station, StationHours, StationHoliday)]
    with connection.cursor() as cur:
        cur.execute(
            "SELECT correlation FROM pg_stats WHERE tablename = %s"
            " AND attname = 'station_id'",
            [StationHours._meta.db_table],
        )
        row = cur.fetchone()
        if row is not None and row[0] is not None and row[0] < 0.9:
            print("clustering the opening hours by station (once)")
            cur.execute(
                f"CLUSTER {StationHours._meta.db_table} USING stationhours_unique_start"
            )
        cur.execute(
            "SELECT count(*) FROM pg_stat_user_tables WHERE relname = ANY(%s)"
            " AND ((last_vacuum IS NULL AND last_autovacuum IS NULL)"
            " OR n_dead_tup > n_live_tup / 10)",  # e.g. after a migration's UPDATE
            [tables],
        )
        if cur.fetchone()[0]:
            for table in tables:
                cur.execute(f"VACUUM (ANALYZE) {table}")


def query_points(n: int, rng: random.Random, centres) -> list[tuple[float, float]]:
    points = []
    for _ in range(n):
        if rng.random() < 0.8:
            clat, clng = rng.choice(centres)
            points.append((rng.gauss(clat, 0.1), rng.gauss(clng, 0.1)))
        else:
            points.append((rng.uniform(*CHINA_LAT), rng.uniform(*CHINA_LNG)))
    return points


def _statement_values(lat: float, lng: float, **kw):
    """The statement and parameter values nearby_stations() would send."""
    from services.selectors import stations as sel

    captured = {}

    def capture(statement, values, conn=None):
        captured["statement"], captured["values"] = statement, values
        return []

    real = sel._run
    sel._run = capture
    try:
        sel.nearby_stations(lat=lat, lng=lng, radius_km=5, limit=10, **kw)
    finally:
        sel._run = real
    return captured["statement"], captured["values"]


def _inline(statement, values) -> str:
    """The statement with literal values (for EXPLAIN; psycopg quotes them)."""
    from django.db import connection

    with connection.cursor() as cur:
        return cur.mogrify(statement.sql, [values[n] for n in statement.names]).decode()


def bench_sql(points) -> dict:
    """The API's own query: 10 nearest within 5 km, each row carrying its weekly
    hours and holidays as text, one round trip, PREPAREd once on this connection
    (as in the app).
    Timed as execute + fetch from Python, as PostgreSQL's execution time, and as
    the whole nearby_stations() call (parameters, query, open status in Python)."""
    from django.db import connection

    from services.selectors import stations as sel

    sql_ms, call_ms, server_ms, found = [], [], [], []
    prepared = [_statement_values(lat, lng) for lat, lng in points]
    for statement, values in prepared:  # PREPARE + warm the plan cache
        sel._execute(connection, statement, values)
    for statement, values in prepared:
        t0 = time.perf_counter()
        rows = sel._execute(connection, statement, values)
        sql_ms.append((time.perf_counter() - t0) * 1000)
        found.append(len(rows))  # one row per station
    for lat, lng in points:
        t0 = time.perf_counter()
        sel.nearby_stations(lat=lat, lng=lng, radius_km=5, limit=10)
        call_ms.append((time.perf_counter() - t0) * 1000)
    with connection.cursor() as cur:
        for statement, values in prepared:
            sql = _inline(statement, values)
            cur.execute("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + sql)
            server_ms.append(cur.fetchone()[0][0]["Execution Time"])
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + _inline(*prepared[0]))
        plan = "\n".join(r[0] for r in cur.fetchall())
    return {
        "sql": sql_ms,
        "call": call_ms,
        "server": server_ms,
        "found": found,
        "plan": plan,
    }


def bench_open_now(points) -> dict:
    """The same search with open_now=True (Fri 23:30): the open-now EXISTS run
    only for the stations inside the box."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from django.db import connection

    at = datetime(2025, 1, 3, 23, 30, tzinfo=ZoneInfo("Asia/Shanghai"))  # Fri night
    server_ms, found = [], []
    with connection.cursor() as cur:
        for lat, lng in points:
            sql = _inline(*_statement_values(lat, lng, open_now=True, at=at))
            cur.execute("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + sql)
            server_ms.append(cur.fetchone()[0][0]["Execution Time"])
            cur.execute(sql)
            found.append(len(cur.fetchall()))  # one row per station
    return {"server": server_ms, "found": found}


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


async def _client(port: int, paths, latencies: list[float], errors: list[str]):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for path in paths:
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


async def _load(port: int, paths, clients: int):
    latencies: list[float] = []
    errors: list[str] = []
    shards = [paths[i::clients] for i in range(clients)]
    t0 = time.perf_counter()
    await asyncio.gather(*(_client(port, s, latencies, errors) for s in shards))
    return latencies, errors, time.perf_counter() - t0


def api_path(lat: float, lng: float) -> str:
    return f"/api/v1/stations/?lat={lat:.6f}&lng={lng:.6f}&radius_km=5&limit=10"


def bench_handler_cpu(points, sample: int = 1000) -> list[float]:
    """CPU time of the whole Django request (WSGI handler, middleware, throttle,
    query, JSON) in this process, per request: unlike wall time it barely moves
    with machine load."""
    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()

    def environ(path: str) -> dict:
        path_info, _, query = path.partition("?")
        return {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path_info,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": "127.0.0.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.input": io.BytesIO(),
            "wsgi.url_scheme": "http",
        }

    statuses = []
    out = []
    paths = [api_path(lat, lng) for lat, lng in points[:sample]]
    for path in paths[:50]:  # warm-up
        b"".join(handler(environ(path), lambda s, h: statuses.append(s)))
    for path in paths:
        t0 = time.process_time()
        body = handler(environ(path), lambda s, h: statuses.append(s))
        b"".join(body)
        body.close()
        out.append((time.process_time() - t0) * 1000)
    bad = [s for s in statuses if not s.startswith("200")]
    assert not bad, bad[:3]
    return out


WRK_SCRIPT = """
paths = {%s}
i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("WRK %%d %%d %%d %%.3f %%.3f %%.3f %%.3f\\n",
    summary.requests, summary.errors.status + summary.errors.connect
      + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.mean / 1000))
end
"""


def _wrk(port: int, paths, *, clients: int, seconds: int) -> dict:
    """wrk (C, one thread) as the closed-loop load: `clients` connections, each
    sending its next request when the previous answer arrived, cycling through
    the query points. Latency percentiles come from wrk's own histogram."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_SCRIPT % ", ".join(f'"{p}"' for p in paths))
        script = f.name
    try:
        out = subprocess.run(  # noqa: S603
            [
                WRK,
                "-t1",
                f"-c{clients}",
                f"-d{seconds}s",
                "--timeout",
                "5s",
                "-s",
                script,
                f"http://127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script)
    line = next(x for x in out.splitlines() if x.startswith("WRK "))
    n, errors, micros, p50, p95, p99, mean = line.split()[1:]
    return {
        "requests": int(n),
        "errors": int(errors),
        "rps": int(n) / (int(micros) / 1e6),
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "mean": float(mean),
        "tool": "wrk",
    }


def _python_load(port: int, paths, *, clients: int) -> dict:
    latencies, errors, elapsed = asyncio.run(_load(port, paths, clients))
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "rps": len(latencies) / elapsed,
        "p50": pct(latencies, 50),
        "p95": pct(latencies, 95),
        "p99": pct(latencies, 99),
        "mean": statistics.mean(latencies),
        "tool": "python asyncio",
    }


_TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    """utime + stime of a process in seconds (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _children(ppid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == ppid:
                        out.append(int(entry))
            except OSError:
                continue
    return out


def _named(name: str) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == name:
                        out.append(int(entry))
            except OSError:
                continue
    return out


def _cpu_snapshot(server_pid: int) -> dict[str, float]:
    """CPU seconds so far of the HTTP server (master + workers, all threads),
    this database's PostgreSQL backends, redis-server (shared with other users
    of the box) and the finished children of this process (wrk)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
        backends = [r[0] for r in cur.fetchall()]
    return {
        "server": sum(map(_proc_cpu, [server_pid, *_children(server_pid)])),
        "postgres": sum(map(_proc_cpu, backends)),
        "redis": sum(map(_proc_cpu, _named("redis-server"))),
        "load generator": sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2]),
    }


def server_command(
    port: int, args, module: str = "portal.wsgi:application"
) -> list[str]:
    if args.server == "granian":
        return [
            str(ROOT / ".venv/bin/granian"),
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--blocking-threads",
            str(args.blocking_threads),
            *(["--backpressure", str(args.backpressure)] if args.backpressure else []),
            "--log-level",
            "warning",
            "--no-access-log",
            module,
        ]
    cmd = [
        str(ROOT / ".venv/bin/gunicorn"),
        module,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--log-level",
        "warning",
    ]
    if args.worker_class == "gthread":
        cmd += ["--threads", str(args.threads), "--keep-alive", "30"]
    return cmd


def bench_http(points, *, port: int, args, env: dict) -> dict:
    cmd = server_command(port, args)
    server = subprocess.Popen(cmd, cwd=ROOT, env=env)  # noqa: S603
    paths = [api_path(lat, lng) for lat, lng in points]
    try:
        for _ in range(100):  # wait up to 10 s for the port
            try:
                asyncio.run(_load(port, paths[:4], 1))
                break
            except OSError:
                time.sleep(0.1)
        use_wrk = WRK and not args.python_client
        if use_wrk:
            _wrk(port, paths, clients=args.clients, seconds=3)  # warm-up
            before = _cpu_snapshot(server.pid)
            result = _wrk(port, paths, clients=args.clients, seconds=args.seconds)
        else:
            asyncio.run(_load(port, paths[:200], args.clients))  # warm-up
            before = _cpu_snapshot(server.pid)
            cpu0 = time.process_time()
            result = _python_load(port, paths, clients=args.clients)
            before["load generator"] -= time.process_time() - cpu0
        after = _cpu_snapshot(server.pid)
        result["cpu_ms"] = {
            k: (after[k] - before[k]) * 1000 / max(1, result["requests"]) for k in after
        }
        result["load"] = os.getloadavg()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    result["command"] = " ".join(cmd[1:]).replace(str(ROOT) + "/", "")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stations", type=int, default=186_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--naive-sample", type=int, default=50)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--port", type=int, default=8310)
    parser.add_argument(
        "--db-url", default="postgres://postgres@127.0.0.1:5432/portal_bench_stations"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/1")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-sql", action="store_true", help="HTTP only")
    parser.add_argument("--server", default="granian", choices=["granian", "gunicorn"])
    parser.add_argument(
        "--workers", type=int, default=0, help="default: 2 granian, 3 gunicorn"
    )
    parser.add_argument(
        "--blocking-threads", type=int, default=1, help="granian: threads per worker"
    )
    parser.add_argument(
        "--backpressure",
        type=int,
        default=0,
        help="granian: requests in flight per worker (default: granian's own)",
    )
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=2, help="gthread only")
    parser.add_argument("--seconds", type=int, default=20, help="wrk duration")
    parser.add_argument(
        "--python-client", action="store_true", help="asyncio client, not wrk"
    )
    args = parser.parse_args()
    args.workers = args.workers or (2 if args.server == "granian" else 3)

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

    if not StationHours.objects.exists() or not hours_loaded():
        t0 = time.perf_counter()
        n_hours = load_hours(random.Random(24))
        print(
            f"loaded {n_hours:,} opening-hours rows in {time.perf_counter() - t0:.1f} s"
        )
    settle_tables()
    points = query_points(args.queries, random.Random(7), centres)
    print(f"load average at the start: {os.getloadavg()}")
    print(f"stations: {Station.objects.count():,}; query points: {len(points):,}")

    if not args.skip_sql:
        sql = bench_sql(points)
        naive = bench_naive(points, args.naive_sample)
        sql_p50, sql_p95 = pct(sql["sql"], 50), pct(sql["sql"], 95)
        naive_p50 = pct(naive, 50)
        print(
            "points with >=1 station within 5 km: "
            f"{sum(1 for f in sql['found'] if f)}; "
            f"mean hits {statistics.mean(sql['found']):.1f}"
        )
        print(
            "SQL  10 nearest within 5 km + their hours, EXECUTE + fetch from "
            f"Python: p50 {sql_p50:.3f} ms  p95 {sql_p95:.3f} ms"
        )
        print(
            "SQL  server execution (EXPLAIN ANALYZE): "
            f"p50 {pct(sql['server'], 50):.3f} ms  p95 {pct(sql['server'], 95):.3f} ms"
        )
        print(
            "nearby_stations() call (query + open status): "
            f"p50 {pct(sql['call'], 50):.3f} ms  p95 {pct(sql['call'], 95):.3f} ms"
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
            f"API request CPU in process (WSGI handler, {len(cpu)} calls): "
            f"p50 {pct(cpu, 50):.3f} ms  p95 {pct(cpu, 95):.3f} ms  "
            f"mean {statistics.mean(cpu):.3f} ms"
        )
    if not args.skip_http:
        http = bench_http(points, port=args.port, args=args, env=env)
        print(f"server: {http['command']}")
        print(
            f"HTTP {args.clients} clients ({http['tool']}), {http['requests']} "
            f"requests: p50 {http['p50']:.2f} ms  p95 {http['p95']:.2f} ms  "
            f"p99 {http['p99']:.2f} ms  {http['rps']:.0f} req/s  "
            f"errors/non-2xx: {http['errors']}  load {http['load']}"
        )
        print(
            "CPU per request during the run (ms): "
            + ", ".join(f"{k} {v:.3f}" for k, v in http["cpu_ms"].items())
            + f"; total {sum(http['cpu_ms'].values()):.3f}"
        )
    print(f"load average at the end: {os.getloadavg()}")
    if not args.skip_sql:
        print("plan for the first point:")
        print(sql["plan"])


if __name__ == "__main__":
    main()
