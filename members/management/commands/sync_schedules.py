from django.core.management.base import BaseCommand

from members.actions.schedules import schedules_sync


class Command(BaseCommand):
    help = (
        "Create the missing default beat schedules (portal/schedules.py); "
        "existing rows, including staff edits, are left alone."
    )

    def handle(self, *args, **options):
        created = schedules_sync()
        for name in created:
            self.stdout.write(f"created {name}")
        self.stdout.write(self.style.SUCCESS(f"{len(created)} schedule(s) created"))
