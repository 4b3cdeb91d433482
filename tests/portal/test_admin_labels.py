"""The back office is for Chinese-speaking staff: every model field the admin
shows (columns, filters, form fields, inlines) has a Chinese label, and coded
values show their Chinese choice label."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.test import RequestFactory

from members.models import MembershipApplication
from members.models.people import Gender
from tests.factories import login_staff, make_id_number, make_user

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u4e00-\u9fff]")
# Abbreviations staff read as they are.
AS_IS = {"ID", "IP", "AED"}


def _shown_field_names(model_admin, request) -> set[str]:
    names = set(model_admin.get_list_display(request))
    for entry in model_admin.get_list_filter(request):
        names.add(entry[0] if isinstance(entry, tuple) else entry)
    for _name, options in model_admin.get_fieldsets(request):
        for entry in options["fields"]:
            names.update(entry if isinstance(entry, list | tuple) else [entry])
    names.update(model_admin.get_readonly_fields(request))
    return {name for name in names if isinstance(name, str)}


def _english_labels(model, names) -> list[str]:
    found = []
    for name in sorted(names):
        try:
            field = model._meta.get_field(name.split("__")[0])
        except FieldDoesNotExist:
            continue  # a display method: its description is checked by eye
        label = str(getattr(field, "verbose_name", name))
        if label not in AS_IS and not CJK.search(label):
            found.append(f"{model.__name__}.{name}: {label!r}")
    return found


def test_every_field_the_admin_shows_has_a_chinese_label():
    request = RequestFactory().get("/admin/")
    request.user = make_user(username="root", is_staff=True, is_superuser=True)
    english = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in ("members", "services"):
            continue
        english += _english_labels(model, _shown_field_names(model_admin, request))
        for inline in model_admin.get_inline_instances(request):
            # the columns of an inline, its link to the parent included
            fields = {f.name for f in inline.model._meta.concrete_fields} - {"id"}
            english += _english_labels(inline.model, fields)

    assert english == []


def test_application_gender_shows_its_label(client, sz_tree):
    from tests.members.factories import make_verified_user, submit_application

    application = submit_application(
        user=make_verified_user(phone="13811112222"),
        id_number=make_id_number(male=False),
        name="王芳",
    )
    staff = make_user(username="root", is_staff=True, is_superuser=True)
    login_staff(client, staff)

    page = client.get(
        f"/admin/members/membershipapplication/{application.pk}/change/"
    ).content.decode()

    assert application.gender == Gender.FEMALE
    assert MembershipApplication.objects.get().get_gender_display() == "女"
    assert '<div class="readonly">女</div>' in page
