"""portal.throttling: the one-round-trip sliding-window rate limit."""

from __future__ import annotations

import os

import pytest
from django.core.cache import caches
from django.test import override_settings

from portal import throttling


@pytest.fixture
def clock(monkeypatch):
    now = {"t": 1_000_040.0}  # 20 s into a 60 s window (16667 * 60 = 1_000_020)
    monkeypatch.setattr(throttling.time, "time", lambda: now["t"])
    return now


def hits(n: int, *, ident: str = "1.2.3.4", rate: str = "3/min"):
    return [
        throttling.rate_limit_wait(scope="test", ident=ident, rate=rate)
        for _ in range(n)
    ]


@pytest.fixture
def locmem():
    caches["default"].clear()
    yield
    caches["default"].clear()


def test_parse_rate_uses_drfs_syntax():
    assert throttling.parse_rate("120/min") == (120, 60)
    assert throttling.parse_rate("5/hour") == (5, 3600)
    assert throttling.parse_rate("10/s") == (10, 1)


def test_the_limit_per_window_and_the_wait_to_its_end(locmem, clock):
    assert hits(3) == [None, None, None]
    # 40 s to the next window, then 30 s until 4 * (1 - 30/60) + 1 <= 3
    assert hits(1) == [70]


def test_clients_are_counted_apart(locmem, clock):
    hits(3)

    assert hits(1, ident="5.6.7.8") == [None]


def test_the_previous_window_still_counts_while_it_slides_out(locmem, clock):
    hits(3)  # full at :20
    clock["t"] += 60  # next window, 20 s in: 2/3 of the old one still overlaps

    # 3 * 2/3 = 2 from the old window, so one more fits; then wait for the roll
    assert hits(2) == [None, 40]

    clock["t"] += 41  # 1 s into the next window: 1 + 2 * 59/60 <= 3
    assert hits(1) == [None]


def test_rejected_requests_keep_counting(locmem, clock):
    hits(5)
    clock["t"] += 60

    # 5 from the last window weigh 5 * 2/3 > 3: still limited
    assert hits(1)[0] is not None


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis")
def test_on_redis_one_script_call_counts_and_expires(clock):
    url = os.environ["REDIS_URL"]
    cache_settings = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "throttle-test",
        }
    }
    with override_settings(CACHES=cache_settings):
        backend = caches["default"]
        backend.clear()
        try:
            assert hits(4, ident="9.9.9.9") == [None, None, None, 70]
            key = backend.make_and_validate_key("rl:test:9.9.9.9:16667")
            client = backend._cache.get_client(write=True)
            assert int(client.get(key)) == 4
            assert 0 < client.ttl(key) <= 120
            clock["t"] += 60
            assert hits(1, ident="9.9.9.9")[0] is not None  # previous window read
        finally:
            backend.clear()
