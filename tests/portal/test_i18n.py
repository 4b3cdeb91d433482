"""English UI (the source language is zh-hans): the committed catalog is complete and
compiled, key pages render in the chosen language, and the header switch works."""

from __future__ import annotations

import ast
import gettext
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.urls import resolve, reverse
from django.utils import translation

from members.actions import accounts
from members.forms import JoinForm, LoginForm
from members.models import ApplicationStatus, MemberStatus, Occupation, User
from members.selectors.joining import region_code_warnings
from members.validators import MSG_ID_FORMAT, parse_id_number
from services.models import Amenity
from services.opening_hours import SHANGHAI, OpenStatus, status_label
from tests.members.factories import make_verified_user

LOCALE_DIR = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES"
PO_PATH = LOCALE_DIR / "django.po"
MO_PATH = LOCALE_DIR / "django.mo"
CJK = re.compile(r"[\u4e00-\u9fff]")


def parse_po(path: Path) -> list[dict]:
    """Entries of a .po file: msgctxt, msgid, msgid_plural, msgstr (str or list), flags.
    Obsolete (#~) entries are returned with obsolete=True."""
    entries: list[dict] = []
    current: dict = {}
    key: str | None = None

    def flush() -> None:
        nonlocal current, key
        if "msgid" in current:
            entries.append(current)
        current, key = {}, None

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            flush()
            continue
        if line.startswith("#~"):
            current["obsolete"] = True
            continue
        if line.startswith("#,"):
            current.setdefault("flags", set()).update(
                f.strip() for f in line[2:].split(",")
            )
            continue
        if line.startswith("#"):
            continue
        match = re.match(
            r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(\".*\")$", line
        )
        if match:
            name, index, literal = match.groups()
            if name == "msgid" and "msgid" in current:
                flush()
            value = ast.literal_eval(literal)
            if index is not None:
                current.setdefault("msgstr", [])
                current["msgstr"].append(value)
                key = ("msgstr", int(index))
            else:
                current[name] = value
                key = name
            continue
        assert line.startswith('"'), f"unexpected line in {path.name}: {raw!r}"
        value = ast.literal_eval(line)
        if isinstance(key, tuple):
            current["msgstr"][key[1]] += value
        else:
            current[key] += value
    flush()
    return entries


def po_catalog(entries: list[dict]) -> dict:
    """The catalog the .po describes, keyed like gettext.GNUTranslations._catalog."""
    catalog: dict = {}
    for entry in entries:
        if (
            entry.get("obsolete")
            or entry["msgid"] == ""
            or "fuzzy" in entry.get("flags", ())
        ):
            continue
        msgid = entry["msgid"]
        if "msgctxt" in entry:
            msgid = f"{entry['msgctxt']}\x04{msgid}"
        if "msgid_plural" in entry:
            for n, text in enumerate(entry["msgstr"]):
                catalog[(msgid, n)] = text
        else:
            catalog[msgid] = entry["msgstr"]
    return catalog


def mo_catalog(path: Path) -> dict:
    with path.open("rb") as handle:
        catalog = dict(gettext.GNUTranslations(handle)._catalog)
    catalog.pop("", None)
    return catalog


def placeholders(text: str) -> list[str]:
    return sorted(re.findall(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdif]|\{\w*\}", text))


# (a) the English catalog is complete -------------------------------------------------


def test_english_catalog_has_no_untranslated_fuzzy_or_obsolete_entries():
    # given the committed English catalog
    entries = [e for e in parse_po(PO_PATH) if e["msgid"] != ""]

    # then it holds the UI strings, every one translated, none fuzzy or obsolete
    assert len(entries) > 200
    untranslated = [
        e["msgid"]
        for e in entries
        if (e["msgstr"] == "" if isinstance(e["msgstr"], str) else "" in e["msgstr"])
    ]
    assert untranslated == []
    assert [e["msgid"] for e in entries if "fuzzy" in e.get("flags", ())] == []
    assert [e["msgid"] for e in entries if e.get("obsolete")] == []
    header = parse_po(PO_PATH)[0]
    assert header["msgid"] == ""
    assert "fuzzy" not in header.get("flags", ())
    assert "Language: en\n" in header["msgstr"]


def test_english_translations_keep_placeholders_and_contain_no_chinese():
    entries = [e for e in parse_po(PO_PATH) if e["msgid"] != ""]
    for entry in entries:
        texts = (
            entry["msgstr"] if isinstance(entry["msgstr"], list) else [entry["msgstr"]]
        )
        for text in texts:
            # the only CJK allowed is none: English users must not see Chinese text
            assert not CJK.search(text), (entry["msgid"], text)
            assert placeholders(text) == placeholders(entry["msgid"]), entry["msgid"]


# (b) the committed .mo matches the .po ------------------------------------------------


def test_compiled_catalog_matches_the_po_file():
    # given the committed .po and .mo
    expected = po_catalog(parse_po(PO_PATH))

    # then the .mo holds exactly the .po's translations (no stale or missing entries)
    assert MO_PATH.exists(), (
        "run `make messages` and commit locale/en/LC_MESSAGES/django.mo"
    )
    assert mo_catalog(MO_PATH) == expected


def test_msgfmt_compiles_the_po_to_the_same_catalog(tmp_path):
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("gettext (msgfmt) is not installed")
    # when the .po is compiled afresh, as compilemessages does
    target = tmp_path / "django.mo"
    subprocess.run(
        [msgfmt, "--check-format", "-o", str(target), str(PO_PATH)],
        check=True,
        capture_output=True,
    )
    # then the committed .mo carries the same catalog
    assert mo_catalog(target) == mo_catalog(MO_PATH)


# (c) key pages render in the active language ------------------------------------------


def _get(path: str, user=None):
    """Call the view behind `path` directly (no LocaleMiddleware), so the language is
    the one activated by translation.override."""
    request = RequestFactory().get(path)
    request.user = user or AnonymousUser()
    request.session = SessionStore()
    match = resolve(path)
    response = match.func(request, *match.args, **match.kwargs)
    if hasattr(response, "render"):
        response.render()
    assert response.status_code == 200
    return response.content.decode()


PAGES = [
    # (url name, needs a signed-in worker, English text, Chinese text)
    (
        "home",
        False,
        "<h1>Union Member Services Portal</h1>",
        "<h1>工会会员服务门户</h1>",
    ),
    ("members:login", False, "<h1>Log in</h1>", "<h1>登录</h1>"),
    ("members:join", True, "<h1>Apply to join the union</h1>", "<h1>申请加入工会</h1>"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "signed_in", "english", "chinese"), PAGES)
def test_key_pages_render_english_under_override_en(name, signed_in, english, chinese):
    # given a visitor (or a signed-in worker for the join page)
    user = make_verified_user() if signed_in else None

    # when the page renders with English active
    with translation.override("en"):
        body = _get(reverse(name), user=user)

    # then the heading and the page chrome are English, not Chinese
    assert english in body
    assert chinese not in body
    assert '<html lang="en">' in body
    assert "Skip to main content" in body
    assert "跳到正文" not in body


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "signed_in", "english", "chinese"), PAGES)
def test_key_pages_render_chinese_under_override_zh_hans(
    name, signed_in, english, chinese
):
    user = make_verified_user() if signed_in else None

    with translation.override("zh-hans"):
        body = _get(reverse(name), user=user)

    assert chinese in body
    assert english not in body
    assert '<html lang="zh-Hans">' in body
    assert "跳到正文" in body


@pytest.mark.django_db
def test_join_form_labels_choices_and_errors_follow_the_language():
    # given the join form's labels and the choice labels it draws from the models
    with translation.override("en"):
        form = JoinForm(data={})
        # when it is validated empty under English
        form.is_valid()
        english = (
            str(form.fields["name"].label),
            str(dict(form.fields["occupation"].choices)["courier"]),
            str(form.errors["consent_sensitive"][0]),
        )
        assert str(LoginForm.base_fields["password"].label) == "Password"
        assert str(MemberStatus.ACTIVE.label) == "Member"
        assert str(ApplicationStatus.PENDING.label) == "Awaiting review"
        assert str(Amenity.WATER.label) == "Drinking water"
    with translation.override("zh-hans"):
        chinese = (
            str(JoinForm.base_fields["name"].label),
            str(Occupation.COURIER.label),
        )

    # then English reads English and Chinese stays the source text
    assert english == (
        "Full name",
        "Courier",
        "You cannot join online without consenting to the processing of sensitive "
        "personal information.",
    )
    assert chinese == ("姓名", "快递员")


@pytest.mark.django_db
def test_accept_language_en_gets_english_and_default_is_chinese(client):
    # an English browser gets English without choosing anything
    english = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    assert "<h1>Union Member Services Portal</h1>" in english.content.decode()
    # a browser with no preference gets the source language
    default = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="")
    assert "<h1>工会会员服务门户</h1>" in default.content.decode()


# (d) the header language switch -------------------------------------------------------


@pytest.mark.django_db
def test_language_switch_posts_to_setlang_and_next_page_is_english(client):
    # given the Chinese home page, whose header carries the language form
    home = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert reverse("set_language") == "/i18n/setlang/"
    assert '<form class="lang" action="/i18n/setlang/" method="post">' in home
    # each language is offered under its own name, whatever the page language
    assert '<option value="en" lang="en">English</option>' in home
    assert '<option value="zh-hans" lang="zh-hans" selected>简体中文</option>' in home

    # when the visitor picks English
    response = client.post(
        "/i18n/setlang/",
        {"language": "en", "next": reverse("members:login")},
        HTTP_ACCEPT_LANGUAGE="zh-CN",
    )

    # then they are sent back to the page they were on, remembered by cookie...
    assert response.status_code == 302
    assert response["Location"] == reverse("members:login")
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    # ...and that page (and the next) is English even though the browser says Chinese
    login = client.get(reverse("members:login"), HTTP_ACCEPT_LANGUAGE="zh-CN")
    body = login.content.decode()
    assert "<h1>Log in</h1>" in body
    assert '<option value="en" lang="en" selected>English</option>' in body
    assert '<option value="zh-hans" lang="zh-hans">简体中文</option>' in body
    assert "<h1>登录</h1>" not in body

    # and switching back gives Chinese again
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    again = client.get(reverse("home")).content.decode()
    assert "<h1>工会会员服务门户</h1>" in again


@pytest.mark.django_db
def test_language_switch_ignores_unknown_language_and_foreign_next(client):
    # a hostile or unknown value does not change the language nor redirect off-site
    response = client.post(
        "/i18n/setlang/", {"language": "xx", "next": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert settings.LANGUAGE_COOKIE_NAME not in client.cookies
    body = client.get(reverse("home")).content.decode()
    assert "<h1>工会会员服务门户</h1>" in body


def _at(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("status", "english", "chinese"),
    [
        (
            OpenStatus(True, False, _at(23, 22), None),
            "Open · until 22:00",
            "营业中 · 至 22:00",
        ),
        (
            OpenStatus(False, False, None, _at(24, 8)),
            "Closed · opens tomorrow 08:00",
            "已休息 · 明天 08:00 开门",
        ),
        (
            OpenStatus(False, False, None, _at(26, 8)),
            "Closed · opens Thu 08:00",
            "已休息 · 周四 08:00 开门",
        ),
    ],
)
def test_station_open_status_text_follows_the_language(status, english, chinese):
    # given Monday 2026-11-23 12:00 in Shenzhen
    now = _at(23, 12)
    with translation.override("en"):
        assert status_label(status, now) == english
    with translation.override("zh-hans"):
        assert status_label(status, now) == chinese


def test_id_number_errors_follow_the_language():
    # the message is lazy: it reads in the language active where it is shown
    messages = {}
    for language in ("en", "zh-hans"):
        with translation.override(language):
            with pytest.raises(ValidationError) as exc:
                parse_id_number("123")
            messages[language] = exc.value.messages
    assert messages == {
        "en": [
            "An ID card number has 18 characters; the last one can be a digit or X."
        ],
        "zh-hans": ["身份证号应为18位,最后一位可以是数字或X。"],
    }
    assert messages["zh-hans"] == [str(MSG_ID_FORMAT)]


@pytest.mark.django_db
def test_register_errors_from_actions_are_shown_in_english(client, sms_outbox):
    # given an English visitor who asked for a code, then typed a wrong one
    url = reverse("members:register")
    english = {"HTTP_ACCEPT_LANGUAGE": "en"}
    client.post(url, {"phone": "13612345678", "action": "send_code"}, **english)
    sent = re.search(r"\d{6}", sms_outbox[-1][1]).group(0)
    data = {
        "phone": "13612345678",
        "code": "000000" if sent != "000000" else "111111",
        "password1": "after the last delivery I go home 2026",
        "password2": "after the last delivery I go home 2026",
        "action": "register",
    }

    # when the form is posted
    response = client.post(url, data, **english)

    # then the action's refusal reads in English, and no account was made
    body = response.content.decode()
    assert response.status_code == 200
    assert "The code is wrong or has expired. Please get a new one." in body
    assert accounts.MSG_OTP_INVALID not in body
    assert not User.objects.exists()


@pytest.mark.django_db
def test_region_code_warning_follows_the_language():
    # given a code that is not in the (empty) code table
    today = datetime(2026, 11, 23).date()
    with translation.override("en"):
        english = region_code_warnings(code="999999", today=today)
    with translation.override("zh-hans"):
        chinese = region_code_warnings(code="999999", today=today)
    assert english == ["Area code 999999 is not in the official list. Please check it."]
    assert chinese == ["行政区划代码 999999 不在代码表中,请核对。"]
