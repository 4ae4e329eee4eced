"""healthnet.spreadsheets: free text leaving for a spreadsheet cannot run as a formula (issue 9
item 17). Expected cells written out by hand."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import Workbook, load_workbook

from healthnet.spreadsheets import SafeCsvWriter, spreadsheet_text, xlsx_text_cells


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+8613900000000", "'+8613900000000"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=cmd|' /C calc'!A0", "'\t=cmd|' /C calc'!A0"),
        ("\r=1", "'\r=1"),
        ("血压平稳 =1", "血压平稳 =1"),  # only the start makes a formula
        ("", ""),
        ("'=1", "'=1"),  # already text
    ],
)
def test_text_starting_like_a_formula_gets_an_apostrophe(text, cell):
    assert spreadsheet_text(text) == cell


@pytest.mark.parametrize("value", [None, 3, -3, 2.5, dt.date(2026, 1, 1)])
def test_other_values_pass_unchanged(value):
    assert spreadsheet_text(value) == value


def test_the_csv_writer_neutralises_each_text_cell():
    out = io.StringIO()

    SafeCsvWriter(out).writerow([1, "=1+2", "ok", -4])

    assert out.getvalue() == "1,'=1+2,ok,-4\r\n"


def test_xlsx_cells_are_strings_never_formulas_and_drop_control_characters():
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(xlsx_text_cells(sheet, ["=1+2", "a\x01b", 7]))
    out = io.BytesIO()
    workbook.save(out)
    out.seek(0)

    (row,) = load_workbook(out).active.iter_rows()

    assert [(c.value, c.data_type) for c in row] == [("'=1+2", "s"), ("ab", "s"), (7, "n")]
