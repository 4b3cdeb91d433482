"""A counting fake SMS gateway for fault tests and benchmarks (never production).

It records each message's `out_id` in a Redis hash (HINCRBY), so duplicates show
up as counts > 1 and lost messages as missing ids, across worker processes and
kill -9. It answers `lookup(out_id)` like a real gateway's delivery query, which
lets the sweeper settle sends whose worker died mid-call.

Environment: COUNTING_SMS_REDIS_URL (default REDIS_URL), COUNTING_SMS_KEY (hash
name), COUNTING_SMS_DELAY_MS (simulated gateway latency).
"""

from __future__ import annotations

import os
import time

import redis
from django.conf import settings


class RedisCountingSmsBackend:
    def __init__(self, *, redis_url: str | None = None, key: str | None = None):
        url = (
            redis_url or os.environ.get("COUNTING_SMS_REDIS_URL") or settings.REDIS_URL
        )
        self.redis = redis.Redis.from_url(
            url, socket_timeout=5, socket_connect_timeout=5
        )
        self.key = key or os.environ.get("COUNTING_SMS_KEY", "counting_sms")
        self.delay = int(os.environ.get("COUNTING_SMS_DELAY_MS", "0")) / 1000

    def send_template(self, phone: str, *, out_id: str, text: str, **_: object) -> None:
        if self.delay:
            time.sleep(self.delay)
        self.redis.hincrby(self.key, out_id, 1)

    def send(self, phone: str, text: str) -> None:
        self.redis.hincrby(self.key, "untagged", 1)

    def lookup(self, out_id: str) -> bool:
        return bool(self.redis.hexists(self.key, out_id))

    def counts(self) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.redis.hgetall(self.key).items()}

    def reset(self) -> None:
        self.redis.delete(self.key)
