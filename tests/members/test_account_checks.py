"""Deploy checks on the accounts (security.md AC8 ≤2 superusers, AU6 no default
or shared accounts): `manage.py check --deploy --database default`."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from members.checks import check_accounts
from tests.factories import make_staff, make_user

pytestmark = pytest.mark.django_db


def _ids(databases=("default",)) -> list[str]:
    return [message.id for message in check_accounts(None, databases=databases)]


def test_two_superusers_and_personal_names_pass(nanshan):
    make_user(phone="13800000001", is_superuser=True, is_staff=True)
    make_user(phone="13800000002", is_superuser=True, is_staff=True)
    make_staff(org=nanshan, username="wang.li")

    assert _ids() == []


def test_a_third_active_superuser_is_refused():
    for n in range(3):
        make_user(phone=f"1380000001{n}", is_superuser=True, is_staff=True)

    assert _ids() == ["members.E004"]


def test_a_deactivated_superuser_does_not_count():
    admins = [
        make_user(phone=f"1380000002{n}", is_superuser=True, is_staff=True)
        for n in range(3)
    ]
    admins[0].is_active = False
    admins[0].save(update_fields=["is_active"])

    assert _ids() == []


@pytest.mark.parametrize("name", ["admin", "Admin", "test", "demo_admin", "TEST_ops"])
def test_default_and_shared_account_names_are_refused(nanshan, name):
    make_staff(org=nanshan, username=name)

    messages = check_accounts(None, databases=["default"])

    assert [m.id for m in messages] == ["members.E005"]
    assert name in messages[0].msg


def test_a_deactivated_demo_account_passes(nanshan):
    make_staff(org=nanshan, username="demo_admin", is_active=False)

    assert _ids() == []


def test_the_check_runs_only_when_the_database_is_asked_for(nanshan):
    make_staff(org=nanshan, username="admin")

    assert _ids(databases=None) == []
    with pytest.raises(SystemCheckError, match="members.E005"):
        call_command("check", deploy=True, databases=["default"], tags=["database"])
