"""The worker's own pages: join form, 我的, card, export, data requests.
A worker reaches only their own things (security.md AC2, PI9)."""

import json
from datetime import datetime

import pytest
from django.urls import reverse

from members.actions.joining import application_approve
from members.models import (
    ApplicationStatus,
    AuditLog,
    ConsentRecord,
    DataRequest,
    Member,
    MembershipApplication,
    MemberStatus,
)
from tests.factories import login_staff, make_platform, step_up
from tests.members.factories import make_verified_user, submit_application

pytestmark = pytest.mark.django_db

ID_A = "440305199003071236"
PHONE_A = "13811112222"


@pytest.fixture
def worker_a(sz, rv_nanshan):
    user = make_verified_user(phone=PHONE_A)
    application = submit_application(user=user, id_number=ID_A, name="张三丰")
    application_approve(application_id=application.pk, reviewer=rv_nanshan)
    return user


@pytest.fixture
def worker_b(sz):
    user = make_verified_user(phone="13833334444")
    submit_application(user=user, name="李四", residence_county="440304")
    return user


def _join_data(**overrides):
    return {
        "name": "王小明",
        "id_number": "４４０３０５１９９００３０７１２３６",
        "occupation": "courier",
        "employment_category": "self_employed",
        "hukou_county": "440305",
        "residence_county": "440306",
        "org": "",
        "consent_sensitive": "on",
        **overrides,
    }


def test_join_form_submits_with_default_org(client, sz):
    user = make_verified_user()
    platform = make_platform(name="美团")
    client.force_login(user)

    response = client.post(reverse("members:join"), _join_data(platforms=[platform.pk]))

    assert response.status_code == 302
    application = MembershipApplication.objects.get(user=user)
    assert application.org == sz["440306_pool"]
    assert application.id_number == ID_A
    assert list(application.platforms.all()) == [platform]


def test_join_form_without_consent_is_refused(client, sz):
    user = make_verified_user()
    client.force_login(user)

    response = client.post(reverse("members:join"), _join_data(consent_sensitive=""))

    assert response.status_code == 200
    assert response.context["form"].errors["consent_sensitive"] == [
        "不同意处理敏感个人信息将无法在线入会。"
    ]
    assert not MembershipApplication.objects.exists()
    assert not ConsentRecord.objects.exists()


@pytest.mark.parametrize(
    ("hukou", "expected"), [("", "440305"), ("  ", "440305"), ("440304", "440304")]
)
def test_join_form_hukou_defaults_to_the_id_numbers_region(client, sz, hukou, expected):
    client.force_login(make_verified_user())

    response = client.post(reverse("members:join"), _join_data(hukou_county=hukou))

    assert response.status_code == 302
    assert MembershipApplication.objects.get().hukou_county == expected


@pytest.mark.parametrize("hukou", ["44030", "4403x5"])
def test_join_form_hukou_when_given_is_still_checked(client, sz, hukou):
    client.force_login(make_verified_user())

    response = client.post(reverse("members:join"), _join_data(hukou_county=hukou))

    assert response.status_code == 200
    assert response.context["form"].errors["hukou_county"]
    assert not MembershipApplication.objects.exists()


def test_join_form_with_a_bad_id_and_no_hukou_reports_only_the_id(client, sz):
    client.force_login(make_verified_user())

    response = client.post(
        reverse("members:join"), _join_data(id_number="123", hukou_county="")
    )

    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"id_number"}


def test_join_form_selects_start_on_an_empty_choice(client, sz):
    client.force_login(make_verified_user())

    page = client.get(reverse("members:join")).content.decode()

    # no select puts its first real option into the answer unasked
    for name in ("occupation", "employment_category", "residence_county"):
        select = page.split(f'name="{name}"', 1)[1].split("</select>", 1)[0]
        first = select.split("<option", 2)[1]
        assert first.startswith(' value="" selected>请选择</option>'), (name, first)
        assert "required" in select.split(">", 1)[0]


@pytest.mark.parametrize(
    "field", ["occupation", "employment_category", "residence_county"]
)
def test_join_form_left_on_the_empty_choice_is_required(client, sz, field):
    client.force_login(make_verified_user())

    response = client.post(reverse("members:join"), _join_data(**{field: ""}))

    assert response.status_code == 200
    assert response.context["form"].errors[field] == ["该字段是必填项。"]
    assert not MembershipApplication.objects.exists()


@pytest.mark.parametrize(
    "id_number",
    ["4403051990030712", "440305199003071235", "440305209901011234", "x" * 500, ""],
)
def test_join_form_bad_id_is_a_form_error(client, sz, id_number):
    client.force_login(make_verified_user())

    response = client.post(reverse("members:join"), _join_data(id_number=id_number))

    assert response.status_code == 200
    assert response.context["form"].errors["id_number"]
    assert not MembershipApplication.objects.exists()


def test_join_with_an_id_already_pending_is_a_clear_message(client, sz, worker_b):
    other_id = MembershipApplication.objects.get(user=worker_b).id_number
    client.force_login(make_verified_user())

    response = client.post(reverse("members:join"), _join_data(id_number=other_id))

    assert response.status_code == 200
    assert "该身份证号已有待审核的入会申请" in response.content.decode()
    assert MembershipApplication.objects.count() == 1


def test_me_page_shows_only_masked_values(client, worker_a):
    client.force_login(worker_a)

    body = client.get(reverse("members:me")).content.decode()

    assert ID_A not in body and PHONE_A not in body
    assert "4****************6" in body
    assert "138****2222" in body
    assert "入会申请通过" in body
    assert reverse("members:card") in body


def test_card_shows_number_org_date_and_qr_without_inline_styles(client, worker_a):
    member = Member.objects.get(user=worker_a)
    client.force_login(worker_a)

    response = client.get(reverse("members:card"))

    body = response.content.decode()
    assert response.status_code == 200
    assert member.member_no in body
    assert "南山区新业态联合工会" in body
    assert member.joined_on.isoformat() in body
    assert "<svg" in body and 'class="segno"' in body
    assert "style=" not in body
    assert ID_A not in body and PHONE_A not in body


def test_card_is_404_without_active_membership(client, worker_b):
    client.force_login(worker_b)

    assert client.get(reverse("members:card")).status_code == 404


def test_export_holds_own_data_and_nothing_of_others(client, worker_a, worker_b):
    client.force_login(worker_a)
    step_up(client)  # a fresh SMS code (AU4; tests/members/test_worker_mfa.py)

    response = client.post(reverse("members:export"))

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="my-data.json"'
    data = json.loads(response.content)
    assert data["member"]["id_number"] == ID_A
    assert data["account"]["phone"] == PHONE_A
    assert data["applications"][0]["status"] == "approved"
    assert len(data["consents"]) == 1
    assert [e["event"] for e in data["membership_history"]] == [
        "approved",
        "submitted",
    ]
    raw = response.content.decode()
    assert "13833334444" not in raw and "李四" not in raw
    assert AuditLog.objects.filter(
        action="personal_data_export", actor=worker_a
    ).exists()


def test_export_gives_times_in_beijing_time(client, worker_a):
    client.force_login(worker_a)
    step_up(client)

    data = json.loads(client.post(reverse("members:export")).content)

    application = MembershipApplication.objects.get(user=worker_a)
    times = [
        data["exported_at"],
        data["account"]["date_joined"],
        data["account"]["phone_verified_at"],
        data["consents"][0]["granted_at"],
        data["applications"][0]["submitted_at"],
        data["applications"][0]["decided_at"],
        *(e["time"] for e in data["membership_history"]),
    ]
    assert all(t.endswith("+08:00") for t in times), times
    submitted = datetime.fromisoformat(data["applications"][0]["submitted_at"])
    assert submitted == application.submitted_at  # the same instant
    assert data["member"]["birth_date"] == "1990-03-07"  # dates stay dates


def test_export_get_shows_the_download_button_and_downloads_nothing(client, worker_a):
    client.force_login(worker_a)
    step_up(client)

    response = client.get(reverse("members:export"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert ID_A not in response.content.decode()
    assert 'action="/me/export/"' in response.content.decode()
    assert not AuditLog.objects.filter(action="personal_data_export").exists()
    assert client.put(reverse("members:export")).status_code == 405


def test_worker_cannot_withdraw_another_workers_consent(client, worker_a, worker_b):
    consent_b = ConsentRecord.objects.get(user=worker_b)
    client.force_login(worker_a)

    response = client.post(reverse("members:consent_withdraw", args=[consent_b.pk]))

    assert response.status_code == 404
    consent_b.refresh_from_db()
    assert consent_b.withdrawn_at is None


def test_worker_withdraws_own_consent(client, worker_b):
    consent = ConsentRecord.objects.get(user=worker_b)
    client.force_login(worker_b)

    response = client.post(reverse("members:consent_withdraw", args=[consent.pk]))

    assert response.status_code == 302
    consent.refresh_from_db()
    assert consent.withdrawn_at is not None
    assert (
        MembershipApplication.objects.get(user=worker_b).status
        == ApplicationStatus.DRAFT
    )


def test_anonymous_is_sent_to_login(client):
    for name in ("members:me", "members:card", "members:join"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("members:login"))


def test_withdrawal_request_processed_in_admin(client, worker_a, rv_nanshan):
    client.force_login(worker_a)
    step_up(client)
    client.post(reverse("members:data_request"), {"kind": "withdrawal", "note": ""})
    again = client.post(reverse("members:data_request"), {"kind": "withdrawal"})
    assert again.status_code == 302
    request = DataRequest.objects.get()
    assert request.org.name == "南山区新业态联合工会"

    login_staff(client, rv_nanshan)
    client.post(
        reverse("admin:members_datarequest_changelist"),
        {"action": "mark_done", "_selected_action": [request.pk]},
    )

    request.refresh_from_db()
    assert request.status == "done"
    assert request.processed_by == rv_nanshan
    assert Member.objects.get(user=worker_a).status == MemberStatus.WITHDRAWN


def test_refusing_a_request_needs_a_reason(client, worker_a, rv_nanshan, rv_futian):
    client.force_login(worker_a)
    step_up(client)
    client.post(reverse("members:data_request"), {"kind": "deletion"})
    request = DataRequest.objects.get()
    url = reverse("admin:members_datarequest_changelist")
    selection = {"action": "refuse_selected", "_selected_action": [request.pk]}

    login_staff(client, rv_futian)  # another district: not even listed
    client.post(url, {**selection, "apply": "1", "reason": "x"})
    request.refresh_from_db()
    assert request.status == "open"

    login_staff(client, rv_nanshan)
    client.post(url, {**selection, "apply": "1", "reason": ""})
    request.refresh_from_db()
    assert request.status == "open"
    client.post(url, {**selection, "apply": "1", "reason": "会籍档案依法保存"})
    request.refresh_from_db()
    assert request.status == "refused"
    assert request.response == "会籍档案依法保存"


def test_data_request_kind_has_no_default_and_is_required(client, worker_a):
    client.force_login(worker_a)
    step_up(client)

    page = client.get(reverse("members:data_request")).content.decode()
    select = page.split('name="kind"', 1)[1].split("</select>", 1)[0]
    refused = client.post(reverse("members:data_request"), {"kind": "", "note": ""})

    assert select.split("<option", 2)[1].startswith(' value="" selected>请选择<')
    assert refused.status_code == 400
    assert "这个字段是必填项" in refused.content.decode() or "该字段是必填项" in (
        refused.content.decode()
    )
    assert not DataRequest.objects.exists()


def test_a_correction_request_says_what_to_correct_and_when_it_is_answered(
    client, worker_a, rv_nanshan, monkeypatch
):
    """PIPL art. 46 (security.md PI9): the worker asks to correct their data,
    says what, and sees the date by which the union answers (15 working days);
    staff see the same date, marked once it has passed."""
    from datetime import timedelta

    from django.utils import timezone

    from portal.workdays import add_workdays

    client.force_login(worker_a)
    step_up(client)
    url = reverse("members:data_request")

    # a correction without saying what: the form says what it needs
    empty = client.post(url, {"kind": "correction", "note": ""})
    assert empty.status_code == 400
    assert "请写明哪项信息有误" in empty.content.decode()
    assert not DataRequest.objects.exists()

    # with the note (an ID number typed in full is masked in the row)
    done = client.post(
        url,
        {"kind": "correction", "note": "职业应为网约车司机,身份证 440305199003071236"},
    )
    assert done.status_code == 302
    request = DataRequest.objects.get()
    assert request.kind == "correction" and request.status == "open"
    assert "440305199003071236" not in request.note
    due = add_workdays(timezone.localdate(request.created_at), 15)
    assert request.answer_due == due and not request.is_overdue
    me = client.get(reverse("members:me")).content.decode()
    assert "更正我的个人信息" in me and f"最迟 {due:%Y-%m-%d} 答复" in me

    # staff see the due date; past it, it is marked overdue
    login_staff(client, rv_nanshan)
    changelist = reverse("admin:members_datarequest_changelist")
    assert due.isoformat() in client.get(changelist).content.decode()
    real_localdate = timezone.localdate
    monkeypatch.setattr(
        timezone,
        "localdate",
        lambda value=None: (
            due + timedelta(days=1) if value is None else real_localdate(value)
        ),
    )
    assert "已超期" in client.get(changelist).content.decode()


def test_join_form_lists_unions_by_region_not_by_id(client, sz):
    client.force_login(make_verified_user())

    form = client.get(reverse("members:join")).context["form"]

    names = [label for value, label in form.fields["org"].choices if value]
    assert names == [
        "深圳市新业态劳动者联合工会",
        "罗湖区新业态联合工会",
        "福田区新业态联合工会",
        "南山区新业态联合工会",
        "宝安区新业态联合工会",
        "龙岗区新业态联合工会",
        "盐田区新业态联合工会",
        "龙华区新业态联合工会",
        "坪山区新业态联合工会",
        "光明区新业态联合工会",
    ]
