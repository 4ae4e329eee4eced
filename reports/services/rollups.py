"""Rebuild the rollup table (reports.KpiValue) from the KPI functions.

One period at a time: every KPI's `compute(period)` (grouped queries over the raw tables, through
the owning apps' selectors) runs outside any transaction, then the period's rows are replaced in
one short transaction. Rebuilding is idempotent: the same raw data gives the same rows, and a
second run replaces them with equal ones.

Quarters and years are computed from their own Period by the KPI functions, never summed from
months: medians and ratios do not add up (a quarter's median waiting time is not the mean of
three monthly medians, and a ratio's numerator and denominator may count different records over a
longer window). So a rebuild of some months also rebuilds the quarters and years they fall in; a
quarter or year still under way holds its figures to date.

Two rebuilds of the same period (the beat job and the command) are serialised on the period's
KpiRebuild row, so the second waits for the first and then replaces its rows.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import overload

from django.db import transaction
from django.utils import timezone

from reports.kpis import KPIS
from reports.models import KpiRebuild, KpiValue
from reports.periods import Period, month_of, months_between, period_containing
from reports.units import Unit, hierarchy, shared_hierarchy

FOUR_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class RebuildResult:
    period: str
    rows: int
    duration_ms: int


@overload
def _decimal(value: Decimal | int | float) -> Decimal: ...
@overload
def _decimal(value: None) -> None: ...
def _decimal(value: Decimal | int | float | None) -> Decimal | None:
    if value is None:
        return None
    return Decimal(value).quantize(FOUR_PLACES)


def recent_months(today: dt.date) -> list[Period]:
    """The previous month and the current one: late data (a referral closed days after the month
    ended, a follow-up entered late) still changes the previous month."""
    current = month_of(today)
    return [current.previous(), current]


def periods_for_months(months: Iterable[Period]) -> list[Period]:
    """The months, then the quarters and years they fall in, each once, in order."""
    months = list(months)
    quarters: dict[str, Period] = {}
    years: dict[str, Period] = {}
    for m in months:
        q = period_containing("quarter", m.start)
        y = period_containing("year", m.start)
        quarters.setdefault(q.label, q)
        years.setdefault(y.label, y)
    return months + list(quarters.values()) + list(years.values())


def _unit_lookup(period: Period) -> Callable[[str, str], Unit | None]:
    """Names and parents of the units (also of one closed since: a fact counted for it)."""
    tree = hierarchy(start=period.start, end=period.end)

    def unit(level: str, code: str) -> Unit | None:
        try:
            return tree.unit(level, code)  # type: ignore[arg-type]
        except (KeyError, ValueError):
            return None

    return unit


def _rows(period: Period, now: dt.datetime) -> list[KpiValue]:
    """Every KPI's figures for the period as rollup rows (compute only, nothing written)."""
    unit_of = _unit_lookup(period)
    rows: list[KpiValue] = []
    for kpi in KPIS.values():
        figures = kpi.compute(period)
        for (level, unit_code, breakdown), figure in sorted(figures.items()):
            unit = unit_of(level, unit_code)
            rows.append(
                KpiValue(
                    kpi=kpi.code,
                    period_kind=period.kind,
                    period_start=period.start,
                    level=level,
                    unit_code=unit_code,
                    unit_name=str(unit.name) if unit else unit_code,
                    parent_code=(unit.parent_code or "") if unit else "",
                    breakdown=breakdown or "",
                    numerator=_decimal(figure.numerator),
                    denominator=_decimal(figure.denominator),
                    value=_decimal(figure.value),
                    computed_at=now,
                )
            )
    return rows


def rebuild_period(period: Period) -> RebuildResult:
    """Recompute every KPI for the period and replace its rows."""
    started = time.perf_counter()
    now = timezone.now()
    # The units (reports/units.py) are read once for the period and shared by every KPI and the
    # unit names below, instead of once per KPI; dropped when the block ends.
    with shared_hierarchy():
        rows = _rows(period, now)
    with transaction.atomic():
        # Taken first: a concurrent rebuild of the same period waits here (select_for_update).
        record, _ = KpiRebuild.objects.update_or_create(
            period_kind=period.kind,
            period_start=period.start,
            defaults={"rows": 0, "duration_ms": 0, "computed_at": now},
        )
        KpiValue.objects.filter(period_kind=period.kind, period_start=period.start).delete()
        KpiValue.objects.bulk_create(rows, batch_size=2000)
        record.rows = len(rows)
        record.duration_ms = int((time.perf_counter() - started) * 1000)
        record.save(update_fields=["rows", "duration_ms"])
    return RebuildResult(period.label, len(rows), record.duration_ms)


def rebuild_months(
    first: Period,
    last: Period,
    *,
    progress: Callable[[int, int, RebuildResult], None] | None = None,
) -> list[RebuildResult]:
    """The months first..last (inclusive) and their quarters and years."""
    periods = periods_for_months(months_between(first, last))
    results = []
    for done, period in enumerate(periods, start=1):
        result = rebuild_period(period)
        results.append(result)
        if progress is not None:
            progress(done, len(periods), result)
    return results


def rebuild_recent(today: dt.date | None = None) -> list[RebuildResult]:
    """The beat job's work: the current and the previous month, their quarters and years."""
    today = today or timezone.localdate()
    previous, current = recent_months(today)
    return rebuild_months(previous, current)
