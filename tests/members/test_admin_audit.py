"""Admin additions, changes and deletions are audit rows (security.md LG1/LG2),
through the real admin views, on every registered admin."""

from __future__ import annotations

import json
from datetime import time
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.admin.sites import all_sites
from django.contrib.auth.models import Group, Permission
from django.test import RequestFactory

from members.admin_audit import AuditedAdminMixin
from members.admin_site import PortalAdminSite
from members.models import AuditLog, Member, Platform, RegionCode
from tests.factories import login_staff, make_member, make_staff, make_user

pytestmark = pytest.mark.django_db

LOG_METHODS = (
    "construct_change_message",
    "log_addition",
    "log_change",
    "log_deletions",
    "get_actions",
    "generate_log_entries",
)


def _form_data(response) -> dict:
    """The POST a browser would send back for an admin change/add page as
    rendered: every editable field of the main form and of each inline formset
    with its current value, plus the management forms."""
    data: dict = {}

    def add_form(form):
        for name, field in form.fields.items():
            value = form[name].value()
            if value is None:
                continue
            if isinstance(value, list | tuple):
                data[form.add_prefix(name)] = [str(v) for v in value]
            elif isinstance(value, bool):
                if value:
                    data[form.add_prefix(name)] = "on"
            else:
                data[form.add_prefix(name)] = field.widget.format_value(value) or ""

    add_form(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name, value in formset.management_form.initial.items():
            data[formset.management_form.add_prefix(name)] = value
        for form in formset.forms:
            add_form(form)
    return data


def _admin(sz_tree):
    return make_staff(org=sz_tree["city"], username="admin1", is_superuser=True)


def _only_row(action: str) -> AuditLog:
    rows = list(AuditLog.objects.filter(action=action))
    assert len(rows) == 1, rows
    return rows[0]


# --- nobody can bypass it ----------------------------------------------------------


def test_every_registered_admin_on_every_site_writes_audit_rows():
    sites = list(all_sites)
    assert admin.site in sites
    checked = 0
    for site in sites:
        assert isinstance(site, PortalAdminSite), site
        for model, model_admin in site._registry.items():
            assert isinstance(model_admin, AuditedAdminMixin), model
            for name in LOG_METHODS:
                # The mixin's method is the one that runs (it calls super()).
                assert getattr(type(model_admin), name) is getattr(
                    AuditedAdminMixin, name
                ), (model, name)
            checked += 1
    # third-party admins are covered too, not only ours
    assert Group in admin.site._registry
    assert checked >= 25


def test_an_admin_registered_later_is_audited_even_if_it_skips_super(sz_tree):
    class CarelessAdmin(admin.ModelAdmin):
        def log_change(self, request, obj, message):
            return None  # no LogEntry, and no call to super()

    site = PortalAdminSite(name="later")
    site.register(RegionCode, CarelessAdmin)
    model_admin = site._registry[RegionCode]
    request = RequestFactory().post("/")
    request.user = _admin(sz_tree)
    region = RegionCode.objects.first()

    model_admin.log_change(request, region, "changed")

    row = _only_row("admin_change")
    assert (row.object_type, row.object_id) == ("members.regioncode", str(region.pk))
    assert not LogEntry.objects.exists()


def test_no_project_code_writes_admin_log_entries_directly():
    """Direct LogEntry writes would skip the audit row; only the admin's log
    methods may write them."""
    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(path.relative_to(root))
        for app in ("members", "services", "portal")
        for path in (root / app).rglob("*.py")
        if "LogEntry.objects" in path.read_text()
    ]
    assert offenders == []


# --- through the admin views ---------------------------------------------------------


def test_add_through_a_third_party_admin_is_audited_with_request_facts(client, sz_tree):
    staff = _admin(sz_tree)
    login_staff(client, staff)
    perm = Permission.objects.get(codename="view_member")

    response = client.post(
        "/admin/auth/group/add/",
        {"name": "审核员", "permissions": [perm.pk]},
        REMOTE_ADDR="203.0.113.7",
    )

    assert response.status_code == 302
    group = Group.objects.get(name="审核员")
    row = _only_row("admin_add")
    assert row.actor_id == staff.pk
    assert row.actor_role == "admin"
    assert row.ip == "203.0.113.7"
    assert row.request_id == response["X-Request-ID"]
    assert (row.object_type, row.object_id) == ("auth.group", str(group.pk))
    assert row.outcome == AuditLog.Outcome.SUCCESS
    assert row.detail == {"via": "admin", "fields": ["name", "permissions"]}
    # Django's own log entry is still written
    assert LogEntry.objects.filter(object_id=str(group.pk)).count() == 1


def test_member_change_records_field_names_never_values(client, sz_tree):
    staff = make_staff(
        org=sz_tree["city"],
        username="rv",
        perms=("members.view_member", "members.change_member"),
    )
    member = make_member(
        org=sz_tree["440305"], name="王小明", phone="13800138000", residence_county=""
    )
    login_staff(client, staff)
    url = f"/admin/members/member/{member.pk}/change/"
    data = _form_data(client.get(url))
    data["residence_county"] = "440304"
    data["reminders_opt_out"] = "on"

    response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    member.refresh_from_db()
    assert member.residence_county == "440304"
    row = _only_row("admin_change")
    assert row.actor_role == "staff"
    assert (row.object_type, row.object_id) == ("members.member", str(member.pk))
    assert row.member_id == member.pk
    assert row.detail["fields"] == ["reminders_opt_out", "residence_county"]
    stored = json.dumps(
        [list(AuditLog.objects.values())], default=str, ensure_ascii=False
    )
    for value in ("440304", "王小明", "13800138000", member.id_number):
        assert value not in stored


def test_inline_rows_are_recorded_by_id(client, sz_tree):
    from services.actions.stations import station_set_hours
    from tests.services.stations_factories import make_station

    station = make_station(org=sz_tree["440305"])
    station_set_hours(
        station=station,
        weekly={0: [(time(8), time(20))], 1: [(time(8), time(20))]},
    )
    monday, tuesday = station.hours.order_by("weekday")
    login_staff(client, _admin(sz_tree))
    url = f"/admin/services/station/{station.pk}/change/"
    data = _form_data(client.get(url))
    prefix = next(k for k, v in data.items() if v == str(tuesday.pk))
    data[prefix.replace("-id", "-DELETE")] = "on"
    data["name"] = "改名驿站"

    response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert not station.hours.filter(pk=tuesday.pk).exists()
    row = _only_row("admin_change")
    assert row.object_type == "services.station"
    assert row.detail["fields"] == ["name"]
    assert row.detail["related"] == [
        {"type": "services.stationhours", "deleted": [str(tuesday.pk)]}
    ]


def test_invalid_form_writes_no_row(client, sz_tree):
    login_staff(client, _admin(sz_tree))

    response = client.post("/admin/auth/group/add/", {"name": ""})

    assert response.status_code == 200
    assert not AuditLog.objects.filter(action__startswith="admin_").exists()


def test_password_change_in_the_user_admin_is_audited_without_the_password(
    client, sz_tree
):
    target = make_user(username="target")
    login_staff(client, _admin(sz_tree))
    secret = "Brand-new passphrase 42"

    response = client.post(
        f"/admin/members/user/{target.pk}/password/",
        {"password1": secret, "password2": secret, "usable_password": "true"},
    )

    assert response.status_code == 302
    row = _only_row("admin_change")
    assert (row.object_type, row.object_id) == ("members.user", str(target.pk))
    assert row.detail["fields"] == ["password"]
    assert secret not in json.dumps(row.detail)


def test_delete_page_is_audited(client, sz_tree):
    platform = Platform.objects.create(name="测试平台", code="testp")
    login_staff(client, _admin(sz_tree))

    response = client.post(
        f"/admin/members/platform/{platform.pk}/delete/", {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Platform.objects.filter(pk=platform.pk).exists()
    row = _only_row("admin_delete")
    assert (row.object_type, row.object_id) == ("members.platform", str(platform.pk))
    assert row.detail == {"via": "admin", "count": 1}


def test_bulk_delete_selected_writes_one_row_per_object(client, sz_tree):
    groups = [Group.objects.create(name=f"组{i}") for i in range(3)]
    login_staff(client, _admin(sz_tree))

    response = client.post(
        "/admin/auth/group/",
        {
            "action": "delete_selected",
            "_selected_action": [g.pk for g in groups],
            "post": "yes",
        },
    )

    assert response.status_code == 302
    assert not Group.objects.exists()
    rows = AuditLog.objects.filter(action="admin_delete").order_by("object_id")
    assert [r.object_id for r in rows] == sorted(str(g.pk) for g in groups)
    assert {r.object_type for r in rows} == {"auth.group"}
    assert {r.detail["count"] for r in rows} == {3}
    assert len({r.request_id for r in rows}) == 1 and rows[0].request_id
    assert not AuditLog.objects.filter(action="admin_action").exists()


def test_deleting_a_member_keeps_the_member_id_on_the_row(client, sz_tree):
    member = make_member(org=sz_tree["440305"])
    login_staff(client, _admin(sz_tree))

    response = client.post(
        f"/admin/members/member/{member.pk}/delete/", {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Member.objects.filter(pk=member.pk).exists()
    row = _only_row("admin_delete")
    assert row.member_id == member.pk


def test_import_through_the_admin_is_audited(client, sz_tree):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from services.models import Station
    from tests.services.test_stations_admin import GOOD, _dataset

    nanshan = sz_tree["440305"]
    login_staff(client, _admin(sz_tree))
    csv = _dataset({**GOOD, "org_id": str(nanshan.pk)}).csv
    preview = client.post(
        "/admin/services/station/import/",
        {
            "import_file": SimpleUploadedFile("s.csv", csv.encode(), "text/csv"),
            "format": "0",
            "resource": "0",
        },
    )
    assert preview.status_code == 200
    confirm = preview.context["confirm_form"]

    response = client.post(
        "/admin/services/station/process_import/",
        {name: confirm[name].value() for name in confirm.fields},
    )

    assert response.status_code == 302
    station = Station.objects.get(name="新驿站")
    row = _only_row("admin_add")
    assert (row.object_type, row.object_id) == ("services.station", str(station.pk))
    assert row.detail == {"via": "import"}
    assert row.request_id == response["X-Request-ID"]


def test_an_update_only_third_party_action_is_audited_per_object(client, sz_tree):
    from django_celery_beat.models import PeriodicTask

    from members.actions.schedules import schedules_sync

    schedules_sync()
    tasks = list(
        PeriodicTask.objects.filter(
            task__in=("members.tasks.audit_ship", "members.tasks.retention_run")
        )
    )
    assert len(tasks) == 2 and all(t.enabled for t in tasks)
    login_staff(client, _admin(sz_tree))

    response = client.post(
        "/admin/django_celery_beat/periodictask/",
        {"action": "disable_tasks", "_selected_action": [t.pk for t in tasks]},
    )

    assert response.status_code == 302
    assert not PeriodicTask.objects.filter(pk__in=[t.pk for t in tasks], enabled=True)
    rows = AuditLog.objects.filter(action="admin_action").order_by("object_id")
    assert [r.object_id for r in rows] == sorted(str(t.pk) for t in tasks)
    assert {r.object_type for r in rows} == {"django_celery_beat.periodictask"}
    assert {json.dumps(r.detail, sort_keys=True) for r in rows} == {
        '{"count": 2, "name": "disable_tasks", "via": "admin"}'
    }
    assert rows[0].request_id == response["X-Request-ID"]


def test_an_action_that_shows_a_form_first_is_audited_only_when_it_completes(
    client, sz_tree
):
    from members.models import ApplicationStatus
    from tests.members.factories import REVIEWER_PERMS, submit_application

    application = submit_application(name="钱七", residence_county="440305")
    reviewer = make_staff(org=sz_tree["city"], username="rv", perms=REVIEWER_PERMS)
    login_staff(client, reviewer)
    url = "/admin/members/membershipapplication/"
    selection = {"action": "reject_selected", "_selected_action": [application.pk]}

    first = client.post(url, selection)

    assert first.status_code == 200  # the reason form
    assert not AuditLog.objects.filter(action="admin_action").exists()

    before = AuditLog.objects.count()
    done = client.post(url, {**selection, "apply": "1", "reason": "材料不全"})

    assert done.status_code == 302
    application.refresh_from_db()
    assert application.status == ApplicationStatus.REJECTED
    # one row for the completed action: its own, no generic admin_action copy
    assert AuditLog.objects.count() == before + 1
    row = _only_row("membership_application_reject")
    assert row.object_id == str(application.pk)
    assert row.request_id == done["X-Request-ID"]
    assert not AuditLog.objects.filter(action="admin_action").exists()


# --- one row per admin action --------------------------------------------------------


def test_our_actions_write_only_their_specific_rows(client, sz_tree):
    """approve (a row per application) and station verify (one summary row for
    the selection) write exactly their own rows: never an admin_action row as
    well."""
    from services.models import Station
    from tests.members.factories import submit_application
    from tests.services.stations_factories import make_station

    admin_user = _admin(sz_tree)
    login_staff(client, admin_user)
    apps_ = [
        submit_application(name="赵一", residence_county="440305"),
        submit_application(name="钱二", residence_county="440305"),
    ]
    stations = [make_station(name="驿站一"), make_station(name="驿站二")]
    cases = [
        (
            "/admin/members/membershipapplication/",
            "approve_selected",
            [a.pk for a in apps_],
            {"membership_application_approve": 2},
        ),
        (
            "/admin/services/station/",
            "mark_verified",
            [s.pk for s in stations],
            {"station.verify": 1},
        ),
    ]
    for url, name, ids, expected in cases:
        start = AuditLog.objects.order_by("-id").values_list("id", flat=True).first()
        response = client.post(url, {"action": name, "_selected_action": ids})
        assert response.status_code == 302, (name, response.status_code)
        written = AuditLog.objects.filter(id__gt=start or 0)
        counts: dict[str, int] = {}
        for row in written:
            counts[row.action] = counts.get(row.action, 0) + 1
        assert counts == expected, (name, counts)
    assert not AuditLog.objects.filter(action="admin_action").exists()
    assert all(
        s.last_verified_at
        for s in Station.objects.filter(pk__in=[s.pk for s in stations])
    )


def test_our_action_that_audits_nothing_gets_the_generic_row(client, sz_tree):
    """Revoking keys: a key revoked here gets its own row only; an action run
    that wrote no row of its own (every selected key was revoked already) still
    leaves one admin_action row per selected key."""
    from members.actions.api_keys import platform_key_issue, platform_key_revoke
    from tests.factories import make_platform

    platform = make_platform(code="p-audit")
    live = platform_key_issue(platform_code=platform.code).key
    gone = platform_key_issue(platform_code=platform.code).key
    platform_key_revoke(key=gone)
    login_staff(client, _admin(sz_tree))
    url = "/admin/members/platformapikey/"
    start = AuditLog.objects.order_by("-id").values_list("id", flat=True).first()

    client.post(
        url, {"action": "revoke_selected", "_selected_action": [live.pk, gone.pk]}
    )

    rows = list(AuditLog.objects.filter(id__gt=start))
    assert [(r.action, r.object_id) for r in rows] == [
        ("platform_key_revoke", str(live.pk))
    ]

    start = rows[-1].id
    client.post(url, {"action": "revoke_selected", "_selected_action": [gone.pk]})

    rows = list(AuditLog.objects.filter(id__gt=start))
    assert [(r.action, r.object_id, r.detail["name"]) for r in rows] == [
        ("admin_action", str(gone.pk), "revoke_selected")
    ]


def test_an_own_row_rolled_back_does_not_count(sz_tree, rf):
    """An action whose own audit row was rolled back (it failed inside its
    transaction and the action caught the error) still gets the generic row."""
    from django.db import transaction

    from members.admin_audit import _audited_action
    from members.audit import audit_record
    from tests.factories import make_platform

    admin_user = _admin(sz_tree)
    platform = make_platform(code="p-rollback")

    def failing(modeladmin, request, queryset):
        try:
            with transaction.atomic():
                audit_record(action="made_up", object_type="platform", object_id=1)
                raise RuntimeError("boom")
        except RuntimeError:
            pass

    request = rf.post("/admin/members/platform/")
    request.user = admin_user
    modeladmin = admin.site._registry[Platform]
    wrapped = _audited_action(failing, "failing")

    assert wrapped(modeladmin, request, Platform.objects.filter(pk=platform.pk)) is None
    assert not AuditLog.objects.filter(action="made_up").exists()
    row = _only_row("admin_action")
    assert (row.object_id, row.detail["name"]) == (str(platform.pk), "failing")
