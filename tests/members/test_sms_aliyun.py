"""The Aliyun SMS backend against a fake gateway on loopback that checks the
signature the way Aliyun does, and against Aliyun's published signature example."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from members.actions.accounts import otp_send
from members.actions.notifications import (
    notification_enqueue,
    notifications_claim_due,
    notifications_send_batch,
)
from members.models import Notification
from members.sms import SmsError
from members.sms_aliyun import AliyunSmsBackend, signature, string_to_sign
from tests.factories import make_user

KEY_ID = "test-access-key-id"
SECRET = "test-access-key-secret"


def test_signature_matches_aliyuns_published_example():
    # "Signature mechanism" (RPC APIs), DescribeRegions with testid / testsecret.
    params = {
        "TimeStamp": "2016-02-23T12:46:24Z",
        "Format": "XML",
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "Version": "2014-05-26",
        "SignatureVersion": "1.0",
    }

    assert string_to_sign(params) == (
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML"
        "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-"
        "4e0ad82fd6cf%26SignatureVersion%3D1.0%26TimeStamp%3D2016-02-23T12%253A46%253A"
        "24Z%26Version%3D2014-05-26"
    )
    assert signature(params, "testsecret") == "CT9X0VtwR86fNWSnsc6v8YGOjuE="


class FakeGateway:
    """dysmsapi on 127.0.0.1: verifies each request's signature with SECRET and
    answers what the test queued (default: OK)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.answers: list[tuple[int, bytes, float]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                query = dict(parse_qsl(urlsplit(self.path).query))
                sent = query.pop("Signature", "")
                query["_signature_ok"] = sent == signature(query, SECRET)
                gateway.requests.append(query)
                status, body, delay = (
                    gateway.answers.pop(0)
                    if gateway.answers
                    else (200, b'{"Code":"OK","Message":"OK","BizId":"900"}', 0)
                )
                time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, code: str, message: str = "x", status: int = 200, delay=0.0):
        body = json.dumps({"Code": code, "Message": message}).encode()
        self.answers.append((status, body, delay))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway(settings):
    fake = FakeGateway()
    settings.SMS_BACKEND = "members.sms_aliyun.AliyunSmsBackend"
    settings.ALIYUN_SMS_ACCESS_KEY_ID = KEY_ID
    settings.ALIYUN_SMS_ACCESS_KEY_SECRET = SECRET
    settings.ALIYUN_SMS_SIGN_NAME = "深圳市总工会"
    settings.ALIYUN_SMS_ENDPOINT = fake.url
    settings.ALIYUN_SMS_TIMEOUT = 1
    settings.SMS_TEMPLATE_IDS = ["otp_code:SMS_100001", "notice_generic:SMS_100002"]
    yield fake
    fake.close()


def test_a_template_is_sent_signed_with_its_gateway_id_and_string_params(gateway):
    biz_id = AliyunSmsBackend().send_template(
        "13812345678",
        template_code="notice_generic",
        params={"title": "通知", "body": "第1条", "count": 3},
        text="ignored by the gateway",
        out_id="notification-7",
    )

    assert biz_id == "900"
    [sent] = gateway.requests
    assert sent["_signature_ok"] is True
    assert sent["Action"] == "SendSms" and sent["Version"] == "2017-05-25"
    assert sent["AccessKeyId"] == KEY_ID
    assert sent["PhoneNumbers"] == "13812345678"
    assert sent["SignName"] == "深圳市总工会"
    assert sent["TemplateCode"] == "SMS_100002"
    assert json.loads(sent["TemplateParam"]) == {
        "title": "通知",
        "body": "第1条",
        "count": "3",
    }
    assert sent["OutId"] == "notification-7"


@pytest.mark.parametrize(
    ("code", "transient"),
    [
        ("isv.BUSINESS_LIMIT_CONTROL", True),  # flow control: later
        ("isp.SYSTEM_ERROR", True),
        ("isv.OUT_OF_SERVICE", True),  # balance: an operator tops up, then it goes
        ("InvalidAccessKeyId.NotFound", True),  # configuration: fixed, then retried
        ("isv.MOBILE_NUMBER_ILLEGAL", False),
        ("isv.TEMPLATE_MISSING_PARAMETERS", False),
        ("isv.SMS_CONTENT_ILLEGAL", False),
    ],
)
def test_gateway_refusals_are_sorted_into_retry_or_dead_letter(
    gateway, code, transient
):
    gateway.answer(code, "说明 13812345678")

    with pytest.raises(SmsError) as exc:
        AliyunSmsBackend().send_template(
            "13812345678", template_code="otp_code", params={"code": "123456"}
        )

    assert exc.value.transient is transient
    assert code in str(exc.value)


@pytest.mark.parametrize(
    ("status", "body", "delay"),
    [
        (500, b"<html>oops</html>", 0),
        (503, b"", 0),
        (200, b"not json", 0),
        (200, b"[1, 2]", 0),
        (200, b'{"Code":"OK"}', 1.5),  # slower than ALIYUN_SMS_TIMEOUT
    ],
)
def test_broken_answers_and_timeouts_are_transient(gateway, status, body, delay):
    gateway.answers.append((status, body, delay))

    with pytest.raises(SmsError) as exc:
        AliyunSmsBackend().send_template(
            "13812345678", template_code="otp_code", params={"code": "1"}
        )

    assert exc.value.transient is True


def test_an_unreachable_gateway_is_transient(gateway, settings):
    gateway.close()

    with pytest.raises(SmsError) as exc:
        AliyunSmsBackend().send_template(
            "13812345678", template_code="otp_code", params={"code": "1"}
        )

    assert exc.value.transient is True


def test_a_template_without_a_gateway_id_and_free_text_are_permanent(gateway):
    backend = AliyunSmsBackend()

    with pytest.raises(SmsError) as no_id:
        backend.send_template(
            "13812345678", template_code="membership_approved", params={}
        )
    with pytest.raises(SmsError) as free_text:
        backend.send("13812345678", "hello")

    assert no_id.value.transient is False and "SMS_TEMPLATE_IDS" in str(no_id.value)
    assert free_text.value.transient is False
    assert gateway.requests == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ALIYUN_SMS_ACCESS_KEY_SECRET", ""),
        ("ALIYUN_SMS_SIGN_NAME", ""),
        ("ALIYUN_SMS_ENDPOINT", "http://sms.example.com/"),  # cleartext off loopback
        ("ALIYUN_SMS_ENDPOINT", "file:///etc/passwd"),
    ],
)
def test_misconfiguration_is_refused_before_any_call(gateway, settings, name, value):
    setattr(settings, name, value)

    with pytest.raises(ImproperlyConfigured):
        AliyunSmsBackend()


@pytest.mark.django_db
def test_a_one_time_code_goes_out_as_the_otp_template(gateway):
    otp_send(phone="13812345678", purpose="register")

    [sent] = gateway.requests
    assert sent["TemplateCode"] == "SMS_100001"
    code = json.loads(sent["TemplateParam"])["code"]
    assert len(code) == 6 and code.isdigit()


@pytest.mark.django_db
def test_a_gateway_refusal_of_a_code_is_an_error_and_counts_nothing(gateway):
    gateway.answer("isv.BUSINESS_LIMIT_CONTROL")

    with pytest.raises(SmsError):
        otp_send(phone="13812345678", purpose="register")

    from members.models import OneTimeCode

    assert not OneTimeCode.objects.exists()  # rolled back: the quota is not used


@pytest.mark.django_db
def test_the_outbox_retries_through_flow_control_then_sends_once(gateway):
    user = make_user(phone="13812345678")
    notification_enqueue(
        template_code="notice_generic",
        channel="sms",
        dedupe_key="aliyun-1",
        user=user,
        params={"title": "通知", "body": "您的参保已生效"},
    )
    gateway.answer("isv.BUSINESS_LIMIT_CONTROL")

    def deliver(at):
        with transaction.atomic():
            token, ids = notifications_claim_due(limit=10, now=at)
        notifications_send_batch(ids=ids, claim_token=token, now=at)

    deliver(timezone.now())
    row = Notification.objects.get()
    assert (row.status, row.attempts) == ("pending", 1)
    assert "isv.BUSINESS_LIMIT_CONTROL" in row.last_error

    deliver(row.due_at + timedelta(seconds=1))
    row.refresh_from_db()
    assert row.status == "sent"
    assert [r["OutId"] for r in gateway.requests] == [row.out_id, row.out_id]


def test_deploy_check_wants_the_keys_and_the_code_template(gateway, settings):
    from members.checks import check_aliyun_sms

    assert check_aliyun_sms(None) == []
    settings.SMS_TEMPLATE_IDS = ["notice_generic:SMS_100002"]
    assert [m.id for m in check_aliyun_sms(None)] == ["members.E003"]
    settings.ALIYUN_SMS_ACCESS_KEY_ID = ""
    assert [m.id for m in check_aliyun_sms(None)] == ["members.E002"]
