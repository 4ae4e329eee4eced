"""Issue 9, item 1: a contract offer is no way into a resident's record. An offer needs a tie
between the resident and the team's institution (registered, visited, referred, signed, or
identified at its desk by the ID number on their card); a pending offer never widens what a
clinic may see or print; the scope answers before any state; the answers leak nothing."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from healthnet.errors import NotFound
from healthnet.models import Encounter, ResidentPopulationTag
from healthnet.national_id import decrypt_national_id
from signing import selectors, services
from signing.models import Contract, ContractStatus, OfferBasis
from tests.conftest import api_client_for
from tests.factories import InstitutionFactory, ResidentFactory, national_id_for
from tests.signing.helpers import make_team, signed_contract, years_ago

UNKNOWN_RESIDENT = {
    "code": "resident_not_found",
    "message": "居民不存在 (no such resident)",
    "details": {},
}


@pytest.fixture
def elsewhere(db):
    return InstitutionFactory(code="wh-p-50", name="千里山社区卫生服务中心")


@pytest.fixture
def stranger(elsewhere):
    """Registered at another institution, never seen at the team's, a hypertension patient."""
    resident = ResidentFactory(
        birth_date=years_ago(60), registered_by=elsewhere, phone="13912345678"
    )
    ResidentPopulationTag.objects.create(resident=resident, population="hypertension")
    return resident


def _offer(gp, resident, **extra):
    return api_client_for(gp).post(
        "/api/v1/contracts", {"resident_id": str(resident.public_id), "team": "t-01", **extra}
    )


def test_an_offer_to_a_resident_without_a_tie_answers_as_for_an_unknown_one(gp, team, stranger):
    missing = api_client_for(gp).post(
        "/api/v1/contracts", {"resident_id": str(uuid.uuid4()), "team": "t-01"}
    )
    refused = _offer(gp, stranger, packages=["hypertension"])

    assert refused.status_code == missing.status_code == 404
    assert refused.json() == missing.json() == UNKNOWN_RESIDENT
    assert not Contract.objects.exists()


def test_the_scope_answers_before_the_state(gp, team, stranger, elsewhere, catalogue):
    """An active contract elsewhere is state: a clinic without a tie learns nothing of it."""
    other_team, _ = make_team(elsewhere, code="t-50", member_user=False)
    signed_contract(stranger, other_team)

    refused = _offer(gp, stranger)

    assert refused.status_code == 404
    assert refused.json() == UNKNOWN_RESIDENT


@pytest.mark.parametrize("tie", ["registered", "visited"])
def test_an_existing_tie_allows_the_offer(gp, team, stranger, primary, tie):
    if tie == "registered":
        stranger.registered_by = primary
        stranger.save()
    else:
        Encounter.objects.create(
            resident=stranger, institution=primary, kind="outpatient", started_at=timezone.now()
        )

    created = _offer(gp, stranger)

    assert created.status_code == 201, created.content
    assert created.json()["offer_basis"] == OfferBasis.RELATED
    assert Contract.objects.get().offer_basis == OfferBasis.RELATED


def test_the_id_number_read_at_the_desk_identifies_the_resident(gp, team, stranger):
    number = decrypt_national_id(stranger.national_id_encrypted)
    api = api_client_for(gp)

    by_number = api.post("/api/v1/contracts", {"national_id": number, "team": "t-01"})

    assert by_number.status_code == 201, by_number.content
    assert by_number.json()["resident"]["id"] == str(stranger.public_id)
    contract = Contract.objects.get()
    assert (contract.offer_basis, contract.created_by) == (OfferBasis.DESK_IDENTIFICATION, gp)


def test_a_number_that_is_not_the_residents_is_no_identification(gp, team, stranger):
    other = ResidentFactory(birth_date=years_ago(45))
    api = api_client_for(gp)

    wrong = _offer(gp, stranger, national_id=decrypt_national_id(other.national_id_encrypted))
    malformed = _offer(gp, stranger, national_id="150302198001010000")
    unregistered = api.post(
        "/api/v1/contracts",
        {"national_id": national_id_for(9, birth_date=dt.date(1961, 1, 1)), "team": "t-01"},
    )

    assert (wrong.status_code, wrong.json()) == (404, UNKNOWN_RESIDENT)
    assert (malformed.status_code, malformed.json()["code"]) == (422, "national_id_checksum")
    assert unregistered.status_code == 404
    assert not Contract.objects.exists()


def test_an_offer_names_neither_the_residents_health_nor_a_contract_elsewhere(
    gp, team, stranger, primary, elsewhere, catalogue
):
    stranger.registered_by = primary
    stranger.save()

    offered = _offer(gp, stranger, packages=["hypertension"])

    assert offered.status_code == 201, offered.content
    body = offered.json()
    assert set(body["resident"]) == {"id", "name", "national_id_masked"}
    assert "hypertension" not in str(body["resident"])
    assert stranger.phone not in offered.content.decode()

    # a 409 for a contract at another institution names neither it nor its team
    Contract.objects.all().delete()
    other_team, _ = make_team(elsewhere, code="t-50", member_user=False)
    theirs = signed_contract(stranger, other_team)
    conflict = _offer(gp, stranger)
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "active_contract_exists"
    text = conflict.content.decode()
    for leak in (str(theirs.public_id), "t-50", elsewhere.code, elsewhere.name):
        assert leak not in text


def test_a_pending_offer_is_no_tie(gp, team, stranger, primary):
    """An offer made without a user (the system) must not open the record to the clinic."""
    services.contract_create(actor=None, resident=stranger, team=team, package_codes=[])
    api = api_client_for(gp)  # a doctor may register residents and print their cards

    assert not selectors.resident_concerns_institution(stranger, primary.pk)
    assert api.get(f"/api/v1/residents/{stranger.public_id}").status_code == 404
    printed = api.post(f"/api/v1/healthcodes/cards/{stranger.public_id}/static")
    assert printed.status_code == 404
    assert stranger.phone not in printed.content.decode()

    contract = Contract.objects.get()
    services.contract_sign(actor=None, contract=contract, signed_by="resident", method="in_person")
    assert selectors.resident_concerns_institution(stranger, primary.pk)
    assert api.get(f"/api/v1/residents/{stranger.public_id}").status_code == 200


def test_a_switch_to_a_team_without_a_tie_answers_as_for_a_missing_contract(
    gp, team, stranger, elsewhere, catalogue
):
    """A renewal_due contract elsewhere cannot be switched into a team whose institution has
    no tie to the resident; the answer is the one for a contract that does not exist."""
    other_team, _ = make_team(elsewhere, code="t-50", member_user=False)
    theirs = signed_contract(stranger, other_team)
    services.contracts_mark_renewal_due(today=theirs.end_date)
    api = api_client_for(gp)
    payload = {"team": "t-01", "signed_by": "resident", "method": "in_person"}

    missing = api.post(f"/api/v1/contracts/{uuid.uuid4()}/switch", payload)
    refused = api.post(f"/api/v1/contracts/{theirs.public_id}/switch", payload)

    assert refused.status_code == missing.status_code == 404
    assert refused.json() == missing.json()
    assert Contract.objects.get(pk=theirs.pk).status == ContractStatus.RENEWAL_DUE
    with pytest.raises(NotFound):
        services.contract_switch(
            actor=gp,
            contract=theirs,
            team=team,
            signed_by="resident",
            method="in_person",
        )

    # identified at the new team's desk, the resident may switch
    number = decrypt_national_id(stranger.national_id_encrypted)
    switched = api.post(
        f"/api/v1/contracts/{theirs.public_id}/switch", {**payload, "national_id": number}
    )
    assert switched.status_code == 201, switched.content
    assert switched.json()["contract"]["team"] == "t-01"
