"""Bulk import: a file mixing good and bad rows lands the good ones, reports each bad row with
its row number, field and reason, and a second run of the same file changes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.test import Client
from openpyxl import Workbook

from healthnet.errors import InvalidInput
from healthnet.models import AuditEvent
from signing.importer import contracts_import
from signing.models import Contract, ContractSource, ContractStatus, FollowUp
from tests.conftest import api_client_for
from tests.factories import ResidentFactory, national_id_for
from tests.signing.helpers import make_team, signed_contract, years_ago

HEADER = ["national_id", "team_code", "start_date", "end_date", "packages", "signed_method"]


def _id_of(resident) -> str:
    from healthnet.national_id import decrypt_national_id

    return decrypt_national_id(resident.national_id_encrypted)


@pytest.fixture
def mixed_rows(team, primary):
    """(rows, expected errors by row number). Row 1 is the header."""
    make_team(primary, code="t-one", capacity=1, member_user=False)
    today = dt.date.today()
    start = (today - dt.timedelta(days=100)).isoformat()
    old_start = (today - dt.timedelta(days=500)).isoformat()
    overlapping_old_start = (today - dt.timedelta(days=450)).isoformat()
    adults = [ResidentFactory(birth_date=years_ago(30 + i)) for i in range(4)]
    hypertensive = ResidentFactory(birth_date=years_ago(60))
    hypertensive.population_tags.create(population="hypertension")
    minor = ResidentFactory(birth_date=years_ago(5))
    already = ResidentFactory(birth_date=years_ago(45))
    signed_contract(already, team)
    unregistered = national_id_for(3, birth_date=dt.date(1971, 1, 1))
    rows = [
        [_id_of(adults[0]), "t-01", start, "", "", "in_person"],  # 2 good
        [_id_of(hypertensive), "t-01", start, "", "hypertension", "e_signature"],  # 3 good
        ["150302198001010000", "t-01", start, "", "", ""],  # 4 bad ID checksum
        [_id_of(adults[1]), "t-nope", start, "", "", ""],  # 5 unknown team
        [_id_of(adults[2]), "t-01", "2026-13-01", "", "", ""],  # 6 bad date
        [
            _id_of(already),
            "t-01",
            (today - dt.timedelta(days=5)).isoformat(),
            "",
            "",
            "",
        ],  # 7 overlap
        [_id_of(adults[3]), "t-one", start, "", "", ""],  # 8 good, fills t-one
        [_id_of(adults[2]), "t-one", start, "", "", ""],  # 9 team full
        [unregistered, "t-01", start, "", "", ""],  # 10 no such resident
        [_id_of(minor), "t-01", start, "", "", "in_person"],  # 11 minor without guardian
        [_id_of(adults[1]), "t-01", start, "", "diabetes", ""],  # 12 package not eligible
        [_id_of(adults[1]), "t-01", old_start, "", "", ""],  # 13 good (expired, historical)
        [_id_of(minor), "t-01", start, "", "child-0-6", "guardian"],  # 14 guardian: good
        [_id_of(adults[1]), "t-01", overlapping_old_start, "", "", ""],  # 15 overlaps row 13
    ]
    expected = {
        4: ("national_id", "national_id_checksum"),
        5: ("team_code", "team_unknown"),
        6: ("start_date", "date_invalid"),
        # One contract holding a place per resident: the code the API answers (it was
        # contract_overlap before the import called signing.rules).
        7: ("national_id", "active_contract_exists"),
        9: ("team_code", "team_full"),
        10: ("national_id", "resident_unknown"),
        11: ("signed_method", "guardian_required"),
        12: ("packages", "package_not_eligible"),
        15: ("start_date", "contract_overlap"),
    }
    return rows, expected


def _csv_bytes(rows) -> io.BytesIO:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return io.BytesIO(text.getvalue().encode("utf-8-sig"))


def _xlsx_bytes(rows) -> io.BytesIO:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    out.seek(0)
    return out


def _check_first_run(report, expected):
    assert report.rows == 14
    assert report.created == 5
    assert report.unchanged == 0
    assert {e.row: (e.field, e.code) for e in report.errors} == expected
    assert all(e.message for e in report.errors)


@pytest.mark.parametrize(("make_file", "name"), [(_csv_bytes, "c.csv"), (_xlsx_bytes, "c.xlsx")])
def test_mixed_file_lands_good_rows_reports_bad_and_reimport_is_noop(mixed_rows, make_file, name):
    rows, expected = mixed_rows
    before = Contract.objects.count()

    first = contracts_import(actor=None, file=make_file(rows), filename=name, chunk_size=4)

    _check_first_run(first, expected)
    imported = Contract.objects.filter(source=ContractSource.IMPORT)
    assert imported.count() == 5
    assert Contract.objects.count() == before + 5
    assert imported.filter(status=ContractStatus.EXPIRED).count() == 1
    assert all(len(c.terms_hash) == 64 for c in imported)
    hypertension = imported.get(packages__code="hypertension")
    assert sorted(hypertension.packages.values_list("code", flat=True)) == ["basic", "hypertension"]
    assert FollowUp.objects.filter(contract=hypertension).count() == 6
    assert imported.get(signed_by="guardian").signature_method == "guardian"
    counts = (Contract.objects.count(), FollowUp.objects.count())

    second = contracts_import(actor=None, file=make_file(rows), filename=name, chunk_size=4)

    assert (second.created, second.unchanged) == (0, 5)
    assert {e.row: (e.field, e.code) for e in second.errors} == expected
    assert (Contract.objects.count(), FollowUp.objects.count()) == counts
    assert AuditEvent.objects.filter(action="contract_import").count() == 2


def test_missing_columns_and_bad_format_refuse_the_file(team):
    with pytest.raises(InvalidInput) as missing:
        contracts_import(actor=None, file=io.BytesIO(b"national_id,team\n1,2\n"), filename="x.csv")
    with pytest.raises(InvalidInput) as bad_format:
        contracts_import(actor=None, file=io.BytesIO(b"x"), filename="x.pdf")
    with pytest.raises(InvalidInput) as corrupt:
        contracts_import(actor=None, file=io.BytesIO(b"not a zip"), filename="x.xlsx")

    assert missing.value.code == "columns_missing"
    assert missing.value.details["missing"] == ["team_code", "start_date"]
    assert bad_format.value.code == "file_format"
    assert corrupt.value.code == "file_unreadable"
    assert Contract.objects.count() == 0


def test_import_api_for_admin_only(mixed_rows, admin, gp):
    rows, expected = mixed_rows

    def upload(user, content, name="c.csv"):
        client = Client()
        token = api_client_for(user).token
        content.name = name
        return client.post(
            "/api/v1/contracts/import",
            {"file": content},
            headers={"Authorization": f"Bearer {token}"},
        )

    assert upload(gp, _csv_bytes(rows)).status_code == 403
    response = upload(admin, _csv_bytes(rows))
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["error_count"]) == (5, len(expected))
    assert body["errors"][0] == {
        "row": 4,
        "field": "national_id",
        "code": "national_id_checksum",
        "message": body["errors"][0]["message"],
    }
    bad = upload(admin, io.BytesIO(b"a,b\n"), name="c.csv")
    assert bad.status_code == 422
    assert bad.json()["code"] == "columns_missing"


def test_admin_cannot_import_into_another_institutions_team(admin, catalogue):
    from tests.factories import InstitutionFactory

    elsewhere = InstitutionFactory(code="wh-p-77")
    make_team(elsewhere, code="t-77", member_user=False)
    resident = ResidentFactory(birth_date=years_ago(40))
    file = _csv_bytes([[_id_of(resident), "t-77", dt.date.today().isoformat(), "", "", ""]])

    report = contracts_import(actor=admin, file=file, filename="x.csv")

    assert [(e.field, e.code) for e in report.errors] == [("team_code", "team_out_of_scope")]
    assert Contract.objects.count() == 0


def test_import_command_with_progress_and_errors_csv(mixed_rows, tmp_path):
    rows, expected = mixed_rows
    path = tmp_path / "contracts.csv"
    path.write_bytes(_csv_bytes(rows).getvalue())
    errors_path = tmp_path / "errors.csv"
    out = io.StringIO()

    call_command("import_contracts", str(path), "--errors-csv", str(errors_path), stdout=out)

    assert "created 5" in out.getvalue()
    with errors_path.open(encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == len(expected)


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("150302198001010000", "national_id_checksum"),
        ("150302199002301234", "national_id_checksum"),
        ("150302199002300019", "national_id_component"),  # 30 February, right check digit
        ("15030219900203123", "national_id_length"),
        ("15030219900203A234", "national_id_format"),
        ("999999194003150124", "national_id_component"),  # no such region, right check digit
    ],
)
def test_the_import_refuses_a_bad_id_with_the_parsers_code(team, number, code):
    """One ID parser (healthnet.national_id) for the API and the import: the same codes."""
    from healthnet.errors import DomainError
    from healthnet.national_id import parse_national_id

    with pytest.raises(DomainError) as parsed:
        parse_national_id(number)
    file = _csv_bytes([[number, "t-01", dt.date.today().isoformat(), "", "", ""]])

    report = contracts_import(actor=None, file=file, filename="x.csv")

    assert parsed.value.code == code
    assert [(e.row, e.field, e.code) for e in report.errors] == [(2, "national_id", code)]


def test_an_expired_row_is_checked_for_eligibility_but_takes_no_place(team, primary):
    """A historical row holds no place in its team (a full team takes it), but its packages must
    still be ones the resident is eligible for."""
    full, _ = make_team(primary, code="t-full", capacity=1, member_user=False)
    signed_contract(ResidentFactory(birth_date=years_ago(33)), full)
    plain = ResidentFactory(birth_date=years_ago(50))
    diabetic = ResidentFactory(birth_date=years_ago(52))
    diabetic.population_tags.create(population="diabetes")
    old_start = (dt.date.today() - dt.timedelta(days=500)).isoformat()
    rows = [
        [_id_of(plain), "t-01", old_start, "", "diabetes", ""],
        [_id_of(diabetic), "t-full", old_start, "", "diabetes", ""],
    ]

    report = contracts_import(actor=None, file=_csv_bytes(rows), filename="c.csv")

    assert [(e.row, e.field, e.code) for e in report.errors] == [
        (2, "packages", "package_not_eligible")
    ]
    landed = Contract.objects.get(resident=diabetic)
    assert (landed.status, landed.team.code) == (ContractStatus.EXPIRED, "t-full")
    assert sorted(landed.packages.values_list("code", flat=True)) == ["basic", "diabetes"]
    assert not FollowUp.objects.filter(contract=landed).exists()


def test_an_elder_born_before_the_district_existed_registers_and_imports(gp, team, catalogue):
    """Issue 9 item 3, on both paths: the region code is where the number was issued.
    150302 (海勃湾区) dates from 1983; this elder was born on 1940-03-15. The numbers are written
    out by hand with their GB 11643 check digits (tests/healthnet/test_national_id.py)."""
    elder, unknown_region = "150302194003150128", "999999194003150124"
    api = api_client_for(gp)

    registered = api.post(
        "/api/v1/residents", {"national_id": elder, "name": "王奶奶", "district": "haibowan"}
    )
    refused = api.post(
        "/api/v1/residents",
        {"national_id": unknown_region, "name": "无名", "district": "haibowan"},
    )
    start = dt.date.today().isoformat()
    report = contracts_import(
        actor=None,
        file=_csv_bytes(
            [
                [elder, "t-01", start, "", "elderly-65", ""],
                [unknown_region, "t-01", start, "", "", ""],
            ]
        ),
        filename="elders.csv",
    )

    assert registered.status_code == 201, registered.content
    assert registered.json()["birth_date"] == "1940-03-15"
    assert (refused.status_code, refused.json()["code"]) == (422, "national_id_component")
    assert report.created == 1
    assert [(e.row, e.code) for e in report.errors] == [(3, "national_id_component")]
    contract = Contract.objects.get(source=ContractSource.IMPORT)
    assert str(contract.resident.public_id) == registered.json()["id"]
