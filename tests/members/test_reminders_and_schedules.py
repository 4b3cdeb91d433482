"""Beat schedules: seeded from code, idempotent, staff edits kept."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from members.actions.schedules import schedules_sync
from portal.schedules import DEFAULT_SCHEDULES

pytestmark = pytest.mark.django_db


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
        task="members.tasks.application_review_reminders_enqueue"
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
