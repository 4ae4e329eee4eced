"""python manage.py generate_demo --residents N --seed S: the deterministic demo city."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from demo.generator import (
    DEFAULT_ENCOUNTERS_PER_RESIDENT,
    DemoDataExists,
    NetworkMissing,
    Progress,
    demo_data_exists,
    generate_demo,
)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(
            f"--today 应为 YYYY-MM-DD (--today must be YYYY-MM-DD): {value}"
        ) from exc


class Command(BaseCommand):
    help = (
        "生成确定性的演示数据:居民、重点人群标签、医务人员、就诊记录 "
        "(deterministic demo residents, tags, practitioners and encounters; needs load_network)"
    )

    def add_arguments(self, parser):
        parser.add_argument("--residents", type=int, required=True, help="number of residents")
        parser.add_argument("--seed", type=int, required=True, help="random seed")
        parser.add_argument(
            "--encounters-per-resident",
            type=float,
            default=DEFAULT_ENCOUNTERS_PER_RESIDENT,
            help="mean visits per resident over 12 months "
            f"(default {DEFAULT_ENCOUNTERS_PER_RESIDENT})",
        )
        parser.add_argument(
            "--today", type=_date, default=None, help="the day the data ends (default: today)"
        )
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--if-empty", action="store_true", help="do nothing when residents exist already"
        )
        mode.add_argument("--append", action="store_true", help="add to existing residents")
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")
        parser.add_argument("--summary-json", type=Path, help="also write the summary as JSON")

    def handle(self, *args, **options):
        if options["residents"] < 0:
            raise CommandError("--residents 不能为负数 (--residents must not be negative)")
        if options["encounters_per_resident"] < 0:
            raise CommandError(
                "--encounters-per-resident 不能为负数 "
                "(--encounters-per-resident must not be negative)"
            )
        if options["if_empty"] and demo_data_exists():
            self.stdout.write(
                "已有居民数据,跳过演示数据生成 (residents exist already: nothing to do)"
            )
            return
        today = options["today"] or timezone.localdate()
        show_progress = not options["no_progress"] and sys.stderr.isatty()
        try:
            summary = generate_demo(
                residents=options["residents"],
                seed=options["seed"],
                today=today,
                encounters_per_resident=options["encounters_per_resident"],
                append=options["append"],
                progress=_tqdm_progress if show_progress else _silent,
                log=self.stdout.write,
            )
        except (NetworkMissing, DemoDataExists) as exc:
            raise CommandError(str(exc)) from exc

        self.stdout.write(self.style.SUCCESS("演示数据已生成 (demo data generated):"))
        for table, count in summary.rows.items():
            self.stdout.write(f"  {table:<28} {count:>12,}")
        total = sum(summary.rows.values())
        rate = total / summary.seconds if summary.seconds else 0
        self.stdout.write(
            f"  {'total':<28} {total:>12,} rows in {summary.seconds:.1f} s ({rate:,.0f} rows/s)"
        )
        if options["summary_json"]:
            options["summary_json"].write_text(json.dumps(summary.as_dict(), indent=2))


def _silent(name: str, total: int, unit: str) -> Progress:
    return Progress()


def _tqdm_progress(name: str, total: int, unit: str):
    from tqdm import tqdm

    return tqdm(
        total=total, desc=name, unit=unit, unit_scale=total >= 10_000, file=sys.stderr, leave=True
    )
