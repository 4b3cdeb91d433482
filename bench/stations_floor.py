"""How fast can GET /api/v1/stations/ be on this machine? (issue #7's HTTP goal)

Runs the same HTTP load as bench/stations.py (granian 2 workers x 1 thread, wrk
with 20 closed-loop connections cycling through the same 1,000 query points,
3 s warm-up, CPU per request of each process group) against stripped-down WSGI
applications that do less and less of the real endpoint's work, interleaved with
the real application:

* ``app``: the portal itself (portal.wsgi:application), as bench/stations.py runs it.
* ``query``: no Django handler, middleware, request object, validation, open
  status, labels, map links or URLs: a bare WSGI callable that counts the request
  on the Redis throttle (portal.throttling, as the app does), runs the app's
  PREPAREd nearest-stations statement (same SQL, same arguments, same plan) and
  sends the raw rows as JSON. That is the work no implementation of the issue can
  skip (a shared per-IP limit, the exact search in the database, the rows out),
  with the least Python around it.
* ``nearest``: as ``query`` but the statement is cut down to its irreducible core,
  the issue's own definition of the search: the bounding box on the indexed
  (lat_cell, longitude, latitude), the exact haversine distance, the radius, order
  and limit, returning id, distance, name, address and coordinates (no hours,
  holidays or operator join, so no open status is possible from it).
* ``throttle``: the Redis count and a constant body (no database).
* ``constant``: a constant body: the HTTP server and load generator alone.

If ``query`` alone misses p95 <= 15 ms at 20 clients, so must every complete
implementation on the same server, database and machine.

Usage:  flock /tmp/heavy.lock .venv/bin/python bench/stations_floor.py
        [--seconds 15] [--rounds 2] [--variants app,query,nearest,throttle,constant]
        [--server granian|gunicorn] [--workers 2] [--blocking-threads 1]
        [--redis-url redis://127.0.0.1:6379/6] [--port 8360]
The database must have been loaded by bench/stations.py first.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

VARIANTS = ("app", "query", "nearest", "throttle", "constant")


# --- The stripped WSGI application (imported by granian in its workers) -------------

_BODY = b'{"count":0,"results":[]}'


def _make_floor_app(variant: str):
    import django

    django.setup()
    import orjson
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from portal.throttling import rate_limit_wait
    from services.selectors import stations as sel

    ops = connection.ops

    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["stations"]
    headers = [("Content-Type", "application/json")]

    def count(environ) -> None:
        rate_limit_wait(
            scope="stations", ident=environ.get("REMOTE_ADDR", "unknown"), rate=rate
        )

    def rows(environ) -> list[tuple]:
        params = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        values = sel.search_arguments(
            lat=float(params["lat"]),
            lng=float(params["lng"]),
            radius_km=float(params.get("radius_km", 5)),
            limit=int(params.get("limit", 10)),
            at=timezone.now(),
            ops=ops,
        )
        statement = (
            _NEAREST
            if variant == "nearest"
            else sel._nearby_statement(frozenset(), False, False, False)
        )
        return sel._run(statement, values)

    _NEAREST = sel._Statement.build(
        f"SELECT s.id, {sel._HAVERSINE} AS distance_km, s.name, s.address,"
        " CAST(s.latitude AS double precision), CAST(s.longitude AS double precision)"
        f" FROM {sel._S} s WHERE s.lat_cell IN ({sel._CELLS})"
        " AND s.latitude >= {min_lat} AND s.latitude <= {max_lat}"
        " AND s.longitude >= {min_lng} AND s.longitude <= {max_lng}"
        f" AND s.is_active AND {sel._HAVERSINE} <= {{radius_km}}"
        " ORDER BY distance_km, s.id LIMIT {limit}"
    )

    def application(environ, start_response):
        if variant == "constant":
            body = _BODY
        elif variant == "throttle":
            count(environ)
            body = _BODY
        else:
            count(environ)
            body = orjson.dumps(rows(environ), default=str)
        start_response("200 OK", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    return application


if os.environ.get("STATIONS_FLOOR"):
    application = _make_floor_app(os.environ["STATIONS_FLOOR"])


# --- The driver ------------------------------------------------------------------


def run_variant(
    variant: str,
    *,
    port: int,
    env: dict,
    paths,
    seconds: int,
    workers: int = 2,
    threads: int = 1,
    server_kind: str = "granian",
) -> dict:
    import stations as bench  # bench/stations.py

    module = "portal.wsgi:application"
    env = dict(env)
    if variant != "app":
        module = "stations_floor:application"
        env["STATIONS_FLOOR"] = variant
        env["PYTHONPATH"] = f"{ROOT}:{ROOT / 'bench'}"
    cmd = bench.server_command(
        port,
        argparse.Namespace(
            server=server_kind,
            workers=workers,
            blocking_threads=threads,
            backpressure=0,
            worker_class="sync",  # gunicorn: sync workers, as the text names
            threads=1,
        ),
        module=module,
    )
    server = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)  # noqa: S603
    try:
        import urllib.request

        for _ in range(200):
            try:
                with urllib.request.urlopen(  # noqa: S310 - our own loopback server
                    f"http://127.0.0.1:{port}{paths[0]}"
                ) as answer:
                    answer.read()
                break
            except OSError:
                time.sleep(0.1)
        bench._wrk(port, paths, clients=20, seconds=3)  # warm-up
        before = bench._cpu_snapshot(server.pid)
        result = bench._wrk(port, paths, clients=20, seconds=seconds)
        after = bench._cpu_snapshot(server.pid)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    result["cpu_ms"] = {
        k: (after[k] - before[k]) * 1000 / max(1, result["requests"]) for k in after
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument(
        "--db-url", default="postgres://postgres@127.0.0.1:5432/portal_bench_stations"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/6")
    parser.add_argument("--port", type=int, default=8360)
    parser.add_argument("--server", default="granian", choices=["granian", "gunicorn"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--blocking-threads", type=int, default=1, help="granian threads per worker"
    )
    args = parser.parse_args()

    import stations as bench

    env = {
        **os.environ,
        **bench.BENCH_ENV,
        "DATABASE_URL": args.db_url,
        "REDIS_URL": args.redis_url,
    }
    os.environ.update(env)
    import django

    django.setup()
    rng = random.Random(186_100)
    centres = bench.cities(rng)
    points = bench.query_points(1_000, random.Random(7), centres)
    paths = [bench.api_path(lat, lng) for lat, lng in points]
    variants = args.variants.split(",")
    print(
        f"{args.server} --workers {args.workers}"
        + (
            f" --blocking-threads {args.blocking_threads}"
            if args.server == "granian"
            else " (sync)"
        )
        + ","
        f" wrk 20 connections, {args.seconds} s per run;"
        f" load average at the start: {os.getloadavg()}"
    )
    for round_no in range(1, args.rounds + 1):
        for variant in variants:
            r = run_variant(
                variant,
                port=args.port,
                env=env,
                paths=paths,
                seconds=args.seconds,
                workers=args.workers,
                threads=args.blocking_threads,
                server_kind=args.server,
            )
            cpu = r["cpu_ms"]
            print(
                f"round {round_no} {variant:9s} p50 {r['p50']:6.2f} ms  "
                f"p95 {r['p95']:6.2f} ms  p99 {r['p99']:6.2f} ms  "
                f"{r['rps']:6.0f} req/s  errors {r['errors']}  CPU ms/request: "
                + ", ".join(f"{k} {v:.3f}" for k, v in cpu.items())
                + f"; total {sum(cpu.values()):.3f}",
                flush=True,
            )
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
