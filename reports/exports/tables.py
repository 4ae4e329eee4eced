"""CSV and XLSX exports of one period's figures: every KPI at every level.

CSV: UTF-8 with a byte-order mark (Excel then reads the Chinese correctly), one row per figure.
XLSX: a sheet per level and a definitions sheet; Chinese headers, the header row frozen,
percentages formatted as such. Text cells go through healthnet.spreadsheets (formula-injection
safe). A suppressed small cell keeps its row with the figure blank and 是 in the last column.
"""

from __future__ import annotations

import io
from decimal import Decimal

from django.utils.translation import gettext as _

from healthnet.spreadsheets import SafeCsvWriter, xlsx_text_cells
from reports.exports import LEVEL_NAMES, UNIT_NAMES
from reports.kpis import Kpi
from reports.selectors import LEVELS, KpiRow, kpi_by_code, kpi_catalogue, small_cell_threshold

BOM = "\ufeff"


def headers() -> list[str]:
    return [
        _("指标编号"),
        _("指标代码"),
        _("指标名称"),
        _("统计期"),
        _("层级"),
        _("单位代码"),
        _("单位名称"),
        _("上级单位代码"),
        _("分组"),
        _("分子"),
        _("分母"),
        _("指标值"),
        _("计量单位"),
        _("小格抑制"),
    ]


def _number(value: Decimal | None, suppressed: bool) -> Decimal | None:
    return None if suppressed or value is None else value


def row_values(row: KpiRow, kpi: Kpi) -> list:
    return [
        kpi.number,
        kpi.code,
        str(kpi.name),
        row.period,
        str(LEVEL_NAMES.get(row.level, row.level)),
        row.unit_code,
        row.unit_name,
        row.parent_code,
        str(dict(kpi.breakdown_values).get(row.breakdown, row.breakdown)),
        _number(row.numerator, row.suppressed),
        _number(row.denominator, row.suppressed),
        _number(row.value, row.suppressed),
        str(UNIT_NAMES.get(kpi.unit, kpi.unit)),
        _("是") if row.suppressed else "",
    ]


def rows_csv(rows: list[KpiRow]) -> bytes:
    out = io.StringIO()
    out.write(BOM)
    writer = SafeCsvWriter(out)
    writer.writerow(headers())
    for row in rows:
        writer.writerow(row_values(row, kpi_by_code(row.kpi)))
    return out.getvalue().encode("utf-8")


def definition_values(kpi: Kpi) -> list:
    return [
        kpi.number,
        kpi.code,
        str(kpi.name),
        str(UNIT_NAMES.get(kpi.unit, kpi.unit)),
        "、".join(str(LEVEL_NAMES.get(level, level)) for level in kpi.levels),
        kpi.breakdown or "",
        str(getattr(kpi, "definition", "") or ""),
    ]


VALUE_COLUMNS = {10: "numerator", 11: "denominator", 12: "value"}  # 1-based, as Excel counts
WIDTHS = [8, 26, 28, 10, 12, 16, 28, 16, 14, 12, 12, 12, 10, 10]


def rows_xlsx(rows: list[KpiRow], period_label: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    bold = Font(bold=True)

    def header_row(sheet, titles: list[str]) -> list:
        cells = xlsx_text_cells(sheet, titles)
        for cell in cells:
            cell.font = bold
        return cells

    by_level: dict[str, list[KpiRow]] = {level: [] for level in LEVELS}
    for row in rows:
        by_level.setdefault(row.level, []).append(row)
    for level, level_rows in by_level.items():
        if not level_rows:
            continue
        sheet = book.create_sheet(title=str(LEVEL_NAMES.get(level, level)))
        sheet.freeze_panes = "A2"
        for index, width in enumerate(WIDTHS, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = width
        sheet.append(header_row(sheet, headers()))
        for row in level_rows:
            kpi = kpi_by_code(row.kpi)
            cells = xlsx_text_cells(sheet, row_values(row, kpi))
            for column in VALUE_COLUMNS:
                raw = cells[column - 1]
                if raw is None:
                    continue
                cell = WriteOnlyCell(sheet, value=float(raw))
                if column == 12 and kpi.unit == "ratio":
                    cell.number_format = "0.00%"
                elif kpi.unit == "count" or (column in (10, 11) and kpi.unit == "ratio"):
                    cell.number_format = "#,##0"
                else:
                    cell.number_format = "#,##0.00"
                cells[column - 1] = cell
            sheet.append(cells)

    definitions = book.create_sheet(title=_("指标定义"))
    definitions.freeze_panes = "A2"
    for index, width in enumerate([8, 26, 28, 10, 40, 14, 80], start=1):
        definitions.column_dimensions[get_column_letter(index)].width = width
    definitions.append(
        header_row(
            definitions,
            [
                _("指标编号"),
                _("指标代码"),
                _("指标名称"),
                _("计量单位"),
                _("统计层级"),
                _("分组"),
                _("定义"),
            ],
        )
    )
    for kpi in kpi_catalogue():
        definitions.append(xlsx_text_cells(definitions, definition_values(kpi)))
    definitions.append([])
    definitions.append(
        xlsx_text_cells(
            definitions,
            [
                _("统计期"),
                period_label,
                _("小格抑制：团队层级计数小于 %(n)d 时不显示数值") % {"n": small_cell_threshold()},
            ],
        )
    )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
