"""How the rollups get rebuilt: the hourly beat job (the current and the previous month, with
their quarters and years) and `manage.py rebuild_reports --from [--to]` with its progress lines
and its refusals of bad arguments."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from config.celery import app
from reports.models import KpiRebuild, KpiValue
from reports.periods import Period
from reports.services import periods_for_months, recent_months
from reports.tasks import reports_rebuild_recent
from tests.factories import InstitutionFactory

pytestmark = pytest.mark.django_db


def _rebuilt() -> set[tuple[str, dt.date]]:
    return set(KpiRebuild.objects.values_list("period_kind", "period_start"))


def test_the_beat_schedule_runs_the_rebuild_every_hour():
    app.loader.import_default_modules()
    entry = settings.CELERY_BEAT_SCHEDULE["reports-rebuild-recent"]
    assert entry["task"] == "reports.tasks.reports_rebuild_recent"
    assert entry["task"] in app.tasks
    assert entry["schedule"] == 3600.0


def test_recent_months_are_the_previous_and_the_current_one():
    assert [p.label for p in recent_months(dt.date(2026, 1, 15))] == ["2025-12", "2026-01"]
    assert [p.label for p in recent_months(dt.date(2026, 7, 1))] == ["2026-06", "2026-07"]
    periods = periods_for_months(recent_months(dt.date(2026, 1, 15)))
    assert [p.label for p in periods] == ["2025-12", "2026-01", "2025Q4", "2026Q1", "2025", "2026"]


def test_the_job_rebuilds_the_current_and_the_previous_month():
    InstitutionFactory()
    rows = reports_rebuild_recent.delay().get()
    today = timezone.localdate()
    current = Period.parse(f"{today.year:04d}-{today.month:02d}")
    previous = current.previous()
    expected = {(p.kind, p.start) for p in periods_for_months([previous, current])}
    assert _rebuilt() == expected
    assert rows == KpiValue.objects.count() > 0
    # the city's row of every KPI for the current month
    assert (
        KpiValue.objects.filter(period_kind="month", period_start=current.start, level="city")
        .values("kpi")
        .distinct()
        .count()
        == KpiValue.objects.values("kpi").distinct().count()
    )

    first = list(KpiValue.objects.order_by("pk").values_list("kpi", "level", "unit_code", "value"))
    reports_rebuild_recent.delay().get()  # idempotent: the same figures again
    again = list(KpiValue.objects.order_by("pk").values_list("kpi", "level", "unit_code", "value"))
    assert again == first
    assert _rebuilt() == expected


def test_the_command_rebuilds_a_range_with_progress_lines():
    InstitutionFactory()
    out = io.StringIO()
    call_command("rebuild_reports", "--from", "2025-12", "--to", "2026-02", stdout=out)
    lines = out.getvalue().splitlines()
    # 3 months, 2025Q4 and 2026Q1, 2025 and 2026
    assert [line.split(" ")[0] for line in lines[:7]] == [f"{n}/7" for n in range(1, 8)]
    assert [line.split(" ")[1].rstrip(":") for line in lines[:7]] == [
        "2025-12",
        "2026-01",
        "2026-02",
        "2025Q4",
        "2026Q1",
        "2025",
        "2026",
    ]
    assert "rebuilt 7 periods" in lines[-1]
    assert len(_rebuilt()) == 7
    before = list(
        KpiValue.objects.order_by(
            "kpi", "period_kind", "period_start", "level", "unit_code", "breakdown"
        ).values_list(
            "kpi", "period_kind", "period_start", "level", "unit_code", "numerator", "value"
        )
    )
    call_command("rebuild_reports", "--from", "2025-12", "--to", "2026-02", stdout=io.StringIO())
    after = list(
        KpiValue.objects.order_by(
            "kpi", "period_kind", "period_start", "level", "unit_code", "breakdown"
        ).values_list(
            "kpi", "period_kind", "period_start", "level", "unit_code", "numerator", "value"
        )
    )
    assert after == before


def test_the_command_defaults_to_the_current_month():
    today = timezone.localdate()
    label = f"{today.year:04d}-{today.month:02d}"
    out = io.StringIO()
    call_command("rebuild_reports", "--from", label, stdout=out)
    assert out.getvalue().startswith(f"1/3 {label}:")
    assert ("month", Period.parse(label).start) in _rebuilt()


def _next_month() -> str:
    today = timezone.localdate()
    index = today.year * 12 + today.month
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-13"], "YYYY-MM"),
        (["--from", "2026/01"], "YYYY-MM"),
        (["--from", "2026Q1"], "YYYY-MM"),
        (["--from", "2026-03", "--to", "2026-1"], "YYYY-MM"),
        (["--from", "2026-03", "--to", "2026-01"], "after --to"),
        (["--from", "1990-01", "--to", "2026-01"], "at most"),
        ([], "--from"),
        (["--months", "0"], "--months"),
        (["--months", "3", "--from", "2026-01"], "not allowed with"),
    ],
)
def test_the_command_refuses_bad_arguments_and_writes_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("rebuild_reports", *args, stdout=io.StringIO())
    assert not KpiRebuild.objects.exists()
    assert not KpiValue.objects.exists()


def test_the_command_refuses_a_month_to_come():
    with pytest.raises(CommandError, match="current month"):
        call_command("rebuild_reports", "--from", "2026-01", "--to", _next_month())
    assert not KpiRebuild.objects.exists()


def test_the_command_takes_a_number_of_months_ending_with_to():
    InstitutionFactory()
    out = io.StringIO()
    call_command("rebuild_reports", "--months", "2", "--to", "2026-01", stdout=out)
    months = {start for kind, start in _rebuilt() if kind == "month"}
    assert months == {dt.date(2025, 12, 1), dt.date(2026, 1, 1)}
    assert out.getvalue().startswith("1/6 2025-12:")  # 2 months, 2 quarters, 2 years


def test_if_empty_builds_once_then_leaves_the_rollups_alone():
    InstitutionFactory()
    call_command("rebuild_reports", "--months", "1", "--to", "2026-01", "--if-empty")
    built = _rebuilt()
    assert ("month", dt.date(2026, 1, 1)) in built

    out = io.StringIO()
    call_command("rebuild_reports", "--months", "1", "--to", "2026-02", "--if-empty", stdout=out)

    assert "nothing rebuilt" in out.getvalue()
    assert _rebuilt() == built
