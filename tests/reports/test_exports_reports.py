"""Exports of the reports, opened back: CSV (BOM, Chinese headers, parsed by csv), XLSX (openpyxl:
a sheet per level, a definitions sheet, frozen header, percentage format), FHIR R4 Measure and
MeasureReport (validated and read back with fhir.resources). Small cells are blank; text that a
spreadsheet would run as a formula is neutralised."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from fhir.resources.R4B.measure import Measure
from fhir.resources.R4B.measurereport import MeasureReport

from healthnet.models import AuditEvent, UserRole
from reports.kpis import KPIS
from tests.conftest import api_client_for
from tests.factories import UserFactory
from tests.reports.support import kpi_where, put

pytestmark = pytest.mark.django_db


@pytest.fixture
def bureau_api():
    return api_client_for(UserFactory(role=UserRole.BUREAU, institution=None))


@pytest.fixture
def ratio():
    return kpi_where("ratio", "team")


@pytest.fixture
def count():
    return kpi_where("count", "institution")


@pytest.fixture
def figures(ratio, count):
    put(ratio, "2026-03", "city", "city", 30, 40, name="乌海市")
    put(ratio, "2026-03", "team", "7", 3, 4, parent="p1", name="小团队")  # small: 4 < 5
    put(ratio, "2026-03", "team", "8", 6, 8, parent="p1", name='=HYPERLINK("x")')
    put(count, "2026-03", "institution", "p1", 2, parent="d1", name="小机构")  # above teams
    put(count, "2026-03", "institution", "p2", 17, parent="d1", name='=HYPERLINK("x")')
    put(count, "2026-02", "institution", "p2", 99, parent="d1")  # another month: not exported


def test_csv_has_a_bom_chinese_headers_and_blank_small_cells(bureau_api, figures, ratio, count):
    response = bureau_api.get("/api/v1/reports/export.csv", {"period": "2026-03"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    assert "2026-03" in response["Content-Disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert list(rows[0])[:3] == ["指标编号", "指标代码", "指标名称"]
    assert len(rows) == 5
    by = {(r["指标代码"], r["单位代码"]): r for r in rows}
    city = by[(ratio.code, "city")]
    assert (city["分子"], city["分母"], city["指标值"], city["小格抑制"]) == (
        "30.0000",
        "40.0000",
        "0.7500",
        "",
    )
    assert city["层级"] == "全市"
    small = by[(ratio.code, "7")]
    assert (small["分子"], small["分母"], small["指标值"], small["小格抑制"]) == ("", "", "", "是")
    assert by[(count.code, "p1")]["指标值"] == "2.0000"
    assert by[(count.code, "p1")]["小格抑制"] == ""
    assert by[(count.code, "p2")]["指标值"] == "17.0000"
    assert by[(count.code, "p2")]["单位名称"] == '\'=HYPERLINK("x")'
    assert AuditEvent.objects.filter(action="export", object_type="report").count() == 1


def test_csv_of_one_kpi(bureau_api, figures, count):
    response = bureau_api.get(
        "/api/v1/reports/export.csv", {"period": "2026-03", "kpi": count.code}
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {r["指标代码"] for r in rows} == {count.code}
    assert len(rows) == 2
    bad = bureau_api.get("/api/v1/reports/export.csv", {"period": "2026-03", "kpi": "nope"})
    assert bad.status_code == 422
    assert bureau_api.get("/api/v1/reports/export.csv", {"period": "03/2026"}).status_code == 422


def test_xlsx_sheets_per_level_definitions_formats(bureau_api, figures, ratio, count):
    response = bureau_api.get("/api/v1/reports/export.xlsx", {"period": "2026-03"})
    assert response.status_code == 200, response.content
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["全市", "机构", "家庭医生团队", "指标定义"]
    team = book["家庭医生团队"]
    assert team.freeze_panes == "A2"
    header = [cell.value for cell in team[1]]
    assert header[:3] == ["指标编号", "指标代码", "指标名称"]
    assert team["A1"].font.bold
    rows = {(r[1].value, r[5].value): r for r in team.iter_rows(min_row=2)}
    big = rows[(ratio.code, "8")]
    assert big[11].value == pytest.approx(0.75)
    assert big[11].number_format == "0.00%"
    assert big[9].value == 6
    assert big[10].value == 8
    assert big[6].value == '\'=HYPERLINK("x")'
    assert big[6].data_type == "s"
    small = rows[(ratio.code, "7")]
    assert [small[i].value for i in (9, 10, 11, 13)] == [None, None, None, "是"]
    institutions = {(r[1].value, r[5].value): r for r in book["机构"].iter_rows(min_row=2)}
    assert institutions[(count.code, "p2")][11].value == 17
    assert institutions[(count.code, "p2")][11].number_format == "#,##0"
    city = book["全市"]
    assert [c.value for c in city[2]][1] == ratio.code

    definitions = book["指标定义"]
    assert definitions.freeze_panes == "A2"
    codes = [row[1] for row in definitions.iter_rows(min_row=2, values_only=True) if row[1]]
    assert codes[: len(KPIS)] == list(KPIS)


def test_fhir_measure_report_validates_and_reads_back(bureau_api, figures, ratio):
    params = {"kpi": ratio.code, "period": "2026-03", "level": "city", "unit": "city"}
    response = bureau_api.get("/api/v1/reports/fhir/MeasureReport", params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    report = MeasureReport.model_validate_json(response.content)
    assert (report.status, report.type) == ("complete", "summary")
    assert report.measure.endswith(f"/api/v1/reports/fhir/Measure/{ratio.code.replace('_', '-')}")
    assert report.period.start.isoformat().startswith("2026-03-01T00:00:00+08:00")
    assert report.reporter.identifier.value == "city"
    [group] = report.group
    populations = {p.code.coding[0].code: p.count for p in group.population}
    assert populations == {"numerator": 30, "denominator": 40}
    assert float(group.measureScore.value) == 0.75

    measure = bureau_api.get(report.measure.split("testserver")[-1])
    assert measure.status_code == 200, measure.content
    parsed = Measure.model_validate_json(measure.content)
    assert parsed.url == report.measure
    assert parsed.scoring.coding[0].code == "proportion"
    assert parsed.title == str(ratio.name)


def test_fhir_small_cell_has_no_figures(bureau_api, figures, ratio):
    params = {"kpi": ratio.code, "period": "2026-03", "level": "team", "unit": "7"}
    report = MeasureReport.model_validate_json(
        bureau_api.get("/api/v1/reports/fhir/MeasureReport", params).content
    )
    [group] = report.group
    assert group.population is None
    assert group.measureScore is None


def test_fhir_unknowns_are_404_or_422(bureau_api, figures, ratio):
    params = {"kpi": ratio.code, "period": "2026-03", "level": "team", "unit": "nope"}
    assert bureau_api.get("/api/v1/reports/fhir/MeasureReport", params).status_code == 404
    params = {"kpi": "nope", "period": "2026-03"}
    assert bureau_api.get("/api/v1/reports/fhir/MeasureReport", params).status_code == 422
    assert bureau_api.get("/api/v1/reports/fhir/Measure/nope").status_code == 404


def test_every_kpi_has_a_valid_measure(bureau_api):
    for kpi in KPIS.values():
        response = bureau_api.get(f"/api/v1/reports/fhir/Measure/{kpi.code.replace('_', '-')}")
        assert response.status_code == 200, response.content
        assert Measure.model_validate_json(response.content).identifier[0].value == kpi.code


def test_fhir_median_carries_its_cases_and_hours(bureau_api):
    median = kpi_where("hours", "city")
    put(median, "2026-03", "city", "city", "12.5", 7, value="12.5")
    params = {"kpi": median.code, "period": "2026-03"}
    response = bureau_api.get("/api/v1/reports/fhir/MeasureReport", params)
    assert response.status_code == 200, response.content
    [group] = MeasureReport.model_validate_json(response.content).group
    assert [(p.code.coding[0].code, p.count) for p in group.population] == [
        ("measure-population", 7)
    ]
    assert float(group.measureScore.value) == 12.5
    assert group.measureScore.code == "h"


def test_breakdown_values_are_exported_by_their_names(bureau_api):
    kpi = kpi_where("ratio", "institution", breakdown=True)
    value, label = kpi.breakdown_values[0]
    put(kpi, "2026-03", "institution", "p1", 2, 10, parent="d1", breakdown=value)
    put(kpi, "2026-03", "institution", "p1", 3, 10, parent="d1")
    response = bureau_api.get("/api/v1/reports/export.csv", {"period": "2026-03", "kpi": kpi.code})
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [(r["分组"], r["分子"]) for r in rows] == [("", "3.0000"), (str(label), "2.0000")]
