"""The nightly tasks: eager (unit) and on a real Celery worker over Redis."""

from __future__ import annotations

import time
from datetime import date

import pytest

from members.models import Notification, Occupation
from portal.schedules import DEFAULT_SCHEDULES
from services.actions.programs import TEMPLATE_UNDER_REVIEW
from services.models import Enrollment, EnrollmentEvent, EnrollmentSource
from services.tasks import programs_recheck, programs_renew
from tests.services.conftest import ON, make_person


def enroll(member, program):
    return Enrollment.objects.create(
        member=member,
        program=program,
        period_start=date(2026, 1, 1),
        period_end=date(2026, 12, 31),
        source=EnrollmentSource.PLATFORM,
    )


def test_beat_schedules_name_real_tasks():
    from portal.celery import app

    app.loader.import_default_modules()  # as a worker does at start (autodiscovery)
    tasks = {entry["task"] for entry in DEFAULT_SCHEDULES}

    assert {
        "services.tasks.programs.programs_recheck",
        "services.tasks.programs.programs_renew",
    } <= tasks
    assert tasks <= set(app.tasks)


@pytest.mark.django_db
def test_recheck_task_twice_acts_once(programs):
    left = make_person(occupation=Occupation.OTHER)
    enroll(left, programs["domestic"])

    first = programs_recheck.delay(on=ON.isoformat()).get()
    second = programs_recheck.delay(on=ON.isoformat()).get()

    assert first == {"ended": 0, "under_review": 1, "notices": 1}
    assert second == {"ended": 0, "under_review": 0, "notices": 0}
    assert Notification.objects.filter(member=left).count() == 1


@pytest.mark.django_db
def test_renew_task_runs_for_a_given_day(programs):
    stays = make_person(occupation=Occupation.DOMESTIC, born=date(1980, 1, 1))
    enroll(stays, programs["domestic"])

    result = programs_renew.delay(on="2026-12-01").get()

    assert result == {"renewed": 1, "under_review": 0, "notices": 0, "reminders": 0}


@pytest.mark.celery_live
@pytest.mark.django_db(transaction=True)
def test_recheck_on_a_real_worker_notifies_each_member_once(
    programs, celery_live_worker
):
    # given: three members who no longer qualify, one who does
    gone = [make_person(occupation=Occupation.OTHER) for _ in range(3)]
    stays = make_person(occupation=Occupation.DOMESTIC, born=date(1980, 1, 1))
    for member in [*gone, stays]:
        enroll(member, programs["domestic"])

    # when: the task is delivered twice (a re-delivery after a worker restart)
    programs_recheck.delay(on=ON.isoformat())
    programs_recheck.delay(on=ON.isoformat())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if EnrollmentEvent.objects.count() >= 3 and _settled():
            break
        time.sleep(0.2)

    # then
    assert sorted(
        Enrollment.objects.filter(status="needs_review").values_list(
            "member_id", flat=True
        )
    ) == sorted(m.pk for m in gone)
    assert Enrollment.objects.get(member=stays).status == "active"
    assert EnrollmentEvent.objects.count() == 3
    assert not Enrollment.objects.filter(status="lapsed").exists()
    notices = Notification.objects.filter(template_code=TEMPLATE_UNDER_REVIEW)
    assert sorted(notices.values_list("member_id", flat=True)) == sorted(
        m.pk for m in gone
    )


def _settled() -> bool:
    """Both deliveries ran: the queue is empty and nothing is executing."""
    from portal.celery import app

    inspect = app.control.inspect(timeout=0.5)
    active = inspect.active() or {}
    reserved = inspect.reserved() or {}
    return not any(active.values()) and not any(reserved.values())
