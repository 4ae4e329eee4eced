"""Least privilege (issue 9 item 8): the desk, the pharmacy and the institution's admin read the
identity view of residents and referrals; clinicians and the referral office the clinical view;
a resident their own in full. The API and the portal ask the same predicates
(healthnet.permissions.can_read_resident_clinical, referrals.permissions.
can_read_referral_clinical), which read the catalogue (resident.read_clinical,
referral.read_clinical)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from healthnet.populations import resident_key_populations
from tests.conftest import api_client_for
from tests.portal.scenario import build_clinic

pytestmark = pytest.mark.django_db

CLINICAL_ROLES = ["doctor", "nurse", "public_health", "referral_coordinator"]
IDENTITY_ROLES = ["clerk", "pharmacist", "institution_admin"]
RESIDENT_IDENTITY = {
    "id",
    "national_id_masked",
    "name",
    "sex",
    "birth_date",
    "district",
    "registered_by",
    "died_on",
    "created_at",
}
RESIDENT_CLINICAL = {"phone", "address", "community", "key_populations"}
REFERRAL_CLINICAL = {
    "reason_code",
    "criteria_codes",
    "clinical_summary",
    "rejection_reason",
    "rejection_comment",
    "cancel_reason",
    "findings",
    "diagnosis",
    "feedback_summary",
    "recommendations",
    "return_to_primary_care",
    "resident_consent",
}
SUMMARY = "急性心梗术后"  # the clinical summary of the scenario's downward referrals


@pytest.fixture
def clinic():
    clinic = build_clinic()
    clinic.resident.phone = "13800138000"
    clinic.resident.address = "新华街道1号"
    clinic.resident.save(update_fields=["phone", "address"])
    return clinic


@pytest.mark.parametrize("role", CLINICAL_ROLES + IDENTITY_ROLES)
def test_a_resident_reads_as_the_role_may(clinic, role):
    response = api_client_for(clinic.users[role]).get(
        f"/api/v1/residents/{clinic.resident.public_id}"
    )

    assert response.status_code == 200, response.content
    if role in CLINICAL_ROLES:
        assert set(response.json()) == RESIDENT_IDENTITY | RESIDENT_CLINICAL
        assert response.json()["phone"] == "13800138000"
    else:
        assert set(response.json()) == RESIDENT_IDENTITY
        assert "13800138000" not in response.content.decode()
        assert "新华街道1号" not in response.content.decode()


def test_a_resident_reads_their_own_record_in_full(clinic):
    response = api_client_for(clinic.users["resident"]).get(
        f"/api/v1/residents/{clinic.resident.public_id}"
    )

    assert set(response.json()) == RESIDENT_IDENTITY | RESIDENT_CLINICAL


@pytest.mark.parametrize("role", CLINICAL_ROLES + IDENTITY_ROLES)
def test_a_referral_reads_as_the_role_may(clinic, role):
    referral = clinic.awaiting_decision[0]
    response = api_client_for(clinic.users[role]).get(f"/api/v1/referrals/{referral.public_id}")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == str(referral.public_id)
    assert body["status"] == "submitted"
    assert body["timeline"]  # progress is shown to both
    if role in CLINICAL_ROLES:
        assert set(body) >= REFERRAL_CLINICAL
        assert body["clinical_summary"].startswith(SUMMARY)
        assert {"reason", "details"} <= set(body["timeline"][0])
    else:
        assert not REFERRAL_CLINICAL & set(body)
        assert SUMMARY not in response.content.decode()
        assert set(body["timeline"][0]) == {"at", "actor", "action", "from_status", "to_status"}


@pytest.mark.parametrize("role", CLINICAL_ROLES + IDENTITY_ROLES)
def test_the_referral_list_reads_as_the_role_may(clinic, role):
    response = api_client_for(clinic.users[role]).get("/api/v1/referrals?box=incoming")

    assert response.status_code == 200, response.content
    items = response.json()["items"]
    assert len(items) == 3
    for item in items:
        if role in CLINICAL_ROLES:
            assert item["reason_code"] == "return_to_primary_care"
        else:
            assert "reason_code" not in item
            assert "criteria_codes" not in item


@pytest.mark.parametrize(("role", "shown"), [("doctor", True), ("clerk", False)])
def test_the_portal_record_asks_the_same_predicate(clinic, role, shown):
    client = Client()
    client.force_login(clinic.users[role])

    page = client.get(f"/residents/{clinic.resident.public_id}/").content.decode()

    assert ("13800138000" in page) is shown
    assert ("新华街道1号" in page) is shown
    assert clinic.resident.name in page  # the identity, to both


def test_the_document_offers_both_views(client):
    document = Client().get("/api/v1/openapi.json").json()
    answer = document["paths"]["/api/v1/residents/{resident_id}"]["get"]["responses"]["200"]
    views = answer["content"]["application/json"]["schema"]["anyOf"]

    assert {view["$ref"].rsplit("/", 1)[1] for view in views} == {
        "ResidentOut",
        "ResidentIdentityOut",
    }


@pytest.mark.parametrize(("role", "shown"), [("doctor", True), ("clerk", False)])
def test_a_scan_shows_health_tags_only_to_the_clinical_view(clinic, role, shown):
    from healthcodes import keys
    from healthcodes import services as healthcodes_services
    from healthnet.models import ResidentPopulationTag

    keys.invalidate_key_caches()
    ResidentPopulationTag.objects.create(resident=clinic.resident, population="hypertension")
    card = healthcodes_services.healthcard_issue(
        actor=clinic.users["resident"], resident=clinic.resident
    )
    code = healthcodes_services.healthcode_issue_dynamic(actor=clinic.users["resident"], card=card)

    response = api_client_for(clinic.users[role]).post(
        "/api/v1/healthcodes/scan", {"code": code.text, "purpose": "consultation"}
    )

    assert response.status_code == 200, response.content
    assert response.json()["resident"]["name"] == clinic.resident.name
    tags = resident_key_populations(clinic.resident, on=timezone.localdate())
    assert "hypertension" in tags
    assert response.json()["resident"]["key_populations"] == (tags if shown else [])
