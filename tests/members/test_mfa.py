"""Staff TOTP on every login (security.md AU4): a staff session without a verified
OTP reaches only the TOTP step in the admin and gets 403 from the API; workers keep
their phone + password login."""

from __future__ import annotations

import re
from base64 import b32decode, b32encode

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp

from members.actions.mfa import OtpOutcome, staff_totp_check, staff_totp_reset
from members.actions.people import member_sensitive_reveal
from members.models import AuditLog, StaffTotpDevice
from tests.factories import (
    assign_case,
    login_staff,
    make_member,
    make_staff,
    make_totp_device,
    make_user,
    totp_code,
)

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
OTP_URL = "/admin/otp/"
SETUP_URL = "/admin/otp/setup/"


def _password_login(client, user, url="/admin/login/?next=/admin/"):
    return client.post(url, {"username": user.username, "password": PASSWORD})


def _audits(action):
    return list(AuditLog.objects.filter(action=action).order_by("id"))


# --- the password step leads to the TOTP step ----------------------------------


def test_password_only_staff_session_is_sent_from_admin_to_the_otp_step(
    client, reviewer_nanshan
):
    make_totp_device(reviewer_nanshan)
    client.force_login(reviewer_nanshan)  # password passed, no code yet

    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"] == f"{OTP_URL}?next=%2Fadmin%2F"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert 'autocomplete="one-time-code"' in page.content.decode()


def test_admin_password_login_goes_to_the_otp_step(client, reviewer_nanshan):
    make_totp_device(reviewer_nanshan)

    response = _password_login(client, reviewer_nanshan)

    assert response.status_code == 302
    assert response["Location"] == f"{OTP_URL}?next=%2Fadmin%2F"
    assert client.get("/admin/members/member/").status_code == 302


def test_portal_login_page_sends_staff_to_the_otp_step(client, reviewer_nanshan):
    make_totp_device(reviewer_nanshan)

    response = _password_login(client, reviewer_nanshan, url=reverse("members:login"))

    assert response.status_code == 302
    assert response["Location"].startswith(OTP_URL)


def test_unverified_staff_reach_no_other_page(client, reviewer_nanshan):
    client.force_login(reviewer_nanshan)

    inbox = client.get("/messages/")

    assert inbox.status_code == 302
    assert inbox["Location"].startswith(OTP_URL)


def test_right_code_opens_the_admin_with_a_new_session_id(client, reviewer_nanshan):
    device = make_totp_device(reviewer_nanshan)
    _password_login(client, reviewer_nanshan)
    before = client.session.session_key

    response = client.post(OTP_URL, {"token": totp_code(device), "next": "/admin/"})

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert client.session.session_key != before
    [row] = _audits("staff_otp_verify")
    assert row.outcome == AuditLog.Outcome.SUCCESS
    assert row.actor == reviewer_nanshan


def test_wrong_code_is_refused_and_audited(client, reviewer_nanshan):
    device = make_totp_device(reviewer_nanshan)
    _password_login(client, reviewer_nanshan)
    wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"

    response = client.post(OTP_URL, {"token": wrong})

    assert response.status_code == 400
    assert "验证码不正确" in response.content.decode()
    assert client.get("/admin/").status_code == 302
    [row] = _audits("staff_otp_verify")
    assert row.outcome == AuditLog.Outcome.FAILURE
    assert row.detail["reason"] == "wrong_code"
    assert wrong not in str(row.detail)
    device.refresh_from_db()
    assert device.throttling_failure_count == 1


@pytest.mark.parametrize("token", ["", "12345", "abcdef", "１２３４５６", "1234567"])
def test_malformed_code_is_a_form_error(client, reviewer_nanshan, token):
    make_totp_device(reviewer_nanshan)
    _password_login(client, reviewer_nanshan)

    response = client.post(OTP_URL, {"token": token})

    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_a_code_is_accepted_once(client, reviewer_nanshan):
    device = make_totp_device(reviewer_nanshan)
    code = totp_code(device)
    assert staff_totp_check(user=reviewer_nanshan, token=code).outcome == "verified"

    again = staff_totp_check(user=reviewer_nanshan, token=code)

    assert again.outcome == OtpOutcome.WRONG


def test_repeated_wrong_codes_are_throttled(client, reviewer_nanshan, settings):
    # A long back-off, so the test does not depend on how fast it runs.
    settings.OTP_TOTP_THROTTLE_FACTOR = 3600
    device = make_totp_device(reviewer_nanshan)
    _password_login(client, reviewer_nanshan)
    client.post(OTP_URL, {"token": "000000" if totp_code(device) != "000000" else "1"})

    response = client.post(OTP_URL, {"token": totp_code(device)})

    assert response.status_code == 429
    assert "错误次数过多" in response.content.decode()
    assert client.get("/admin/").status_code == 302
    throttled = _audits("staff_otp_verify")[-1]
    assert throttled.outcome == AuditLog.Outcome.DENIED
    assert throttled.detail["reason"] == "throttled"


def test_every_password_login_starts_unverified(client, reviewer_nanshan):
    login_staff(client, reviewer_nanshan)
    assert client.get("/admin/").status_code == 200

    _password_login(client, reviewer_nanshan)

    assert DEVICE_ID_SESSION_KEY not in client.session
    assert client.get("/admin/")["Location"].startswith(OTP_URL)


def test_next_outside_the_site_is_ignored(client, reviewer_nanshan):
    device = make_totp_device(reviewer_nanshan)
    client.force_login(reviewer_nanshan)

    response = client.post(
        OTP_URL, {"token": totp_code(device), "next": "https://evil.example/"}
    )

    assert response["Location"] == "/admin/"


def test_anonymous_and_workers_cannot_use_the_otp_step(client, worker_user):
    assert client.get(OTP_URL)["Location"].startswith("/admin/login/")
    client.force_login(worker_user)
    assert client.get(SETUP_URL)["Location"].startswith("/admin/login/")
    assert not StaffTotpDevice.objects.exists()


# --- enrolment --------------------------------------------------------------------


def _secret_from(html: str) -> str:
    match = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', html)
    assert match, "no base32 secret on the page"
    return match.group(1).replace(" ", "")


def test_enrolment_end_to_end(client, reviewer_nanshan):
    # given: a staff member without a device logs in with the password
    login = _password_login(client, reviewer_nanshan)
    step = client.get(login["Location"])
    assert step.status_code == 302
    assert step["Location"].startswith(SETUP_URL)

    # when: the setup page is shown (QR code + secret) and a right code is entered
    page = client.get(step["Location"])
    html = page.content.decode()
    secret = _secret_from(html)
    assert page.status_code == 200
    assert "<svg" in html
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert "style" not in svg and "<script" not in svg
    assert "no-store" in page["Cache-Control"]
    assert "script-src" in page["Content-Security-Policy"]
    again = client.get(step["Location"]).content.decode()
    assert _secret_from(again) == secret  # one device, not a new one per visit
    code = f"{totp(b32decode(secret)):06d}"
    done = client.post(step["Location"], {"token": code, "next": "/admin/"})

    # then: the device is confirmed, the session verified, and both steps audited
    assert done.status_code == 302
    assert client.get("/admin/").status_code == 200
    device = StaffTotpDevice.objects.get(user=reviewer_nanshan)
    assert device.confirmed
    assert [r.outcome for r in _audits("staff_otp_device_create")] == ["success"]
    assert [r.outcome for r in _audits("staff_otp_device_confirm")] == ["success"]
    # next time, the code step, not the setup page
    assert client.get(SETUP_URL)["Location"] == "/admin/"


def test_enrolment_refuses_a_wrong_code(client, reviewer_nanshan):
    client.force_login(reviewer_nanshan)
    secret = _secret_from(client.get(SETUP_URL).content.decode())
    wrong = f"{(totp(b32decode(secret)) + 1) % 1_000_000:06d}"

    response = client.post(SETUP_URL, {"token": wrong})

    assert response.status_code == 400
    assert not StaffTotpDevice.objects.filter(confirmed=True).exists()
    assert client.get("/admin/").status_code == 302
    [row] = _audits("staff_otp_device_confirm")
    assert row.outcome == AuditLog.Outcome.FAILURE


def test_staff_with_a_device_cannot_enrol_another(client, reviewer_nanshan):
    make_totp_device(reviewer_nanshan)
    client.force_login(reviewer_nanshan)

    response = client.get(SETUP_URL)

    assert response["Location"].startswith(OTP_URL)
    assert StaffTotpDevice.objects.filter(user=reviewer_nanshan).count() == 1


# --- API and reveal ---------------------------------------------------------------


@pytest.fixture
def nanshan_member(sz):
    return make_member(
        org=sz["440305_pool"], id_number="440305199003071236", phone="13812340000"
    )


def test_api_refuses_unverified_staff_with_403(client, city_reviewer):
    client.force_login(city_reviewer)

    response = client.get("/api/schema/")

    assert response.status_code == 403
    assert "工作人员须先在管理后台完成两步验证" in response.content.decode()


def test_api_serves_verified_staff(client, city_reviewer):
    login_staff(client, city_reviewer)

    assert client.get("/api/schema/").status_code == 200


def test_reveal_needs_a_verified_session(client, sz, nanshan_member):
    staff = make_staff(
        org=sz["city"],
        perms=("members.view_member", "members.view_sensitive"),
    )
    assign_case(staff, nanshan_member)
    # the action itself refuses a user that did not pass the TOTP step
    with pytest.raises(PermissionDenied):
        member_sensitive_reveal(
            actor=staff, member=nanshan_member, field="id_number", reason="核对身份"
        )
    [row] = _audits("member_reveal")
    assert row.outcome == AuditLog.Outcome.DENIED
    assert row.detail == {"otp_verified": False}

    # and over HTTP an unverified session never reaches the reveal view
    make_totp_device(staff)
    client.force_login(staff)
    url = reverse("admin:members_member_reveal", args=[nanshan_member.pk])
    response = client.post(url, {"field": "id_number", "reason": "核对身份"})
    assert response.status_code == 302
    assert response["Location"].startswith(OTP_URL)
    assert nanshan_member.id_number not in response.content.decode()
    assert len(_audits("member_reveal")) == 1


# --- reset by a superuser -----------------------------------------------------------


def test_superuser_resets_a_staff_device_and_it_is_audited(client, reviewer_nanshan):
    other = make_user(username="reviewer_other")
    device = make_totp_device(reviewer_nanshan)
    reviewer_client = client.__class__()
    login_staff(reviewer_client, reviewer_nanshan)
    admin = make_user(is_staff=True, is_superuser=True)
    login_staff(client, admin)

    response = client.post(
        reverse("admin:members_user_changelist"),
        {"action": "reset_totp", "_selected_action": [reviewer_nanshan.pk]},
    )

    assert response.status_code == 302
    assert not StaffTotpDevice.objects.filter(pk=device.pk).exists()
    assert StaffTotpDevice.objects.filter(user=admin).exists()
    [row] = _audits("staff_otp_reset")
    assert (row.actor, row.object_id, row.outcome) == (
        admin,
        str(reviewer_nanshan.pk),
        "success",
    )
    assert row.detail["deleted"] == 1
    assert other.pk  # untouched
    # the reviewer's verified session is verified no more: enrol again
    assert reviewer_client.get("/admin/")["Location"].startswith(OTP_URL)
    assert reviewer_client.get(OTP_URL)["Location"].startswith(SETUP_URL)


def test_only_superusers_may_reset(client, city_reviewer, reviewer_nanshan):
    make_totp_device(reviewer_nanshan)
    city_reviewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_user", "change_user"])
    )
    login_staff(client, city_reviewer)

    page = client.get(reverse("admin:members_user_changelist"))
    client.post(
        reverse("admin:members_user_changelist"),
        {"action": "reset_totp", "_selected_action": [reviewer_nanshan.pk]},
    )

    assert page.status_code == 200
    assert "reset_totp" not in page.content.decode()
    assert StaffTotpDevice.objects.filter(user=reviewer_nanshan).exists()
    with pytest.raises(PermissionDenied):
        staff_totp_reset(actor=city_reviewer, user=reviewer_nanshan)
    [row] = _audits("staff_otp_reset")
    assert row.outcome == AuditLog.Outcome.DENIED


def test_device_secrets_are_not_in_the_admin(client):
    admin = make_user(is_staff=True, is_superuser=True)
    login_staff(client, admin)

    index = client.get("/admin/").content.decode()

    assert "otp_totp" not in index
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404


# --- workers and demo -------------------------------------------------------------


def test_worker_login_takes_no_totp_step(client, worker):
    """Workers prove their phone by SMS instead (tests/members/test_worker_mfa.py);
    on a trusted browser the password alone logs in, and never via TOTP."""
    from members.worker_mfa import trusted_device_value

    client.cookies["trusted_device"] = trusted_device_value(worker.user)
    response = client.post(
        reverse("members:login"), {"username": "13812345678", "password": PASSWORD}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("members:me")
    assert client.get(reverse("members:me")).status_code == 200
    assert not StaffTotpDevice.objects.exists()


def test_demo_totp_refuses_without_debug(reviewer_nanshan, settings):
    settings.DEBUG = False
    make_totp_device(reviewer_nanshan)

    with pytest.raises(CommandError, match="DEBUG=True"):
        call_command("demo_totp", "reviewer_nanshan")


def test_demo_totp_prints_a_code_that_verifies(reviewer_nanshan, settings, capsys):
    settings.DEBUG = True
    make_totp_device(reviewer_nanshan)

    call_command("demo_totp", "reviewer_nanshan")
    code = capsys.readouterr().out.strip()

    assert re.fullmatch(r"\d{6}", code)
    check = staff_totp_check(user=reviewer_nanshan, token=code)
    assert check.outcome == OtpOutcome.VERIFIED


def test_seed_demo_gives_staff_a_device_and_prints_how_to_get_a_code(
    settings, capsys, sz
):
    from members.models import User

    settings.DEBUG = True

    call_command("seed_demo")
    out = capsys.readouterr().out

    assert "python manage.py demo_totp <username>" in out
    staff = User.objects.filter(is_staff=True)
    assert staff.filter(username="demo_admin").exists()
    for user in staff:
        device = StaffTotpDevice.objects.get(user=user, confirmed=True)
        assert b32encode(device.bin_key).decode() in out


def test_a_superuser_without_is_staff_also_needs_the_code(client):
    boss = make_user(is_superuser=True)
    make_totp_device(boss)

    response = _password_login(client, boss, url=reverse("members:login"))

    assert response["Location"].startswith(OTP_URL)
    assert client.get("/messages/")["Location"].startswith(OTP_URL)
    assert client.get("/api/schema/").status_code == 403
