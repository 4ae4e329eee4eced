"""Reading an import file: CSV (UTF-8) or XLSX, a header row, then one contract per row."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
from collections.abc import Iterator
from typing import IO, Any

from healthnet.errors import InvalidInput

REQUIRED_COLUMNS = ("national_id", "team_code", "start_date")
OPTIONAL_COLUMNS = (
    "end_date",
    "packages",
    "signed_method",
    "signed_at",
    "guardian_name",
    "guardian_relationship",
)


def _rows_csv(handle: IO[bytes]) -> Iterator[list[Any]]:
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    try:
        yield from csv.reader(text)
    except UnicodeDecodeError:
        raise InvalidInput(
            "file_encoding", "CSV 须为 UTF-8 编码 (CSV must be UTF-8)", field="file"
        ) from None
    finally:
        # Leave the caller's file open; it may already be closed if we are garbage-collected.
        with contextlib.suppress(ValueError):
            text.detach()


def _rows_xlsx(handle: IO[bytes]) -> Iterator[tuple[Any, ...]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(handle, read_only=True, data_only=True)
    except Exception as exc:  # a corrupt or non-XLSX file: openpyxl raises many kinds
        raise InvalidInput(
            "file_unreadable", f"无法读取 XLSX 文件 ({type(exc).__name__})", field="file"
        ) from None
    try:
        yield from workbook.active.iter_rows(values_only=True)
    finally:
        workbook.close()


def read_rows(handle: IO[bytes], filename: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, {column: value}) for each non-empty data row; the header is row 1."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        rows: Iterator[Any] = _rows_xlsx(handle)
    elif name.endswith(".csv"):
        rows = _rows_csv(handle)
    else:
        raise InvalidInput(
            "file_format", "仅支持 CSV 或 XLSX 文件 (CSV or XLSX only)", field="file"
        )
    header_row = next(rows, None)
    if header_row is None:
        raise InvalidInput("file_empty", "文件为空 (the file is empty)", field="file")
    header = [str(h or "").strip().lower() for h in header_row]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InvalidInput(
            "columns_missing",
            f"缺少必需的列: {', '.join(missing)} (missing required columns)",
            field="file",
            missing=missing,
        )
    wanted = [(i, h) for i, h in enumerate(header) if h in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    for number, values in enumerate(rows, start=2):
        if not values or all(v is None or str(v).strip() == "" for v in values):
            continue
        yield number, {h: (values[i] if i < len(values) else None) for i, h in wanted}


def cell_text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def cell_date(value: Any) -> dt.date | None:
    """An ISO date (2026-03-01, also 2026/03/01) or a spreadsheet date; None when empty.
    ValueError on anything else."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = cell_text(value).replace("/", "-")
    if not text:
        return None
    return dt.date.fromisoformat(text[:10])
