"""security.md DJ1/DJ2/DJ7: production settings pass check --deploy, errors are
generic and in Chinese, and pages carry the security headers."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
pytestmark = pytest.mark.django_db


def _check_deploy(**extra):
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_SKIP_DOTENV": "1",
        "DEBUG": "False",
        "SECRET_KEY": "p" * 30 + "Q8x#k2@Lm9$zR4!vT7&wY1^bN6*cJ3",
        "ALLOWED_HOSTS": "portal.example.cn",
        "FIELD_ENCRYPTION_KEYS": "k1:" + "A" * 43,
        "BLIND_INDEX_KEY": "b" * 40,
        "PLATFORM_KEY_PEPPER": "pepper-" + "z" * 40,
        # A gateway backend (any importable class; the check only refuses the
        # development ones).
        "SMS_BACKEND": "tests.portal.test_security_settings.GatewaySmsBackend",
        **extra,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


class GatewaySmsBackend:
    def send(self, phone: str, text: str) -> None:  # pragma: no cover
        raise NotImplementedError


def test_check_deploy_is_clean_with_production_settings():
    result = _check_deploy()

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SILENCED_SYSTEM_CHECKS" not in (ROOT / "portal/settings.py").read_text()


def test_check_deploy_warns_when_platform_keys_hang_on_secret_key():
    """Without its own pepper, rotating SECRET_KEY after an incident would void
    every platform's API key (docs/breach-runbook.md)."""
    result = _check_deploy(PLATFORM_KEY_PEPPER="")

    assert result.returncode != 0
    assert "members.W006" in result.stderr + result.stdout


def test_check_deploy_refuses_a_foreign_tile_host():
    """PI12: a page may load only from approved domestic hosts."""
    result = _check_deploy(MAP_TILE_HOSTS="https://*.tile.openstreetmap.org")

    assert result.returncode != 0
    assert "members.E007" in result.stderr + result.stdout
    assert "tile.openstreetmap.org" in result.stderr + result.stdout


def test_the_csp_and_the_sms_gateway_use_approved_domestic_hosts_only(settings):
    from members.checks import outside_hosts

    settings.SMS_BACKEND = "members.sms_aliyun.AliyunSmsBackend"
    assert outside_hosts() == []
    img = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"]
    assert [s for s in img if "://" in s] == ["https://*.tianditu.gov.cn"]
    settings.ALIYUN_SMS_ENDPOINT = "https://dysmsapi.ap-southeast-1.example.com/"
    assert outside_hosts() == ["dysmsapi.ap-southeast-1.example.com"]


def test_no_template_or_static_file_loads_a_third_party_resource():
    """No CDN, web font, analytics or tracker: only comments and XML namespaces
    name other sites."""
    import re

    # what makes a browser fetch: src=, <link href=>, CSS url() and @import
    # (a plain <a href> to another site, such as Leaflet's credit, fetches nothing)
    external = r"[\"']?(?:https?:)?//"
    pattern = re.compile(
        rf"src\s*=\s*{external}|<link[^>]+href\s*=\s*{external}"
        rf"|url\(\s*{external}|@import\s+(?:url\()?{external}",
        re.I,
    )
    found = [
        str(path.relative_to(ROOT))
        for folder in ("templates", "static")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in {".html", ".js", ".css"}
        and pattern.search(path.read_text(encoding="utf-8", errors="ignore"))
    ]
    assert found == []


def test_check_deploy_refuses_the_console_sms_backend():
    """It would print every login code to stdout and send none."""
    result = _check_deploy(SMS_BACKEND="members.sms.ConsoleSmsBackend")

    assert result.returncode != 0
    assert "members.E001" in result.stderr + result.stdout


def test_unknown_page_is_a_generic_chinese_404(client):
    response = client.get("/nope-7f3a/")

    assert response.status_code == 404
    body = response.content.decode()
    assert "页面不存在" in body
    assert "Traceback" not in body and "DEBUG" not in body


def test_html_pages_carry_security_headers(client):
    response = client.get("/")

    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    csp = response["Content-Security-Policy"]
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in csp
    assert "'nonce-" in csp and "unsafe-eval" not in csp and "unsafe-inline" not in csp


def test_home_page_is_chinese_first(client):
    body = client.get("/").content.decode()

    assert '<html lang="zh-Hans">' in body
    assert "入会" in body and "驿站" in body


def test_api_defaults_to_deny(client):
    response = client.get("/api/schema/")

    assert response.status_code in (401, 403)


def test_signed_in_pages_are_not_cached(client, worker_user):
    client.force_login(worker_user)

    response = client.get("/me/")

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


def test_post_without_csrf_token_is_refused(worker_user):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    response = csrf_client.post("/login/", {"username": "x", "password": "y"})

    assert response.status_code == 403
