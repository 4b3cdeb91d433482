"""security.md F17: the 09:00 Asia/Shanghai reminders fire once a day.

The beat entries are the rows `sync_schedules` seeded (django-celery-beat's
DatabaseScheduler reads them); their crontab is evaluated the way beat does
(`schedule.is_due(last_run_at)`) with the clock frozen at each moment of a day,
00:59 and 01:00 UTC (08:59 / 09:00 CST; China has no DST) included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django_celery_beat.models import PeriodicTask

from members.actions import reminders as r
from members.models import MembershipApplication, Notification
from tests.members.factories import submit_application

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
APPLICATION_REMINDER = "members.tasks.application_review_reminders_enqueue"
DATA_REQUEST_REMINDER = "members.tasks.data_request_reminders_enqueue"


class _Clock:
    def __init__(self, schedule):
        self.moment = datetime.now(UTC)
        schedule.nowfun = lambda: self.moment.astimezone(schedule.tz)


def _schedule_at(task: str, moment: datetime):
    """The beat entry's schedule with its clock frozen at `moment`."""
    entry = PeriodicTask.objects.get(task=task)
    schedule = entry.schedule
    _Clock(schedule).moment = moment
    return entry, schedule


def _fires_during(task: str, start: datetime, hours: int = 24) -> list[datetime]:
    """Tick beat every 30 seconds from `start`; the moments the entry ran."""
    schedule = PeriodicTask.objects.get(task=task).schedule
    clock = _Clock(schedule)
    fired = []
    last_run_at = start - timedelta(seconds=30)
    clock.moment = start
    while clock.moment < start + timedelta(hours=hours):
        due, _next = schedule.is_due(last_run_at)
        if due:
            fired.append(clock.moment)
            last_run_at = clock.moment
        clock.moment += timedelta(seconds=30)
    return fired


def test_the_seeded_entries_are_shanghai_crontabs():
    entry, schedule = _schedule_at(APPLICATION_REMINDER, datetime.now(UTC))

    assert str(entry.crontab.timezone) == "Asia/Shanghai"
    assert (entry.crontab.minute, entry.crontab.hour) == ("0", "9")
    assert str(schedule.tz) == "Asia/Shanghai"


def test_at_0059_utc_it_is_not_due_and_at_0100_utc_it_is():
    # Monday 7 Dec 2026; beat last ran it the working day before (Friday)
    last_run = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)

    _, before = _schedule_at(
        APPLICATION_REMINDER, datetime(2026, 12, 7, 0, 59, tzinfo=UTC)
    )
    due_before, wait = before.is_due(last_run)
    _, at = _schedule_at(APPLICATION_REMINDER, datetime(2026, 12, 7, 1, 0, tzinfo=UTC))
    due_at, _next = at.is_due(last_run)

    assert not due_before
    assert 0 < wait <= 60  # beat wakes up again at 09:00 CST
    assert due_at


def test_the_0900_reminder_fires_once_on_a_working_day_and_not_on_saturday():
    # one Shanghai day: 00:00 CST = 16:00 UTC the day before
    monday = _fires_during(
        APPLICATION_REMINDER, datetime(2026, 12, 6, 16, 0, tzinfo=UTC)
    )
    saturday = _fires_during(
        APPLICATION_REMINDER, datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
    )

    assert monday == [datetime(2026, 12, 7, 1, 0, tzinfo=UTC)]
    assert monday[0].astimezone(SH).hour == 9
    assert saturday == []


def test_the_daily_0910_reminder_fires_once_every_day():
    fires = _fires_during(
        DATA_REQUEST_REMINDER, datetime(2026, 12, 4, 16, 0, tzinfo=UTC), hours=48
    )

    assert fires == [
        datetime(2026, 12, 5, 1, 10, tzinfo=UTC),
        datetime(2026, 12, 6, 1, 10, tzinfo=UTC),
    ]


def test_two_runs_around_0900_cst_remind_once(sz, rv_nanshan, settings):
    """A second beat (or a re-delivered task) at the same minute adds nothing:
    the reminder's dedupe key is per submission and reviewer."""
    settings.PORTAL_HOLIDAYS = []
    application = submit_application(residence_county="440305")
    MembershipApplication.objects.filter(pk=application.pk).update(
        submitted_at=datetime(2026, 12, 1, 10, 0, tzinfo=SH)  # Tuesday
    )
    Notification.objects.all().delete()

    # Monday 7 Dec 09:00 CST (4 working days later): beat runs it, a second
    # tick runs it a second later, the next day's run comes too...
    first = r.application_review_reminders_enqueue(
        now=datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    )
    r.application_review_reminders_enqueue(
        now=datetime(2026, 12, 7, 1, 0, 1, tzinfo=UTC)
    )
    r.application_review_reminders_enqueue(now=datetime(2026, 12, 8, 1, 0, tzinfo=UTC))

    # ...and however often it runs, each reviewer has one reminder
    assert first >= 1
    assert Notification.objects.filter(user=rv_nanshan).count() == 1
