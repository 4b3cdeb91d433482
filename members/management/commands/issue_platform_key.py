"""Issue an API key for a platform (created if missing). The key is printed once,
alone on the last line, and cannot be shown again."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from members.actions.platforms import platform_get_or_create, platform_key_issue


class Command(BaseCommand):
    help = "Issue an API key for a platform; prints the key on the last line."

    def add_arguments(self, parser):
        parser.add_argument("platform_code")
        parser.add_argument("--name", default="", help="platform name if created")
        parser.add_argument("--days", type=int, default=365, help="key lifetime")

    def handle(self, *args, **options):
        if options["days"] < 1:
            raise CommandError("--days must be at least 1")
        try:
            platform = platform_get_or_create(
                code=options["platform_code"], name=options["name"]
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        key, raw_key = platform_key_issue(
            platform=platform,
            name="issue_platform_key",
            lifetime=timedelta(days=options["days"]),
        )
        self.stdout.write(
            f"Platform {platform.code} ({platform.name}): key {key.prefix}… "
            f"expires {key.expires_at:%Y-%m-%d}. Store it now; it is not shown again."
        )
        self.stdout.write(raw_key)
