"""A reviewer's admin login in Chromium with the TOTP step (security.md AU4):
first login enrols an authenticator (QR code + secret, under the CSP), the next
login asks only for the code."""

import re
from base64 import b32decode

import pytest
from django_otp.oath import totp

from members.models import AuditLog, UnionOrg
from members.reference_data import seed_all
from tests.factories import make_staff
from tests.members.factories import REVIEWER_PERMS

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct horse battery staple"


def _password_step(page, base):
    page.goto(base + "/admin/")
    page.wait_for_url(re.compile(r"/admin/login/"))
    page.locator("#id_username").fill("rv_otp_e2e")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("input[type=submit]").click()


def test_reviewer_enrols_then_logs_in_with_a_code(phone_page, live_server, settings):
    # given: a Nanshan reviewer without an authenticator yet; no back-off after a
    # wrong code, so the retry below does not depend on the clock
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    seed_all()
    make_staff(
        org=UnionOrg.objects.get(name="南山区总工会"),
        perms=REVIEWER_PERMS,
        username="rv_otp_e2e",
    )
    page = phone_page
    csp_errors = []
    page.on(
        "console",
        lambda msg: (
            csp_errors.append(msg.text)
            if "Content Security Policy" in msg.text
            else None
        ),
    )

    # when: the password is right, the admin asks to set up an authenticator
    _password_step(page, live_server.url)
    page.wait_for_url(re.compile(r"/admin/otp/setup/"))
    assert page.locator(".otp-qr svg").is_visible()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    key = b32decode(secret)
    page.locator("#id_token").fill(f"{totp(key):06d}")
    page.locator("#otp-form input[type=submit]").click()

    # then: the admin opens
    page.wait_for_url(re.compile(r"/admin/$"))
    page.get_by_text("两步验证已启用").wait_for()
    assert page.locator("#user-tools").count() == 1
    assert csp_errors == []

    # when: the reviewer logs out and in again, only the code is asked for
    page.locator("#logout-form button").click()
    _password_step(page, live_server.url)
    page.wait_for_url(re.compile(r"/admin/otp/\?"))
    page.locator("#id_token").fill("000000" if totp(key) != 0 else "111111")
    page.locator("#otp-form input[type=submit]").click()
    page.get_by_text("验证码不正确").wait_for()
    # the code of the current step was used for the enrolment: use the next one
    page.locator("#id_token").fill(f"{totp(key, t0=-30):06d}")
    page.locator("#otp-form input[type=submit]").click()
    page.wait_for_url(re.compile(r"/admin/$"))
    assert csp_errors == []
    actions = set(AuditLog.objects.values_list("action", flat=True))
    assert {"staff_otp_device_create", "staff_otp_device_confirm"} <= actions
    assert AuditLog.objects.filter(
        action="staff_otp_verify", outcome="failure"
    ).exists()


def test_login_as_keeps_staff_at_the_code_step_unless_verified(login_as, live_server):
    seed_all()
    staff = make_staff(org=UnionOrg.objects.get(name="福田区总工会"), username="rv2")

    page = login_as(staff)
    page.goto(live_server.url + "/admin/")
    page.wait_for_url(re.compile(r"/admin/otp/setup/"))

    page = login_as(staff, totp_verified=True)
    page.goto(live_server.url + "/admin/")
    page.wait_for_url(re.compile(r"/admin/$"))
