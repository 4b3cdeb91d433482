"""Smoke test of the L1 load driver (bench/load_l1.py + bench/locustfile.py):
a few simulated workers for a few seconds against the live test server. It
checks that the journeys run end to end (CSRF, cookies, SMS codes, redirects)
and that nothing answers 5xx; it asserts no timings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from portal.masking import mask_phone

ROOT = Path(__file__).resolve().parents[2]
LOCUST = Path(sys.executable).parent / "locust"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not LOCUST.exists(), reason="locust is not installed"),
]

SMS_LOG: list[Path] = []


class FileSmsBackend:
    """The console backend's line format, into the file the journeys read."""

    def send(self, phone: str, text: str) -> None:
        with SMS_LOG[0].open("a", encoding="utf-8") as out:
            out.write(f"[SMS → {mask_phone(phone)}] {text}\n")


@pytest.fixture
def load_l1():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import load_l1

        yield load_l1
    finally:
        sys.path.remove(str(ROOT / "bench"))


def test_journeys_run_without_server_errors(live_server, settings, tmp_path, load_l1):
    # given: the proxy in front of production (client address and HTTPS from
    # X-Forwarded-* headers), SMS into a file, demo data and 30 members
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    SMS_LOG[:] = [tmp_path / "sms.log"]
    SMS_LOG[0].touch()
    settings.SMS_BACKEND = f"{__name__}.FileSmsBackend"
    seeded = load_l1.seed(accounts=30, password="负载测试用的一句长密码-smoke")
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps(seeded), encoding="utf-8")
    result = tmp_path / "result.json"

    # when: 4 workers and the probe for 8 seconds
    proc = load_l1.run_locust(
        host=live_server.url,
        seconds=8,
        users=4,
        spawn_rate=4,
        think="0.05,0.2",
        accounts_file=accounts,
        sms_log=SMS_LOG[0],
        result_file=result,
        log=tmp_path / "locust.log",
    )
    assert proc.wait(timeout=120) == 0, (tmp_path / "locust.log").read_text()

    # then
    data = json.loads(result.read_text(encoding="utf-8"))
    rows, totals = load_l1.summarise(data, None)
    assert totals["5xx"] == 0
    assert totals["conn"] == 0
    assert data["journeys"].get("registered", 0) >= 1, data["journeys"]
    assert data["journeys"].get("login (new device, SMS)", 0) >= 1, data["journeys"]
    names = {r["name"] for r in rows}
    assert {"POST /register/ [register]", "POST /login/verify/ [code]"} <= names
