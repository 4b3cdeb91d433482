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
    return logins
