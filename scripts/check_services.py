"""Check that PostgreSQL and Redis answer; say how to start them if not."""

import socket
import sys
from urllib.parse import urlparse

HOW = {
    "PostgreSQL": (
        "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
    ),
    "Redis": (
        'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ""'
        " --appendonly no"
    ),
}


def reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2
        ):
            return True
    except OSError:
        return False


def ensure_database(url: str) -> None:
    """Create the named database if it is missing (the test run uses it for the
    migrations check; pytest creates its own test_<name> database)."""
    try:
        import psycopg2
    except ImportError:
        return
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if not name:
        return
    conn = psycopg2.connect(
        host=parsed.hostname or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password or None,
        dbname="postgres",
    )
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def main() -> int:
    database_url, redis_url = sys.argv[1], sys.argv[2]
    missing = []
    if not reachable(database_url, 5432):
        missing.append("PostgreSQL")
    else:
        ensure_database(database_url)
    if not reachable(redis_url, 6379):
        missing.append("Redis")
    for name in missing:
        print(
            f"{name} is not answering. Start it with:\n    {HOW[name]}", file=sys.stderr
        )
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
