"""Benchmark: the cost of recording one platform API call
(`members.actions.api_keys.platform_key_use_record`).

Times N calls in one minute bucket (the common case: one upsert, no audit row),
N calls each opening a new bucket (upsert + one audit row), N rider reads (upsert
+ per-read audit row), N writes; per call, wall and process CPU.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_keyuse \\
        .venv/bin/python bench/key_use.py [--calls 5000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _scratch import run_in_scratch_database  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_keyuse"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    run_in_scratch_database(DEFAULT_URL, lambda: run(args.calls))


def run(n: int) -> None:
    from members.actions.api_keys import platform_key_issue, platform_key_use_record
    from tests.factories import make_member

    key = platform_key_issue(platform_code="bench", name="bench").key
    member = make_member()
    t0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    cases = {
        "same bucket (GET)": lambda i: platform_key_use_record(
            key=key, endpoint="bench:detail", method="GET", status_code=200, now=t0
        ),
        "new bucket each call (GET)": lambda i: platform_key_use_record(
            key=key,
            endpoint="bench:poll",
            method="GET",
            status_code=200,
            now=t0 + timedelta(minutes=i),
        ),
        "rider read (GET + member)": lambda i: platform_key_use_record(
            key=key,
            endpoint="bench:rider",
            method="GET",
            status_code=200,
            now=t0,
            member=member,
        ),
        "write (POST)": lambda i: platform_key_use_record(
            key=key, endpoint="bench:post", method="POST", status_code=201, now=t0
        ),
    }
    print(f"load average: {os.getloadavg()}")
    for name, call in cases.items():
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            call(i)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(
            f"{name}: {wall / n * 1000:.3f} ms/call wall, "
            f"{cpu / n * 1000:.3f} ms/call CPU ({n} calls)"
        )
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
