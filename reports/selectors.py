"""Reads of the bureau reports: from the rollup table only (reports.KpiValue), never from the raw
tables. What the API, the exports and the dashboard show.

Small cells: a team-level figure counting fewer than settings.REPORTS_SMALL_CELL records (the
denominator of a ratio, the count itself; a median without its count) is flagged `suppressed`;
the API shows the flag, the exports blank the figure (reports/exports/). The threshold is read at
each request, so changing it needs no rebuild.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from healthnet.errors import InvalidInput
from reports.kpis import KPIS, Kpi
from reports.models import KpiRebuild, KpiValue
from reports.periods import Period, period_containing
from reports.units import Level

LEVELS: tuple[Level, ...] = ("city", "district", "alliance", "institution", "team")
# Below the institution: where a few records could be a few identifiable people.
SMALL_CELL_LEVELS = frozenset({"team"})
MAX_SERIES = 60


@dataclass(frozen=True)
class KpiRow:
    kpi: str
    period: str
    level: str
    unit_code: str
    unit_name: str
    parent_code: str
    breakdown: str
    numerator: Decimal | None
    denominator: Decimal | None
    value: Decimal | None
    suppressed: bool


@dataclass(frozen=True)
class KpiCard:
    kpi: Kpi
    row: KpiRow | None
    previous: KpiRow | None
    mom_change: Decimal | None  # this period's value minus the previous month's (KPI's unit)
    yoy_change: Decimal | None  # minus the same period a year before
    year_ago: KpiRow | None = None


# --- parameters --------------------------------------------------------------------------------


def kpi_by_code(code: str) -> Kpi:
    kpi = KPIS.get(code)
    if kpi is None:
        raise InvalidInput(
            "unknown_kpi", "未知的指标代码 (unknown KPI code)", field="kpi", allowed=list(KPIS)
        )
    return kpi


def kpi_or_none(code: str) -> Kpi | None:
    return KPIS.get(code)


def period_parse(label: str, *, field: str = "period") -> Period:
    try:
        return Period.parse(label)
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidInput(
            "invalid_period",
            "统计期格式应为 2026-03、2026Q1 或 2026 "
            "(period must look like 2026-03, 2026Q1 or 2026)",
            field=field,
            value=str(label)[:20],
        ) from exc


def level_check(level: str, kpi: Kpi | None = None) -> str:
    allowed = list(kpi.levels) if kpi is not None else list(LEVELS)
    if level not in allowed:
        raise InvalidInput(
            "invalid_level",
            "该指标没有这一层级 (the KPI is not defined at this level)",
            field="level",
            allowed=allowed,
        )
    return level


# --- small cells -------------------------------------------------------------------------------


def small_cell_threshold() -> int:
    return int(getattr(settings, "REPORTS_SMALL_CELL", 5))


def is_small_cell(
    kpi: Kpi, level: str, numerator: Decimal | None, denominator: Decimal | None
) -> bool:
    if level not in SMALL_CELL_LEVELS:
        return False
    base: Decimal | None
    if denominator is not None:
        base = denominator
    elif kpi.unit == "count":
        base = numerator
    else:
        return True  # a median of an unknown number of records: not shown below institutions
    return base is None or base < small_cell_threshold()


def _row(value: KpiValue, period: Period | None = None) -> KpiRow:
    kpi = KPIS.get(value.kpi)
    period = period or _period_of(value.period_kind, value.period_start)
    return KpiRow(
        kpi=value.kpi,
        period=period.label,
        level=value.level,
        unit_code=value.unit_code,
        unit_name=value.unit_name,
        parent_code=value.parent_code,
        breakdown=value.breakdown,
        numerator=value.numerator,
        denominator=value.denominator,
        value=value.value,
        suppressed=kpi is not None
        and is_small_cell(kpi, value.level, value.numerator, value.denominator),
    )


def _period_of(kind: str, start: dt.date) -> Period:
    return period_containing(kind, start)  # type: ignore[arg-type]


_COLUMNS = (
    "kpi",
    "period_kind",
    "period_start",
    "level",
    "unit_code",
    "unit_name",
    "parent_code",
    "breakdown",
    "numerator",
    "denominator",
    "value",
)


# --- reads -------------------------------------------------------------------------------------


def kpi_catalogue() -> list[Kpi]:
    """Every KPI, in the issue's order."""
    return list(KPIS.values())


def kpi_table(kpi: str, period: Period, level: str, parent_code: str | None = None) -> list[KpiRow]:
    """One KPI, one period, every unit of one level (under one parent): one query."""
    definition = kpi_by_code(kpi)
    level_check(level, definition)
    qs = KpiValue.objects.filter(
        kpi=kpi, period_kind=period.kind, period_start=period.start, level=level
    )
    if parent_code:
        qs = qs.filter(parent_code=parent_code)
    values = qs.only(*_COLUMNS).order_by("unit_code", "breakdown")
    return [_row(value, period) for value in values]


def kpis_table(period: Period, levels: tuple[str, ...] = LEVELS) -> list[KpiRow]:
    """Every KPI of one period at the given levels (the exports): one query."""
    order = {code: index for index, code in enumerate(KPIS)}
    level_order: dict[str, int] = {level: index for index, level in enumerate(LEVELS)}
    values = KpiValue.objects.filter(
        period_kind=period.kind, period_start=period.start, level__in=levels, kpi__in=list(KPIS)
    ).only(*_COLUMNS)
    rows = [_row(value, period) for value in values]
    rows.sort(key=lambda r: (order[r.kpi], level_order.get(r.level, 9), r.unit_code, r.breakdown))
    return rows


def kpi_unit_rows(kpi: str, period: Period, level: str, unit_code: str) -> list[KpiRow]:
    """One unit's rows of one KPI and period (one per breakdown value): one query."""
    level_check(level, kpi_by_code(kpi))
    values = KpiValue.objects.filter(
        kpi=kpi,
        period_kind=period.kind,
        period_start=period.start,
        level=level,
        unit_code=unit_code,
    ).only(*_COLUMNS)
    return [_row(value, period) for value in values.order_by("breakdown")]


def _periods_back(last: Period, count: int) -> list[Period]:
    periods = [last]
    while len(periods) < count:
        periods.append(periods[-1].previous())
    return periods[::-1]


def kpi_series(
    kpi: str, level: str, unit_code: str, last: Period, months: int = 24
) -> list[KpiRow]:
    """One unit's figures over the `months` periods (of last's kind) ending with `last`, oldest
    first; a period never rebuilt has no row. One query."""
    definition = kpi_by_code(kpi)
    level_check(level, definition)
    if not 1 <= months <= MAX_SERIES:
        raise InvalidInput(
            "invalid_months",
            f"期数应在 1 到 {MAX_SERIES} 之间 (months must be between 1 and {MAX_SERIES})",
            field="months",
        )
    periods = _periods_back(last, months)
    by_start = {p.start: p for p in periods}
    values = (
        KpiValue.objects.filter(
            kpi=kpi,
            level=level,
            unit_code=unit_code,
            period_kind=last.kind,
            period_start__gte=periods[0].start,
            period_start__lte=last.start,
        )
        .only(*_COLUMNS)
        .order_by("period_start", "breakdown")
    )
    return [_row(value, by_start.get(value.period_start)) for value in values]


def _change(now: KpiRow | None, then: KpiRow | None) -> Decimal | None:
    if now is None or then is None or now.value is None or then.value is None:
        return None
    return now.value - then.value


def kpi_cards(period: Period, level: str = "city", unit_code: str = "city") -> list[KpiCard]:
    """One card per KPI defined at the level: the period's figure (the total row, breakdown ""),
    the previous period's, and the changes month-on-month and year-on-year. One query."""
    level_check(level)
    previous, year_ago = period.previous(), period.year_ago()
    values = KpiValue.objects.filter(
        level=level,
        unit_code=unit_code,
        breakdown="",
        period_kind=period.kind,
        period_start__in=[period.start, previous.start, year_ago.start],
    ).only(*_COLUMNS)
    found: dict[tuple[str, dt.date], KpiRow] = {}
    for value in values:
        which = {period.start: period, previous.start: previous, year_ago.start: year_ago}
        found[(value.kpi, value.period_start)] = _row(value, which[value.period_start])
    cards = []
    for kpi in KPIS.values():
        if level not in kpi.levels:
            continue
        row = found.get((kpi.code, period.start))
        before = found.get((kpi.code, previous.start))
        last_year = found.get((kpi.code, year_ago.start))
        cards.append(
            KpiCard(
                kpi=kpi,
                row=row,
                previous=before,
                mom_change=_change(row, before),
                yoy_change=_change(row, last_year),
                year_ago=last_year,
            )
        )
    return cards


def period_computed_at(period: Period) -> dt.datetime | None:
    """When the period's rollups were last rebuilt (None: never)."""
    record = KpiRebuild.objects.filter(period_kind=period.kind, period_start=period.start).first()
    return record.computed_at if record else None


def units_of_level(period: Period, level: str, parent_code: str | None = None) -> list[dict]:
    """The units that have figures in the period at one level (code, name, parent): the
    dashboard's pickers. One query."""
    level_check(level)
    qs = KpiValue.objects.filter(period_kind=period.kind, period_start=period.start, level=level)
    if parent_code:
        qs = qs.filter(parent_code=parent_code)
    seen = qs.values("unit_code", "unit_name", "parent_code").distinct().order_by("unit_code")
    return [
        {"code": r["unit_code"], "name": r["unit_name"], "parent_code": r["parent_code"]}
        for r in seen
    ]
