"""The bureau's dashboard (issue 12): headline KPI cards with their month-on-month change, the
two-way referral trend and a comparison by district or alliance; and a page per KPI with its trend
over 24 months (8 quarters, 5 years) and a bar per unit of one level, a bar (and its table row)
leading one level down: city → district → institution → team.

Figures come from the rollups through reports.selectors only (never the raw tables), a constant
number of queries whatever the number of units. Aggregates only: no page here names a person, and
the team figures a small cell hides (selectors' `suppressed`) are neither drawn nor written.

Charts are ECharts drawn by portal/static/portal/js/bureau-dashboard.js from a `data-chart`
attribute (JSON; the page's CSP allows no inline script); the table under each chart is the same
data, for readers of tables, screen readers and browsers without JavaScript.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.menu import page_view
from reports import selectors
from reports.kpis import Kpi
from reports.periods import Period, month_of, period_containing
from reports.units import LEVEL_NAMES

# How many periods a trend shows, by the kind of the period picked.
SERIES_LENGTH = {"month": 24, "quarter": 8, "year": 5}
# Picker choices: the last 24 months, 8 quarters, 5 years.
PICKER_LENGTH = SERIES_LENGTH
# Levels a KPI page compares, and where a bar of each leads.
COMPARE_LEVELS = ("district", "alliance", "institution", "team")
DRILL_NEXT = {"city": "district", "district": "institution", "institution": "team"}
# The dashboard's charts: the two directions of the referral network.
DASHBOARD_KPIS = ("referrals_up", "referrals_down")
DASHBOARD_COMPARE = ("district", "alliance")
API_REPORTS = "/api/v1/reports"
ONE_PLACE = Decimal("0.1")
TWO_PLACES = Decimal("0.01")


# --- figures as people read them ---------------------------------------------------------------


def _places(value: Decimal, places: Decimal) -> Decimal:
    return value.quantize(places, rounding=ROUND_HALF_UP)


def figure_text(kpi: Kpi, value: Decimal | None) -> str:
    """A KPI value as shown: a ratio as a percentage (one place), a count whole, a median with
    its unit."""
    if value is None:
        return "—"
    if kpi.unit == "ratio":
        return f"{_places(value * 100, ONE_PLACE)}%"
    if kpi.unit == "count":
        return f"{int(value):,}"
    if kpi.unit == "hours":
        return _("%(n)s 小时") % {"n": _places(value, ONE_PLACE)}
    return _("%(n)s 天") % {"n": _places(value, ONE_PLACE)}


def change_text(kpi: Kpi, change: Decimal | None) -> str:
    """A difference in the KPI's unit, signed: percentage points for a ratio."""
    if change is None:
        return "—"
    sign = "+" if change > 0 else ("−" if change < 0 else "±")
    size = abs(change)
    if kpi.unit == "ratio":
        return _("%(sign)s%(n)s 个百分点") % {"sign": sign, "n": _places(size * 100, ONE_PLACE)}
    if kpi.unit == "count":
        return f"{sign}{int(size):,}"
    template = _("%(n)s 小时") if kpi.unit == "hours" else _("%(n)s 天")
    return template % {"n": f"{sign}{_places(size, ONE_PLACE)}"}


def change_direction(change: Decimal | None) -> str:
    if change is None or change == 0:
        return "flat"
    return "up" if change > 0 else "down"


def chart_number(kpi: Kpi, row: selectors.KpiRow | None) -> float | None:
    """The number drawn: a ratio in percent; nothing for a missing or suppressed figure."""
    if row is None or row.suppressed or row.value is None:
        return None
    value = row.value * 100 if kpi.unit == "ratio" else row.value
    return float(_places(value, TWO_PLACES))


def axis_unit(kpi: Kpi) -> str:
    if kpi.unit in ("hours", "days"):  # the unit word alone: "小时", "天"
        return (_("%(n)s 小时" if kpi.unit == "hours" else "%(n)s 天") % {"n": ""}).strip()
    return "%" if kpi.unit == "ratio" else _("人次")


def row_cells(kpi: Kpi, row: selectors.KpiRow | None) -> dict[str, Any]:
    """A table row's figures: value, numerator, denominator (blank when suppressed)."""
    parts = kpi.unit == "ratio"  # a ratio shows its numerator and denominator too
    if row is None or row.suppressed:
        blank = {"value": "—", "numerator": "—", "denominator": "—"}
        return {**blank, "suppressed": bool(row and row.suppressed), "parts": parts}
    return {
        "parts": parts,
        "value": figure_text(kpi, row.value),
        "numerator": _count(row.numerator),
        "denominator": _count(row.denominator),
        "suppressed": False,
    }


def _count(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{int(value):,}" if value == value.to_integral_value() else str(value)


def kpi_info(kpi: Kpi) -> dict[str, Any]:
    """What a template shows of a KPI, as a plain dict: a Kpi is callable (its computation), and
    a template would call it."""
    return {
        "code": kpi.code,
        "number": kpi.number,
        "name": kpi.name,
        "unit": kpi.unit,
        "definition": kpi.definition,
    }


def chart_json(spec: dict[str, Any]) -> str:
    return json.dumps(spec, ensure_ascii=False, separators=(",", ":"))


# --- the period -------------------------------------------------------------------------------


def _default_period(today) -> Period:
    """This month if its figures are built (to date), else last month's, else this month."""
    current = month_of(today)
    for period in (current, current.previous()):
        if selectors.period_computed_at(period) is not None:
            return period
    return current


def period_from(request: HttpRequest) -> tuple[Period, bool]:
    """The period asked for (`period`: 2026-03, 2026Q1, 2026), or the default; whether the asked
    one was refused (the page then says so and shows the default)."""
    today = timezone.localdate()
    label = request.GET.get("period", "").strip()
    if label:
        try:
            period = Period.parse(label[:10])
        except ValueError:
            return _default_period(today), True
        if period.start <= today:
            return period, False
        return _default_period(today), True
    return _default_period(today), False


def period_choices(selected: Period) -> list[dict[str, Any]]:
    """The picker's option groups: recent months, quarters and years (the selected one too)."""
    today = timezone.localdate()
    groups = []
    names = {"month": _("月"), "quarter": _("季度"), "year": _("年")}
    for kind, count in PICKER_LENGTH.items():
        last = period_containing(kind, today)  # type: ignore[arg-type]
        periods = [last.shifted(-i) for i in range(count)]
        if selected.kind == kind and selected not in periods:
            periods.append(selected)
            periods.sort(reverse=True)
        groups.append(
            {
                "label": names[kind],
                "options": [(p.label, p.label, p == selected) for p in periods],
            }
        )
    return groups


def _series_periods(last: Period) -> list[Period]:
    count = SERIES_LENGTH[last.kind]
    return [last.shifted(i - count + 1) for i in range(count)]


def export_links(period: Period, kpi: str | None = None, **report: str) -> list[dict[str, str]]:
    """The download buttons: the API's exports, which the portal's session may call."""
    query = {"period": period.label, **({"kpi": kpi} if kpi else {})}
    links = [
        {"label": _("导出 CSV"), "url": f"{API_REPORTS}/export.csv?{urlencode(query)}"},
        {"label": _("导出 Excel"), "url": f"{API_REPORTS}/export.xlsx?{urlencode(query)}"},
    ]
    if kpi and report:
        fhir = {"kpi": kpi, "period": period.label, **report}
        links.append(
            {
                "label": _("导出 FHIR MeasureReport"),
                "url": f"{API_REPORTS}/fhir/MeasureReport?{urlencode(fhir)}",
            }
        )
    return links


def kpi_url(code: str, period: Period, **query: str) -> str:
    params = {"period": period.label, **{k: v for k, v in query.items() if v}}
    return f"{reverse('portal:bureau-kpi', args=[code])}?{urlencode(params)}"


def _trend(kpis: list[Kpi], rows_by_kpi: dict[str, list[selectors.KpiRow]], last: Period):
    """A line chart (one line per KPI) and its table: a row per period."""
    periods = _series_periods(last)
    found = {
        kpi.code: {row.period: row for row in rows_by_kpi[kpi.code] if not row.breakdown}
        for kpi in kpis
    }
    table = [
        {
            "period": p.label,
            "cells": [row_cells(kpi, found[kpi.code].get(p.label)) for kpi in kpis],
        }
        for p in periods
    ]
    spec: dict[str, Any] = {
        "type": "line",
        "unit": axis_unit(kpis[0]),
        "integer": kpis[0].unit == "count",
        "categories": [p.label for p in periods],
        "series": [
            {
                "name": str(kpi.name),
                "data": [chart_number(kpi, found[kpi.code].get(p.label)) for p in periods],
            }
            for kpi in kpis
        ],
    }
    has_data = any(v is not None for s in spec["series"] for v in s["data"])
    infos = [kpi_info(kpi) for kpi in kpis]
    return {"json": chart_json(spec), "table": table, "kpis": infos, "has_data": has_data}


def _comparison(kpis: list[Kpi], tables: dict[str, list[selectors.KpiRow]], links):
    """A bar chart (a bar per unit, one series per KPI) and its table: a row per unit. Each bar
    (and its table cell, the unit's name for the first KPI) leads to `links(kpi code, unit
    code)`: that KPI one level down (None where there is none)."""
    units: dict[str, str] = {}
    found: dict[str, dict[str, selectors.KpiRow]] = {}
    for kpi in kpis:
        found[kpi.code] = {}
        for row in tables[kpi.code]:
            if row.breakdown:
                continue
            units.setdefault(row.unit_code, row.unit_name)
            found[kpi.code][row.unit_code] = row
    ordered = sorted(units.items(), key=lambda item: item[0])
    urls = {kpi.code: [links(kpi.code, code) for code, _name in ordered] for kpi in kpis}
    several = len(kpis) > 1  # then each cell links to its own KPI's level below
    table = [
        {
            "code": code,
            "name": name,
            "url": urls[kpis[0].code][index],
            "cells": [
                {
                    **row_cells(kpi, found[kpi.code].get(code)),
                    "url": urls[kpi.code][index] if several else None,
                }
                for kpi in kpis
            ],
        }
        for index, (code, name) in enumerate(ordered)
    ]
    spec: dict[str, Any] = {
        "type": "bar",
        "unit": axis_unit(kpis[0]),
        "integer": kpis[0].unit == "count",
        "categories": [name for _code, name in ordered],
        "series": [
            {
                "name": str(kpi.name),
                "data": [chart_number(kpi, found[kpi.code].get(code)) for code, _n in ordered],
                "links": urls[kpi.code],
            }
            for kpi in kpis
        ],
    }
    has_data = any(v is not None for s in spec["series"] for v in s["data"])
    infos = [kpi_info(kpi) for kpi in kpis]
    return {"json": chart_json(spec), "table": table, "kpis": infos, "has_data": has_data}


def _card(card: selectors.KpiCard, period: Period) -> dict[str, Any]:
    kpi = card.kpi
    suppressed = bool(card.row and card.row.suppressed)
    return {
        "kpi": kpi_info(kpi),
        "url": kpi_url(kpi.code, period),
        "value": "—" if suppressed else figure_text(kpi, card.row.value if card.row else None),
        "previous": figure_text(kpi, card.previous.value if card.previous else None),
        "mom": change_text(kpi, card.mom_change),
        "mom_direction": change_direction(card.mom_change),
        "yoy": change_text(kpi, card.yoy_change),
    }


# --- the dashboard ---------------------------------------------------------------------------


@page_view("bureau-dashboard")
def dashboard(request: HttpRequest) -> HttpResponse:
    period, refused = period_from(request)
    compare = request.GET.get("compare", "district")
    if compare not in DASHBOARD_COMPARE:
        compare = "district"
    computed_at = selectors.period_computed_at(period)
    context: dict[str, Any] = {
        "period": period,
        "period_refused": refused,
        "picker": period_choices(period),
        "computed_at": computed_at,
        "compare": compare,
        "compare_choices": [(level, LEVEL_NAMES[level]) for level in DASHBOARD_COMPARE],
        "exports": export_links(period),
        "first_month": month_of(timezone.localdate()).previous().label,
    }
    if computed_at is not None:
        kpis = [selectors.kpi_by_code(code) for code in DASHBOARD_KPIS]
        series = {
            kpi.code: selectors.kpi_series(
                kpi.code, "city", "city", period, SERIES_LENGTH[period.kind]
            )
            for kpi in kpis
        }
        tables = {kpi.code: selectors.kpi_table(kpi.code, period, compare) for kpi in kpis}

        def drill(kpi_code: str, code: str) -> str | None:
            if compare != "district":
                return None
            return kpi_url(kpi_code, period, level="institution", unit=code)

        context.update(
            cards=[_card(card, period) for card in selectors.kpi_cards(period)],
            trend=_trend(kpis, series, period),
            comparison=_comparison(kpis, tables, drill),
        )
    return render(request, "portal/bureau/dashboard.html", context)


# --- one KPI ---------------------------------------------------------------------------------


def _unit_row(kpi: Kpi, period: Period, level: str, code: str) -> selectors.KpiRow | None:
    rows = selectors.kpi_unit_rows(kpi.code, period, level, code)
    return next((row for row in rows if not row.breakdown), None)


@page_view("bureau-dashboard")
def kpi_detail(request: HttpRequest, code: str) -> HttpResponse:
    kpi = selectors.kpi_or_none(code)
    if kpi is None:
        raise Http404(code)
    period, refused = period_from(request)
    levels = [level for level in COMPARE_LEVELS if level in kpi.levels]
    level = request.GET.get("level") or levels[0]
    unit = request.GET.get("unit", "")[:40]
    dropped = []
    if level not in levels or (level == "team" and not unit):
        dropped.append("level")
        level, unit = levels[0], ""
    if unit and level not in ("institution", "team"):
        dropped.append("unit")
        unit = ""
    focus_level = "city" if not unit else {"institution": "district", "team": "institution"}[level]
    focus_code = unit or "city"
    computed_at = selectors.period_computed_at(period)
    context: dict[str, Any] = {
        "kpi": kpi_info(kpi),
        "period": period,
        "period_refused": refused,
        "dropped": dropped,
        "picker": period_choices(period),
        "computed_at": computed_at,
        "level": level,
        "level_name": LEVEL_NAMES[level],
        "unit": unit,
        "views": [
            {
                "level": lv,
                "name": LEVEL_NAMES[lv],
                "url": kpi_url(kpi.code, period, level=lv),
                "current": lv == level and not unit,
            }
            for lv in levels
            if lv != "team"
        ],
        "exports": export_links(period, kpi.code, level=focus_level, unit=focus_code),
        "first_month": month_of(timezone.localdate()).previous().label,
        "dashboard_url": f"{reverse('portal:bureau-dashboard')}?period={period.label}",
    }
    if computed_at is None:
        return render(request, "portal/bureau/kpi.html", context)

    crumbs = [{"name": LEVEL_NAMES["city"], "url": kpi_url(kpi.code, period)}]
    if unit:
        focus = _unit_row(kpi, period, focus_level, unit)
        if focus is None:
            raise Http404(unit)  # no such unit in the period: as for any unknown record
        if focus_level == "institution":
            district = _unit_row(kpi, period, "district", focus.parent_code)
            if district is not None:
                crumbs.append(
                    {
                        "name": district.unit_name,
                        "url": kpi_url(
                            kpi.code, period, level="institution", unit=district.unit_code
                        ),
                    }
                )
        crumbs.append({"name": focus.unit_name, "url": None})
    focus_name = crumbs[-1]["name"]

    series = selectors.kpi_series(
        kpi.code, focus_level, focus_code, period, SERIES_LENGTH[period.kind]
    )
    table = selectors.kpi_table(kpi.code, period, level, unit or None)
    below = DRILL_NEXT.get(level)

    def drill(_kpi_code: str, code: str) -> str | None:
        if below is None or below not in kpi.levels:
            return None
        return kpi_url(kpi.code, period, level=below, unit=code)

    breakdown = []
    if kpi.breakdown:
        names = dict(kpi.breakdown_values)
        rows = selectors.kpi_unit_rows(kpi.code, period, focus_level, focus_code)
        breakdown = [
            {"name": names.get(row.breakdown, row.breakdown), **row_cells(kpi, row)}
            for row in rows
            if row.breakdown
        ]
    context.update(
        crumbs=crumbs,
        focus_name=focus_name,
        trend=_trend([kpi], {kpi.code: series}, period),
        comparison=_comparison([kpi], {kpi.code: table}, drill),
        breakdown=breakdown,
        drill_level_name=LEVEL_NAMES[below] if below and below in kpi.levels else None,
    )
    return render(request, "portal/bureau/kpi.html", context)
