"""python manage.py rebuild_reports --from 2025-01 [--to 2026-10]: rebuild the rollups of a range
of months (and the quarters and years they fall in). --to defaults to the current month."""

from __future__ import annotations

import re

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from reports.periods import Period
from reports.services import RebuildResult, rebuild_months

MONTH = re.compile(r"\d{4}-\d{2}")
MAX_MONTHS = 240


def _month(value: str, option: str) -> Period:
    if not MONTH.fullmatch(value or ""):
        raise CommandError(f"{option} 应为 YYYY-MM ({option} must be YYYY-MM): {value}")
    try:
        return Period.parse(value)
    except ValueError as exc:
        raise CommandError(f"{option} 应为 YYYY-MM ({option} must be YYYY-MM): {value}") from exc


class Command(BaseCommand):
    help = (
        "重算统计指标汇总表 (rebuild the report rollups of a range of months, their quarters "
        "and years; idempotent)"
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", required=True, help="first month, YYYY-MM")
        parser.add_argument("--to", dest="last", help="last month, YYYY-MM (default: this month)")

    def handle(self, *args, first: str, last: str | None, **options):
        today = timezone.localdate()
        current = Period.parse(f"{today.year:04d}-{today.month:02d}")
        start = _month(first, "--from")
        end = _month(last, "--to") if last else current
        if start.start > end.start:
            raise CommandError("--from 不能晚于 --to (--from must not be after --to)")
        if end.start > current.start:
            raise CommandError("--to 不能晚于本月 (--to must not be after the current month)")
        months = (end.start.year - start.start.year) * 12 + end.start.month - start.start.month
        if months + 1 > MAX_MONTHS:
            raise CommandError(f"一次最多 {MAX_MONTHS} 个月 (at most {MAX_MONTHS} months at once)")

        def progress(done: int, total: int, result: RebuildResult) -> None:
            self.stdout.write(
                f"{done}/{total} {result.period}: {result.rows} rows, {result.duration_ms} ms"
            )

        results = rebuild_months(start, end, progress=progress)
        self.stdout.write(
            self.style.SUCCESS(
                f"已重算 {len(results)} 个统计期,共 {sum(r.rows for r in results)} 行 "
                f"(rebuilt {len(results)} periods, {sum(r.rows for r in results)} rows)"
            )
        )
