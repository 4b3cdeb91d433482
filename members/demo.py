"""Demo data for the members app (called by `manage.py seed_demo`)."""

from __future__ import annotations

import secrets

from members.models import User


def new_password() -> str:
    return secrets.token_urlsafe(12)


def seed(*, stdout) -> list:
    from members.management.commands.seed_demo import DemoLogin

    logins = []
    admin, _ = User.objects.get_or_create(
        username="demo_admin", defaults={"is_staff": True, "is_superuser": True}
    )
    password = new_password()
    admin.set_password(password)
    admin.is_staff = admin.is_superuser = True
    admin.save()
    logins.append(
        DemoLogin("系统管理员 (superuser)", "demo_admin", password, "/admin/")
    )
    seed_notifications(user=admin)
    logins.append(
        DemoLogin("站内信 (demo_admin)", "demo_admin", password, "/messages/")
    )
    return logins


def seed_notifications(*, user: User) -> None:
    """Two inbox notices for the demo admin, delivered through the dispatcher
    (eager without Redis), so /messages/ and the header count have content."""
    from members.actions.notifications import (
        notification_enqueue,
        notifications_dispatch,
    )

    notices = [
        (
            "welcome",
            {"title": "欢迎使用工会会员服务门户", "body": "这里会显示系统消息和提醒。"},
        ),
        (
            "schedules",
            {"title": "定时任务已就绪", "body": "提醒与通知由每分钟运行的调度发送。"},
        ),
    ]
    for key, params in notices:
        notification_enqueue(
            template_code="notice_generic",
            dedupe_key=f"demo:{key}:{user.pk}",
            user=user,
            params=params,
        )
    notifications_dispatch()
