"""Print the current TOTP code of a demo staff member (development only), so a
newcomer can pass the admin's second login step without an authenticator app."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Print the current TOTP code of a staff account (DEBUG=True only)."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, **options):
        from django_otp.oath import TOTP

        from members.models import StaffTotpDevice

        if not settings.DEBUG:
            raise CommandError(
                "demo_totp runs only with DEBUG=True: a code printed on the server "
                "would make the second factor worthless."
            )
        device = (
            StaffTotpDevice.objects.filter(
                user__username=options["username"], confirmed=True
            )
            .order_by("-id")
            .first()
        )
        if device is None:
            raise CommandError(
                f"{options['username']} has no confirmed TOTP device "
                "(run seed_demo, or enrol at /admin/otp/setup/)."
            )
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        now = time.time()
        totp.time = now
        left = device.step - int(now - device.t0) % device.step
        self.stdout.write(f"{totp.token():0{device.digits}d}")
        self.stderr.write(
            f"valid for {left} more s; each code is accepted once, so for a second "
            "login in the same 30 s wait for the next code."
        )
