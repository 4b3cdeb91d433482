"""A real `celery -A portal worker` in a subprocess, for fault tests and benchmarks.

Unlike the in-process `celery_live_worker` fixture, this one can be killed with
SIGKILL (the main process and its pool children, as a crashed machine would) and
started again. It talks to the given database and Redis only:

    with SubprocessWorker(database_url=..., redis_url=..., env={...}) as w:
        ...
        w.kill9()
        w.start()
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUEUES = ("default", "otp", "notifications", "bulk")


def purge_queues(redis_url: str, queues=QUEUES) -> None:
    """Drop pending messages (and unacked bookkeeping) from the broker DB."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.delete(*queues, "unacked", "unacked_index")
    client.close()


class SubprocessWorker:
    def __init__(
        self,
        *,
        database_url: str,
        redis_url: str,
        env: dict[str, str] | None = None,
        queues: tuple[str, ...] = QUEUES,
        concurrency: int = 2,
        pool: str = "prefork",
        settings_module: str = "tests.worker_settings",
        log_path: str | None = None,
    ):
        self.database_url = database_url
        self.redis_url = redis_url
        self.extra_env = env or {}
        self.queues = queues
        self.concurrency = concurrency
        self.pool = pool
        self.settings_module = settings_module
        self.log_path = log_path or f"/tmp/portal-worker-{uuid.uuid4().hex[:8]}.log"  # noqa: S108
        self.process: subprocess.Popen | None = None
        self.hostname = ""

    def _env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PYTEST_", "COV_"))
        }
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            DJANGO_SETTINGS_MODULE=self.settings_module,
            PYTHONPATH=str(ROOT),
            PORTAL_SKIP_DOTENV="1",
        )
        env.update(self.extra_env)
        return env

    def start(self, *, timeout: float = 60) -> SubprocessWorker:
        assert self.process is None or self.process.poll() is not None
        self.hostname = f"test-{uuid.uuid4().hex[:8]}@localhost"
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "-l",
                "INFO",
                "-n",
                self.hostname,
                "-Q",
                ",".join(self.queues),
                "-c",
                str(self.concurrency),
                "-P",
                self.pool,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: kill9 takes the children too
        )
        log.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early; see {self.log_path}")
            text = Path(self.log_path).read_text(errors="replace")
            if f"{self.hostname} ready." in text:
                return
            time.sleep(0.2)
        self.kill9()
        raise RuntimeError(f"worker not ready after {timeout}s; see {self.log_path}")

    def kill9(self) -> None:
        """SIGKILL the worker and its pool children at once (no warm shutdown)."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def pool_children(self) -> list[int]:
        """PIDs of the prefork pool processes (children of the main process)."""
        if self.process is None or self.process.poll() is not None:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def kill9_child(self) -> int:
        """SIGKILL one pool process (an OOM kill); the main process survives."""
        pid = self.pool_children()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self, *, timeout: float = 40) -> None:
        """Warm shutdown (SIGTERM), SIGKILL if it takes longer than `timeout`."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill9()

    def log_text(self) -> str:
        return Path(self.log_path).read_text(errors="replace")

    def remove_log(self) -> None:
        Path(self.log_path).unlink(missing_ok=True)

    @property
    def log(self) -> str:
        return Path(self.log_path).read_text(errors="replace")

    def __enter__(self) -> SubprocessWorker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
