"""python manage.py import_contracts FILE [--user USERNAME] [--errors-csv PATH]"""

from __future__ import annotations

import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from healthnet.errors import DomainError
from healthnet.models import User
from signing.importer import contracts_import


def _count_rows(path: Path) -> int | None:
    if path.suffix.lower() == ".csv":
        with path.open("rb") as handle:
            return max(0, sum(1 for _ in handle) - 1)
    return None


class Command(BaseCommand):
    help = "Import existing family-doctor contracts from a CSV or XLSX file (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--user", help="import as this user (default: the system)")
        parser.add_argument(
            "--errors-csv", help="write every bad row (row, field, code, message) here"
        )
        parser.add_argument(
            "--no-follow-ups", action="store_true", help="do not generate follow-ups"
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, file, user, errors_csv, no_follow_ups, no_progress, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        actor = None
        if user:
            actor = User.objects.filter(username=user).first()
            if actor is None:
                raise CommandError(f"no such user: {user}")
        bar = tqdm(total=_count_rows(path), unit="rows", disable=no_progress, desc="import")
        try:
            with path.open("rb") as handle:
                report = contracts_import(
                    actor=actor,
                    file=handle,
                    filename=path.name,
                    progress=bar.update,
                    with_follow_ups=not no_follow_ups,
                )
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from None
        finally:
            bar.close()
        self.stdout.write(
            f"rows {report.rows}, created {report.created}, unchanged {report.unchanged}, "
            f"follow-ups {report.follow_ups}, errors {len(report.errors)}"
        )
        if errors_csv:
            with open(errors_csv, "w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out)
                writer.writerow(["row", "field", "code", "message"])
                writer.writerows((e.row, e.field, e.code, e.message) for e in report.errors)
        for error in report.errors[:50]:
            self.stdout.write(f"  row {error.row}: {error.field}: {error.code} — {error.message}")
        if len(report.errors) > 50:
            self.stdout.write(f"  … {len(report.errors) - 50} more (use --errors-csv)")
