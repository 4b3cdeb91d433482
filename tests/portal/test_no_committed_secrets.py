"""security.md DJ5: no key is committed. Keys come from the environment (.env is
written by scripts/ensure_env.py and ignored by git); only the test and bench
settings carry throwaway keys of their own."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Throwaway keys for tests and benchmarks only.
ALLOWED = ("tests/", "bench/")
KEY_LITERALS = re.compile(
    r"""(?:SECRET_KEY|BLIND_INDEX_KEY|PLATFORM_KEY_PEPPER|AUDIT_SHIP_HMAC_KEYS
        |ALIYUN_SMS_ACCESS_KEY_SECRET|TIANDITU_KEY)["']?\s*[=:]\s*["'][^"'\s]{16,}
      |FIELD_ENCRYPTION_KEYS["']?\s*[=:]\s*["']?\w+:[A-Za-z0-9_-]{40,}
      |-----BEGIN\ [A-Z ]*PRIVATE\ KEY-----
      |\bLTAI[0-9A-Za-z]{12,}""",
    re.X,
)


def tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return listed.stdout.split()


def test_no_key_literal_outside_test_and_bench_settings():
    found = []
    for name in tracked_files():
        if name.startswith(ALLOWED) or not (ROOT / name).is_file():
            continue
        text = (ROOT / name).read_text(encoding="utf-8", errors="ignore")
        found += [f"{name}: {m.group(0)[:40]}" for m in KEY_LITERALS.finditer(text)]

    assert found == []


def test_the_scan_finds_a_committed_key():
    samples = [
        'SECRET_KEY = "x7#kP2@qL9$vR4!tM8&wZ1^bN6*cJ3yH"',
        '"FIELD_ENCRYPTION_KEYS": "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"',
        "ALIYUN_SMS_ACCESS_KEY_ID=LTAI5tAbCdEfGhIjKlMn",
    ]
    assert all(KEY_LITERALS.search(sample) for sample in samples)
    assert not KEY_LITERALS.search('SECRET_KEY = os.getenv("SECRET_KEY", "")')


def test_the_local_env_file_is_never_tracked():
    assert ".env" not in tracked_files()
    assert ".env" in (ROOT / ".gitignore").read_text().split()
