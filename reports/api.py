"""API of the bureau reports (/api/v1/reports): the KPI catalogue, figures by KPI × period × level
(× parent unit), series for trends, headline cards, and exports (CSV, XLSX, FHIR R4 Measure and
MeasureReport). Reads come from the rollups (reports.selectors), never the raw tables.

Only the roles of the `report.read` permission (bureau, system admin) may call it; every other
caller gets 403 `forbidden`, a request without credentials 401. Aggregates only: no row names a
person. A bad parameter (unknown KPI, a period that is not 2026-03 / 2026Q1 / 2026, a level the KPI
is not defined at) answers 422 with `details.field`; a unit without figures in a series or a
MeasureReport answers 404.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema
from ninja.params.functions import Path as PathEx

from healthnet.errors import Forbidden, NotFound
from healthnet.permissions import has_permission
from healthnet.services import audit_record
from reports import selectors
from reports.exports import fhir, tables
from reports.kpis import Kpi

router = Router(tags=["reports"])

Level = Literal["city", "district", "alliance", "institution", "team"]
FHIR_JSON = "application/fhir+json; charset=utf-8"
# What the server accepts, said in the OpenAPI document too (a KPI code; a month, quarter or year).
KPI_CODE = r"^[a-z][a-z0-9_]*$"
PERIOD_LABEL = r"^[0-9]{4}(-[0-9]{2}|Q[1-4])?$"


def _reader(request: HttpRequest) -> None:
    if not has_permission(request.user, "report.read"):
        raise Forbidden(
            "forbidden", "无权查看统计指标 (not allowed to read the tiered-care indicators)"
        )


# --- schemas -----------------------------------------------------------------------------------


class BreakdownValueOut(Schema):
    code: str
    name: str


class KpiOut(Schema):
    code: str
    number: int
    name: str
    unit: str = Field(..., description="ratio | count | hours | days")
    levels: list[str]
    breakdown: str | None
    definition: str
    breakdown_values: list[BreakdownValueOut]


def _kpi_out(kpi: Kpi) -> dict:
    """A plain dict: a Kpi is callable, and the schema would call it."""
    return {
        "code": kpi.code,
        "number": kpi.number,
        "name": str(kpi.name),
        "unit": kpi.unit,
        "levels": list(kpi.levels),
        "breakdown": kpi.breakdown,
        "definition": str(kpi.definition or ""),
        "breakdown_values": [
            {"code": code, "name": str(name)} for code, name in kpi.breakdown_values
        ],
    }


class RowOut(Schema):
    kpi: str
    period: str
    level: str
    unit_code: str
    unit_name: str
    parent_code: str
    breakdown: str
    numerator: float | None
    denominator: float | None
    value: float | None
    suppressed: bool = Field(
        ..., description="a small cell (team level, fewer records than REPORTS_SMALL_CELL)"
    )


class TableOut(Schema):
    kpi: str
    period: str
    level: str
    parent: str | None
    computed_at: dt.datetime | None
    rows: list[RowOut]


class SeriesOut(Schema):
    kpi: str
    level: str
    unit: str
    last: str
    rows: list[RowOut]


class CardOut(Schema):
    kpi: KpiOut
    row: RowOut | None
    previous: RowOut | None
    year_ago: RowOut | None
    mom_change: float | None
    yoy_change: float | None


class TableQuery(Schema):
    kpi: str = Field(..., min_length=1, max_length=64, pattern=KPI_CODE)
    period: str = Field(
        ..., min_length=4, max_length=7, pattern=PERIOD_LABEL, description="2026-03, 2026Q1 or 2026"
    )
    level: Level = "city"
    unit: str | None = Field(
        None, min_length=1, max_length=40, description="only units under this parent"
    )


class SeriesQuery(Schema):
    kpi: str = Field(..., min_length=1, max_length=64, pattern=KPI_CODE)
    level: Level = "city"
    unit: str = Field("city", min_length=1, max_length=40)
    last: str = Field(
        ...,
        min_length=4,
        max_length=7,
        pattern=PERIOD_LABEL,
        description="the last period: 2026-03 (or 2026Q1)",
    )
    months: int = Field(24, ge=1, le=selectors.MAX_SERIES, description="periods in the series")


# --- reads -------------------------------------------------------------------------------------


@router.get("/kpis", response=list[KpiOut])
def kpi_list(request):
    """The KPI catalogue with definitions, units and the levels each is defined at."""
    _reader(request)
    return [_kpi_out(kpi) for kpi in selectors.kpi_catalogue()]


@router.get("/kpis/{code}", response=KpiOut)
def kpi_detail(request, code: Annotated[str, PathEx(min_length=1, max_length=64)]):
    _reader(request)
    kpi = selectors.kpi_or_none(code)
    if kpi is None:
        raise NotFound("kpi_not_found", "指标不存在 (no such KPI)")
    return _kpi_out(kpi)


@router.get("/values", response=TableOut)
def kpi_values(request, query: Query[TableQuery]):
    """One KPI's figures for one period at one level, optionally only under one parent unit
    (`unit`: a district's code for its institutions, an institution's for its teams)."""
    _reader(request)
    period = selectors.period_parse(query.period)
    rows = selectors.kpi_table(query.kpi, period, query.level, query.unit)
    return {
        "kpi": query.kpi,
        "period": period.label,
        "level": query.level,
        "parent": query.unit,
        "computed_at": selectors.period_computed_at(period),
        "rows": rows,
    }


@router.get("/series", response=SeriesOut)
def kpi_series(request, query: Query[SeriesQuery]):
    """One unit's figures over the last `months` periods ending with `last` (a trend), oldest
    first. A unit with no figure in the range: 404."""
    _reader(request)
    last = selectors.period_parse(query.last, field="last")
    rows = selectors.kpi_series(query.kpi, query.level, query.unit, last, query.months)
    if not rows:
        raise NotFound("unit_not_found", "该单位在此期间没有数据 (no figures for this unit)")
    return {
        "kpi": query.kpi,
        "level": query.level,
        "unit": query.unit,
        "last": last.label,
        "rows": rows,
    }


class CardsQuery(Schema):
    period: str = Field(
        ..., min_length=4, max_length=7, pattern=PERIOD_LABEL, description="2026-03, 2026Q1 or 2026"
    )
    level: Level = "city"
    unit: str = Field("city", min_length=1, max_length=40)


@router.get("/cards", response=list[CardOut])
def kpi_cards(request, query: Query[CardsQuery]):
    """Headline cards: each KPI defined at the level, its figure for the period, the previous
    period's and the year-ago one, and the changes (differences in the KPI's unit)."""
    _reader(request)
    cards = selectors.kpi_cards(selectors.period_parse(query.period), query.level, query.unit)
    return [
        {
            "kpi": _kpi_out(card.kpi),
            "row": card.row,
            "previous": card.previous,
            "year_ago": card.year_ago,
            "mom_change": card.mom_change,
            "yoy_change": card.yoy_change,
        }
        for card in cards
    ]


# --- exports -----------------------------------------------------------------------------------


class ExportQuery(Schema):
    period: str = Field(
        ..., min_length=4, max_length=7, pattern=PERIOD_LABEL, description="2026-03, 2026Q1 or 2026"
    )
    kpi: str | None = Field(
        None, min_length=1, max_length=64, pattern=KPI_CODE, description="one KPI (default: all)"
    )


def _export_rows(query: ExportQuery):
    period = selectors.period_parse(query.period)
    if query.kpi:
        selectors.kpi_by_code(query.kpi)
    rows = selectors.kpis_table(period)
    if query.kpi:
        rows = [row for row in rows if row.kpi == query.kpi]
    return period, rows


def _audited(request, kind: str, query: ExportQuery) -> None:
    audit_record(
        actor=request.user,
        action="export",
        object_type="report",
        details={"format": kind, "period": query.period, "kpi": query.kpi or ""},
    )


def _attachment(body: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


EXPORT_CSV = {200: {"description": "CSV, UTF-8 with BOM", "content": {"text/csv": {}}}}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_XLSX = {200: {"description": "XLSX workbook", "content": {XLSX_TYPE: {}}}}


@router.get("/export.csv", openapi_extra={"responses": EXPORT_CSV})
def export_csv(request, query: Query[ExportQuery]):
    """Every figure of the period (or of one KPI) at every level, as CSV (UTF-8 with BOM).
    Small cells are blank with 是 in 小格抑制."""
    _reader(request)
    period, rows = _export_rows(query)
    _audited(request, "csv", query)
    name = f"healthnet-reports-{period.label}{'-' + query.kpi if query.kpi else ''}.csv"
    return _attachment(tables.rows_csv(rows), "text/csv; charset=utf-8", name)


@router.get("/export.xlsx", openapi_extra={"responses": EXPORT_XLSX})
def export_xlsx(request, query: Query[ExportQuery]):
    """The same figures as an XLSX workbook: a sheet per level and a definitions sheet."""
    _reader(request)
    period, rows = _export_rows(query)
    _audited(request, "xlsx", query)
    name = f"healthnet-reports-{period.label}{'-' + query.kpi if query.kpi else ''}.xlsx"
    return _attachment(tables.rows_xlsx(rows, period.label), XLSX_TYPE, name)


def _measure_url(request, kpi: Kpi) -> str:
    return request.build_absolute_uri(f"/api/v1/reports/fhir/Measure/{fhir.resource_id(kpi.code)}")


def _fhir(body: dict) -> HttpResponse:
    return HttpResponse(json.dumps(body, ensure_ascii=False), content_type=FHIR_JSON)


FHIR_RESPONSES = {
    200: {"description": "FHIR R4 resource", "content": {"application/fhir+json": {}}}
}


@router.get("/fhir/Measure/{measure_id}", openapi_extra={"responses": FHIR_RESPONSES})
def fhir_measure(request, measure_id: Annotated[str, PathEx(min_length=1, max_length=80)]):
    """The FHIR R4 Measure of a KPI (its id: the KPI code with '-' for '_')."""
    _reader(request)
    kpi = selectors.kpi_or_none(measure_id.replace("-", "_"))
    if kpi is None:
        raise NotFound("kpi_not_found", "指标不存在 (no such KPI)")
    return _fhir(fhir.measure(kpi, _measure_url(request, kpi)))


class MeasureReportQuery(Schema):
    kpi: str = Field(..., min_length=1, max_length=64, pattern=KPI_CODE)
    period: str = Field(
        ..., min_length=4, max_length=7, pattern=PERIOD_LABEL, description="2026-03, 2026Q1 or 2026"
    )
    level: Level = "city"
    unit: str = Field(
        "city", min_length=1, max_length=40, description="the unit's code at that level"
    )


@router.get("/fhir/MeasureReport", openapi_extra={"responses": FHIR_RESPONSES})
def fhir_measure_report(request, query: Query[MeasureReportQuery]):
    """A FHIR R4 summary MeasureReport of one KPI for one unit and period: populations
    numerator/denominator and measureScore per breakdown value. A suppressed small cell has
    neither."""
    _reader(request)
    kpi = selectors.kpi_by_code(query.kpi)
    period = selectors.period_parse(query.period)
    rows = selectors.kpi_unit_rows(query.kpi, period, query.level, query.unit)
    if not rows:
        raise NotFound("unit_not_found", "该单位在此期间没有数据 (no figures for this unit)")
    _audited(request, "fhir", ExportQuery(period=query.period, kpi=query.kpi))
    return _fhir(
        fhir.measure_report(
            kpi,
            period,
            rows,
            measure_url=_measure_url(request, kpi),
            computed_at=selectors.period_computed_at(period),
        )
    )
