"""Lint-style guards for Celery use (security.md CE3, DI3) and notice templates."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent.parent
CODE_DIRS = ("portal", "members", "services", "bench")
MAX_COUNTDOWN = 300


def _python_files(dirs=CODE_DIRS):
    for name in dirs:
        for path in (ROOT / name).rglob("*.py"):
            if "migrations" not in path.parts:
                yield path


def _literal_seconds(node: ast.AST) -> float | None:
    """Seconds of a constant expression (300, 5 * 60, timedelta(hours=2))."""
    try:
        return float(ast.literal_eval(node))
    except (ValueError, TypeError, SyntaxError):
        pass
    if isinstance(node, ast.BinOp):
        try:
            return float(eval(compile(ast.Expression(node), "<n>", "eval"), {}))  # noqa: S307
        except Exception:  # noqa: BLE001
            return None
    if (
        isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", "")) == "timedelta"
    ):
        units = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
        total = 0.0
        for kw in node.keywords:
            value = _literal_seconds(kw.value)
            if value is None or kw.arg not in units:
                return None
            total += value * units[kw.arg]
        return total
    return None


def test_no_countdown_or_eta_longer_than_300_seconds():
    offenders = []
    for path in _python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            for kw in node.keywords:
                if kw.arg in ("countdown", "retry_backoff_max", "default_retry_delay"):
                    seconds = _literal_seconds(kw.value)
                    if seconds is not None and seconds > MAX_COUNTDOWN:
                        offenders.append(f"{path}:{node.lineno} {kw.arg}={seconds}")
                if kw.arg == "eta":
                    # eta=now + timedelta(...): check the timedelta part
                    for sub in ast.walk(kw.value):
                        if isinstance(sub, ast.Call):
                            seconds = _literal_seconds(sub)
                            if seconds is not None and seconds > MAX_COUNTDOWN:
                                offenders.append(f"{path}:{node.lineno} eta=+{seconds}")
    assert offenders == []


def test_the_lint_catches_long_countdowns():
    bad = ast.parse(
        "t.apply_async(countdown=7200)\n"
        "t.apply_async(eta=now + timedelta(hours=2))\n"
        "t.retry(countdown=5 * 60 + 1)\n"
    )
    found = []
    for node in ast.walk(bad):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                target = kw.value
                if kw.arg == "eta":
                    target = kw.value.right
                if kw.arg in ("countdown", "eta"):
                    found.append(_literal_seconds(target))
    assert found == [7200.0, 7200.0, 301.0]


def test_retry_policy_keeps_celery_backoff_within_300_seconds():
    assert settings.TASK_RETRY_POLICY["retry_backoff_max"] <= MAX_COUNTDOWN
    assert settings.NOTIFICATION_RETRY_MAX_SECONDS >= 300  # a due_at, not an ETA


def test_tasks_are_published_only_on_commit():
    """`.delay(`/`.apply_async(` must sit inside `transaction.on_commit(...)` (or a
    `partial` handed to it), or use `delay_on_commit`."""
    offenders = []
    for path in _python_files(("portal", "members", "services")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        on_commit_args = set()
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", "") == "on_commit"
            ):
                for arg in ast.walk(node):
                    on_commit_args.add(id(arg))
        for node in ast.walk(tree):
            func = node.func if isinstance(node, ast.Call) else None
            if (
                isinstance(func, ast.Attribute)
                and func.attr in ("delay", "apply_async")
                and id(node) not in on_commit_args
            ):
                offenders.append(f"{path}:{node.lineno} .{func.attr}")
    assert offenders == []


TEMPLATE_CODE = re.compile(r"template_code\s*=\s*[\"']([a-z0-9_]+)[\"']")


def test_every_template_code_used_in_code_is_registered():
    from members.notification_templates import registered_codes

    used = set()
    for path in _python_files(("portal", "members", "services")):
        used |= set(TEMPLATE_CODE.findall(path.read_text(encoding="utf-8")))
    assert used, "the scan found no template codes at all"
    assert used - registered_codes() == set()


def test_default_schedules_name_registered_tasks_on_routed_queues():
    from portal.celery import app
    from portal.schedules import DEFAULT_SCHEDULES

    app.loader.import_default_modules()
    names = [entry["name"] for entry in DEFAULT_SCHEDULES]
    assert len(names) == len(set(names))
    for entry in DEFAULT_SCHEDULES:
        assert entry["task"] in app.tasks, entry["task"]
        routed = app.amqp.router.route({}, entry["task"])["queue"].name
        assert routed == entry["queue"], entry["name"]
