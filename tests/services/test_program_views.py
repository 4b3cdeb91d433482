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


# --- the worker's language (reasons are stored in Chinese, shown translated) ---


def test_self_test_reasons_and_open_checks_follow_the_language(client, programs):
    query = {"occupation": "domestic", "age": "65", "tenure_months": "1"}
    url = reverse("services:program_check")

    english = client.get(url, query, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    chinese = client.get(url, query, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    to_verify = client.get(
        url, {"occupation": "domestic", "age": "30"}, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert "<li>Your age is not between 18 and 60</li>" in english
    assert "<li>Your occupation is not covered by this plan</li>" in english
    assert "年龄不在" not in english and "职业不在" not in english
    assert "<li>年龄不在18–60岁之间</li>" in chinese
    assert "Place of residence" in to_verify.content.decode()


def test_detail_rules_and_refusal_in_english(client, programs):
    logged_in(client, occupation=Occupation.DOMESTIC, born=date(1961, 3, 2))

    detail = client.get(
        reverse("services:program_detail", args=["e_road"]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    refused = client.post(
        reverse("services:program_enroll", args=["domestic"]),
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    ).content.decode()

    assert "Occupation: Courier, Food delivery rider" in detail
    assert "Have worked on a platform for at least 3 months and still do" in detail
    assert "Live and work in Shenzhen" in detail
    assert "You can’t join yet: Your age is not between 18 and 60" in refused


def test_my_coverage_shows_a_stored_lapse_reason_in_english(client, programs):
    member = logged_in(client, occupation=Occupation.DOMESTIC)
    Enrollment.objects.create(
        member=member,
        program=programs["domestic"],
        period_start=date(2026, 1, 1),
        period_end=date(2026, 12, 31),
        status="lapsed",
        status_reason="年龄不在18–60岁之间;在平台工作未满3个月",
    )

    body = client.get(
        reverse("services:my_coverage"), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()

    assert (
        "Your age is not between 18 and 60; "
        "You have worked on a platform for less than 3 months"
    ) in body


def test_every_reason_has_an_english_text():
    from django.utils import translation

    from services.actions import programs as program_actions
    from services.selectors import eligibility
    from services.selectors.eligibility import reason_display

    reasons = [
        eligibility.REASON_NOT_RUNNING,
        eligibility.REASON_OCCUPATION,
        eligibility.REASON_AGE % {"low": 18, "high": 60},
        eligibility.REASON_TENURE % {"months": 3},
        eligibility.REASON_OFFBOARDED,
        eligibility.REASON_MEMBERSHIP,
        eligibility.REASON_REGION,
        *eligibility.UNVERIFIED_LABELS.values(),
        program_actions.REASON_PERIOD_OVER,
        program_actions.REASON_WITHDRAWN,
    ]
    with translation.override("en"):
        english = [reason_display(r) for r in reasons]
        assert reason_display("") == ""
        assert reason_display("别的原因") == "别的原因"
    with translation.override("zh-hans"):
        assert [reason_display(r) for r in reasons] == reasons

    assert not [
        text for text in english if any("\u4e00" <= c <= "\u9fff" for c in text)
    ]
