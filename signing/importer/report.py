"""The per-row error report of an import, an XLSX written while the import runs (issue 9 item 17).

openpyxl's write-only workbook streams each appended row to a temporary file, so a report of
200,000 errors needs no more memory than one of ten. Every text cell goes through
healthnet.spreadsheets (a cell of the uploaded file echoed back cannot become a formula).
"""

from __future__ import annotations

from typing import IO

from openpyxl import Workbook

from healthnet.spreadsheets import xlsx_text_cells
from signing.importer.evaluation import RowError

REPORT_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = ("行号 row", "列 column", "错误代码 code", "原因 reason", "单元格内容 value")
WIDTHS = {"A": 10, "B": 18, "C": 26, "D": 70, "E": 30}


class ErrorReportWriter:
    """Append row errors as they come, then `save` once."""

    def __init__(self) -> None:
        self.workbook = Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet("错误 errors")
        for column, width in WIDTHS.items():
            self.sheet.column_dimensions[column].width = width
        self.sheet.freeze_panes = "A2"
        self.sheet.append(xlsx_text_cells(self.sheet, HEADER))
        self.rows = 0

    def add(self, error: RowError) -> None:
        self.sheet.append(
            xlsx_text_cells(
                self.sheet, (error.row, error.field, error.code, error.message, error.value)
            )
        )
        self.rows += 1

    def save(self, out: IO[bytes]) -> None:
        self.workbook.save(out)

    def discard(self) -> None:
        """Close the rows' temporary file without saving (a report of no error)."""
        self.sheet.close()
