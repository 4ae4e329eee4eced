"""python manage.py import_contracts FILE [--user USERNAME] [--errors-csv PATH]"""

from __future__ import annotations

import contextlib
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from healthnet.errors import DomainError
from healthnet.models import User
from healthnet.spreadsheets import SafeCsvWriter
from signing.importer import RowError, contracts_import

SHOWN_ERRORS = 50


class Command(BaseCommand):
    help = "Import existing family-doctor contracts from a CSV or XLSX file (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--user", help="import as this user (default: the system)")
        parser.add_argument(
            "--errors-csv",
            help="write every bad row (row, field, code, message, value) here, as it is found",
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
        bar = tqdm(unit="rows", disable=no_progress, desc="import")

        def total(rows: int | None) -> None:
            bar.total = rows
            bar.refresh()

        with contextlib.ExitStack() as stack:
            on_error = None
            if errors_csv:
                out = stack.enter_context(open(errors_csv, "w", newline="", encoding="utf-8-sig"))
                writer = SafeCsvWriter(out)
                writer.writerow(["row", "field", "code", "message", "value"])

                def on_error(error: RowError) -> None:
                    writer.writerow(
                        [error.row, error.field, error.code, error.message, error.value]
                    )

            try:
                with path.open("rb") as handle:
                    report = contracts_import(
                        actor=actor,
                        file=handle,
                        filename=path.name,
                        progress=bar.update,
                        on_total=total,
                        on_error=on_error,
                        keep_errors=SHOWN_ERRORS,
                        with_follow_ups=not no_follow_ups,
                    )
            except DomainError as exc:
                raise CommandError(f"{exc.code}: {exc.message}") from None
            finally:
                bar.close()
        self.stdout.write(
            f"rows {report.rows}, created {report.created}, unchanged {report.unchanged}, "
            f"follow-ups {report.follow_ups}, errors {report.error_count}"
        )
        for error in report.errors:
            self.stdout.write(f"  row {error.row}: {error.field}: {error.code} — {error.message}")
        if report.errors_truncated:
            self.stdout.write(
                f"  … {report.error_count - len(report.errors)} more (use --errors-csv)"
            )
