from django.apps import AppConfig


class MembersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "members"
    verbose_name = "会员与组织"

    def ready(self) -> None:
        from members import (
            checks,  # noqa: F401 - registers the deploy checks
            login_audit,
        )

        login_audit.connect()  # audit rows for login, failure, lockout, logout
