"""Issue an API key for a gig platform: `manage.py issue_platform_key meituan`.

The key is printed alone on the last line and never shown again (only its hash
is stored). `--allow CIDR` (repeatable) adds networks to the platform's IP
allow-list (security.md AP2); a platform without one refuses every call."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from members.actions.api_keys import platform_key_issue, platform_networks_set


class Command(BaseCommand):
    help = "Create the platform if missing and print a new API key (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("platform_code")
        parser.add_argument("--name", default="", help="what the key is for")
        parser.add_argument(
            "--allow",
            action="append",
            default=[],
            metavar="CIDR",
            help=(
                "add this IPv4/IPv6 address or network to the platform's allow-list "
                "(repeatable; e.g. --allow 203.0.113.0/24 --allow 2001:db8::/32)"
            ),
        )

    def handle(self, *args, **options):
        try:
            with transaction.atomic():
                issued = platform_key_issue(
                    platform_code=options["platform_code"], name=options["name"]
                )
                platform = issued.key.platform
                if options["allow"]:
                    platform_networks_set(
                        platform=platform,
                        networks=[*platform.allowed_networks, *options["allow"]],
                    )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        key = issued.key
        networks = platform.allowed_networks
        if networks:
            self.stdout.write(f"平台 {platform.code} 的IP白名单:{', '.join(networks)}")
        else:
            self.stderr.write(
                f"注意:平台 {platform.code} 尚未设置IP白名单,它的所有接口调用都会被拒绝"
                "(403)。请用 --allow 或在管理后台(平台企业)添加网段。"
            )
        self.stdout.write(
            f"平台 {key.platform.code} 的新密钥(前缀 {key.prefix},"
            f"到期 {key.expires_at:%Y-%m-%d})。密钥只显示这一次,请妥善保存:"
        )
        self.stdout.write(issued.plaintext)
