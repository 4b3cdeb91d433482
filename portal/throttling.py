"""A per-client rate limit that costs one cache round trip.

Sliding-window counter: one counter per client per window of `period` seconds; the
estimate is this window's count plus the previous window's count weighted by how
much of it still overlaps the last `period` seconds. On Redis the increment, its
expiry and the read of the previous window are one Lua script call; other cache
backends (local memory in the embedded default and the tests) use add/incr/get.
Rejected requests count too, so a client that keeps hammering stays limited.
"""

from __future__ import annotations

import functools
import math
import os
import threading
import time

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import NoScriptError, RedisError

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@functools.lru_cache(maxsize=32)
def parse_rate(rate: str) -> tuple[int, int]:
    """'120/min' -> (120, 60), the DRF rate syntax."""
    num, period = rate.split("/")
    return int(num), _PERIODS[period[0]]


# INCR this window, (re)set its expiry, read the previous window: one command.
_LUA = """
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return {n, redis.call('GET', KEYS[2])}
"""


class ThrottleUnavailable(ConnectionError):
    """The counter store (Redis) did not answer, even after one reconnect. Callers
    answer 503 (security.md F12: sync paths fail loudly, never a 500)."""


_local = threading.local()


def _redis_connection(backend: RedisCache):
    """(connection, script sha) for this thread and process: one redis-py
    Connection taken from the cache's pool and kept (never returned), so a count
    is one send and one read on an open socket. redis-py's client path around the
    same bytes (pool checkout and release, retry wrappers, response callbacks, Django's
    per-character key validation) cost several times the round trip itself
    (bench/stations.py). A fork gets its own connection (the pid is checked)."""
    state = getattr(_local, "redis", None)
    pid = os.getpid()
    if state is None or state[0] is not backend or state[1] != pid:
        client = backend._cache.get_client(write=True)
        sha = client.register_script(_LUA).sha
        pool = client.connection_pool
        state = (backend, pid, pool.get_connection(), sha, pool)
        _local.redis = state
    return state[2], state[3]


def _forget_connection() -> None:
    state = getattr(_local, "redis", None)
    _local.redis = None
    if state is not None:
        state[2].disconnect()
        if state[1] == os.getpid():
            state[4].release(state[2])


def _redis_counts(backend: RedisCache, key: str, prev_key: str, ttl: int):
    keys = (backend.make_key(key), backend.make_key(prev_key))
    for attempt in (1, 2):
        try:
            connection, sha = _redis_connection(backend)  # connects when new
            try:
                connection.send_packed_command(
                    connection.pack_command("EVALSHA", sha, 2, *keys, ttl),
                    check_health=False,
                )
                return connection.read_response()
            except NoScriptError:  # Redis restarted or SCRIPT FLUSH: load it again
                connection.send_packed_command(
                    connection.pack_command("EVAL", _LUA, 2, *keys, ttl)
                )
                return connection.read_response()
        except (RedisError, OSError) as exc:  # down, timed out, out of memory...
            _forget_connection()  # the next attempt takes a fresh one
            if attempt == 2:
                raise ThrottleUnavailable(str(exc)) from exc
        except BaseException:
            # Interrupted between the send and the read (a time limit, a signal):
            # the reply may still be on the socket, where the next count would
            # read it as its own. Drop the connection, then let it propagate.
            _forget_connection()
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _counts(key: str, prev_key: str, ttl: int) -> tuple[int, int]:
    """(this window's count after adding one, the previous window's count)."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        count, prev = _redis_counts(backend, key, prev_key, ttl)
        return int(count), int(prev or 0)
    backend.add(key, 0, timeout=ttl)
    try:
        count = backend.incr(key)
    except ValueError:  # expired between add and incr
        backend.set(key, 1, timeout=ttl)
        count = 1
    return int(count), int(backend.get(prev_key) or 0)


def rate_limit_wait(*, scope: str, ident: str, rate: str) -> int | None:
    """Count one request; None if it is within `rate`, else the seconds to wait
    (at least 1) for the next one to be allowed."""
    limit, period = parse_rate(rate)
    now = time.time()
    window = int(now // period)
    elapsed = now - window * period
    count, prev = _counts(
        f"rl:{scope}:{ident}:{window}", f"rl:{scope}:{ident}:{window - 1}", 2 * period
    )
    weight = 1.0 - elapsed / period
    if count + prev * weight <= limit:
        return None
    if count + 1 <= limit and prev:
        # room in this window once enough of the previous one has slid out
        wait = period * (1.0 - (limit - count - 1) / prev) - elapsed
    else:  # next window, where this window's count is the one sliding out
        wait = (period - elapsed) + period * max(0.0, 1.0 - (limit - 1) / count)
    return max(1, math.ceil(wait))
