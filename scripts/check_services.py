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


def main() -> int:
    database_url, redis_url = sys.argv[1], sys.argv[2]
    missing = []
    if not reachable(database_url, 5432):
        missing.append("PostgreSQL")
    if not reachable(redis_url, 6379):
        missing.append("Redis")
    for name in missing:
        print(
            f"{name} is not answering. Start it with:\n    {HOW[name]}", file=sys.stderr
        )
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
