"""Residents through the API: create, exact lookup by ID number, scoped detail, audit, bad input."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone
from stdnum.cn import ric

from healthnet.models import AuditEvent, Encounter, Resident, ResidentPopulationTag, UserRole
from healthnet.national_id import decrypt_national_id
from healthnet.populations import resident_key_populations
from tests.conftest import api_client_for
from tests.factories import InstitutionFactory, ResidentFactory, UserFactory, national_id_for

pytestmark = pytest.mark.django_db

GOOD_ID = national_id_for(7, birth_date=dt.date(1980, 5, 17), sex="male")
# A correct check digit over an impossible birth date (month 13).
MONTH_13_ID = "15030019801317001" + ric.calc_check_digit("15030019801317001" + "0")


def create_payload(**overrides):
    return {"national_id": GOOD_ID, "name": "张伟", "district": "haibowan", **overrides}


def test_create_stores_the_id_encrypted_and_answers_it_masked(clerk_api, institution):
    response = clerk_api.post("/api/v1/residents", create_payload())

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["national_id_masked"] == GOOD_ID[:4] + "*" * 10 + GOOD_ID[-4:]
    assert GOOD_ID not in response.content.decode()
    assert body["birth_date"] == "1980-05-17"
    assert body["sex"] == "male"
    assert body["registered_by"] == institution.code
    assert "key_populations" not in body  # the desk reads the identity view
    # ... and does not write health tags either (tests/healthnet/test_register.py)
    assert not ResidentPopulationTag.objects.exists()
    resident = Resident.objects.get(public_id=body["id"])
    assert GOOD_ID not in resident.national_id_encrypted
    assert decrypt_national_id(resident.national_id_encrypted) == GOOD_ID
    assert AuditEvent.objects.filter(
        action="create", object_type="resident", object_id=body["id"], actor__username="clerk"
    ).exists()


def test_age_groups_are_derived_not_stored(clerk_api):
    elderly = national_id_for(3, birth_date=dt.date(1940, 1, 2), sex="female")
    response = clerk_api.post("/api/v1/residents", create_payload(national_id=elderly))

    assert response.status_code == 201
    assert resident_key_populations(Resident.objects.get(), on=timezone.localdate()) == [
        "elderly_65"
    ]
    assert ResidentPopulationTag.objects.count() == 0


def checksum_broken(number: str) -> str:
    last = "0" if number[-1] != "0" else "1"
    return number[:-1] + last


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (create_payload(national_id=checksum_broken(GOOD_ID)), 422, "national_id_checksum"),
        (create_payload(national_id=MONTH_13_ID), 422, "national_id_component"),
        # not the shape of an ID number: refused by the schema the OpenAPI document shows
        (create_payload(national_id="1503021980"), 422, "validation_error"),
        (create_payload(national_id="0"), 422, "validation_error"),
        (create_payload(birth_date="1981-05-17"), 422, "birth_date_mismatch"),
        (create_payload(sex="female"), 422, "sex_mismatch"),
        (create_payload(district="atlantis"), 422, "district_unknown"),  # not a loaded district
        (create_payload(populations=["elderly_65"]), 422, "population_derived"),
        (create_payload(populations=["vampire"]), 422, "population_unknown"),
        ({"name": "张伟", "district": "haibowan"}, 422, "validation_error"),
        (create_payload(name="   "), 422, "name_invalid"),
    ],
)
def test_bad_input_is_refused_with_a_code_and_writes_nothing(clerk_api, payload, status, code):
    response = clerk_api.post("/api/v1/residents", payload)

    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert body["message"]
    assert isinstance(body["details"], dict)
    assert Resident.objects.count() == 0
    assert not AuditEvent.objects.filter(object_type="resident").exists()


def test_a_wrong_birth_date_inside_the_id_names_the_field(clerk_api):
    response = clerk_api.post("/api/v1/residents", create_payload(national_id=MONTH_13_ID))

    assert response.status_code == 422
    assert response.json()["details"]["field"] == "national_id"


def test_malformed_json_is_a_400_with_a_code(clerk_api):
    response = clerk_api.post("/api/v1/residents", raw='{"national_id": "1503')

    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
    assert Resident.objects.count() == 0


def test_duplicate_id_is_a_409_naming_the_existing_resident(clerk_api):
    first = clerk_api.post("/api/v1/residents", create_payload())
    second = clerk_api.post("/api/v1/residents", create_payload(name="李娜"))

    assert second.status_code == 409
    assert second.json()["code"] == "resident_exists"
    assert second.json()["details"]["resident_id"] == first.json()["id"]
    assert Resident.objects.count() == 1
    assert Resident.objects.get().name == "张伟"


def test_missing_or_bad_token_is_a_401(db):
    from tests.conftest import ApiClient

    for client in (ApiClient(), ApiClient(token="hn_not-a-real-token")):
        response = client.post("/api/v1/residents", create_payload())
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
    assert Resident.objects.count() == 0


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (UserRole.CLERK, True),
        (UserRole.DOCTOR, True),
        (UserRole.INSTITUTION_ADMIN, True),
        (UserRole.PHARMACIST, False),
        (UserRole.BUREAU, False),
        (UserRole.SYSTEM_ADMIN, False),
    ],
)
def test_who_may_register_residents(role, allowed):
    institution = None if role in (UserRole.BUREAU, UserRole.SYSTEM_ADMIN) else InstitutionFactory()
    user = UserFactory(role=role, institution=institution)

    response = api_client_for(user).post("/api/v1/residents", create_payload())

    assert response.status_code == (201 if allowed else 403)
    assert Resident.objects.count() == (1 if allowed else 0)


def test_lookup_by_national_id_finds_exactly_and_is_audited(clerk_api):
    created = clerk_api.post("/api/v1/residents", create_payload()).json()
    ResidentFactory.create_batch(3)

    response = clerk_api.post("/api/v1/residents/lookup", {"national_id": GOOD_ID.lower()})

    assert response.status_code == 200
    assert response.json()["id"] == created["id"]
    assert AuditEvent.objects.filter(
        action="read", object_id=created["id"], details__via="national_id_lookup"
    ).exists()


def test_lookup_of_an_unknown_id_is_a_404_and_a_bad_one_a_422(clerk_api):
    unknown = clerk_api.post("/api/v1/residents/lookup", {"national_id": GOOD_ID})
    bad = clerk_api.post("/api/v1/residents/lookup", {"national_id": checksum_broken(GOOD_ID)})

    assert unknown.status_code == 404
    assert unknown.json()["code"] == "resident_not_found"
    assert bad.status_code == 422
    assert bad.json()["code"] == "national_id_checksum"


def test_detail_is_scoped_to_the_residents_institutions(clerk_api, institution):
    mine = ResidentFactory(registered_by=institution)
    visited = ResidentFactory(registered_by=InstitutionFactory())
    Encounter.objects.create(
        resident=visited,
        institution=institution,
        kind="outpatient",
        started_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
    )
    elsewhere = ResidentFactory(registered_by=InstitutionFactory())

    assert clerk_api.get(f"/api/v1/residents/{mine.public_id}").status_code == 200
    assert clerk_api.get(f"/api/v1/residents/{visited.public_id}").status_code == 200
    # Out of scope answers exactly as an id that does not exist (docs/design.md §9).
    refused = clerk_api.get(f"/api/v1/residents/{elsewhere.public_id}")
    unknown = clerk_api.get("/api/v1/residents/00000000-0000-0000-0000-000000000000")
    assert refused.status_code == 404
    assert refused.json() == unknown.json()
    assert refused.json()["code"] == "resident_not_found"
    reads = AuditEvent.objects.filter(action="read", object_type="resident")
    assert set(reads.values_list("object_id", flat=True)) == {
        str(mine.public_id),
        str(visited.public_id),
    }


def test_every_audit_row_carries_the_request_id(clerk_api, institution):
    resident = ResidentFactory(registered_by=institution)

    response = clerk_api.get(
        f"/api/v1/residents/{resident.public_id}", headers={"X-Request-ID": "req-12345678"}
    )

    assert response["X-Request-ID"] == "req-12345678"
    assert AuditEvent.objects.get(action="read").request_id == "req-12345678"


def test_a_resident_sees_only_themself_and_the_bureau_sees_nobody(db):
    me, other = ResidentFactory(), ResidentFactory()
    resident_user = UserFactory(role=UserRole.RESIDENT, institution=None, resident=me)
    bureau = UserFactory(role=UserRole.BUREAU, institution=None)

    resident_api = api_client_for(resident_user)
    assert resident_api.get(f"/api/v1/residents/{me.public_id}").status_code == 200
    assert resident_api.get(f"/api/v1/residents/{other.public_id}").status_code == 404
    # The bureau's role reads no resident: refused before any lookup, whoever the id names.
    bureau_api = api_client_for(bureau)
    assert bureau_api.get(f"/api/v1/residents/{me.public_id}").status_code == 403
    assert bureau_api.get(f"/api/v1/residents/{uuid.uuid4()}").status_code == 403


def test_unknown_resident_is_a_404(clerk_api):
    response = clerk_api.get("/api/v1/residents/00000000-0000-0000-0000-000000000000")

    assert response.status_code == 404
    assert response.json()["code"] == "resident_not_found"


def test_chinese_text_is_sent_as_utf8_not_escapes(clerk_api):
    response = clerk_api.post("/api/v1/residents", create_payload())

    assert "张伟".encode() in response.content
    assert b"\\u" not in response.content
