"""Worker journeys over HTTP: list, detail, self-test, enroll, 我的保障."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from members.models import Occupation
from services.models import Enrollment
from tests.factories import make_user
from tests.services.conftest import make_person

pytestmark = pytest.mark.django_db


def logged_in(client, **person):
    member = make_person(user=make_user(), **person)
    client.force_login(member.user)
    return member


def test_list_shows_the_four_programs_and_amounts(client, programs):
    response = client.get(reverse("services:programs"))

    body = response.content.decode()
    assert response.status_code == 200
    for name in ["E路守护", "家政守护", "建工守护", "环卫守护"]:
        assert name in body
    assert "¥30,000.00" in body
    assert "每天¥200.00" in body


def test_detail_explains_cover_and_who_qualifies(client, programs):
    response = client.get(reverse("services:program_detail", args=["e_road"]))

    body = response.content.decode()
    assert response.status_code == 200
    assert "一次性给付¥30,000.00" in body
    assert "每天¥200.00,最多30天" in body
    assert "职业为:快递员、外卖员、网约车司机、货车司机" in body
    assert "在平台工作满3个月,且目前仍在平台工作" in body
    assert "在深圳市工作生活" in body


def test_unknown_program_is_404(client, programs):
    response = client.get(reverse("services:program_detail", args=["nope"]))

    assert response.status_code == 404


def test_anonymous_self_test_answers_with_reasons(client, programs):
    response = client.get(
        reverse("services:program_check"),
        {"occupation": "domestic", "age": "65", "tenure_months": ""},
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "年龄不在18–60岁之间" in body
    assert "符合参加条件" not in body.replace("暂不符合参加条件", "")


def test_anonymous_self_test_says_what_is_still_to_verify(client, programs):
    response = client.get(
        reverse("services:program_check"), {"occupation": "domestic", "age": "30"}
    )

    body = response.content.decode()
    assert "还需在申请时核实:常住地区" in body
    assert "年龄不在18–60岁之间" not in body


@pytest.mark.parametrize(
    "query",
    [
        {"occupation": "astronaut", "age": "30"},
        {"occupation": "domestic", "age": "-1"},
        {"occupation": "domestic", "age": "9" * 40},
        {"occupation": "domestic", "age": "<script>"},
        {"occupation": "domestic", "age": "30", "tenure_months": "1e9"},
    ],
)
def test_self_test_rejects_bad_input_with_a_form_error(client, programs, query):
    response = client.get(reverse("services:program_check"), query)

    body = response.content.decode()
    assert response.status_code == 200
    assert "errorlist" in body
    assert "结果" not in body.split("</form>")[-1]
    assert "<script>" not in body


def test_self_test_occupation_starts_empty_and_is_required(client, programs):
    page = client.get(reverse("services:program_check")).content.decode()
    answer = client.get(reverse("services:program_check"), {"age": "30"})

    select = page.split('name="occupation"', 1)[1].split("</select>", 1)[0]
    assert select.split("<option", 2)[1].startswith(' value="" selected>请选择<')
    assert answer.context["form"].errors["occupation"] == ["该字段是必填项。"]


def test_logged_in_member_is_checked_with_their_own_data(client, programs):
    logged_in(client, occupation=Occupation.DOMESTIC, born=date(1961, 3, 2))

    response = client.get(reverse("services:program_check"))

    body = response.content.decode()
    assert '<form method="get"' not in body
    assert "年龄不在18–60岁之间" in body


def test_enroll_then_see_it_in_my_coverage(client, programs):
    member = logged_in(client, occupation=Occupation.DOMESTIC, born=date(1980, 1, 1))
    url = reverse("services:program_enroll", args=["domestic"])

    first = client.post(url)
    second = client.post(url)  # a double click
    page = client.get(reverse("services:my_coverage"))

    assert first.status_code == second.status_code == 302
    assert Enrollment.objects.filter(member=member).count() == 1
    body = page.content.decode()
    assert "家政守护" in body
    assert "你已经参加了家政守护,无需重复报名。" in body
    assert "已报名参加" in body


def test_enroll_refused_shows_reasons_and_writes_nothing(client, programs):
    member = logged_in(client, occupation=Occupation.DOMESTIC, born=date(1961, 3, 2))

    response = client.post(
        reverse("services:program_enroll", args=["domestic"]), follow=True
    )

    assert "暂不符合参加条件:年龄不在18–60岁之间" in response.content.decode()
    assert not Enrollment.objects.filter(member=member).exists()


def test_enroll_requires_login_and_post(client, programs):
    url = reverse("services:program_enroll", args=["domestic"])

    anonymous = client.post(url)
    member = logged_in(client, occupation=Occupation.DOMESTIC)
    by_get = client.get(url)

    assert anonymous.status_code == 302
    assert reverse("members:login") in anonymous["Location"]
    assert by_get.status_code == 405
    assert not Enrollment.objects.filter(member=member).exists()


def test_my_coverage_lists_anonymous_programs_the_rider_qualifies_for(client, programs):
    logged_in(client, joined_platform_on=date(2020, 1, 1))

    body = client.get(reverse("services:my_coverage")).content.decode()

    assert "E路守护" in body
    assert "无记名保障" in body


def test_my_coverage_requires_login(client, programs):
    response = client.get(reverse("services:my_coverage"))

    assert response.status_code == 302


def test_home_links_to_programs(client, programs):
    body = client.get("/").content.decode()

    assert f'href="{reverse("services:programs")}"' in body
