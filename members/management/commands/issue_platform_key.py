"""Issue an API key for a gig platform: `manage.py issue_platform_key meituan`.

The key is printed alone on the last line and never shown again (only its hash
is stored)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from members.actions.api_keys import platform_key_issue


class Command(BaseCommand):
    help = "Create the platform if missing and print a new API key (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("platform_code")
        parser.add_argument("--name", default="", help="what the key is for")

    def handle(self, *args, **options):
        try:
            issued = platform_key_issue(
                platform_code=options["platform_code"], name=options["name"]
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        key = issued.key
        self.stdout.write(
            f"平台 {key.platform.code} 的新密钥(前缀 {key.prefix},"
            f"到期 {key.expires_at:%Y-%m-%d})。密钥只显示这一次,请妥善保存:"
        )
        self.stdout.write(issued.plaintext)
