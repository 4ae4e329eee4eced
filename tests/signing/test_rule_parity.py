"""The API and the bulk import apply the same rules (signing.rules, the one national-ID parser):
the same bad case gets the same reason code on both paths, and a rule changed in signing.rules
changes both."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from healthnet.models import ResidentPopulationTag
from healthnet.national_id import decrypt_national_id
from signing import rules
from signing.importer import contracts_import
from signing.models import Contract, FamilyDoctorTeam
from tests.conftest import api_client_for
from tests.factories import InstitutionFactory, ResidentFactory
from tests.signing.helpers import make_team, signed_contract, years_ago


@dataclass
class World:
    gp: object  # a GP of team t-01 (capacity 2,500) at `primary`
    admin: object  # the admin of `primary`: imports
    primary: object
    monkeypatch: pytest.MonkeyPatch

    def resident(self, age: int, *populations: str):
        resident = ResidentFactory(birth_date=years_ago(age), registered_by=self.primary)
        for population in populations:
            ResidentPopulationTag.objects.create(resident=resident, population=population)
        return resident


def number_of(resident) -> str:
    return decrypt_national_id(resident.national_id_encrypted)


def api_code(response) -> str:
    assert response.status_code in (403, 404, 409, 422), response.content
    return response.json()["code"]


def import_report(world: World, row: dict[str, str]):
    """Import one row as the institution's admin."""
    text = io.StringIO()
    columns = ["national_id", "team_code", "start_date", "packages", "signed_method"]
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    writer.writerow({"start_date": dt.date.today().isoformat(), **row})
    return contracts_import(
        actor=world.admin, file=io.BytesIO(text.getvalue().encode()), filename="rows.csv"
    )


def import_code(world: World, row: dict[str, str]) -> str:
    """The code of the one error importing the row."""
    report = import_report(world, row)
    assert report.created == 0, "the import landed a row the API refused"
    [error] = report.errors
    return error.code


def offer(world: World, *, by=None, **payload):
    """Offer a contract through the API, by the team's GP unless said otherwise."""
    return api_client_for(by or world.gp).post("/api/v1/contracts", {"team": "t-01", **payload})


def _bad_checksum(world):
    number = "150302198001010000"
    return offer(world, national_id=number), {"national_id": number, "team_code": "t-01"}


def _unknown_region(world):
    number = "999999194003150124"  # check digit right (see tests/healthnet/test_national_id.py)
    return offer(world, national_id=number), {"national_id": number, "team_code": "t-01"}


def _unknown_package(world):
    adult = world.resident(40)
    return (
        offer(world, resident_id=str(adult.public_id), packages=["no-such"]),
        {"national_id": number_of(adult), "team_code": "t-01", "packages": "no-such"},
    )


def _not_eligible(world):
    adult = world.resident(40)
    return (
        offer(world, resident_id=str(adult.public_id), packages=["hypertension"]),
        {"national_id": number_of(adult), "team_code": "t-01", "packages": "hypertension"},
    )


def _minor_without_guardian(world):
    minor = world.resident(5)
    created = offer(world, resident_id=str(minor.public_id))
    assert created.status_code == 201, created.content
    signed = api_client_for(world.gp).post(
        f"/api/v1/contracts/{created.json()['id']}/sign",
        {"signed_by": "resident", "method": "in_person"},
    )
    return signed, {"national_id": number_of(minor), "team_code": "t-01", "signed_method": ""}


def _team_full(world):
    full = FamilyDoctorTeam.objects.get(code="t-01")
    full.capacity = 1
    full.save()
    signed_contract(world.resident(50), full)
    adult = world.resident(40)
    return (
        offer(world, resident_id=str(adult.public_id)),
        {"national_id": number_of(adult), "team_code": "t-01"},
    )


def _active_contract_elsewhere(world):
    other, _ = make_team(world.primary, code="t-02", member_user=False)
    adult = world.resident(40)
    signed_contract(adult, other)
    return (
        offer(world, resident_id=str(adult.public_id)),
        {"national_id": number_of(adult), "team_code": "t-01"},
    )


def _team_inactive(world):
    FamilyDoctorTeam.objects.filter(code="t-01").update(active=False)
    adult = world.resident(40)
    return (
        # the institution's admin: an inactive team has no active members any more
        offer(world, by=world.admin, resident_id=str(adult.public_id)),
        {"national_id": number_of(adult), "team_code": "t-01"},
    )


def _team_of_another_institution(world):
    make_team(InstitutionFactory(code="wh-p-77"), code="t-77", member_user=False)
    adult = world.resident(40)
    return (
        offer(world, resident_id=str(adult.public_id), team="t-77"),
        {"national_id": number_of(adult), "team_code": "t-77"},
    )


def _term_too_long(world):
    """No input of either path is too long today: a year is the rule's limit. Shorten the
    limit in signing.rules and both paths refuse a one-year term the same way."""
    world.monkeypatch.setattr(rules, "MAX_TERM_DAYS", 300)
    adult = world.resident(40)
    return (
        offer(world, resident_id=str(adult.public_id)),
        {"national_id": number_of(adult), "team_code": "t-01"},
    )


CASES: dict[str, tuple[Callable, str]] = {
    "bad ID checksum": (_bad_checksum, "national_id_checksum"),
    "unknown region": (_unknown_region, "national_id_component"),
    "unknown package": (_unknown_package, "package_unknown"),
    "ineligible package": (_not_eligible, "package_not_eligible"),
    "minor without guardian": (_minor_without_guardian, "guardian_required"),
    "team full": (_team_full, "team_full"),
    "active contract elsewhere": (_active_contract_elsewhere, "active_contract_exists"),
    "team inactive": (_team_inactive, "team_inactive"),
    "team of another institution": (_team_of_another_institution, "team_out_of_scope"),
    "term too long": (_term_too_long, "date_invalid"),
}


@pytest.fixture
def world(gp, admin, primary, team, monkeypatch):
    return World(gp=gp, admin=admin, primary=primary, monkeypatch=monkeypatch)


@pytest.mark.parametrize("case", list(CASES))
def test_the_same_bad_case_gets_the_same_code_through_the_api_and_the_import(world, case):
    build, expected = CASES[case]
    response, row = build(world)
    contracts_before = Contract.objects.count()

    assert (api_code(response), import_code(world, row)) == (expected, expected)
    assert Contract.objects.count() == contracts_before


def test_changing_the_adult_age_in_the_rules_changes_both_paths(world, monkeypatch):
    forty, also_forty = world.resident(40), world.resident(40)
    created = offer(world, resident_id=str(forty.public_id))
    assert created.status_code == 201, created.content
    sign_url = f"/api/v1/contracts/{created.json()['id']}/sign"
    as_resident = {"signed_by": "resident", "method": "in_person"}
    row = {"national_id": number_of(also_forty), "team_code": "t-01"}

    monkeypatch.setattr(rules, "ADULT_AGE", 50)
    assert api_code(api_client_for(world.gp).post(sign_url, as_resident)) == "guardian_required"
    assert import_code(world, row) == "guardian_required"

    monkeypatch.undo()
    assert api_client_for(world.gp).post(sign_url, as_resident).status_code == 200
    assert import_report(world, row).created == 1


def test_changing_the_eligibility_table_in_the_rules_changes_both_paths(world, monkeypatch):
    adult, other_adult = world.resident(40), world.resident(42)
    row = {"national_id": number_of(other_adult), "team_code": "t-01", "packages": "hypertension"}
    refused = offer(world, resident_id=str(adult.public_id), packages=["hypertension"])
    assert api_code(refused) == import_code(world, row) == "package_not_eligible"

    # every package offered to everyone: the rule's table, changed in one place
    monkeypatch.setattr(rules, "OFFERED_TO_EVERYONE", frozenset({"basic", "personalised"}))
    offered = offer(world, resident_id=str(adult.public_id), packages=["hypertension"])
    imported = import_report(world, row)

    assert offered.status_code == 201, offered.content
    assert offered.json()["packages"] == ["basic", "hypertension"]
    assert (imported.created, imported.errors) == (1, [])
    landed = Contract.objects.get(resident=other_adult)
    assert sorted(landed.packages.values_list("code", flat=True)) == ["basic", "hypertension"]
