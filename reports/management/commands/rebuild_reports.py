"""python manage.py rebuild_reports --from 2025-01 [--to 2026-10]: rebuild the rollups of a range
of months (and the quarters and years they fall in). --to defaults to the current month.
`--months 24` instead of --from: the last 24 months up to --to; `--if-empty`: do nothing when
some period has been built already (`make seed` builds the demo's two years once)."""

from __future__ import annotations

import re

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from reports.models import KpiRebuild
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
        first = parser.add_mutually_exclusive_group(required=True)
        first.add_argument("--from", dest="first", help="first month, YYYY-MM")
        first.add_argument(
            "--months", type=int, help="or: how many months, ending with --to (1 = --to alone)"
        )
        parser.add_argument("--to", dest="last", help="last month, YYYY-MM (default: this month)")
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when any period is built already"
        )

    def handle(
        self,
        *args,
        first: str | None,
        last: str | None,
        months: int | None = None,
        if_empty: bool = False,
        **options,
    ):
        today = timezone.localdate()
        current = Period.parse(f"{today.year:04d}-{today.month:02d}")
        end = _month(last, "--to") if last else current
        if first is not None:
            start = _month(first, "--from")
        else:
            if months is None or not 1 <= months <= MAX_MONTHS:
                raise CommandError(
                    f"--months 应在 1 到 {MAX_MONTHS} 之间 (--months must be 1 to {MAX_MONTHS})"
                )
            index = end.start.year * 12 + end.start.month - 1 - (months - 1)
            start = Period.parse(f"{index // 12:04d}-{index % 12 + 1:02d}")
        if if_empty and KpiRebuild.objects.exists():
            self.stdout.write("已有统计汇总,未重算 (rollups exist already; nothing rebuilt)")
            return
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
