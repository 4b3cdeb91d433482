"""Admin: programs with inlines, enrollments scoped by org subtree with masked
names only, and the dashboard chart."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from members.models import Occupation
from services.models import Enrollment, EnrollmentSource
from tests.factories import login_staff, make_staff
from tests.services.conftest import make_person

pytestmark = pytest.mark.django_db

VIEW_PERMS = ("services.view_enrollment", "services.view_program")


def enroll(member, program, status="active"):
    return Enrollment.objects.create(
        member=member,
        program=program,
        period_start=date(2026, 1, 1),
        period_end=date(2026, 12, 31),
        source=EnrollmentSource.PLATFORM,
        status=status,
    )


@pytest.fixture
def people(programs, nanshan, futian):
    ns = make_person(org=nanshan, name="王小明", occupation=Occupation.DOMESTIC)
    ft = make_person(org=futian, name="李大红", occupation=Occupation.DOMESTIC)
    enroll(ns, programs["domestic"])
    enroll(ft, programs["domestic"], status="lapsed")
    return ns, ft


def test_enrollment_list_is_scoped_and_masked(client, people, nanshan):
    staff = make_staff(org=nanshan, perms=VIEW_PERMS)
    login_staff(client, staff)

    response = client.get(reverse("admin:services_enrollment_changelist"))

    body = response.content.decode()
    assert response.status_code == 200
    assert "王**" in body
    assert "王小明" not in body
    assert "李**" not in body  # Futian is outside Nanshan's subtree


def test_city_staff_sees_both_districts_and_can_filter_by_org(
    client, people, shenzhen, futian
):
    staff = make_staff(org=shenzhen, perms=VIEW_PERMS)
    login_staff(client, staff)
    url = reverse("admin:services_enrollment_changelist")

    everything = client.get(url).content.decode()
    only_futian = client.get(url, {"org": futian.pk}).content.decode()

    assert "王**" in everything and "李**" in everything
    assert "李**" in only_futian and "王**" not in only_futian


def test_foreign_enrollment_change_page_is_not_found(client, people, nanshan):
    staff = make_staff(org=nanshan, perms=VIEW_PERMS)
    login_staff(client, staff)
    foreign = Enrollment.objects.get(member=people[1])

    response = client.get(
        reverse("admin:services_enrollment_change", args=[foreign.pk])
    )

    assert response.status_code == 302  # admin redirects "does not exist" home


def test_dashboard_shows_counts_and_a_chart(client, people, shenzhen):
    staff = make_staff(org=shenzhen, perms=VIEW_PERMS)
    login_staff(client, staff)

    response = client.get(reverse("admin:services_enrollment_dashboard"))

    body = response.content.decode()
    assert response.status_code == 200
    assert "<svg" in body and 'class="bar-active"' in body
    assert 'class="bar-lapsed"' in body
    assert "style=" not in body.split('id="content-main"')[1]
    row = body.split('<th scope="row">家政守护</th>')[1].split("</tr>")[0]
    # active, needs_review, lapsed, ended, withdrawn, total
    assert row.startswith(
        "<td>1</td><td>0</td><td>1</td><td>0</td><td>0</td><td>2</td>"
    )


def test_dashboard_needs_permission(client, people, nanshan):
    staff = make_staff(org=nanshan)
    login_staff(client, staff)

    response = client.get(reverse("admin:services_enrollment_dashboard"))

    assert response.status_code == 403


def test_program_change_page_has_rule_and_benefit_inlines(client, programs):
    from tests.factories import make_user

    admin_user = make_user(is_staff=True, is_superuser=True)
    login_staff(client, admin_user)

    response = client.get(
        reverse("admin:services_program_change", args=[programs["e_road"].pk])
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "资格规则" in body and "保障项目" in body
    assert "默认30天(配置值)" in body


def _program_post(sponsor, rule: dict) -> dict:
    data = {
        "code": "pilot",
        "name": "试点守护",
        "description": "试点",
        "sponsor_org": str(sponsor.pk),
        "region_prefix": "4403",
        "enrollment_mode": "named",
        "starts_on": "2026-01-01",
        "ends_on": "",
        "is_active": "on",
        "period_rule": "calendar_year",
        "period_months": "12",
        "renewal_lead_days": "30",
        "rules-TOTAL_FORMS": "1",
        "rules-INITIAL_FORMS": "0",
        "benefit_items-TOTAL_FORMS": "0",
        "benefit_items-INITIAL_FORMS": "0",
    }
    data.update({f"rules-0-{key}": value for key, value in rule.items()})
    return data


def test_staff_adds_a_program_with_an_age_rule_in_the_admin(client, programs):
    from services.models import EligibilityRule, Program
    from tests.factories import make_user

    login_staff(client, make_user(is_staff=True, is_superuser=True))
    sponsor = programs["e_road"].sponsor_org

    response = client.post(
        reverse("admin:services_program_add"),
        _program_post(
            sponsor,
            {
                "kind": "age_between",
                "occupations": "[]",
                "min_value": "18",
                "max_value": "55",
                "effective_from": "2026-01-01",
            },
        ),
    )

    assert response.status_code == 302
    rule = EligibilityRule.objects.get(program=Program.objects.get(code="pilot"))
    assert (rule.kind, rule.min_value, rule.max_value) == ("age_between", 18, 55)


def test_admin_rejects_an_age_rule_without_bounds(client, programs):
    from services.models import Program
    from tests.factories import make_user

    login_staff(client, make_user(is_staff=True, is_superuser=True))
    sponsor = programs["e_road"].sponsor_org

    response = client.post(
        reverse("admin:services_program_add"),
        _program_post(
            sponsor,
            {
                "kind": "age_between",
                "occupations": "[]",
                "min_value": "18",
                "effective_from": "2026-01-01",
            },
        ),
    )

    assert response.status_code == 200
    assert "年龄规则需要下限和上限" in response.content.decode()
    assert not Program.objects.filter(code="pilot").exists()
