"""portal.throttling on a real Redis: the kept connection survives a killed
connection, a flushed script cache and a fork, and a Redis that does not answer
is a ThrottleUnavailable (the stations API answers 503, never 500)."""

from __future__ import annotations

import os
import socket
import uuid

import pytest
from django.core.cache import caches
from django.test import override_settings

from portal import throttling

pytestmark = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs Redis (make test provides it)"
)

URL = "/api/v1/stations/"


def redis_caches(url: str | None = None) -> dict:
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url or os.environ["REDIS_URL"],
            "KEY_PREFIX": f"throttle-redis-{uuid.uuid4().hex[:8]}",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the probe closes


def count(ident: str = "7.7.7.7") -> int | None:
    return throttling.rate_limit_wait(scope="redis-test", ident=ident, rate="3/min")


@pytest.fixture
def redis_cache():
    with override_settings(CACHES=redis_caches()):
        backend = caches["default"]
        yield backend
        backend.clear()


def admin_client(backend):
    return backend._cache.get_client(write=True)


def test_counts_through_one_kept_connection(redis_cache):
    assert [count() for _ in range(4)][:3] == [None, None, None]
    first, _ = throttling._redis_connection(redis_cache)

    count()

    assert throttling._redis_connection(redis_cache)[0] is first


def test_a_killed_connection_is_reopened_and_the_count_goes_on(redis_cache):
    count()
    connection, _ = throttling._redis_connection(redis_cache)
    client = admin_client(redis_cache)
    connection.send_command("CLIENT", "ID")
    client.client_kill_filter(_id=connection.read_response())

    results = [count() for _ in range(3)]

    assert results[:2] == [None, None]
    assert results[2] is not None  # 4 counted in the window: 1 before, 3 after


def test_a_flushed_script_cache_is_loaded_again(redis_cache):
    count()
    admin_client(redis_cache).script_flush()

    results = [count() for _ in range(3)]

    assert results[:2] == [None, None]
    assert results[2] is not None  # the fourth in the window


def test_a_fork_takes_its_own_connection(redis_cache, monkeypatch):
    count()
    parent, _ = throttling._redis_connection(redis_cache)
    monkeypatch.setattr(throttling.os, "getpid", lambda: -1)

    child, _ = throttling._redis_connection(redis_cache)

    assert child is not parent


def test_an_unreachable_redis_is_throttle_unavailable():
    url = f"redis://127.0.0.1:{closed_port()}/0"
    with override_settings(CACHES=redis_caches(url)):
        with pytest.raises(throttling.ThrottleUnavailable):
            count()
        with pytest.raises(ConnectionError):  # what sync callers catch
            count()


@pytest.mark.django_db
def test_the_stations_api_answers_503_when_its_throttle_is_down(client):
    url = f"redis://127.0.0.1:{closed_port()}/0"
    with override_settings(CACHES=redis_caches(url)):
        fast = client.get(URL, {"lat": 22.53, "lng": 113.93})
        via_drf = client.options(URL)  # every other method is the DRF view's
        via_drf_get = client.head(URL, {"lat": 22.53, "lng": 113.93})

    assert fast.status_code == 503
    assert fast["Retry-After"] == "5"
    assert fast.json()["detail"]
    assert via_drf.status_code == 503  # DRF throttles every method
    assert via_drf_get.status_code == 503
    assert via_drf_get["Retry-After"] == "5"


def test_a_finished_thread_leaves_no_redis_connection_open(redis_cache):
    """granian ends an idle blocking thread after 30 s and starts a new one on
    the next request: what a finished thread kept must not stay connected."""
    import gc
    import threading

    def one_request():
        count(ident=uuid.uuid4().hex)

    admin = admin_client(redis_cache)
    before = len(admin.client_list())
    for _ in range(5):
        thread = threading.Thread(target=one_request)
        thread.start()
        thread.join()
    gc.collect()

    assert len(admin.client_list()) <= before


class _Interrupted(Exception):
    """Not a Redis error: a soft time limit, a signal handler's exception..."""


def test_an_interrupted_count_does_not_shift_later_replies(redis_cache, monkeypatch):
    """A count sent but interrupted (by anything, not only a Redis error) before
    its reply was read must not leave that reply on the kept connection, where
    the next count would read it as its own (another client's numbers)."""
    for _ in range(3):
        count(ident="busy")  # "busy" is at 3 in this window
    connection, _ = throttling._redis_connection(redis_cache)
    real_read = connection.read_response

    def interrupted(*args, **kwargs):
        monkeypatch.setattr(connection, "read_response", real_read)
        raise _Interrupted

    monkeypatch.setattr(connection, "read_response", interrupted)
    with pytest.raises(_Interrupted):
        count(ident="busy")  # the 4th, sent; its reply is never read here

    assert count(ident="quiet") is None  # a fresh client's first request
    key = f"rl:redis-test:quiet-{uuid.uuid4().hex}"
    assert throttling._redis_counts(redis_cache, key, key + "p", 60) == [1, None]
