"""Reading an import file: CSV (UTF-8) or XLSX, a header row, then one contract per row.

A file is hostile until read (issue 9 items 5 and 6):
- an XLSX is checked as an archive before it is parsed (signing.importer.archive: a zip bomb
  is refused unread), its declared dimension is ignored (a sheet claiming A1:XFD1048576 would
  be padded out to that size) and only the columns up to the last wanted one are read;
- a CSV record the csv module refuses — a field over its limit (csv.field_size_limit(),
  131,072 characters), a NUL byte — is that row's error (`field_too_long`, `row_unreadable`);
  the rows after it are read on.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator
from typing import IO, Any

from healthnet.errors import InvalidInput
from signing.importer.archive import xlsx_archive_check

REQUIRED_COLUMNS = ("national_id", "team_code", "start_date")
OPTIONAL_COLUMNS = (
    "end_date",
    "packages",
    "signed_method",
    "signed_at",
    "guardian_name",
    "guardian_relationship",
)
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
XLSX_MAX_ROWS = 1_048_576  # a worksheet's own limit: an estimate above it is a lie

# A row of the file: its values by column, or why it could not be read at all.
RowValues = dict[str, Any] | InvalidInput


def _csv_refusal(error: csv.Error) -> InvalidInput:
    if "field larger than field limit" in str(error):
        limit = csv.field_size_limit()
        return InvalidInput(
            "field_too_long",
            f"该行有字段超过 {limit} 个字符，无法读取 (a field is longer than {limit} characters)",
            field="",
        )
    return InvalidInput(
        "row_unreadable", f"该行无法按 CSV 读取 (unreadable CSV row: {error})", field=""
    )


def _encoding_refusal() -> InvalidInput:
    return InvalidInput("file_encoding", "CSV 须为 UTF-8 编码 (CSV must be UTF-8)", field="file")


class _CsvSource:
    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.text: io.TextIOWrapper | None = None

    def _reader(self) -> Any:
        if self.text is None:
            self.handle.seek(0)
            self.text = io.TextIOWrapper(self.handle, encoding="utf-8-sig", newline="")
            self.csv_reader = csv.reader(self.text)
        return self.csv_reader

    def estimate(self) -> int:
        """Data rows, counted as line ends (a quoted field across lines counts more). Called
        before the text is read."""
        lines, last = 0, b""
        self.handle.seek(0)
        while block := self.handle.read(1024 * 1024):
            lines += block.count(b"\n")
            last = block[-1:]
        if last and last != b"\n":
            lines += 1
        self.handle.seek(0)
        return max(lines - 1, 0)

    def header(self) -> list[Any] | None:
        try:
            return next(self._reader(), None)
        except UnicodeDecodeError:
            raise _encoding_refusal() from None
        except csv.Error as error:
            refusal = _csv_refusal(error)
            raise InvalidInput(refusal.code, f"表头行: {refusal.message}", field="file") from None

    def rows(self, width: int) -> Iterator[list[Any] | InvalidInput]:
        reader = self._reader()
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise _encoding_refusal() from None
            except csv.Error as error:
                # The reader starts afresh at the next line: the rows after it are read on.
                yield _csv_refusal(error)
                continue
            yield row[:width]

    def close(self) -> None:
        # Leave the caller's file open; it may already be closed if we are garbage-collected.
        if self.text is not None:
            with contextlib.suppress(ValueError):
                self.text.detach()


class _XlsxSource:
    def __init__(self, handle: IO[bytes]) -> None:
        from openpyxl import load_workbook

        xlsx_archive_check(handle)
        try:
            self.workbook = load_workbook(handle, read_only=True, data_only=True)
            self.sheet = self.workbook.active
            self.declared_rows = self.sheet.max_row
            # Read the cells that are there, not the dimension the file claims.
            self.sheet.reset_dimensions()
        except Exception as exc:  # a corrupt or non-XLSX file: openpyxl raises many kinds
            raise InvalidInput(
                "file_unreadable", f"无法读取 XLSX 文件 ({type(exc).__name__})", field="file"
            ) from None

    def estimate(self) -> int | None:
        rows = self.declared_rows
        if rows is None or not 1 <= rows <= XLSX_MAX_ROWS:
            return None
        return rows - 1

    def header(self) -> list[Any] | None:
        first = next(self.sheet.iter_rows(max_row=1, values_only=True), None)
        return None if first is None else list(first)

    def rows(self, width: int) -> Iterator[list[Any] | InvalidInput]:
        rows = self.sheet.iter_rows(min_row=2, max_col=max(width, 1), values_only=True)
        read = 1
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except Exception as exc:  # malformed XML further down the sheet
                raise InvalidInput(
                    "file_unreadable",
                    f"XLSX 文件第 {read} 行之后无法读取 ({type(exc).__name__}) "
                    f"(unreadable after row {read})",
                    field="file",
                ) from None
            read += 1
            yield list(row)

    def close(self) -> None:
        self.workbook.close()


def read_rows(
    handle: IO[bytes], filename: str, *, on_total: Callable[[int | None], None] | None = None
) -> Iterator[tuple[int, RowValues]]:
    """(row number, {column: value} or the row's refusal) for each non-empty data row; the header
    is row 1. `on_total` first hears the estimated number of data rows (None: unknown)."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        source: _CsvSource | _XlsxSource = _XlsxSource(handle)
    elif name.endswith(".csv"):
        source = _CsvSource(handle)
    else:
        raise InvalidInput(
            "file_format", "仅支持 CSV 或 XLSX 文件 (CSV or XLSX only)", field="file"
        )
    try:
        if on_total is not None:
            on_total(source.estimate())
        header_row = source.header()
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
        wanted = [(i, h) for i, h in enumerate(header) if h in COLUMNS]
        width = max(i for i, _ in wanted) + 1
        for number, values in enumerate(source.rows(width), start=2):
            if isinstance(values, InvalidInput):
                yield number, values
                continue
            if not values or all(v is None or str(v).strip() == "" for v in values):
                continue
            yield number, {h: (values[i] if i < len(values) else None) for i, h in wanted}
    finally:
        source.close()


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
