import pytest

pytestmark = pytest.mark.django_db


def test_healthz_reports_each_dependency(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "up"
    assert body["checks"]["cache"] == "up"
    assert body["checks"]["broker"] in ("up", "eager")
    assert "version" not in response.content.decode().lower()


def test_healthz_is_503_when_the_broker_is_down(client, settings):
    # given a broker URL nothing listens on
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"

    # when
    response = client.get("/healthz")

    # then
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "down"


def test_healthz_is_503_when_the_cache_is_down(client, monkeypatch):
    # given a cache whose server does not answer
    from django.core.cache.backends.redis import RedisCache

    dead = RedisCache(
        "redis://127.0.0.1:1/0", {"OPTIONS": {"socket_connect_timeout": 0.5}}
    )
    monkeypatch.setattr("portal.views.cache", dead)

    # when
    response = client.get("/healthz")

    # then
    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == "down"
    assert response.json()["status"] == "error"


@pytest.mark.postgres
def test_healthz_uses_the_real_redis_when_configured(client, settings):
    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL not set")
    settings.CELERY_BROKER_URL = settings.REDIS_URL

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"]["broker"] == "up"
