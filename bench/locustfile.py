"""Locust journeys for security.md L1 (run by bench/load_l1.py; not on its own).

Simulated workers use the site as a phone browser does: HTML pages, the CSRF
token taken from each form, cookies kept per browser, redirects followed one by
one (each hop is its own entry in the figures), a think time between pages.
Every worker sits behind the production reverse proxy: it sends its own
X-Forwarded-For address and X-Forwarded-Proto: https (the server runs with
PROXY_COUNT=1), so per-address limits see 50 phones, not one machine.

* Registrant (new worker): home → /register/ → "获取验证码" → the code from the
  SMS log → 注册 (password hashed) → /join/ → 入会 form → /me/ → /messages/ →
  programs list and "我能参加吗?" → stations → log out. Every round is a new
  person (new phone, ID number, address, browser).
* Member (an approved member seeded by load_l1.py): /login/ → password (hashed) →
  on a new browser the SMS step (/login/verify/, code from the SMS log) → /me/ →
  /messages/ → card → a named program's page → 报名 → 我的保障 → sometimes 退出
  (confirm page + POST) → stations list, a station, the stations API as a map
  pans → log out. Half of the rounds come back on the same browser (trusted
  device: password only), the other half are another account on a new browser.
* Probe (one user): GET /healthz once a second, the reference measured under the
  same load.

SMS codes: the server runs members.sms.ConsoleSmsBackend (the development
backend; production code unchanged) with its stdout appended to L1_SMS_LOG; a
worker reads the newest `[SMS → 139****0042] …验证码是123456…` line for its
masked phone written after its request. Phones are chosen so that masked forms
are unique within a run.

Per-request results (status, exact milliseconds) go to L1_RESULT as JSON when
the run stops; load_l1.py computes the percentiles.

Environment: L1_SMS_LOG, L1_RESULT, L1_ACCOUNTS (JSON file: {"password": …,
"phones": […]}), L1_THINK ("min,max" seconds, default "1,3"), L1_SEED.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import threading
import time
from collections import defaultdict
from datetime import date, timedelta
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urlsplit

import gevent
from locust import FastHttpUser, constant_pacing, events, task

SMS_LOG = os.environ.get("L1_SMS_LOG", "")
RESULT = os.environ.get("L1_RESULT", "")
THINK = tuple(float(x) for x in os.environ.get("L1_THINK", "1,3").split(","))
RNG = random.Random(int(os.environ.get("L1_SEED", "1")))

with open(os.environ["L1_ACCOUNTS"], encoding="utf-8") as f:
    _accounts = json.load(f)
PASSWORD = _accounts["password"]
PHONES: list[str] = _accounts["phones"]
STATION_IDS: list[int] = _accounts.get("stations", [])
PROGRAMS: dict[str, str] = _accounts.get("programs", {})  # phone → program code

_account_cycle = itertools.cycle(PHONES)
_registrant_no = itertools.count(RNG.randrange(0, 5000))
_address_no = itertools.count(1)

CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
WITHDRAW_RE = re.compile(r'href="(/services/programs/mine/(\d+)/withdraw/)"')
STATION_RE = re.compile(r'href="/services/stations/(\d+)/"')
CODE_RE = re.compile(r"验证码是(\d{6})")
DISTRICTS = ["440303", "440304", "440305", "440306", "440307", "440308", "440309"]
# (lat, lng) around Shenzhen districts: where a phone's map is looking.
MAP_POINTS = [
    (22.543, 114.058),
    (22.531, 113.930),
    (22.555, 114.123),
    (22.720, 114.247),
    (22.643, 113.829),
    (22.690, 114.020),
    (22.610, 114.290),
]

# ---------------------------------------------------------------------------
# Results: every request's name, status and time (exact, not locust's buckets).

_results: dict[str, dict] = defaultdict(
    lambda: {"ms": [], "status": defaultdict(int), "errors": defaultdict(int)}
)
_journeys: dict[str, int] = defaultdict(int)
_lock = threading.Lock()


@events.request.add_listener
def _record(request_type, name, response_time, response, exception, **kwargs):
    key = f"{request_type} {name}"
    status = getattr(response, "status_code", 0) or 0
    with _lock:
        entry = _results[key]
        entry["ms"].append(round(response_time, 3))
        entry["status"][str(status)] += 1
        if status == 0 and exception is not None:
            entry["errors"][type(exception).__name__] += 1


@events.test_stop.add_listener
def _dump(environment, **kwargs):
    if not RESULT:
        return
    with _lock, open(RESULT, "w", encoding="utf-8") as out:
        json.dump(
            {
                "requests": {
                    k: {
                        "ms": v["ms"],
                        "status": dict(v["status"]),
                        "errors": dict(v["errors"]),
                    }
                    for k, v in _results.items()
                },
                "journeys": dict(_journeys),
            },
            out,
        )


def _journey(name: str) -> None:
    with _lock:
        _journeys[name] += 1


# ---------------------------------------------------------------------------
# SMS codes from the console backend's output.


def _sms_offset() -> int:
    try:
        return os.path.getsize(SMS_LOG)
    except OSError:
        return 0


def _mask(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}"


def sms_code(phone: str, since: int, timeout: float = 10.0) -> str | None:
    """The newest code for `phone` written at or after byte `since`."""
    marker = f"[SMS → {_mask(phone)}]"
    deadline = time.monotonic() + timeout
    while True:
        with open(SMS_LOG, "rb") as f:
            f.seek(since)
            text = f.read().decode("utf-8", "replace")
        codes = [
            m.group(1)
            for line in text.splitlines()
            if marker in line
            for m in [CODE_RE.search(line)]
            if m
        ]
        if codes:
            return codes[-1]
        if time.monotonic() > deadline:
            return None
        gevent.sleep(0.05)  # yields to the other simulated users


def id_number(n: int) -> str:
    """A valid 18-digit ID (GB 11643 check character), unique per n."""
    born = date(1980, 1, 1) + timedelta(days=n // 800)
    first17 = f"440305{born:%Y%m%d}{100 + n % 800:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


# ---------------------------------------------------------------------------


class BehindTlsProxy(DefaultCookiePolicy):
    """The phone talks HTTPS to the proxy; this client talks plain HTTP to the
    server behind it. Secure cookies (the production `__Host-` session and CSRF
    cookies) are therefore returned as a browser on HTTPS would."""

    def return_ok_secure(self, cookie, request) -> bool:
        return True


class Browser(FastHttpUser):
    """A phone browser behind the proxy: its own address, cookies, CSRF token."""

    abstract = True

    def on_start(self) -> None:
        self.client.cookiejar.set_policy(BehindTlsProxy())
        self.new_browser()

    def new_browser(self) -> None:
        self.client.cookiejar.clear()
        n = next(_address_no)
        self.ip = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
        self.csrf = ""
        self.referer = "/"

    def think(self) -> None:
        gevent.sleep(RNG.uniform(*THINK))

    def headers(self, extra: dict | None = None) -> dict:
        h = {
            "X-Forwarded-For": self.ip,
            "X-Forwarded-Proto": "https",
            "Accept-Language": "zh-CN,zh;q=0.9",
            "User-Agent": "Mozilla/5.0 (Linux; Android 14) L1-load",
        }
        if extra:
            h.update(extra)
        return h

    def _origin(self) -> str:
        return "https://" + urlsplit(self.host).netloc

    def get(self, path: str, name: str | None = None):
        response = self.client.get(
            path,
            name=name or path.split("?")[0],
            headers=self.headers({"Referer": self._origin() + self.referer}),
            allow_redirects=False,
        )
        if response.status_code == 200 and response.text:
            m = CSRF_RE.search(response.text)
            if m:
                self.csrf = m.group(1)
        self.referer = path
        return response

    def post(self, path: str, data: dict, name: str | None = None):
        body = {"csrfmiddlewaretoken": self.csrf, **data}
        response = self.client.post(
            path,
            name=name or path,
            data=body,
            headers=self.headers(
                {
                    "Origin": self._origin(),
                    "Referer": self._origin() + self.referer,
                    "Content-Type": "application/x-www-form-urlencoded",
                }
            ),
            allow_redirects=False,
        )
        if response.status_code == 200 and response.text:
            m = CSRF_RE.search(response.text)
            if m:
                self.csrf = m.group(1)
        return response

    def follow(self, response, name: str | None = None):
        """Follow one redirect as a browser does (a GET of Location)."""
        if response.status_code not in (301, 302, 303):
            return response
        location = response.headers.get("Location") or "/"
        path = urlsplit(location).path + (
            "?" + urlsplit(location).query if urlsplit(location).query else ""
        )
        return self.get(path, name=name)

    def browse_stations(self) -> None:
        district = RNG.choice(DISTRICTS)
        page = self.get(
            f"/services/stations/?district={district}&radius=4",
            name="/services/stations/?district",
        )
        ids = [int(x) for x in STATION_RE.findall(page.text or "")] or STATION_IDS
        self.think()
        if ids:
            station = RNG.choice(ids)
            self.get(f"/services/stations/{station}/", "/services/stations/<id>/")
            self.think()
        lat, lng = RNG.choice(MAP_POINTS)
        for _ in range(RNG.randint(1, 3)):  # the map pans: a few API calls
            lat += RNG.uniform(-0.02, 0.02)
            lng += RNG.uniform(-0.02, 0.02)
            self.client.get(
                f"/api/v1/stations/?lat={lat:.5f}&lng={lng:.5f}&radius_km=5&limit=10",
                name="/api/v1/stations/",
                headers=self.headers({"Accept": "application/json"}),
            )
            gevent.sleep(RNG.uniform(0.3, 1.0))

    def logout(self) -> None:
        response = self.post("/logout/", {}, name="/logout/")
        self.follow(response)


class Registrant(Browser):
    """A new worker: register with an SMS code, apply to join, look around."""

    weight = 1
    wait_time = constant_pacing(0)

    @task
    def register_and_join(self) -> None:
        self.new_browser()
        n = next(_registrant_no)
        phone = f"137{RNG.randrange(1000, 9999)}{n % 10000:04d}"
        self.get("/")
        self.think()
        self.get("/register/")
        self.think()
        since = _sms_offset()
        sent = self.post(
            "/register/", {"phone": phone, "action": "send_code"}, "/register/ [send]"
        )
        if sent.status_code != 200:
            return
        code = sms_code(phone, since)
        if code is None:
            _journey("register: no SMS code")
            return
        self.think()
        password = f"晚风吹过{RNG.randrange(10**8):08d}号桥"
        done = self.post(
            "/register/",
            {
                "phone": phone,
                "code": code,
                "password1": password,
                "password2": password,
                "code_sent": "1",
                "action": "register",
            },
            "/register/ [register]",
        )
        if done.status_code != 302:
            _journey(f"register: {done.status_code}")
            return
        _journey("registered")
        self.follow(done, "/join/")
        self.think()
        joined = self.post(
            "/join/",
            {
                "name": "测试" + "张王李赵陈"[n % 5] + "某",
                "id_number": id_number(n),
                "occupation": RNG.choice(["courier", "food_delivery", "sanitation"]),
                "employment_category": "written_agreement",
                "hukou_county": "440305",
                "residence_county": RNG.choice(DISTRICTS),
                "org": "",
                "consent_sensitive": "on",
            },
            "/join/ [submit]",
        )
        if joined.status_code == 302:
            _journey("applied")
            self.follow(joined, "/me/")
        else:
            _journey(f"apply: {joined.status_code}")
        self.think()
        self.get("/messages/")
        self.think()
        self.get("/services/programs/")
        self.think()
        self.get("/services/programs/check/")
        self.think()
        self.browse_stations()
        self.logout()
        self.think()


class Member(Browser):
    """An approved member: log in (SMS step on a new browser), enroll, browse."""

    weight = 3
    wait_time = constant_pacing(0)

    def on_start(self) -> None:
        super().on_start()
        self.phone = next(_account_cycle)

    @task
    def visit(self) -> None:
        if RNG.random() < 0.5:  # another account on a new phone
            self.new_browser()
            self.phone = next(_account_cycle)
        self.get("/login/")
        self.think()
        since = _sms_offset()
        response = self.post(
            "/login/",
            {"username": self.phone, "password": PASSWORD, "next": ""},
            "/login/ [password]",
        )
        if response.status_code != 302:
            _journey(f"login: {response.status_code}")
            self.think()
            return
        location = urlsplit(response.headers.get("Location", "")).path
        if location == "/login/verify/":
            self.get("/login/verify/")
            code = sms_code(self.phone, since)
            if code is None:
                _journey("login: no SMS code")
                return
            self.think()
            response = self.post(
                "/login/verify/",
                {"code": code, "action": "verify"},
                "/login/verify/ [code]",
            )
            if response.status_code != 302:
                _journey(f"login verify: {response.status_code}")
                return
            _journey("login (new device, SMS)")
        else:
            _journey("login (trusted device)")
        self.follow(response, "/me/")
        self.think()
        self.get("/messages/")
        self.think()
        if RNG.random() < 0.3:
            self.get("/me/card/")
            self.think()
        self.enroll()
        self.browse_stations()
        self.logout()
        self.think()

    def enroll(self) -> None:
        code = PROGRAMS.get(self.phone)
        if not code:
            return
        self.get("/services/programs/")
        self.think()
        self.get(f"/services/programs/{code}/", "/services/programs/<code>/")
        self.think()
        response = self.post(
            f"/services/programs/{code}/enroll/",
            {},
            "/services/programs/<code>/enroll/",
        )
        if response.status_code == 302:
            _journey("enrolled")
        mine = self.follow(response, "/services/programs/mine/")
        self.think()
        m = WITHDRAW_RE.search(mine.text or "") if mine.status_code == 200 else None
        if m and RNG.random() < 0.5:
            self.get(m.group(1), "/services/programs/mine/<id>/withdraw/")
            self.think()
            done = self.post(
                m.group(1), {}, "/services/programs/mine/<id>/withdraw/ [confirm]"
            )
            if done.status_code == 302:
                _journey("withdrew")
            self.follow(done, "/services/programs/mine/")
            self.think()


class Probe(FastHttpUser):
    """The reference: /healthz once a second under the same load."""

    fixed_count = 1
    wait_time = constant_pacing(1)

    @task
    def healthz(self) -> None:
        self.client.get(
            "/healthz",
            name="/healthz [probe]",
            headers={"X-Forwarded-For": "10.255.255.254", "X-Forwarded-Proto": "https"},
        )
