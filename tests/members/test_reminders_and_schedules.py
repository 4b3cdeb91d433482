"""First reminders (applications waiting > 3 working days) and beat schedules."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from members.actions.reminders import reminders_applications_waiting
from members.actions.schedules import schedules_sync
from members.models import Member, MemberStatus, Notification
from members.selectors.notifications import working_days_before
from portal.schedules import DEFAULT_SCHEDULES
from tests.factories import make_member, make_staff

SH = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("day", "days", "expected"),
    [
        (date(2026, 3, 5), 3, date(2026, 3, 2)),  # Thu → Mon
        (date(2026, 3, 9), 3, date(2026, 3, 4)),  # Mon → previous Wed
        (date(2026, 3, 8), 1, date(2026, 3, 6)),  # Sun → Fri
    ],
)
def test_working_days_before(day, days, expected):
    assert working_days_before(day=day, days=days) == expected


def _applicant(org, created):
    member = make_member(org=org, status=MemberStatus.APPLICANT)
    Member.objects.filter(pk=member.pk).update(created_at=created)
    return member


def test_reviewers_get_one_reminder_per_day_for_old_applications(
    nanshan, nanshan_gig_pool, futian, reviewer_futian
):
    # given a Nanshan reviewer (staff of the district above the gig pool)
    reviewer = make_staff(org=nanshan, email="rev@example.cn")
    now = datetime(2026, 3, 5, 9, 0, tzinfo=SH)  # Thursday 09:00
    _applicant(nanshan_gig_pool, datetime(2026, 2, 27, 18, 0, tzinfo=SH))  # Fri: old
    _applicant(nanshan_gig_pool, datetime(2026, 3, 1, 12, 0, tzinfo=SH))  # Sun: old
    _applicant(nanshan_gig_pool, datetime(2026, 3, 2, 8, 0, tzinfo=SH))  # Mon: 3 days
    make_member(org=nanshan_gig_pool, status=MemberStatus.ACTIVE)
    # when the daily reminder runs twice (a duplicate beat tick)
    assert reminders_applications_waiting(now=now) == 2
    reminders_applications_waiting(now=now)
    # then the reviewer has one inbox and one e-mail notice, counting 2 applications
    rows = list(Notification.objects.order_by("channel"))
    assert [(r.user_id, r.channel, r.params) for r in rows] == [
        (reviewer.pk, "email", {"count": 2, "days": 3}),
        (reviewer.pk, "inbox", {"count": 2, "days": 3}),
    ]
    assert {r.category for r in rows} == {"reminder"}
    # and the Futian reviewer, whose district has no old applications, gets none
    assert not Notification.objects.filter(user=reviewer_futian).exists()


def test_no_reminder_without_old_applications(nanshan_gig_pool, reviewer_nanshan):
    now = datetime(2026, 3, 5, 9, 0, tzinfo=SH)
    _applicant(nanshan_gig_pool, datetime(2026, 3, 4, 9, 0, tzinfo=SH))
    assert reminders_applications_waiting(now=now) == 0
    assert Notification.objects.count() == 0


def test_data_migration_seeded_the_default_schedules_in_shanghai_time():
    for entry in DEFAULT_SCHEDULES:
        task = PeriodicTask.objects.get(name=entry["name"])
        assert task.task == entry["task"]
        assert task.queue == entry["queue"]
        assert str(task.crontab.timezone) == "Asia/Shanghai"
        assert task.crontab.minute == entry["crontab"].get("minute", "*")


def test_sync_schedules_is_idempotent_and_keeps_staff_edits(capsys):
    # given staff moved the reminder to 10:30 and disabled the sweeper
    reminder = PeriodicTask.objects.get(
        task="members.tasks.notification_remind_applications"
    )
    reminder.crontab = CrontabSchedule.objects.create(
        minute="30", hour="10", timezone="Asia/Shanghai"
    )
    reminder.save()
    PeriodicTask.objects.filter(task="members.tasks.notification_sweep").update(
        enabled=False
    )
    count_before = PeriodicTask.objects.count()
    # when the command runs again
    call_command("sync_schedules")
    # then nothing was created or overwritten
    assert PeriodicTask.objects.count() == count_before
    reminder.refresh_from_db()
    assert (reminder.crontab.hour, reminder.crontab.minute) == ("10", "30")
    assert not PeriodicTask.objects.get(task="members.tasks.notification_sweep").enabled
    assert "0 schedule(s) created" in capsys.readouterr().out


def test_sync_creates_a_missing_entry_added_later():
    extra = {
        "name": "测试:新任务",
        "task": "members.tasks.notification_sweep",
        "crontab": {"minute": "15", "hour": "3"},
        "queue": "notifications",
    }
    assert schedules_sync(schedules=[*DEFAULT_SCHEDULES, extra]) == ["测试:新任务"]
    assert schedules_sync(schedules=[*DEFAULT_SCHEDULES, extra]) == []
    task = PeriodicTask.objects.get(name="测试:新任务")
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == (
        "15",
        "3",
        "*",
    )
