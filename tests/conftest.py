"""Personas and shared fixtures (after healthchecks' alice/bob/charlie):

* `worker` has an account and an active membership in Nanshan's gig-worker union;
* `other_worker` is a member in Futian and must never see the worker's things;
* `reviewer_nanshan` is staff of the Nanshan federation; `reviewer_futian` of Futian;
* `city_reviewer` is staff of the Shenzhen federation and sees both districts.

Staff must pass a TOTP step after the password (security.md AU4). Log a staff
persona in with `tests.factories.login_staff(client, user)` (password and code
passed); `client.force_login(user)` alone leaves a staff session at the code step,
which is what the MFA tests want and nothing else does.
"""

from __future__ import annotations

import os

import pytest

from tests.factories import make_member, make_staff, make_user

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "1")  # sync Playwright + live_server


@pytest.fixture(autouse=True)
def _task_arguments_carry_ids_only(monkeypatch):
    """security.md LG6: broker messages and worker logs are plain text, so no
    task is ever sent with an ID number or a mobile number in its arguments.
    Every apply_async (delay included, eager or to a live worker) in every test
    is checked."""
    from celery.app.task import Task

    from tests.test_pii_leak_scan import leaks

    sent = Task.apply_async

    def checked(self, args=None, kwargs=None, *rest, **options):
        found = leaks(repr((args, kwargs)))
        assert not found, f"task {self.name} sent with personal data in its arguments"
        return sent(self, args, kwargs, *rest, **options)

    monkeypatch.setattr(Task, "apply_async", checked)
    yield


@pytest.fixture(autouse=True)
def _logs_carry_no_personal_data():
    """security.md LG2: what the portal logs (through the production handler's
    masking filter and JSON formatter) never holds an ID or mobile number.
    Every record any test makes reach the root logger is checked."""
    import logging

    from portal.logging import JsonFormatter, MaskPersonalDataFilter
    from tests.test_pii_leak_scan import leaks

    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Keep()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(MaskPersonalDataFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield
    root.removeHandler(handler)
    leaked = [line for line in lines if leaks(line)]
    assert not leaked, f"{len(leaked)} log line(s) with an ID or mobile number"


@pytest.fixture(autouse=True)
def _default_language():
    """LocaleMiddleware leaves the last request's language active in the test
    thread; start and end every test in the default language."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def sz_tree(db):
    """The reference union tree the data migration seeds (idempotent, so it is
    there again after a transactional test flushed the tables)."""
    from members.models import RegionCode, UnionOrg
    from members.reference_data import seed_region_codes, seed_union_tree

    seed_region_codes(RegionCode=RegionCode)
    return seed_union_tree(UnionOrg=UnionOrg)


@pytest.fixture
def shenzhen(sz_tree):
    return sz_tree["city"]


@pytest.fixture
def nanshan(sz_tree):
    return sz_tree["440305"]


@pytest.fixture
def nanshan_gig_pool(sz_tree):
    return sz_tree["440305_pool"]


@pytest.fixture
def futian(sz_tree):
    return sz_tree["440304"]


@pytest.fixture
def worker_user(db):
    return make_user(phone="13812345678")


@pytest.fixture
def worker(worker_user, nanshan_gig_pool):
    return make_member(user=worker_user, org=nanshan_gig_pool, phone="13812345678")


@pytest.fixture
def other_worker(futian):
    user = make_user(phone="13987654321")
    return make_member(user=user, org=futian, name="李四", phone="13987654321")


@pytest.fixture
def reviewer_nanshan(nanshan):
    return make_staff(org=nanshan, username="reviewer_nanshan")


@pytest.fixture
def reviewer_futian(futian):
    return make_staff(org=futian, username="reviewer_futian")


@pytest.fixture
def city_reviewer(shenzhen):
    return make_staff(org=shenzhen, username="reviewer_city")


@pytest.fixture
def sms_outbox():
    from members.sms import LocmemSmsBackend

    LocmemSmsBackend.outbox.clear()
    yield LocmemSmsBackend.outbox
    LocmemSmsBackend.outbox.clear()


@pytest.fixture
def celery_live_worker(transactional_db, settings):
    """A real Celery worker (threads in this process) consuming from Redis.

    Tasks run in other threads with their own database connections, so tests using
    it need committed data (transactional_db). Skips when REDIS_URL is unset
    outside CI; under CI=true tests/settings.py already refused to start.
    """
    from celery.contrib.testing.worker import start_worker

    from portal.celery import app

    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set: a real worker needs Redis")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    app.conf.task_eager_propagates = False
    with app.connection_for_write() as conn:
        for queue in ("default", "otp", "notifications", "bulk"):
            conn.default_channel.queue_purge(queue)
    try:
        with start_worker(
            app,
            pool="threads",
            concurrency=2,
            perform_ping_check=False,
            loglevel="WARNING",
            queues=["default", "otp", "notifications", "bulk"],
            shutdown_timeout=30,
        ) as worker:
            yield worker
    finally:
        app.conf.task_always_eager = True
        app.conf.task_eager_propagates = True
