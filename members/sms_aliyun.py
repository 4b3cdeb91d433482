"""Aliyun SMS (dysmsapi `SendSms`) as an SMS backend: the production gateway.

Chinese gateways send only pre-approved templates under an approved signature
(签名), so this backend has `send_template` and refuses free text: each notice
template code (members.notification_templates, and `otp_code` for one-time codes)
maps to the gateway's template id in `SMS_TEMPLATE_IDS`
(`code:SMS_123,otp_code:SMS_456`); a template without one is a permanent error
(dead letter), never a silent skip.

The call is an RPC-style GET signed with the AccessKey secret (signature version
1.0, HMAC-SHA1 over the sorted, RFC 3986-encoded query; Aliyun's "signature
mechanism" page has the test vector used in the tests). Standard library only;
TLS certificates are verified. Outcomes:

* `Code == "OK"`: accepted (the `OutId` is our notification's out_id).
* Refusals that a retry cannot change (bad number, template parameters, content
  rejected) raise `SmsError(transient=False)`: the outbox dead-letters the row.
* Everything else (flow control, the gateway's own errors, HTTP 5xx, timeouts,
  an unreadable answer, and account problems an operator must fix) is transient:
  the outbox retries with back-off, so notices wait instead of being lost.

Nothing here logs the number or the template parameters (a one-time code is a
parameter); error messages carry the gateway's code and message only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from members.sms import SmsError

API_VERSION = "2017-05-25"
DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com/"

# Refusals about this message itself: retrying sends the same refused request.
PERMANENT_CODES = frozenset(
    {
        "isv.MOBILE_NUMBER_ILLEGAL",
        "isv.MOBILE_COUNT_OVER_LIMIT",
        "isv.DOMESTIC_NUMBER_NOT_SUPPORTED",
        "isv.TEMPLATE_MISSING_PARAMETERS",
        "isv.TEMPLATE_PARAMS_ILLEGAL",
        "isv.INVALID_PARAMETERS",
        "isv.INVALID_JSON_PARAM",
        "isv.PARAM_LENGTH_LIMIT",
        "isv.PARAM_NOT_SUPPORT_URL",
        "isv.BLACK_KEY_CONTROL_LIMIT",
        "isv.SMS_CONTENT_ILLEGAL",
        "isv.SMS_TEMPLATE_ILLEGAL",
    }
)


def percent_encode(value: str) -> str:
    """RFC 3986 as Aliyun's signature wants it: only A-Z a-z 0-9 - _ . ~ kept,
    UTF-8 bytes as %XY, a space as %20."""
    return urllib.parse.quote(value, safe="-_.~")


def string_to_sign(params: Mapping[str, str], method: str = "GET") -> str:
    canonical = "&".join(
        f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items())
    )
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"


def signature(params: Mapping[str, str], secret: str, method: str = "GET") -> str:
    digest = hmac.new(
        f"{secret}&".encode(),
        string_to_sign(params, method).encode(),
        hashlib.sha1,  # the algorithm Aliyun's signature version 1.0 defines
    ).digest()
    return base64.b64encode(digest).decode()


def _template_ids() -> dict[str, str]:
    ids = {}
    for item in getattr(settings, "SMS_TEMPLATE_IDS", []):
        code, _, template_id = item.partition(":")
        ids[code.strip()] = template_id.strip()
    return ids


class AliyunSmsBackend:
    def __init__(self):
        self.access_key_id = getattr(settings, "ALIYUN_SMS_ACCESS_KEY_ID", "")
        self.access_key_secret = getattr(settings, "ALIYUN_SMS_ACCESS_KEY_SECRET", "")
        self.sign_name = getattr(settings, "ALIYUN_SMS_SIGN_NAME", "")
        if not (self.access_key_id and self.access_key_secret and self.sign_name):
            raise ImproperlyConfigured(
                "AliyunSmsBackend needs ALIYUN_SMS_ACCESS_KEY_ID, "
                "ALIYUN_SMS_ACCESS_KEY_SECRET and ALIYUN_SMS_SIGN_NAME"
            )
        self.endpoint = getattr(settings, "ALIYUN_SMS_ENDPOINT", "") or DEFAULT_ENDPOINT
        parts = urllib.parse.urlsplit(self.endpoint)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
            raise ImproperlyConfigured(
                "ALIYUN_SMS_ENDPOINT must be an https:// URL (http only to loopback)"
            )
        self.timeout = float(getattr(settings, "ALIYUN_SMS_TIMEOUT", 5))
        self.template_ids = _template_ids()

    def send(self, phone: str, text: str) -> None:
        raise SmsError(
            "the Aliyun gateway sends approved templates only", transient=False
        )

    def send_template(
        self,
        phone: str,
        *,
        template_code: str,
        sms_template_id: str = "",
        params: Mapping,
        text: str = "",
        out_id: str = "",
        **_,
    ) -> str:
        """Send one templated message; returns the gateway's BizId."""
        template_id = self.template_ids.get(template_code) or sms_template_id
        if not template_id:
            raise SmsError(
                f"no gateway template id for {template_code!r} (SMS_TEMPLATE_IDS)",
                transient=False,
            )
        query = {
            "Action": "SendSms",
            "Version": API_VERSION,
            "Format": "JSON",
            "RegionId": "cn-hangzhou",
            "AccessKeyId": self.access_key_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": uuid.uuid4().hex,
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "PhoneNumbers": phone,
            "SignName": self.sign_name,
            "TemplateCode": template_id,
            # The gateway wants every variable as a string.
            "TemplateParam": json.dumps(
                {str(k): str(v) for k, v in params.items()},
                ensure_ascii=False,
                separators=(",", ":"),
            ),
        }
        if out_id:
            query["OutId"] = out_id[:256]
        query["Signature"] = signature(query, self.access_key_secret)
        url = (
            self.endpoint
            + "?"
            + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        )
        answer = self._get(url)
        code = str(answer.get("Code", ""))
        if code == "OK":
            return str(answer.get("BizId", ""))
        message = f"aliyun {code or 'no code'}: {str(answer.get('Message', ''))[:120]}"
        raise SmsError(message, transient=code not in PERMANENT_CODES)

    def _get(self, url: str) -> dict:
        # The scheme was checked in __init__ (https, or http to a loopback test
        # gateway), so urlopen never sees file: or a custom scheme.
        request = urllib.request.Request(  # noqa: S310
            url, headers={"Accept": "application/json"}
        )
        try:
            with urllib.request.urlopen(  # noqa: S310
                request, timeout=self.timeout
            ) as response:
                body = response.read(65536)
        except urllib.error.HTTPError as exc:
            # 4xx/5xx still carry Aliyun's JSON (Code, Message) most of the time.
            body = exc.read(65536) if exc.fp is not None else b""
            try:
                answer = json.loads(body)
            except ValueError:
                raise SmsError(f"aliyun HTTP {exc.code}") from None
            if isinstance(answer, dict) and answer.get("Code"):
                return answer
            raise SmsError(f"aliyun HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise SmsError(f"aliyun unreachable: {type(exc).__name__}") from None
        try:
            answer = json.loads(body)
        except ValueError:
            raise SmsError("aliyun answer is not JSON") from None
        if not isinstance(answer, dict):
            raise SmsError("aliyun answer is not a JSON object")
        return answer
