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
import time

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

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


def _redis_script(backend: RedisCache):
    """A redis-py Script on the cache's connection pool, built once per backend
    (building a redis.Redis client costs more than the round trip)."""
    client_holder = backend._cache  # Django's RedisCacheClient, one per backend
    script = getattr(client_holder, "_portal_rate_script", None)
    if script is None:
        client = client_holder.get_client(write=True)
        script = client.register_script(_LUA)
        client_holder._portal_rate_script = script
    return script


def _counts(key: str, prev_key: str, ttl: int) -> tuple[int, int]:
    """(this window's count after adding one, the previous window's count)."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        count, prev = _redis_script(backend)(
            keys=[
                backend.make_and_validate_key(key),
                backend.make_and_validate_key(prev_key),
            ],
            args=[ttl],
        )
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
