import pytest
from django.utils import timezone

from members.actions.notifications import notification_enqueue
from members.models import Notification

pytestmark = pytest.mark.django_db(transaction=True)


def test_worker_reads_a_message_and_turns_reminder_sms_off(
    login_as, live_server, worker
):
    # given a delivered inbox message
    notification_enqueue(
        template_code="notice_generic",
        dedupe_key="e2e:1",
        member=worker,
        params={"title": "保障到期提醒", "body": "您的意外险将于下月到期。"},
    )
    Notification.objects.update(status="sent", user=worker.user, sent_at=timezone.now())
    page = login_as(worker.user)
    # when the worker opens 消息 from the header badge
    page.goto(live_server.url + "/")
    page.locator("a.nav-messages").click()
    page.get_by_role("heading", name="消息").wait_for()
    assert page.locator("a.nav-messages .badge").inner_text().endswith("1")
    page.get_by_text("您的意外险将于下月到期。").wait_for()
    # and marks it read
    with page.expect_navigation():
        page.get_by_role("button", name="标为已读", exact=True).click()
    assert page.locator("a.nav-messages .badge").count() == 0
    # and switches reminder SMS off
    page.get_by_label("接收提醒短信").uncheck()
    with page.expect_navigation():
        page.get_by_role("button", name="保存设置").click()
    page.get_by_text("已关闭提醒短信").wait_for()
    worker.refresh_from_db()
    assert worker.reminders_opt_out is True
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
