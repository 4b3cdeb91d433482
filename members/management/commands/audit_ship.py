"""Ship the audit log to the separate store, or verify what is there
(security.md LG3; members/actions/audit_ship.py)."""

from __future__ import annotations

import argparse
from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError

from members.actions.audit_ship import (
    ShipError,
    ShipLateRows,
    last_closed_day,
    ship_day,
    ship_dir,
    ship_through,
    shipped_days,
    verify_range,
)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:  # argparse turns this into a usage error, no traceback
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from exc


class Command(BaseCommand):
    help = (
        "Ship Asia/Shanghai days of the audit log to AUDIT_SHIP_DIR (default: every "
        "missing day up to yesterday), or with --verify check the shipped files: "
        "signatures, digests, row counts, the hash chain and the database rows."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", type=_day, help="one day, YYYY-MM-DD")
        parser.add_argument("--from", dest="first", type=_day, help="first day")
        parser.add_argument("--to", dest="last", type=_day, help="last day")
        parser.add_argument(
            "--verify", action="store_true", help="check, write nothing"
        )
        parser.add_argument(
            "--files-only",
            action="store_true",
            help="with --verify: skip the comparison with the database",
        )

    def handle(self, *args, **options):
        one = options["date"]
        first = one or options["first"]
        last = one or options["last"]
        if first is not None and last is not None and first > last:
            raise CommandError(f"--from {first} is after --to {last}")
        try:
            if options["verify"]:
                self._verify(first, last, against_database=not options["files_only"])
            else:
                self._ship(options["first"] if not one else None, last)
        except ShipError as exc:
            raise CommandError(str(exc)) from exc

    def _ship(self, first: date | None, last: date | None) -> None:
        last = last or last_closed_day()
        if first is not None:
            results = [
                ship_day(first + timedelta(days=n))
                for n in range((last - first).days + 1)
            ]
        else:
            try:
                results = ship_through(last)
            except ShipLateRows as exc:
                self._report(exc.results)
                raise
        self._report(results)

    def _report(self, results) -> None:
        for r in results:
            state = "written" if r.written else "already shipped, unchanged"
            self.stdout.write(f"{r.day}\t{r.rows} row(s)\t{state}")
        self.stdout.write(self.style.SUCCESS(f"{len(results)} day(s) in {ship_dir()}"))

    def _verify(self, first, last, *, against_database: bool) -> None:
        shipped = shipped_days()
        if first is None or last is None:
            if not shipped:
                raise CommandError(f"nothing shipped in {ship_dir()}")
            first = first or shipped[0]
            last = last or shipped[-1]
        checks = verify_range(first, last, against_database=against_database)
        bad = [c for c in checks if not c.ok]
        for check in checks:
            self.stdout.write(
                f"{check.day}\t{'ok' if check.ok else '; '.join(check.problems)}"
            )
        if bad:
            raise CommandError(
                f"{len(bad)} of {len(checks)} day(s) failed verification"
            )
        self.stdout.write(self.style.SUCCESS(f"{len(checks)} day(s) verified"))
