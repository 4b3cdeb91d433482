"""A counting fake SMS gateway for fault tests and benchmarks (never production).

It records each message's `out_id` in a Redis hash (HINCRBY), so duplicates show
up as counts > 1 and lost messages as missing ids, across worker processes and
kill -9. It answers `lookup(out_id)` like a real gateway's delivery query, which
lets the sweeper settle sends whose worker died mid-call.

Environment: COUNTING_SMS_REDIS_URL (default REDIS_URL), COUNTING_SMS_KEY (hash
name), COUNTING_SMS_DELAY_MS (simulated gateway latency), COUNTING_SMS_HANG_ONCE
(the first call of all hangs for an hour: a gateway that never answers, CE5).
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
        self.hang_once = os.environ.get("COUNTING_SMS_HANG_ONCE") == "1"

    def send_template(self, phone: str, *, out_id: str, text: str, **_: object) -> None:
        if self.hang_once and self.redis.set(f"{self.key}:hung", out_id, nx=True):
            time.sleep(3600)  # never answers: only the task's hard limit ends it
        if self.delay:
            time.sleep(self.delay)
        self.redis.hincrby(self.key, out_id, 1)

    def send(self, phone: str, text: str) -> None:
        self.redis.hincrby(self.key, "untagged", 1)

    def lookup(self, out_id: str) -> bool:
        return bool(self.redis.hexists(self.key, out_id))

    def counts(self) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.redis.hgetall(self.key).items()}

    def hung_on(self) -> str | None:
        value = self.redis.get(f"{self.key}:hung")
        return value.decode() if value else None

    def reset(self) -> None:
        self.redis.delete(self.key, f"{self.key}:hung")
