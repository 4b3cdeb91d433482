"""Working days and the two periodic reminders (idempotent through dedupe keys)."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from members.actions import reminders as r
from members.models import DataRequest, MembershipApplication, Notification
from members.notification_templates import render
from members.tasks import reminders as tasks
from portal.workdays import add_workdays, is_workday, workdays_between
from tests.factories import make_staff
from tests.members.factories import make_verified_user, submit_application

SH = ZoneInfo("Asia/Shanghai")


def test_weekends_and_configured_holidays_are_not_workdays(settings):
    settings.PORTAL_HOLIDAYS = ["2026-10-01", "2026-10-02"]
    settings.PORTAL_EXTRA_WORKDAYS = ["2026-10-10"]  # a Saturday make-up day

    assert is_workday(date(2026, 9, 30))
    assert not is_workday(date(2026, 10, 1))
    assert not is_workday(date(2026, 10, 3))
    assert is_workday(date(2026, 10, 10))
    # Wed 30 Sep + 3 working days skips the holiday and the weekend
    assert add_workdays(date(2026, 9, 30), 3) == date(2026, 10, 7)
    assert add_workdays(date(2026, 10, 7), -3) == date(2026, 9, 30)
    assert workdays_between(date(2026, 9, 30), date(2026, 10, 7)) == 3
    assert workdays_between(date(2026, 10, 7), date(2026, 9, 30)) == 0


@pytest.mark.django_db
def test_application_reminder_after_three_working_days_once(sz, rv_nanshan, settings):
    settings.PORTAL_HOLIDAYS = []
    # given: submitted Friday 13 Nov; Thursday 19 Nov is 4 working days later
    rv_futian = make_staff(
        org=sz["440304"], perms=("members.change_membershipapplication",)
    )
    application = submit_application(residence_county="440305")
    submitted = datetime(2026, 11, 13, 10, 0, tzinfo=SH)
    MembershipApplication.objects.filter(pk=application.pk).update(
        submitted_at=submitted
    )
    Notification.objects.all().delete()

    # when: Wednesday (3 working days) nothing; Thursday one reminder, twice run
    assert (
        r.application_review_reminders_enqueue(
            now=datetime(2026, 11, 18, 9, 0, tzinfo=SH)
        )
        == 0
    )
    r.application_review_reminders_enqueue(now=datetime(2026, 11, 19, 9, tzinfo=SH))
    r.application_review_reminders_enqueue(now=datetime(2026, 11, 19, 9, tzinfo=SH))

    # then
    notice = Notification.objects.get()
    assert notice.template_code == "membership_application_review_overdue"
    assert notice.user == rv_nanshan
    assert notice.category == "reminder"
    assert notice.params == {
        "application_id": application.pk,
        "org_name": "南山区新业态联合工会",
        "submitted_on": "2026-11-13",
        "waiting_workdays": 4,
    }
    assert not Notification.objects.filter(user=rv_futian).exists()


@pytest.mark.django_db
def test_data_request_reminder_after_ten_days_once(sz, rv_nanshan):
    from members.actions.people import data_request_create

    user = make_verified_user()
    submit_application(user=user, residence_county="440305")
    request = data_request_create(user=user, kind="deletion")
    opened = datetime(2026, 11, 1, 9, 0, tzinfo=SH)
    DataRequest.objects.filter(pk=request.pk).update(created_at=opened)
    Notification.objects.all().delete()

    assert r.data_request_reminders_enqueue(now=opened + timedelta(days=9)) == 0
    r.data_request_reminders_enqueue(now=opened + timedelta(days=11))
    r.data_request_reminders_enqueue(now=opened + timedelta(days=12))

    notice = Notification.objects.get()
    assert notice.template_code == "data_request_overdue"
    assert notice.user == rv_nanshan
    assert notice.params["request_id"] == request.pk
    assert notice.params["kind"] == "删除我的个人信息"
    assert notice.params["opened_on"] == "2026-11-01"


@pytest.mark.django_db
def test_data_request_reminder_names_the_kind_in_words(sz, rv_nanshan):
    # given: a worker asked why an automated check decided about them
    from members.actions.people import data_request_create

    user = make_verified_user()
    submit_application(user=user, residence_county="440305")
    request = data_request_create(user=user, kind="explanation")
    opened = datetime(2026, 11, 1, 9, 0, tzinfo=SH)
    DataRequest.objects.filter(pk=request.pk).update(created_at=opened)
    Notification.objects.all().delete()

    # when: the reminder runs while another language is active (a worker
    # process's default), the stored label is still the Chinese one
    with translation.override("en"):
        r.data_request_reminders_enqueue(now=opened + timedelta(days=11))

    # then: the staff notice says 要求说明自动判断的理由, not `explanation`
    notice = Notification.objects.get(template_code="data_request_overdue")
    _, text = render(notice.template_code, notice.params)
    assert notice.params["kind"] == "要求说明自动判断的理由"
    assert text == (
        f"会员个人信息请求(编号{request.pk},类型要求说明自动判断的理由)"
        "自2026-11-01起已11天未处理,请及时处理。"
    )
    assert "explanation" not in text


@pytest.mark.django_db
def test_tasks_run_the_actions_and_are_registered_in_schedules(sz):
    from portal.schedules import DEFAULT_SCHEDULES

    assert tasks.application_review_reminders_enqueue.delay().get() == 0
    assert tasks.data_request_reminders_enqueue.delay().get() == 0
    names = {entry["task"] for entry in DEFAULT_SCHEDULES}
    assert {
        "members.tasks.application_review_reminders_enqueue",
        "members.tasks.data_request_reminders_enqueue",
    } <= names
