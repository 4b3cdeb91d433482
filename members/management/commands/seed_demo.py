"""Load demo data for every journey and print the logins. Idempotent: running it
again reuses the same rows and issues fresh passwords (there are no default
credentials). Refuses to run with DEBUG off or against a non-local database."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

DEMO_APPS = ("members", "services")
LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


@dataclass
class DemoLogin:
    role: str
    login: str
    password: str
    url: str


class Command(BaseCommand):
    help = "Load demo data (development only) and print every login and URL."

    def add_arguments(self, parser):
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="printed in URLs"
        )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("seed_demo runs only with DEBUG=True.")
        db = settings.DATABASES["default"]
        if connection.vendor != "sqlite" and db.get("HOST", "") not in LOCAL_HOSTS:
            raise CommandError("seed_demo refuses to write to a non-local database.")
        logins: list[DemoLogin] = []
        for app in DEMO_APPS:
            module = importlib.import_module(f"{app}.demo")
            logins.extend(module.seed(stdout=self.stdout))
        base = options["base_url"].rstrip("/")
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("Demo data loaded. Logins:"))
        for item in logins:
            self.stdout.write(
                f"  {item.role:<28} {item.login:<22} {item.password:<20}"
                f" {base}{item.url}"
            )
        self._print_sms()
        self._print_totp(logins)
        self.stdout.write("")
        self.stdout.write(
            f"  Home: {base}/    Admin: {base}/admin/    Health: {base}/healthz"
        )

    def _print_sms(self) -> None:
        """Workers on a new browser, and before the data export or a deletion /
        withdrawal request, enter an SMS code (security.md AU4)."""
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(
                "Workers (phone logins) on a new browser then enter a 6-digit SMS code;"
            )
        )
        self.stdout.write(
            "  so do the data export and deletion/withdrawal requests (短信验证)."
        )
        if settings.SMS_BACKEND == "members.sms.ConsoleSmsBackend":
            self.stdout.write(
                "  In development the code is printed in this terminal (the"
                " `make run` / runserver output), e.g."
            )
            self.stdout.write(
                "  [SMS → 138****8000] 【工会会员服务】您的验证码是123456,5分钟内有效。"
            )
        else:
            self.stdout.write(f"  Codes go through SMS_BACKEND={settings.SMS_BACKEND}.")
        self.stdout.write(
            "  A verified browser is trusted for"
            f" {settings.WORKER_TRUSTED_DEVICE_DAYS} days (password only)."
        )

    def _print_totp(self, logins: list[DemoLogin]) -> None:
        """Staff logins end with a TOTP code (security.md AU4)."""
        from members.demo import demo_totp_secret
        from members.models import StaffTotpDevice, User

        usernames = list(dict.fromkeys(item.login for item in logins))
        staff = User.objects.filter(username__in=usernames, is_staff=True)
        staff = [u for u in staff if StaffTotpDevice.objects.filter(user=u).exists()]
        if not staff:
            return
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS("Staff logins then ask for a 6-digit TOTP code:")
        )
        self.stdout.write(
            "  python manage.py demo_totp <username>    prints the current code, or add"
        )
        self.stdout.write(
            "  the secret to an authenticator app (TOTP, SHA1, 6 digits, 30 s):"
        )
        for user in sorted(staff, key=lambda u: u.username):
            self.stdout.write(f"  {user.username:<22} {demo_totp_secret(user)}")
