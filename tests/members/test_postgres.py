"""Races and data at rest on real PostgreSQL (security.md F13, F14, PI7)."""

import os
import re
import shutil
import subprocess
import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from members.actions.joining import application_approve
from members.models import ApplicationStatus, Member, MembershipApplication, User
from portal.exceptions import ConflictError
from tests.members.factories import make_verified_user, submit_application

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ID_NUMBER = "440305199003071236"


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")


def _run_concurrently(n, target):
    barrier = threading.Barrier(n)
    results = [None] * n

    def worker(i):
        try:
            barrier.wait(timeout=30)
            results[i] = target(i)
        except Exception as exc:  # noqa: BLE001 - collected and asserted on
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_twenty_concurrent_joins_with_one_id_make_one_application(sz):
    # given: 20 verified accounts, each logged in
    users = [make_verified_user(phone=f"1370000{i:04d}") for i in range(20)]
    clients = []
    for user in users:
        c = Client()
        c.force_login(user)
        clients.append(c)
    data = {
        "name": "王小明",
        "id_number": ID_NUMBER,
        "occupation": "courier",
        "employment_category": "self_employed",
        "hukou_county": "440305",
        "residence_county": "440305",
        "consent_sensitive": "on",
    }

    # when
    responses = _run_concurrently(
        20, lambda i: clients[i].post(reverse("members:join"), data)
    )

    # then
    assert all(not isinstance(r, Exception) for r in responses), responses
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [302]
    refused = [r for r in responses if r.status_code == 200]
    assert all("该身份证号已有待审核的入会申请" in r.content.decode() for r in refused)
    assert MembershipApplication.objects.count() == 1
    assert MembershipApplication.objects.get().status == ApplicationStatus.PENDING


def test_two_reviewers_approving_at_once_make_one_member(sz, rv_nanshan, rv_city):
    application = submit_application(id_number=ID_NUMBER)
    reviewers = [rv_nanshan, rv_city]

    results = _run_concurrently(
        2,
        lambda i: application_approve(
            application_id=application.pk,
            reviewer=User.objects.get(pk=reviewers[i].pk),
        ),
    )

    members = [r for r in results if isinstance(r, Member)]
    conflicts = [r for r in results if isinstance(r, ConflictError)]
    assert len(members) == 1 and len(conflicts) == 1, results
    assert Member.objects.count() == 1
    assert Member.objects.get().status == "active"


def test_pg_dump_holds_no_plaintext_id_or_phone(sz, client, rv_nanshan, sms_outbox):
    if not shutil.which("pg_dump"):
        pytest.skip("pg_dump is not installed")
    # given: a registered worker, an approved member, a failed login, then a
    # new-device login with its SMS code (sessions, codes and audit rows)
    phone = "13912345678"
    user = make_verified_user(phone=phone)
    application = submit_application(user=user, id_number=ID_NUMBER, name="张三丰")
    application_approve(application_id=application.pk, reviewer=rv_nanshan)
    client.post(
        reverse("members:login"),
        {"username": phone, "password": "wrong password"},
        REMOTE_ADDR="10.1.1.1",
    )
    client.post(
        reverse("members:login"),
        {"username": phone, "password": "correct horse battery staple"},
        REMOTE_ADDR="10.1.1.2",
    )
    code = re.search(r"\d{6}", sms_outbox[-1][1]).group(0)
    verified = client.post(reverse("members:login_verify"), {"code": code})
    assert verified["Location"] == reverse("members:me")
    settings_dict = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": settings_dict.get("PASSWORD") or ""}
    command = [
        "pg_dump",
        "--data-only",
        "-h",
        settings_dict.get("HOST") or "127.0.0.1",
        "-p",
        str(settings_dict.get("PORT") or 5432),
        "-U",
        settings_dict.get("USER") or "postgres",
        settings_dict["NAME"],
    ]

    # when
    dump = subprocess.run(  # noqa: S603
        command, env=env, capture_output=True, check=True, timeout=120
    ).stdout.decode()

    # then: the rows are there, the numbers are not
    assert "张三丰" in dump
    assert Member.objects.get().member_no in dump
    for secret in (ID_NUMBER, phone, "440305 1990", "139 1234 5678"):
        assert secret not in dump


def test_two_concurrent_assigns_make_one_assignment_and_no_500(sz):
    from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

    from members.models import CaseAssignment
    from tests.factories import login_staff, make_member, make_staff

    member = make_member(org=sz["440305_pool"])
    reviewer = make_staff(org=sz["440305"], perms=("members.view_sensitive",))
    clients = []
    for i in range(2):
        lead = make_staff(
            org=sz["city"],
            perms=("members.view_member", "members.assign_case"),
            username=f"lead{i}",
        )
        c = Client()
        login_staff(c, lead)
        clients.append(c)
    data = {
        "action": "assign_case",
        ACTION_CHECKBOX_NAME: [member.pk],
        "apply": "1",
        "staff": reviewer.pk,
    }
    url = reverse("admin:members_member_changelist")

    responses = _run_concurrently(2, lambda i: clients[i].post(url, data))

    assert all(not isinstance(r, Exception) for r in responses), responses
    assert [r.status_code for r in responses] == [302, 302]
    assert CaseAssignment.objects.filter(staff=reviewer, member=member).count() == 1
