from django.core.management.base import BaseCommand

from members.actions.retention import retention_categories, retention_run


class Command(BaseCommand):
    help = (
        "Apply the retention schedule (security.md PI8) now, or with --dry-run "
        "only count what is due per category."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="count only, change nothing"
        )

    def handle(self, *args, dry_run: bool = False, **options):
        labels = {c.code: c.label for c in retention_categories()}
        results = retention_run(dry_run=dry_run)
        if not results:
            self.stdout.write("another retention run holds the lock; nothing done")
            return
        verb = "due" if dry_run else "done"
        for r in results:
            self.stdout.write(
                f"{r.category}\t{r.action}\t{r.days} days\t"
                f"before {r.cutoff:%Y-%m-%d %H:%M}\t{verb}: {r.count}\t"
                f"{labels.get(r.category, '')}"
            )
        total = sum(r.count for r in results)
        self.stdout.write(self.style.SUCCESS(f"{total} row(s) {verb}"))
