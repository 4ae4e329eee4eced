"""Text written into a spreadsheet (CSV or XLSX) for a person to open: neutralised against
formula injection (issue 9 item 17).

A spreadsheet program runs a cell whose text starts with `=`, `+`, `-` or `@` as a formula (and
tab or carriage return lets such a start hide behind a separator), so stored free text — a
resident's name, a follow-up's outcome, a cell of an uploaded file echoed in its error report —
could run `=HYPERLINK(…)` or a DDE command on the reader's machine. The text is kept as typed in
the database (a clinical note starting with "-" is ordinary text there, and the API returns it as
such); it is neutralised where it leaves for a spreadsheet, by every writer, through this module:
a leading apostrophe, which spreadsheet programs read as "this cell is text" (OWASP's advice for
CSV injection). XLSX cells are also written with the string type, never as formulas.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO, Any

# Characters that make a spreadsheet read a cell as a formula when they start it.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def spreadsheet_text(value: Any) -> Any:
    """The value as a spreadsheet cell may safely hold it: text starting with a formula trigger
    gets a leading apostrophe; numbers, dates and None pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def spreadsheet_row(values: Iterable[Any]) -> list[Any]:
    return [spreadsheet_text(value) for value in values]


class SafeCsvWriter:
    """csv.writer whose every text cell goes through spreadsheet_text."""

    def __init__(self, handle: IO[str]) -> None:
        self._writer = csv.writer(handle)

    def writerow(self, values: Iterable[Any]) -> None:
        self._writer.writerow(spreadsheet_row(values))


def xlsx_text_cells(sheet: Any, values: Iterable[Any]) -> list[Any]:
    """A row for an openpyxl write-only sheet: text cells neutralised and typed as strings (so
    openpyxl never stores one as a formula), other values as they are."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    cells: list[Any] = []
    for value in values:
        if isinstance(value, str):
            # Control characters XML cannot hold (a hostile file's) are dropped, not refused.
            text = ILLEGAL_CHARACTERS_RE.sub("", value)
            cell = WriteOnlyCell(sheet, value=spreadsheet_text(text))
            cell.data_type = "s"
            cells.append(cell)
        else:
            cells.append(value)
    return cells
